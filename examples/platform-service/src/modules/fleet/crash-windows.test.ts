/**
 * A claim writes lock → job → run → lease. These tests stop a claim after
 * each write (the injected step throws, as a process dying there would
 * leave it) and show what the reaper or the next claim does about it.
 */

import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { FleetCoordinator, type ClaimStep } from './coordinator.js';
import { checkFleetInvariants } from './invariants.js';
import type { FleetStores } from './stores.js';
import { fleetStoreFactories, freshFleetId } from './__fixtures__/fleet-stores.js';
import { MINUTE, testSpec } from './__fixtures__/specs.js';

class SimulatedCrash extends Error {}

for (const factory of fleetStoreFactories) {
  describe.skipIf(factory.skip !== null)(`claim crash windows on ${factory.name}`, () => {
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
