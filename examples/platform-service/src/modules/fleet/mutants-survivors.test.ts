/**
 * Tests written for the mutants StrykerJS found surviving the fleet suite on
 * 2026-12-02 (scripts/mutants.sh fleet; docs/testing.md, "StrykerJS,
 * 2026-12-02"). Each `it` names the coordinator.ts line and the mutation it
 * was seen failing on. Memory provider: the code under test is the
 * coordinator's. Race outcomes the Memory provider never produces by itself
 * (a write lost at one exact point) come from a repository or store that
 * answers that outcome once, where the test says.
 */
import { DatastoreError, type Patch, type UpdateIfMatchResult } from '@bytelyst/datastore';
import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { type ClaimStep, FleetCoordinator, leaseId, runId } from './coordinator.js';
import { lockId } from './locks.js';
import { createFleetRepository, type FleetRepository, type Revision } from './repository.js';
import { type FleetLayout, type FleetStores, openFleetStores } from './stores.js';
import { freshFleetId } from './__fixtures__/fleet-stores.js';
import { MINUTE, testSpec } from './__fixtures__/specs.js';
import type { FleetJob, LeaseHandle } from './types.js';

interface Fleet {
  stores: FleetStores;
  fleetId: string;
  clock: ManualClock;
  coordinator: FleetCoordinator;
}

type JobWrite = (current: Revision, patch: Patch<FleetJob>) => Promise<UpdateIfMatchResult<FleetJob>> | null;

/**
 * A fleet whose repository passes every write through, except job writes
 * `intercept` answers itself (it returns null to let one through).
 */
async function openFleet(
  options: {
    layout?: FleetLayout;
    intercept?: JobWrite;
    leaseWrite?: FleetRepository['revUpdateLease'];
    onClaimStep?: (step: ClaimStep, jobId: string) => void | Promise<void>;
  } = {},
): Promise<Fleet> {
  const stores = await openFleetStores({ provider: 'memory', layout: options.layout ?? 'split' });
  const fleetId = freshFleetId();
  const clock = new ManualClock(1_000_000);
  const real = createFleetRepository(stores);
  const repository: FleetRepository = {
    revUpdateJob: (current, patch) => options.intercept?.(current, patch) ?? real.revUpdateJob(current, patch),
    revUpdateLease: (current, patch) => (options.leaseWrite ?? real.revUpdateLease)(current, patch),
    revUpdateLock: real.revUpdateLock,
  };
  const coordinator = new FleetCoordinator({ stores, fleetId, now: clock.now, repository, onClaimStep: options.onClaimStep });
  return { stores, fleetId, clock, coordinator };
}

async function readJob(fleet: Fleet, jobId: string) {
  const job = await fleet.coordinator.getJob(jobId);
  if (job === null) throw new Error(`no job ${jobId}`);
  return job;
}

async function claimed(fleet: Fleet, jobId: string, agentId: string, lock: string | null = null): Promise<LeaseHandle> {
  await fleet.coordinator.enqueue(testSpec({ lock }), jobId);
  const claim = await fleet.coordinator.tryClaimJob(await readJob(fleet, jobId), agentId);
  if (!claim.ok) throw new Error(`claim failed: ${claim.reason}`);
  return claim.handle;
}

/**
 * An intercept that answers `reason` to the job writes `which` picks, the
 * first `times` of them (later ones pass through); `calls` counts them.
 */
function losing(which: (patch: Patch<FleetJob>) => boolean, reason: 'conflict' | 'not_found', times = Number.POSITIVE_INFINITY) {
  const seen = { calls: 0 };
  const intercept: JobWrite = (_current, patch) => {
    if (!which(patch) || seen.calls >= times) return null;
    seen.calls += 1;
    return Promise.resolve({ ok: false, reason });
  };
  return { seen, intercept };
}

