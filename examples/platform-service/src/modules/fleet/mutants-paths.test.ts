/**
 * Tests written to kill mutants StrykerJS found surviving the fleet suite
 * (scripts/mutants.sh fleet; docs/testing.md). Each `it` names the
 * coordinator.ts line and mutation it targets. Memory provider only: the
 * code under test is the coordinator's, the same on every provider.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { FleetCoordinator } from './coordinator.js';
import { lockId } from './locks.js';
import { openFleetStores, type FleetStores } from './stores.js';
import { createFleetRepository } from './repository.js';
import { freshFleetId } from './__fixtures__/fleet-stores.js';
import { withGap } from './__fixtures__/rendezvous.js';
import { MINUTE, testSpec } from './__fixtures__/specs.js';
import type { LeaseHandle } from './types.js';

interface Fleet {
  stores: FleetStores;
  fleetId: string;
  clock: ManualClock;
  coordinator: FleetCoordinator;
}

async function openFleet(): Promise<Fleet> {
  const stores = await openFleetStores({ provider: 'memory' });
  const fleetId = freshFleetId();
  const clock = new ManualClock(1_000_000);
  const coordinator = new FleetCoordinator({ stores, fleetId, now: clock.now });
  return { stores, fleetId, clock, coordinator };
}

/** Enqueues `jobId` and claims it for `agentId`; returns the handle. */
async function claimed(fleet: Fleet, jobId: string, agentId: string, lock: string | null = null): Promise<LeaseHandle> {
  await fleet.coordinator.enqueue(testSpec({ lock }), jobId);
  const job = await fleet.coordinator.getJob(jobId);
  if (job === null) throw new Error('no job');
  const claim = await fleet.coordinator.tryClaimJob(job, agentId);
  if (!claim.ok) throw new Error(`claim failed: ${claim.reason}`);
  return claim.handle;
}

describe('fleet coordinator: mutants of the claim/renew/complete/reap paths', () => {
  it('L136 `status !== queued` → false: a read of an assigned job is not claimable, even while it is current', async () => {
    const fleet = await openFleet();
    await claimed(fleet, 'j', 'agent-a');
    const current = await fleet.coordinator.getJob('j');
    if (current === null) throw new Error('no job');
    expect(await fleet.coordinator.tryClaimJob(current, 'agent-b')).toEqual({ ok: false, reason: 'not_claimable' });
    expect((await fleet.coordinator.getJob('j'))?.assignedTo).toBe('agent-a');
  });

  it('L447–450 `holds` conjuncts → true: another agent, another epoch or a finished job is fenced', async () => {
    const fleet = await openFleet();
    const handle = await claimed(fleet, 'j', 'agent-a');
    expect(await fleet.coordinator.renewLease({ ...handle, agentId: 'agent-b' })).toEqual({ ok: false, reason: 'fenced' });
    expect(await fleet.coordinator.renewLease({ ...handle, epoch: handle.epoch + 1 })).toEqual({ ok: false, reason: 'fenced' });
    expect(await fleet.coordinator.completeRun({ ...handle, agentId: 'agent-b' }, 'succeeded')).toEqual({ ok: false, reason: 'fenced' });
    expect((await fleet.coordinator.getJob('j'))?.status).toBe('assigned');
    expect((await fleet.coordinator.completeRun(handle, 'succeeded')).ok).toBe(true);
    // Same agent, same epoch, lease not expired: only the status says it is over.
    expect(await fleet.coordinator.renewLease(handle)).toEqual({ ok: false, reason: 'fenced' });
    expect(await fleet.coordinator.completeRun(handle, 'failed')).toEqual({ ok: false, reason: 'fenced' });
    expect((await fleet.coordinator.getJob('j'))?.status).toBe('succeeded');
  });

  it('L216/L248 `job === null` → false: renew and complete of a deleted job answer not_found', async () => {
    const fleet = await openFleet();
    const handle = await claimed(fleet, 'j', 'agent-a');
    await fleet.stores.jobs.delete('j', fleet.fleetId);
    expect(await fleet.coordinator.renewLease(handle)).toEqual({ ok: false, reason: 'not_found' });
    expect(await fleet.coordinator.completeRun(handle, 'succeeded')).toEqual({ ok: false, reason: 'not_found' });
  });

  it('L277 expiry check → false: the reaper leaves a live lease alone', async () => {
    const fleet = await openFleet();
    await claimed(fleet, 'j', 'agent-a');
    fleet.clock.advance(5 * MINUTE);
    expect((await fleet.coordinator.reapExpired()).reaped).toBe(0);
    expect((await fleet.coordinator.getJob('j'))?.status).toBe('assigned');
  });

  it('L221 lock branch → false / L331–332: a renew extends the lock and the lease mirror', async () => {
    const fleet = await openFleet();
    const handle = await claimed(fleet, 'j', 'agent-a', 'L');
    fleet.clock.advance(4 * MINUTE);
    const renewed = await fleet.coordinator.renewLease(handle);
    expect(renewed).toEqual({ ok: true, expiresAt: fleet.clock.now() + 10 * MINUTE });
    const lock = await fleet.stores.locks.get(lockId('L'), fleet.fleetId);
    expect(lock?.expiresAt).toBe(fleet.clock.now() + 10 * MINUTE);
    const [lease] = await fleet.stores.leases.query({ partitionKey: fleet.fleetId, where: { jobId: 'j' } });
    expect(lease?.expiresAt).toBe(fleet.clock.now() + 10 * MINUTE);
    expect(lease?.renewals).toBe(1);
  });

  it('L384 lock branch of settleEpoch: completing frees the lock', async () => {
    const fleet = await openFleet();
    const handle = await claimed(fleet, 'j', 'agent-a', 'L');
    expect((await fleet.coordinator.completeRun(handle, 'succeeded')).ok).toBe(true);
    const lock = await fleet.stores.locks.get(lockId('L'), fleet.fleetId);
    expect(lock).toMatchObject({ holderJobId: null, holderEpoch: null, expiresAt: null });
  });
});

