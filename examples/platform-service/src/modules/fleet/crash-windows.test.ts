/**
 * Split layout: a claim writes lock → job → run → lease. These tests stop a
 * claim after each write (the injected step throws, as a process dying
 * there would leave it) and show what the reaper or the next claim does
 * about it.
 *
 * Single layout: the claim is one batch. The tests at the end stop it at
 * every step and show that no crash point leaves a half-claim; the same
 * check run on the split layout finds the half-claims (the negative control).
 */

import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { FleetCoordinator, type ClaimStep } from './coordinator.js';
import { checkFleetInvariants } from './invariants.js';
import type { FleetLayout, FleetStores } from './stores.js';
import { fleetStoreFactories, freshFleetId } from './__fixtures__/fleet-stores.js';
import { MINUTE, testSpec } from './__fixtures__/specs.js';

class SimulatedCrash extends Error {}

for (const factory of fleetStoreFactories) {
  describe.skipIf(factory.skip !== null || factory.layout !== 'split')(`claim crash windows on ${factory.name}`, () => {
    async function setup(crashAt: ClaimStep | null) {
      const stores: FleetStores = await factory.open();
      const fleetId = freshFleetId();
      const clock = new ManualClock(5_000_000);
      const healthy = new FleetCoordinator({ stores, fleetId, now: clock.now });
      const crashing = new FleetCoordinator({
        stores,
        fleetId,
        now: clock.now,
        onClaimStep: (step) => {
          if (step === crashAt) throw new SimulatedCrash(`crashed after ${step}`);
        },
      });
      return { stores, fleetId, clock, healthy, crashing };
    }

    it('crash after the job write, before run and lease: the reaper requeues it, records the run, frees the lock', async () => {
      const { stores, fleetId, clock, healthy, crashing } = await setup('job-assigned');
      await healthy.enqueue(testSpec({ lock: 'repo-a' }), 'job-1');
      await healthy.enqueue(testSpec({ lock: 'repo-a' }), 'job-2');
      const job = await healthy.getJob('job-1');
      if (job === null) throw new Error('missing');

      await expect(crashing.tryClaimJob(job, 'agent-dead')).rejects.toBeInstanceOf(SimulatedCrash);

      // Left behind: the job is assigned (epoch 1), no run, no lease, the lock held.
      expect(await healthy.getJob('job-1')).toMatchObject({ status: 'assigned', assignedTo: 'agent-dead', leaseEpoch: 1 });
      expect(await stores.runs.query({ partitionKey: fleetId })).toHaveLength(0);
      expect(await stores.leases.query({ partitionKey: fleetId })).toHaveLength(0);
      const other = await healthy.getJob('job-2');
      if (other === null) throw new Error('missing');
      expect(await healthy.tryClaimJob(other, 'agent-2')).toEqual({ ok: false, reason: 'locked' });

      // Nothing to reap before the lease runs out.
      expect((await healthy.reapExpired()).reaped).toBe(0);
      clock.advance(10 * MINUTE);
      const report = await healthy.reapExpired();
      expect(report.reaped).toBe(1);
      expect(report.repaired).toBeGreaterThanOrEqual(1);

      expect(await healthy.getJob('job-1')).toMatchObject({ status: 'queued', assignedTo: null, leaseEpoch: 1 });
      expect(await stores.runs.query({ partitionKey: fleetId })).toMatchObject([
        { jobId: 'job-1', leaseEpoch: 1, agentId: 'agent-dead', outcome: 'abandoned', startedAt: 5_000_000, endedAt: 5_000_000 + 10 * MINUTE },
      ]);
      const freed = await healthy.getJob('job-2');
      if (freed === null) throw new Error('missing');
      const next = await healthy.tryClaimJob(freed, 'agent-2');
      expect(next.ok).toBe(true);
      expect((await checkFleetInvariants(stores, fleetId, clock.now())).details).toEqual([]);
    });

    it('crash after the run write, before the lease: the reaper closes the run; the next claim gets epoch 2', async () => {
      const { stores, fleetId, clock, healthy, crashing } = await setup('run-written');
      await healthy.enqueue(testSpec(), 'job-1');
      const job = await healthy.getJob('job-1');
      if (job === null) throw new Error('missing');
      await expect(crashing.tryClaimJob(job, 'agent-dead')).rejects.toBeInstanceOf(SimulatedCrash);
      expect(await stores.leases.query({ partitionKey: fleetId })).toHaveLength(0);

      clock.advance(10 * MINUTE);
      expect((await healthy.reapExpired()).reaped).toBe(1);
      const requeued = await healthy.getJob('job-1');
      if (requeued === null) throw new Error('missing');
      const next = await healthy.tryClaimJob(requeued, 'agent-2');
      if (!next.ok) throw new Error(next.reason);
      expect(next.handle.epoch).toBe(2);
      const runs = await stores.runs.query({ partitionKey: fleetId, orderBy: { field: 'leaseEpoch', direction: 'asc' } });
      expect(runs.map((r) => [r.leaseEpoch, r.outcome])).toEqual([
        [1, 'lease_expired'],
        [2, 'running'],
      ]);
      expect(await stores.leases.query({ partitionKey: fleetId })).toMatchObject([{ epoch: 2, agentId: 'agent-2' }]);
    });

    it('crash after taking the lock, before the job write: the job stays claimable; other jobs wait for the lock to expire', async () => {
      const { stores, fleetId, clock, healthy, crashing } = await setup('lock-taken');
      await healthy.enqueue(testSpec({ lock: 'repo-a' }), 'job-1');
      await healthy.enqueue(testSpec({ lock: 'repo-a' }), 'job-2');
      const job = await healthy.getJob('job-1');
      if (job === null) throw new Error('missing');
      await expect(crashing.tryClaimJob(job, 'agent-dead')).rejects.toBeInstanceOf(SimulatedCrash);
      expect(await healthy.getJob('job-1')).toMatchObject({ status: 'queued', leaseEpoch: 0 });

      const other = await healthy.getJob('job-2');
      if (other === null) throw new Error('missing');
      // Indistinguishable from a claim in flight, so job-2 waits...
      expect(await healthy.tryClaimJob(other, 'agent-2')).toEqual({ ok: false, reason: 'locked' });
      clock.advance(10 * MINUTE);
      // ...until the lock expires; the reaper's sweep frees it.
      expect((await healthy.reapExpired()).repaired).toBe(1);
      expect(await stores.locks.query({ partitionKey: fleetId })).toMatchObject([{ holderJobId: null }]);
      const claimed = await healthy.tryClaimJob(other, 'agent-2');
      expect(claimed.ok).toBe(true);
    });

    it('crash after taking the lock: a claim of the same job goes through at once', async () => {
      const { healthy, crashing } = await setup('lock-taken');
      await healthy.enqueue(testSpec({ lock: 'repo-a' }), 'job-1');
      const job = await healthy.getJob('job-1');
      if (job === null) throw new Error('missing');
      await expect(crashing.tryClaimJob(job, 'agent-dead')).rejects.toBeInstanceOf(SimulatedCrash);

      const retry = await healthy.tryClaimJob(job, 'agent-2');
      if (!retry.ok) throw new Error(retry.reason);
      expect(retry.handle.epoch).toBe(1);
    });

    it('a holder that survived a failed claim writes the missing run and lease with its first heartbeat', async () => {
      const { stores, fleetId, clock, healthy, crashing } = await setup('job-assigned');
      await healthy.enqueue(testSpec(), 'job-1');
      const job = await healthy.getJob('job-1');
      if (job === null) throw new Error('missing');
      await expect(crashing.tryClaimJob(job, 'agent-1')).rejects.toBeInstanceOf(SimulatedCrash);

      clock.advance(MINUTE);
      const handle = { fleetId, jobId: 'job-1', agentId: 'agent-1', epoch: 1 };
      expect(await healthy.renewLease(handle)).toEqual({ ok: true, expiresAt: clock.now() + 10 * MINUTE });
      expect(await stores.runs.query({ partitionKey: fleetId })).toMatchObject([{ id: 'job-1:1:agent-1', outcome: 'running', startedAt: 5_000_000 }]);
      expect(await stores.leases.query({ partitionKey: fleetId })).toMatchObject([{ id: 'job-1:1', agentId: 'agent-1' }]);
      expect(await healthy.completeRun(handle, 'succeeded')).toMatchObject({ ok: true });
      expect(await stores.runs.query({ partitionKey: fleetId })).toMatchObject([{ outcome: 'succeeded' }]);
    });

    it('the reaper sweeps a lease and an open run whose epoch is over; the run keeps the completion\'s outcome', async () => {
      const { stores, fleetId, clock, healthy } = await setup(null);
      await healthy.enqueue(testSpec(), 'job-1');
      const job = await healthy.getJob('job-1');
      if (job === null) throw new Error('missing');
      const claim = await healthy.tryClaimJob(job, 'agent-1');
      if (!claim.ok) throw new Error(claim.reason);
      expect(await healthy.completeRun(claim.handle, 'succeeded')).toMatchObject({ ok: true });
      // What a completion that crashed after its job write would leave behind.
      await stores.leases.upsert({ id: 'job-1:1', fleetId, jobId: 'job-1', agentId: 'agent-1', epoch: 1, acquiredAt: 0, expiresAt: 1, renewals: 0 });
      const run = await stores.runs.get('job-1:1:agent-1', fleetId);
      if (run === null) throw new Error('missing run');
      await stores.runs.updateIfMatch(run.id, fleetId, { rev: run.rev }, { outcome: 'running', endedAt: null });

      clock.advance(MINUTE);
      expect(await healthy.reapExpired()).toEqual({ reaped: 0, conflicts: 0, repaired: 2 });
      expect(await stores.leases.query({ partitionKey: fleetId })).toHaveLength(0);
      // The job's write decided the epoch (succeeded); the sweep must not overrule it.
      expect(await stores.runs.query({ partitionKey: fleetId })).toMatchObject([{ outcome: 'succeeded' }]);
    });
  });
}