const isRenew = (patch: Patch<FleetJob>): boolean => patch.status === undefined && patch.leaseExpiresAt !== null;
const isComplete = (patch: Patch<FleetJob>): boolean => patch.finishedAt !== undefined;

describe('fleet claim: the losing side of a race (split layout)', () => {
  it('L174 `job.lock !== null && …` → true: a lockless claim that loses its job write answers conflict', async () => {
    const fleet = await openFleet();
    await fleet.coordinator.enqueue(testSpec(), 'j');
    const read = await readJob(fleet, 'j');
    expect((await fleet.coordinator.tryClaimJob(read, 'agent-a')).ok).toBe(true);
    expect(await fleet.coordinator.tryClaimJob(read, 'agent-b')).toEqual({ ok: false, reason: 'conflict' });
  });

  it('L174 `tookFree === true` → true / `&&` → `||`: a claimer that shared the lock of its own epoch and lost leaves it to the winner', async () => {
    // Two claims of one read, interleaved: A takes the free lock, B finds it
    // held by the same (job, epoch) and extends it (tookFree: false), A's job
    // write wins, B's loses. B must not free the lock A's claim now holds.
    const order: string[] = [];
    let aAssigned!: () => void;
    const aWon = new Promise<void>((resolve) => {
      aAssigned = resolve;
    });
    let bTook!: () => void;
    const bTookLock = new Promise<void>((resolve) => {
      bTook = resolve;
    });
    const base = await openFleet();
    const a = new FleetCoordinator({
      stores: base.stores,
      fleetId: base.fleetId,
      now: base.clock.now,
      onClaimStep: async (step) => {
        order.push(`a:${step}`);
        if (step === 'lock-taken') await bTookLock;
        if (step === 'job-assigned') aAssigned();
      },
    });
    const b = new FleetCoordinator({
      stores: base.stores,
      fleetId: base.fleetId,
      now: base.clock.now,
      onClaimStep: async (step) => {
        order.push(`b:${step}`);
        if (step === 'lock-taken') {
          bTook();
          await aWon;
        }
      },
    });
    await base.coordinator.enqueue(testSpec({ lock: 'L' }), 'j');
    const read = await readJob(base, 'j');
    const claimA = a.tryClaimJob(read, 'agent-a');
    // B starts once A holds the lock.
    while (!order.includes('a:lock-taken')) await new Promise((r) => setImmediate(r));
    const [ra, rb] = await Promise.all([claimA, b.tryClaimJob(read, 'agent-b')]);
    expect(ra.ok).toBe(true);
    expect(rb).toEqual({ ok: false, reason: 'conflict' });
    const lock = await base.stores.locks.get(lockId('L'), base.fleetId);
    expect(lock).toMatchObject({ holderJobId: 'j', holderEpoch: 1 });
  });

  it('L185 `reason === conflict` → true: a claim of a job deleted since it was read is not_claimable', async () => {
    const fleet = await openFleet();
    await fleet.coordinator.enqueue(testSpec(), 'j');
    const read = await readJob(fleet, 'j');
    await fleet.stores.jobs.delete('j', fleet.fleetId);
    expect(await fleet.coordinator.tryClaimJob(read, 'agent-a')).toEqual({ ok: false, reason: 'not_claimable' });
  });

  it('L394 writeRun: a run write failing for another reason than conflict fails the claim', async () => {
    const fleet = await openFleet();
    const create = fleet.stores.runs.create.bind(fleet.stores.runs);
    fleet.stores.runs.create = async () => {
      throw new DatastoreError('unavailable', 'injected: the runs store is down');
    };
    await fleet.coordinator.enqueue(testSpec(), 'j');
    await expect(fleet.coordinator.tryClaimJob(await readJob(fleet, 'j'), 'agent-a')).rejects.toMatchObject({ code: 'unavailable' });
    // The conflict a retried claim meets is swallowed: the run is kept as it is.
    fleet.stores.runs.create = create;
    const handle = (await fleet.coordinator.getJob('j'))?.leaseEpoch;
    expect(handle).toBe(1);
    await create({ id: runId('k', 1, 'agent-a'), fleetId: fleet.fleetId, jobId: 'k', agentId: 'agent-a', leaseEpoch: 1, lock: null, startedAt: 0, endedAt: null, outcome: 'running', detail: 'first' });
    await fleet.coordinator.enqueue(testSpec(), 'k');
    expect((await fleet.coordinator.tryClaimJob(await readJob(fleet, 'k'), 'agent-a')).ok).toBe(true);
    expect((await fleet.stores.runs.get(runId('k', 1, 'agent-a'), fleet.fleetId))?.detail).toBe('first');
  });
});