describe('fleet coordinator: race outcomes and reaper counts no other test pinned', () => {
  it('L122–125 listQueued: only this fleet\'s queued jobs, oldest first', async () => {
    const fleet = await openFleet();
    await fleet.coordinator.enqueue(testSpec(), 'b');
    fleet.clock.advance(1);
    await fleet.coordinator.enqueue(testSpec(), 'a');
    fleet.clock.advance(1);
    await fleet.coordinator.enqueue(testSpec(), 'c');
    await claimed(fleet, 'd', 'agent-x');
    // Another fleet on the same stores.
    const other = new FleetCoordinator({ stores: fleet.stores, fleetId: freshFleetId(), now: fleet.clock.now });
    await other.enqueue(testSpec(), 'elsewhere');
    expect((await fleet.coordinator.listQueued()).map((j) => j.id)).toEqual(['b', 'a', 'c']);
  });

  it('L164 a claim that took a free lock and then lost its job write leaves the lock free', async () => {
    const fleet = await openFleet();
    await fleet.coordinator.enqueue(testSpec({ lock: 'L' }), 'j');
    const stale = await fleet.coordinator.getJob('j');
    if (stale === null) throw new Error('no job');
    // Someone else writes the job after this claimer read it.
    await fleet.stores.jobs.update('j', fleet.fleetId, { updatedAt: fleet.clock.now() + 1 });
    expect(await fleet.coordinator.tryClaimJob(stale, 'agent-a')).toEqual({ ok: false, reason: 'conflict' });
    const lock = await fleet.stores.locks.get(lockId('L'), fleet.fleetId);
    expect(lock).toMatchObject({ holderJobId: null, holderEpoch: null });
    // So a fresh read claims it, lock and all.
    const fresh = await fleet.coordinator.getJob('j');
    if (fresh === null) throw new Error('no job');
    expect((await fleet.coordinator.tryClaimJob(fresh, 'agent-b')).ok).toBe(true);
  });

  it('L257 a completion that loses its job write to its own heartbeat re-reads and completes', async () => {
    const stores = await openFleetStores({ provider: 'memory' });
    const fleetId = freshFleetId();
    const clock = new ManualClock(1_000_000);
    const plain = new FleetCoordinator({ stores, fleetId, now: clock.now });
    await plain.enqueue(testSpec(), 'j');
    const job = await plain.getJob('j');
    if (job === null) throw new Error('no job');
    const claim = await plain.tryClaimJob(job, 'agent-a');
    if (!claim.ok) throw new Error(claim.reason);
    // A heartbeat lands between completion's read and its write, once.
    let beat = false;
    const repository = withGap(createFleetRepository(stores), async () => {
      if (beat) return;
      beat = true;
      clock.advance(1);
      expect((await plain.renewLease(claim.handle)).ok).toBe(true);
    });
    const completing = new FleetCoordinator({ stores, fleetId, now: clock.now, repository });
    expect(await completing.completeRun(claim.handle, 'succeeded')).toEqual({ ok: true, expiresAt: clock.now() });
    expect(beat).toBe(true);
    expect((await plain.getJob('j'))?.status).toBe('succeeded');
  });

  it('L272–287 the reaper counts what it reaped and repaired, leaves other jobs\' documents alone, and reaps nothing twice', async () => {
    const fleet = await openFleet();
    await claimed(fleet, 'dead', 'agent-a', 'L1');
    fleet.clock.advance(1);
    const live = await claimed(fleet, 'live', 'agent-b', 'L2');
    // The dead job's lease runs out; the live one heartbeats.
    fleet.clock.advance(9 * MINUTE);
    expect((await fleet.coordinator.renewLease(live)).ok).toBe(true);
    fleet.clock.advance(2 * MINUTE);
    // A clean reap: the dead epoch's run closed, lease deleted, lock freed, nothing to repair.
    expect(await fleet.coordinator.reapExpired()).toEqual({ reaped: 1, conflicts: 0, repaired: 0 });
    expect((await fleet.coordinator.getJob('dead'))?.status).toBe('queued');
    expect(await fleet.stores.locks.get(lockId('L1'), fleet.fleetId)).toMatchObject({ holderJobId: null });

    // What crashes leave behind for the sweep: a lease, an open run and a held lock of the dead epoch.
    const at = fleet.clock.now();
    await fleet.stores.leases.create({ id: 'dead:1:stray', fleetId: fleet.fleetId, jobId: 'dead', agentId: 'agent-a', epoch: 1, acquiredAt: at, expiresAt: at, renewals: 0 });
    await fleet.stores.runs.create({
      id: 'dead:1:stray-run',
      fleetId: fleet.fleetId,
      jobId: 'dead',
      agentId: 'agent-z',
      leaseEpoch: 1,
      lock: null,
      startedAt: at,
      endedAt: null,
      outcome: 'running',
      detail: null,
    });
    await fleet.stores.locks.create({ id: lockId('L3'), fleetId: fleet.fleetId, holderJobId: 'dead', holderEpoch: 1, expiresAt: at + MINUTE });
    expect(await fleet.coordinator.reapExpired()).toEqual({ reaped: 0, conflicts: 0, repaired: 3 });
    expect(await fleet.stores.leases.get('dead:1:stray', fleet.fleetId)).toBeNull();
    expect((await fleet.stores.runs.get('dead:1:stray-run', fleet.fleetId))?.outcome).not.toBe('running');
    expect(await fleet.stores.locks.get(lockId('L3'), fleet.fleetId)).toMatchObject({ holderJobId: null });

    // The live job keeps its lease, run and lock through both sweeps.
    expect((await fleet.coordinator.getJob('live'))?.status).toBe('assigned');
    expect(await fleet.stores.leases.query({ partitionKey: fleet.fleetId, where: { jobId: 'live' } })).toHaveLength(1);
    expect((await fleet.stores.runs.query({ partitionKey: fleet.fleetId, where: { jobId: 'live' } }))[0]?.outcome).toBe('running');
    expect(await fleet.stores.locks.get(lockId('L2'), fleet.fleetId)).toMatchObject({ holderJobId: 'live' });
    // Nothing twice: the queued job keeps its old leaseExpiresAt and is not reaped again.
    expect(await fleet.coordinator.reapExpired()).toEqual({ reaped: 0, conflicts: 0, repaired: 0 });
  });
});