const CLAIM_STEPS: readonly ClaimStep[] = ['claim-prepared', 'lock-taken', 'job-assigned', 'run-written', 'lease-written'];

/**
 * What is wrong with the claim of `jobId` (epoch 0 → 1) as the store holds
 * it: a whole claim is either nothing (job queued at epoch 0, no run, no
 * lease, lock not held by it) or everything (job assigned at epoch 1, its
 * run running, its lease, the lock pointing at epoch 1). Anything between
 * is a half-claim; the answer lists what is there and what is not.
 */
async function halfClaim(stores: FleetStores, fleetId: string, jobId: string, lockName: string): Promise<string[]> {
  const [job, runs, leases, locks] = await Promise.all([
    stores.jobs.get(jobId, fleetId),
    stores.runs.query({ partitionKey: fleetId, where: { jobId } }),
    stores.leases.query({ partitionKey: fleetId, where: { jobId } }),
    stores.locks.query({ partitionKey: fleetId }),
  ]);
  const lock = locks.find((l) => l.id === `lock-${lockName}`);
  const parts = {
    job: job !== null && job.status === 'assigned' && job.leaseEpoch === 1,
    run: runs.some((r) => r.leaseEpoch === 1 && r.outcome === 'running'),
    lease: leases.some((l) => l.epoch === 1),
    lock: lock !== undefined && lock.holderJobId === jobId && lock.holderEpoch === 1,
  };
  const present = Object.entries(parts).filter(([, there]) => there).map(([part]) => part);
  if (present.length === 0 || present.length === 4) return [];
  return [`half-claim: ${present.join(', ')} written; ${Object.keys(parts).filter((p) => !present.includes(p)).join(', ')} missing`];
}