describe('fleet claim: the single layout (one batch)', () => {
  it('L234/L296 lock branches → true: a lockless claim writes no lock and reports no lock-taken step', async () => {
    const steps: ClaimStep[] = [];
    const fleet = await openFleet({ layout: 'single', onClaimStep: (step) => void steps.push(step) });
    await claimed(fleet, 'j', 'agent-a');
    expect(await fleet.stores.locks.query({ partitionKey: fleet.fleetId })).toEqual([]);
    expect(steps).toEqual(['claim-prepared', 'job-assigned', 'run-written', 'lease-written']);
  });

  it('L291 `… ? not_claimable : conflict` → true: a claim of a read another claim won answers conflict', async () => {
    const fleet = await openFleet({ layout: 'single' });
    await fleet.coordinator.enqueue(testSpec(), 'j');
    const read = await readJob(fleet, 'j');
    expect((await fleet.coordinator.tryClaimJob(read, 'agent-a')).ok).toBe(true);
    expect(await fleet.coordinator.tryClaimJob(read, 'agent-b')).toEqual({ ok: false, reason: 'conflict' });
  });
});

describe('fleet renew: lost writes', () => {
  it('L328 `extended !== ok` → false: a holder whose lock was taken from it is fenced and writes nothing', async () => {
    const fleet = await openFleet();
    const handle = await claimed(fleet, 'j', 'agent-a', 'L');
    const before = await readJob(fleet, 'j');
    await fleet.stores.locks.update(lockId('L'), fleet.fleetId, { holderJobId: 'other', holderEpoch: 7 });
    fleet.clock.advance(MINUTE);
    expect(await fleet.coordinator.renewLease(handle)).toEqual({ ok: false, reason: 'fenced' });
    expect((await readJob(fleet, 'j')).leaseExpiresAt).toBe(before.leaseExpiresAt);
  });

  it('L436 `reason === not_found` → false: a renew whose job write finds no job answers not_found', async () => {
    const fleet = await openFleet({ intercept: losing(isRenew, 'not_found', 1).intercept });
    const handle = await claimed(fleet, 'j', 'agent-a');
    expect(await fleet.coordinator.renewLease(handle)).toEqual({ ok: false, reason: 'not_found' });
  });

  it('L436 → true, L438/L439: a renew that lost its write is fenced, not_found or conflict by a fresh read', async () => {
    let lose: ((fleet: Fleet) => Promise<void>) | null = null;
    const fleet: Fleet = await openFleet({
      intercept: (_c, patch) => {
        if (!isRenew(patch) || lose === null) return null;
        const act = lose;
        lose = null;
        return act(fleet).then(() => ({ ok: false, reason: 'conflict' }) as const);
      },
    });
    const handle = await claimed(fleet, 'j', 'agent-a');
    // Lost to the reaper (status back to queued): fenced.
    lose = (f) => f.stores.jobs.update('j', f.fleetId, { status: 'queued', assignedTo: null }).then(() => undefined);
    expect(await fleet.coordinator.renewLease(handle)).toEqual({ ok: false, reason: 'fenced' });
    // Lost to a delete: not_found.
    const h2 = await claimed(fleet, 'k', 'agent-a');
    lose = (f) => f.stores.jobs.delete('k', f.fleetId).then(() => undefined);
    expect(await fleet.coordinator.renewLease(h2)).toEqual({ ok: false, reason: 'not_found' });
    // Lost to its own concurrent heartbeat (still holds): conflict.
    const h3 = await claimed(fleet, 'm', 'agent-a');
    lose = async () => {};
    expect(await fleet.coordinator.renewLease(h3)).toEqual({ ok: false, reason: 'conflict' });
  });

  it('L403 `lease === null` → true: renewals count up, the lease keeps its acquiredAt', async () => {
    const fleet = await openFleet();
    const handle = await claimed(fleet, 'j', 'agent-a');
    fleet.clock.advance(MINUTE);
    expect((await fleet.coordinator.renewLease(handle)).ok).toBe(true);
    fleet.clock.advance(MINUTE);
    expect((await fleet.coordinator.renewLease(handle)).ok).toBe(true);
    const lease = await fleet.stores.leases.get(leaseId('j', 1), fleet.fleetId);
    expect(lease).toMatchObject({ renewals: 2, acquiredAt: 1_000_000, expiresAt: 1_000_000 + 12 * MINUTE });
  });

  it('L428 `lease.expiresAt >= expiresAt` → false / `>`: a renew never moves the mirror back, nor counts a no-op', async () => {
    const fleet = await openFleet();
    const handle = await claimed(fleet, 'j', 'agent-a');
    const id = leaseId('j', 1);
    // A renew at the claim's own instant: same expiry, nothing to write (`>` would count a renewal).
    expect(await fleet.coordinator.renewLease(handle)).toEqual({ ok: true, expiresAt: 1_000_000 + 10 * MINUTE });
    expect(await fleet.stores.leases.get(id, fleet.fleetId)).toMatchObject({ expiresAt: 1_000_000 + 10 * MINUTE, renewals: 0 });
    // The mirror already shows a later expiry (a later heartbeat's mirror write landed first).
    await fleet.stores.leases.update(id, fleet.fleetId, { expiresAt: 1_000_000 + 15 * MINUTE });
    fleet.clock.advance(MINUTE);
    expect((await fleet.coordinator.renewLease(handle)).ok).toBe(true);
    expect(await fleet.stores.leases.get(id, fleet.fleetId)).toMatchObject({ expiresAt: 1_000_000 + 15 * MINUTE, renewals: 0 });
  });

  it('L430 `ok || not_found` → false / `&&`: a mirror deleted under the renew (the sweep) is not written back', async () => {
    let fleetRef: Fleet | null = null;
    const fleet = await openFleet({
      leaseWrite: async (current) => {
        // The reaper's sweep deleted the lease between the renew's read and write.
        await fleetRef?.stores.leases.delete(current.id, current.fleetId);
        return { ok: false, reason: 'not_found' };
      },
    });
    fleetRef = fleet;
    const handle = await claimed(fleet, 'j', 'agent-a');
    fleet.clock.advance(MINUTE);
    expect((await fleet.coordinator.renewLease(handle)).ok).toBe(true);
    expect(await fleet.stores.leases.get(leaseId('j', 1), fleet.fleetId)).toBeNull();
  });

  it('L430 → true, L401: a mirror write lost to a conflict is retried, at most three times', async () => {
    let calls = 0;
    let lose = 1;
    let fleetRef: Fleet | null = null;
    const fleet = await openFleet({
      leaseWrite: async (current, patch) => {
        calls += 1;
        if (lose > 0) {
          lose -= 1;
          return { ok: false, reason: 'conflict' };
        }
        if (fleetRef === null) throw new Error('no fleet');
        return createFleetRepository(fleetRef.stores).revUpdateLease(current, patch);
      },
    });
    fleetRef = fleet;
    const handle = await claimed(fleet, 'j', 'agent-a');
    fleet.clock.advance(MINUTE);
    expect((await fleet.coordinator.renewLease(handle)).ok).toBe(true);
    expect(calls).toBe(2);
    expect((await fleet.stores.leases.get(leaseId('j', 1), fleet.fleetId))?.expiresAt).toBe(1_000_000 + 11 * MINUTE);
    // Always losing: three tries, then the renew still answers (the job write decided).
    calls = 0;
    lose = 100;
    fleet.clock.advance(MINUTE);
    expect((await fleet.coordinator.renewLease(handle)).ok).toBe(true);
    expect(calls).toBe(3);
  });
});

describe('fleet complete: lost writes', () => {
  it('L343 `attempt < 3` → `<=` / `attempt -= 1`, L361: a completion losing every write gives up after three tries with conflict', async () => {
    const lose = losing(isComplete, 'conflict');
    const fleet = await openFleet({ intercept: lose.intercept });
    const handle = await claimed(fleet, 'j', 'agent-a');
    // (`attempt -= 1` loops for ever here: Stryker reports it as a timeout.)
    expect(await fleet.coordinator.completeRun(handle, 'succeeded')).toEqual({ ok: false, reason: 'conflict' });
    expect(lose.seen.calls).toBe(3);
    expect((await readJob(fleet, 'j')).status).toBe('assigned');
  });

  it('L358 `reason === not_found` → false: a completion whose job write finds no job answers not_found at once', async () => {
    const lose = losing(isComplete, 'not_found');
    const fleet = await openFleet({ intercept: lose.intercept });
    const handle = await claimed(fleet, 'j', 'agent-a');
    expect(await fleet.coordinator.completeRun(handle, 'failed')).toEqual({ ok: false, reason: 'not_found' });
    expect(lose.seen.calls).toBe(1);
  });
});

describe('fleet reaper: counts and the epoch it settles', () => {
  it('L378 `conflicts += 1` → `-= 1`: a reap that loses its job write is counted as a conflict', async () => {
    const fleet = await openFleet({ intercept: losing((patch) => patch.status === 'queued', 'conflict', 1).intercept });
    await claimed(fleet, 'j', 'agent-a');
    fleet.clock.advance(11 * MINUTE);
    expect(await fleet.coordinator.reapExpired()).toMatchObject({ reaped: 0, conflicts: 1 });
    expect(await fleet.coordinator.reapExpired()).toMatchObject({ reaped: 1, conflicts: 0 });
  });

  it('L480 `!deleted && outcome === lease_expired`: a completion whose lease is already gone repairs nothing', async () => {
    const fleet = await openFleet();
    const handle = await claimed(fleet, 'j', 'agent-a');
    await fleet.stores.leases.delete(leaseId('j', 1), fleet.fleetId);
    expect((await fleet.coordinator.completeRun(handle, 'succeeded')).ok).toBe(true);
    // The reap of a job whose lease is gone counts that repair.
    const h2 = await claimed(fleet, 'k', 'agent-a');
    await fleet.stores.leases.delete(leaseId('k', h2.epoch), fleet.fleetId);
    fleet.clock.advance(11 * MINUTE);
    expect(await fleet.coordinator.reapExpired()).toEqual({ reaped: 1, conflicts: 0, repaired: 1 });
  });

  it('L473/L475 a reap of a claim that crashed before its run records it abandoned, from claim time to expiry', async () => {
    const fleet = await openFleet({
      onClaimStep: (step) => {
        if (step === 'job-assigned') throw new Error('crash');
      },
    });
    await fleet.coordinator.enqueue(testSpec(), 'j');
    await expect(fleet.coordinator.tryClaimJob(await readJob(fleet, 'j'), 'agent-a')).rejects.toThrow('crash');
    fleet.clock.advance(11 * MINUTE);
    expect(await fleet.coordinator.reapExpired()).toEqual({ reaped: 1, conflicts: 0, repaired: 2 });
    expect(await fleet.stores.runs.get(runId('j', 1, 'agent-a'), fleet.fleetId)).toMatchObject({
      outcome: 'abandoned',
      startedAt: 1_000_000,
      endedAt: 1_000_000 + 10 * MINUTE,
    });
  });

  it('L475 a completion of a claim that crashed before its run records the run with the completion\'s outcome', async () => {
    const fleet = await openFleet({
      onClaimStep: (step) => {
        if (step === 'job-assigned') throw new Error('crash');
      },
    });
    await fleet.coordinator.enqueue(testSpec(), 'j');
    await expect(fleet.coordinator.tryClaimJob(await readJob(fleet, 'j'), 'agent-a')).rejects.toThrow('crash');
    // The agent survived the error and finishes the work it was assigned.
    fleet.clock.advance(MINUTE);
    const handle: LeaseHandle = { fleetId: fleet.fleetId, jobId: 'j', agentId: 'agent-a', epoch: 1 };
    expect((await fleet.coordinator.completeRun(handle, 'succeeded')).ok).toBe(true);
    expect(await fleet.stores.runs.get(runId('j', 1, 'agent-a'), fleet.fleetId)).toMatchObject({
      outcome: 'succeeded',
      startedAt: 1_000_000,
      endedAt: 1_000_000 + MINUTE,
    });
  });

  it('L491/L498 the next claim closes the earlier epoch\'s open run and deletes its lease, and only those', async () => {
    const fleet = await openFleet();
    // Epoch 1 crashes after writing its lease: the job is reaped (the
    // reaper closes the run), then the left-overs are put back by hand to
    // look like a reaper that crashed after its job write.
    await claimed(fleet, 'j', 'agent-a');
    fleet.clock.advance(11 * MINUTE);
    const job = await readJob(fleet, 'j');
    await fleet.stores.jobs.updateIfMatch('j', fleet.fleetId, { rev: job.rev }, { status: 'queued', assignedTo: null });
    const h2 = await fleet.coordinator.tryClaimJob(await readJob(fleet, 'j'), 'agent-b');
    expect(h2.ok).toBe(true);
    expect(await fleet.stores.leases.get(leaseId('j', 1), fleet.fleetId)).toBeNull();
    expect(await fleet.stores.leases.get(leaseId('j', 2), fleet.fleetId)).not.toBeNull();
    expect(await fleet.stores.runs.get(runId('j', 1, 'agent-a'), fleet.fleetId)).toMatchObject({
      outcome: 'abandoned',
      endedAt: 1_000_000 + 10 * MINUTE,
      detail: 'closed by the next claim',
    });
    expect(await fleet.stores.runs.get(runId('j', 2, 'agent-b'), fleet.fleetId)).toMatchObject({ outcome: 'running' });
  });
});