/** Claims job-1 (under lock `repo-a`) by a coordinator that crashes at `crashAt`; returns what it left. */
async function crashClaim(factory: { open(): Promise<FleetStores> }, crashAt: ClaimStep) {
  const stores = await factory.open();
  const fleetId = freshFleetId();
  const clock = new ManualClock(5_000_000);
  const healthy = new FleetCoordinator({ stores, fleetId, now: clock.now });
  const crashing = new FleetCoordinator({
    stores,
    fleetId,
    now: clock.now,
    onClaimStep: (step) => {
      if (step === crashAt) throw new SimulatedCrash(`crashed after ${step}`);
    },
  });
  await healthy.enqueue(testSpec({ lock: 'repo-a' }), 'job-1');
  await healthy.enqueue(testSpec({ lock: 'repo-a' }), 'job-2');
  const job = await healthy.getJob('job-1');
  if (job === null) throw new Error('missing');
  await expect(crashing.tryClaimJob(job, 'agent-dead')).rejects.toBeInstanceOf(SimulatedCrash);
  return { stores, fleetId, clock, healthy, leftBehind: await halfClaim(stores, fleetId, 'job-1', 'repo-a') };
}

const byLayout = (layout: FleetLayout) => fleetStoreFactories.filter((f) => f.layout === layout);