describe('fleet reaper: the sweep, document by document', () => {
  const run = (fleetId: string, jobId: string, epoch: number, agentId: string, startedAt: number) => ({
    id: runId(jobId, epoch, agentId),
    fleetId,
    jobId,
    agentId,
    leaseEpoch: epoch,
    lock: null,
    startedAt,
    endedAt: null,
    outcome: 'running' as const,
    detail: null,
  });
  const lease = (fleetId: string, jobId: string, epoch: number) => ({
    id: leaseId(jobId, epoch),
    fleetId,
    jobId,
    agentId: 'agent-x',
    epoch,
    acquiredAt: 0,
    expiresAt: 1,
    renewals: 0,
  });

  it('L514–L553: each left-over is closed with its own outcome and time, live and foreign documents are left, and the count is exact', async () => {
    const fleet = await openFleet();
    const { stores, fleetId } = fleet;
    const t0 = 1_000_000;
    // live: assigned at epoch 1, its lease and run are live; a stale lease of epoch 0 is not.
    await claimed(fleet, 'live', 'agent-a');
    await stores.leases.create(lease(fleetId, 'live', 0));
    // done: failed at epoch 1; its run and lease were left behind by a crash after the job write.
    const hDone = await claimed(fleet, 'done', 'agent-a');
    fleet.clock.advance(MINUTE);
    expect((await fleet.coordinator.completeRun(hDone, 'failed')).ok).toBe(true);
    await stores.runs.update(runId('done', 1, 'agent-a'), fleetId, { outcome: 'running', endedAt: null, detail: null });
    await stores.leases.create(lease(fleetId, 'done', 1));
    // reaped: queued again at epoch 1 (a reaper's job write), its run still open.
    await claimed(fleet, 'reaped', 'agent-a');
    const reaped = await readJob(fleet, 'reaped');
    await stores.jobs.update('reaped', fleetId, { status: 'queued', assignedTo: null });
    // moved: queued at epoch 2, with an open run of epoch 1.
    await fleet.coordinator.enqueue(testSpec(), 'moved');
    await stores.jobs.update('moved', fleetId, { leaseEpoch: 2, leaseExpiresAt: t0 + 7 * MINUTE });
    await stores.runs.create(run(fleetId, 'moved', 1, 'agent-m', t0 - 5 * MINUTE));
    // gone: the job was deleted, its run is open.
    await stores.runs.create(run(fleetId, 'gone', 3, 'agent-g', t0 - 3 * MINUTE));
    // Locks: one free, one held by the live job, one held by the failed job's finished epoch.
    await stores.locks.create({ id: lockId('free'), fleetId, holderJobId: null, holderEpoch: null, expiresAt: null });
    await stores.locks.create({ id: lockId('held'), fleetId, holderJobId: 'live', holderEpoch: 1, expiresAt: t0 + 10 * MINUTE });
    await stores.locks.create({ id: lockId('over'), fleetId, holderJobId: 'done', holderEpoch: 1, expiresAt: t0 + 10 * MINUTE });
    // Another fleet on the same stores, with left-overs of its own.
    const other = freshFleetId();
    await stores.leases.create(lease(other, 'x', 1));
    await stores.runs.create(run(other, 'x', 1, 'agent-o', 0));
    await stores.locks.create({ id: lockId('over'), fleetId: other, holderJobId: 'x', holderEpoch: 1, expiresAt: t0 + 10 * MINUTE });

    // leases: live@0, done@1, reaped@1 (3); runs: done, reaped, moved, gone (4); lock: over (1).
    expect(await fleet.coordinator.reapExpired()).toEqual({ reaped: 0, conflicts: 0, repaired: 8 });

    expect(await stores.leases.get(leaseId('live', 1), fleetId)).not.toBeNull();
    expect(await stores.leases.get(leaseId('live', 0), fleetId)).toBeNull();
    expect(await stores.leases.get(leaseId('done', 1), fleetId)).toBeNull();
    expect(await stores.leases.get(leaseId('reaped', 1), fleetId)).toBeNull();
    expect(await stores.runs.get(runId('live', 1, 'agent-a'), fleetId)).toMatchObject({ outcome: 'running' });
    expect(await stores.runs.get(runId('done', 1, 'agent-a'), fleetId)).toMatchObject({
      outcome: 'failed',
      endedAt: t0 + MINUTE,
      detail: 'closed by the reaper after the job completed',
    });
    expect(await stores.runs.get(runId('reaped', 1, 'agent-a'), fleetId)).toMatchObject({
      outcome: 'lease_expired',
      endedAt: reaped.leaseExpiresAt,
      detail: 'closed by the reaper after the lease was reaped',
    });
    expect(await stores.runs.get(runId('moved', 1, 'agent-m'), fleetId)).toMatchObject({
      outcome: 'abandoned',
      endedAt: t0 + 7 * MINUTE,
      detail: 'closed by the reaper: its epoch was over',
    });
    expect(await stores.runs.get(runId('gone', 3, 'agent-g'), fleetId)).toMatchObject({ outcome: 'abandoned', endedAt: t0 - 3 * MINUTE });
    expect(await stores.locks.get(lockId('held'), fleetId)).toMatchObject({ holderJobId: 'live', holderEpoch: 1 });
    expect(await stores.locks.get(lockId('over'), fleetId)).toMatchObject({ holderJobId: null, holderEpoch: null, expiresAt: null });
    expect(await stores.locks.get(lockId('free'), fleetId)).toMatchObject({ holderJobId: null, rev: 1 });
    // The other fleet's documents are its own reaper's business.
    expect(await stores.leases.get(leaseId('x', 1), other)).not.toBeNull();
    expect(await stores.runs.get(runId('x', 1, 'agent-o'), other)).toMatchObject({ outcome: 'running' });
    expect(await stores.locks.get(lockId('over'), other)).toMatchObject({ holderJobId: 'x' });
    // Nothing left: a second sweep repairs nothing.
    expect(await fleet.coordinator.reapExpired()).toEqual({ reaped: 0, conflicts: 0, repaired: 0 });
  });

  it('L524/L531 a run or lock another replica changed meanwhile is not counted as repaired', async () => {
    const fleet = await openFleet();
    const { stores, fleetId } = fleet;
    await stores.runs.create(run(fleetId, 'gone', 1, 'agent-g', 5));
    await stores.locks.create({ id: lockId('L'), fleetId, holderJobId: 'gone', holderEpoch: 1, expiresAt: 1 });
    // Another replica's sweep closes the run / frees the lock just before this one writes.
    const runWrite = stores.runs.updateIfMatch.bind(stores.runs);
    stores.runs.updateIfMatch = async (id, pk, expected, patch) => {
      await stores.runs.update(id, pk, { outcome: 'abandoned', endedAt: 5, detail: 'the other replica' });
      return runWrite(id, pk, expected, patch);
    };
    const lockWrite = stores.locks.updateIfMatch.bind(stores.locks);
    stores.locks.updateIfMatch = async (id, pk, expected, patch) => {
      await stores.locks.update(id, pk, { holderJobId: null, holderEpoch: null, expiresAt: null });
      return lockWrite(id, pk, expected, patch);
    };
    expect(await fleet.coordinator.reapExpired()).toEqual({ reaped: 0, conflicts: 0, repaired: 0 });
    expect((await stores.runs.get(runId('gone', 1, 'agent-g'), fleetId))?.detail).toBe('the other replica');
  });

  it('L460 a completion whose run another replica\'s sweep already closed leaves that run as it is', async () => {
    let sweeper: FleetCoordinator | null = null;
    let fleetRef: Fleet | null = null;
    const fleet = await openFleet({
      intercept: (current, patch) => {
        if (!isComplete(patch) || fleetRef === null || sweeper === null) return null;
        const f = fleetRef;
        const s = sweeper;
        // The job write lands, then another replica's sweep runs before this completion closes the run.
        return createFleetRepository(f.stores)
          .revUpdateJob(current, patch)
          .then(async (written) => {
            await s.reapExpired();
            return written;
          });
      },
    });
    fleetRef = fleet;
    sweeper = new FleetCoordinator({ stores: fleet.stores, fleetId: fleet.fleetId, now: fleet.clock.now });
    const handle = await claimed(fleet, 'j', 'agent-a');
    fleet.clock.advance(MINUTE);
    expect((await fleet.coordinator.completeRun(handle, 'succeeded', 'done by a')).ok).toBe(true);
    expect(await fleet.stores.runs.get(runId('j', 1, 'agent-a'), fleet.fleetId)).toMatchObject({
      outcome: 'succeeded',
      endedAt: 1_000_000 + MINUTE,
      detail: 'closed by the reaper after the job completed',
    });
  });
});