for (const factory of byLayout('single')) {
  describe.skipIf(factory.skip !== null)(`single layout: the claim is one batch, on ${factory.name}`, () => {
    it.each(CLAIM_STEPS)('a crash at %s leaves no half-claim', async (step) => {
      const { stores, fleetId, clock, healthy, leftBehind } = await crashClaim(factory, step);
      expect(leftBehind).toEqual([]);

      const job = await healthy.getJob('job-1');
      if (job === null) throw new Error('missing');
      if (step === 'claim-prepared') {
        // Nothing landed: the job is claimable at once, at epoch 1, and the lock is not held.
        expect(job).toMatchObject({ status: 'queued', leaseEpoch: 0 });
        const retry = await healthy.tryClaimJob(job, 'agent-2');
        if (!retry.ok) throw new Error(retry.reason);
        expect(retry.handle.epoch).toBe(1);
      } else {
        // Everything landed: a whole claim whose holder is gone. The reaper ends it like any expired hold.
        expect(job).toMatchObject({ status: 'assigned', assignedTo: 'agent-dead', leaseEpoch: 1 });
        clock.advance(10 * MINUTE);
        expect(await healthy.reapExpired()).toMatchObject({ reaped: 1, conflicts: 0 });
        expect(await stores.runs.query({ partitionKey: fleetId })).toMatchObject([{ jobId: 'job-1', leaseEpoch: 1, outcome: 'lease_expired' }]);
        expect(await stores.leases.query({ partitionKey: fleetId })).toEqual([]);
      }
      // The lock went with the claim: held by the live claim (after the retry), free after the reap.
      const other = await healthy.getJob('job-2');
      if (other === null) throw new Error('missing');
      const next = await healthy.tryClaimJob(other, 'agent-3');
      expect(next.ok ? 'ok' : next.reason).toBe(step === 'claim-prepared' ? 'locked' : 'ok');
      expect((await checkFleetInvariants(stores, fleetId, clock.now())).details).toEqual([]);
    });

    it('a claim whose last write fails applies none of the others (job, run, lock untouched)', async () => {
      const stores = await factory.open();
      const fleetId = freshFleetId();
      const clock = new ManualClock(5_000_000);
      const coordinator = new FleetCoordinator({ stores, fleetId, now: clock.now });
      await coordinator.enqueue(testSpec({ lock: 'repo-a' }), 'job-1');
      // A stray lease of epoch 1 makes the batch's last operation (the lease's create) fail.
      await stores.leases.create({ id: 'job-1:1', fleetId, jobId: 'job-1', agentId: 'stray', epoch: 1, acquiredAt: 0, expiresAt: 1, renewals: 0 });
      const job = await coordinator.getJob('job-1');
      if (job === null) throw new Error('missing');

      expect(await coordinator.tryClaimJob(job, 'agent-1')).toEqual({ ok: false, reason: 'conflict' });
      expect(await coordinator.getJob('job-1')).toMatchObject({ status: 'queued', leaseEpoch: 0, rev: job.rev, _etag: job._etag });
      expect(await stores.runs.query({ partitionKey: fleetId })).toEqual([]);
      expect(await stores.locks.query({ partitionKey: fleetId })).toEqual([]);
    });

    it('failed batches answer as the split claim does: conflict, locked, not_claimable', async () => {
      const stores = await factory.open();
      const fleetId = freshFleetId();
      const clock = new ManualClock(5_000_000);
      const coordinator = new FleetCoordinator({ stores, fleetId, now: clock.now });
      await coordinator.enqueue(testSpec({ lock: 'repo-a' }), 'job-1');
      await coordinator.enqueue(testSpec({ lock: 'repo-a' }), 'job-2');
      const stale = await coordinator.getJob('job-1');
      const other = await coordinator.getJob('job-2');
      if (stale === null || other === null) throw new Error('missing');
      expect((await coordinator.tryClaimJob(stale, 'agent-1')).ok).toBe(true);
      expect(await coordinator.tryClaimJob(stale, 'agent-2')).toEqual({ ok: false, reason: 'conflict' });
      expect(await coordinator.tryClaimJob(other, 'agent-2')).toEqual({ ok: false, reason: 'locked' });
      await stores.jobs.delete('job-2', fleetId);
      clock.advance(10 * MINUTE);
      expect(await coordinator.tryClaimJob(other, 'agent-2')).toEqual({ ok: false, reason: 'not_claimable' });
      // Reaped (queued again at epoch 1, its lease gone): a claim of the epoch-0 read must still lose.
      expect((await coordinator.reapExpired()).reaped).toBe(1);
      expect(await coordinator.tryClaimJob(stale, 'agent-3')).toEqual({ ok: false, reason: 'conflict' });
      expect(await coordinator.getJob('job-1')).toMatchObject({ status: 'queued', leaseEpoch: 1 });
    });
  });
}

for (const factory of byLayout('split')) {
  describe.skipIf(factory.skip !== null)(`negative control: the split layout's crash windows, on ${factory.name}`, () => {
    // The same check that finds nothing on the single layout finds the split layout's half-claims.
    it.each([
      ['lock-taken', 'lock written; job, run, lease missing'],
      ['job-assigned', 'job, lock written; run, lease missing'],
      ['run-written', 'job, run, lock written; lease missing'],
    ] as const)('a crash at %s leaves a half-claim (%s)', async (step, expected) => {
      const { leftBehind } = await crashClaim(factory, step);
      expect(leftBehind).toEqual([`half-claim: ${expected}`]);
    });

    it.each(['claim-prepared', 'lease-written'] as const)('a crash at %s leaves a whole claim or none', async (step) => {
      expect((await crashClaim(factory, step)).leftBehind).toEqual([]);
    });
  });
}
