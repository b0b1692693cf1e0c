import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { FleetCoordinator } from './coordinator.js';
import { checkFleetInvariants, violations } from './invariants.js';
import { createFleetRepository, type FleetRepository } from './repository.js';
import type { FleetStores } from './stores.js';
import type { ClaimResult } from './types.js';
import { createLegacyFleetRepository } from './__fixtures__/legacy-repository.js';
import { rendezvous, withGap, type Gap } from './__fixtures__/rendezvous.js';
import { fleetStoreFactories, freshFleetId } from './__fixtures__/fleet-stores.js';
import { MINUTE, testSpec } from './__fixtures__/specs.js';

interface Fleet {
  stores: FleetStores;
  fleetId: string;
  clock: ManualClock;
  coordinator: FleetCoordinator;
}

/** N agents claim the same freshly read job at once. */
async function raceClaims(fleet: Fleet, jobId: string, n: number): Promise<ClaimResult[]> {
  const job = await fleet.coordinator.getJob(jobId);
  if (job === null) throw new Error(`no job ${jobId}`);
  return Promise.all(Array.from({ length: n }, (_, i) => fleet.coordinator.tryClaimJob(job, `agent-${i}`)));
}

/** Enqueues two jobs under one lock and races a claim of each under `Promise.all`. */
async function raceTwoJobsUnderOneLock(fleet: Fleet): Promise<ClaimResult[]> {
  await fleet.coordinator.enqueue(testSpec({ lock: 'common-plat' }), 'job-a');
  await fleet.coordinator.enqueue(testSpec({ lock: 'common-plat' }), 'job-b');
  const [a, b] = await Promise.all([fleet.coordinator.getJob('job-a'), fleet.coordinator.getJob('job-b')]);
  if (a === null || b === null) throw new Error('jobs missing');
  return Promise.all([fleet.coordinator.tryClaimJob(a, 'agent-a'), fleet.coordinator.tryClaimJob(b, 'agent-b')]);
}

const oks = (results: readonly ClaimResult[]): number => results.filter((r) => r.ok).length;
const conflicts = (results: readonly ClaimResult[]): number =>
  results.filter((r) => !r.ok && r.reason === 'conflict').length;

for (const factory of fleetStoreFactories) {
  describe.skipIf(factory.skip !== null)(`fleet coordinator on ${factory.name}${factory.skip ? ` (skipped: ${factory.skip})` : ''}`, () => {
    async function openFleet(repository?: (stores: FleetStores) => FleetRepository): Promise<Fleet> {
      const stores = await factory.open();
      const fleetId = freshFleetId();
      const clock = new ManualClock(1_000_000);
      const coordinator = new FleetCoordinator({
        stores,
        fleetId,
        now: clock.now,
        ...(repository ? { repository: repository(stores) } : {}),
      });
      return { stores, fleetId, clock, coordinator };
    }

    const runsOf = (fleet: Fleet, jobId: string) =>
      fleet.stores.runs.query({ partitionKey: fleet.fleetId, where: { jobId } });
    const leasesOf = (fleet: Fleet, jobId: string) =>
      fleet.stores.leases.query({ partitionKey: fleet.fleetId, where: { jobId } });

    describe('invariant 1: two claimers race on one freshly read job', () => {
      it.each([
        ['without a lock', null],
        ['with a lock', 'common-plat'],
      ])('%s: one ok, one conflict, assigned once, one run, one lease, epoch 1', async (_label, lock) => {
        const fleet = await openFleet();
        await fleet.coordinator.enqueue(testSpec({ lock }), 'job-1');

        const results = await raceClaims(fleet, 'job-1', 2);

        expect(oks(results)).toBe(1);
        expect(conflicts(results)).toBe(1);
        const winner = results.find((r) => r.ok);
        const job = await fleet.coordinator.getJob('job-1');
        expect(job?.status).toBe('assigned');
        expect(job?.leaseEpoch).toBe(1);
        expect(job?.assignedTo).toBe(winner?.ok ? winner.handle.agentId : 'none');
        // rev 1 after create, +1 for the one claim write: a second write would show.
        expect(job?.rev).toBe(2);
        const runs = await runsOf(fleet, 'job-1');
        expect(runs).toHaveLength(1);
        expect(runs[0]?.agentId).toBe(job?.assignedTo);
        expect(await leasesOf(fleet, 'job-1')).toHaveLength(1);
        expect(violations(await checkFleetInvariants(fleet.stores, fleet.fleetId, fleet.clock.now()))).toBe(0);
      });
    });

    describe('invariant 2: N concurrent claimers of one job', () => {
      it.each([10, 100, 1000])('N = %i: exactly one ok and N - 1 conflicts', async (n) => {
        const fleet = await openFleet();
        await fleet.coordinator.enqueue(testSpec({ lock: n === 100 ? 'repo-a' : null }), 'job-n');

        const results = await raceClaims(fleet, 'job-n', n);

        expect(oks(results)).toBe(1);
        expect(conflicts(results)).toBe(n - 1);
        expect(await runsOf(fleet, 'job-n')).toHaveLength(1);
        expect(await leasesOf(fleet, 'job-n')).toHaveLength(1);
        expect((await fleet.coordinator.getJob('job-n'))?.leaseEpoch).toBe(1);
        const report = await checkFleetInvariants(fleet.stores, fleet.fleetId, fleet.clock.now());
        expect(report.doubleAssignments).toBe(0);
      });
    });

    describe('invariant 3: lease renew under contention', () => {
      it.each([
        ['without a lock', null],
        ['with a lock', 'repo-b'],
      ])('%s: renew racing renew has exactly one winner', async (_label, lock) => {
        // Both renews read the job before either writes: a race, not a sequence.
        let gap: Gap = () => Promise.resolve();
        const fleet = await openFleet((stores) => withGap(createFleetRepository(stores), () => gap()));
        await fleet.coordinator.enqueue(testSpec({ lock }), 'job-r');
        const [claim] = await raceClaims(fleet, 'job-r', 1);
        if (!claim?.ok) throw new Error('claim failed');
        fleet.clock.advance(MINUTE);
        gap = rendezvous(2, { firstGroupOnly: true });

        const renews = await Promise.all([
          fleet.coordinator.renewLease(claim.handle),
          fleet.coordinator.renewLease(claim.handle),
        ]);

        expect(renews.filter((r) => r.ok)).toHaveLength(1);
        expect(renews.filter((r) => !r.ok && r.reason === 'conflict')).toHaveLength(1);
        const job = await fleet.coordinator.getJob('job-r');
        expect(job?.leaseExpiresAt).toBe(fleet.clock.now() + 10 * MINUTE);
        // create, claim, one renew.
        expect(job?.rev).toBe(3);
      });

      it('renew racing the reaper: never both; a reaped holder is fenced and cannot complete', async () => {
        let renewed = 0;
        let reaped = 0;
        for (let round = 0; round < 20; round += 1) {
          const fleet = await openFleet();
          await fleet.coordinator.enqueue(testSpec({ lock: 'repo-c' }), 'job-x');
          const [claim] = await raceClaims(fleet, 'job-x', 1);
          if (!claim?.ok) throw new Error('claim failed');
          // Two clocks, as two machines would have: the holder still sees
          // one millisecond of lease, the reaper sees it expired.
          const holderClock = new ManualClock(claim.expiresAt - 1);
          const reaperClock = new ManualClock(claim.expiresAt);
          // Both read before either writes; then, round by round, one side
          // writes first, so both branches of the race are exercised.
          const meet = rendezvous(2, { firstGroupOnly: true });
          const holderFirst = round % 2 === 0;
          const behind = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));
          const gapFor = (second: boolean): Gap => async () => {
            await meet();
            if (second) await behind();
          };
          const repo = (second: boolean): FleetRepository => withGap(createFleetRepository(fleet.stores), gapFor(second));
          const holder = new FleetCoordinator({ stores: fleet.stores, fleetId: fleet.fleetId, now: holderClock.now, repository: repo(!holderFirst) });
          const reaper = new FleetCoordinator({ stores: fleet.stores, fleetId: fleet.fleetId, now: reaperClock.now, repository: repo(holderFirst) });

          const [renew, report] = await Promise.all([holder.renewLease(claim.handle), reaper.reapExpired()]);

          const job = await fleet.coordinator.getJob('job-x');
          expect(Number(renew.ok) + report.reaped).toBe(1);
          if (renew.ok) {
            renewed += 1;
            expect(job?.status).toBe('assigned');
            expect(await holder.completeRun(claim.handle, 'succeeded')).toEqual({ ok: true, expiresAt: holderClock.now() });
          } else {
            reaped += 1;
            expect(renew.reason).toBe('fenced');
            expect(job?.status).toBe('queued');
            expect(job?.leaseEpoch).toBe(1);
            const before = job?.rev;
            expect(await holder.completeRun(claim.handle, 'succeeded')).toEqual({ ok: false, reason: 'fenced' });
            expect((await fleet.coordinator.getJob('job-x'))?.rev).toBe(before);
            expect(await fleet.stores.locks.query({ partitionKey: fleet.fleetId })).toMatchObject([{ holderJobId: null }]);
          }
          expect(violations(await checkFleetInvariants(fleet.stores, fleet.fleetId, reaperClock.now()))).toBe(0);
        }
        expect(renewed + reaped).toBe(20);
        // Each side won some rounds: neither branch above is dead code.
        expect(renewed).toBeGreaterThan(0);
        expect(reaped).toBeGreaterThan(0);
      });

      it('a reaped holder stays fenced after the job is claimed again at the next epoch', async () => {
        const fleet = await openFleet();
        await fleet.coordinator.enqueue(testSpec(), 'job-z');
        const [first] = await raceClaims(fleet, 'job-z', 1);
        if (!first?.ok) throw new Error('claim failed');
        fleet.clock.advance(10 * MINUTE);
        expect((await fleet.coordinator.reapExpired()).reaped).toBe(1);
        const requeued = await fleet.coordinator.getJob('job-z');
        if (requeued === null) throw new Error('job vanished');
        const second = await fleet.coordinator.tryClaimJob(requeued, 'agent-new');
        if (!second.ok) throw new Error('second claim failed');
        expect(second.handle.epoch).toBe(2);

        expect(await fleet.coordinator.renewLease(first.handle)).toEqual({ ok: false, reason: 'fenced' });
        expect(await fleet.coordinator.completeRun(first.handle, 'succeeded')).toEqual({ ok: false, reason: 'fenced' });
        expect(await fleet.coordinator.completeRun(second.handle, 'succeeded')).toMatchObject({ ok: true });

        const runs = await runsOf(fleet, 'job-z');
        expect(runs.map((r) => [r.leaseEpoch, r.agentId, r.outcome]).sort()).toEqual([
          [1, 'agent-0', 'lease_expired'],
          [2, 'agent-new', 'succeeded'],
        ]);
        expect(await leasesOf(fleet, 'job-z')).toHaveLength(0);
      });

      it('an expired but not yet reaped lease can neither renew nor complete', async () => {
        const fleet = await openFleet();
        await fleet.coordinator.enqueue(testSpec(), 'job-e');
        const [claim] = await raceClaims(fleet, 'job-e', 1);
        if (!claim?.ok) throw new Error('claim failed');
        fleet.clock.advance(10 * MINUTE);
        expect(await fleet.coordinator.renewLease(claim.handle)).toEqual({ ok: false, reason: 'fenced' });
        expect(await fleet.coordinator.completeRun(claim.handle, 'failed')).toEqual({ ok: false, reason: 'fenced' });
      });
    });

    describe('invariant 4: two jobs sharing a lock are never assigned together', () => {
      it('racing claims of two jobs under one lock: one ok, the other refused', async () => {
        const fleet = await openFleet();
        const results = await raceTwoJobsUnderOneLock(fleet);

        expect(oks(results)).toBe(1);
        const assigned = await fleet.stores.jobs.query({ partitionKey: fleet.fleetId, where: { status: 'assigned' } });
        expect(assigned).toHaveLength(1);
        expect(violations(await checkFleetInvariants(fleet.stores, fleet.fleetId, fleet.clock.now()))).toBe(0);
      });

      it('twelve jobs under one lock, each raced by three agents: one holder at a time, handed on by complete and by reap', async () => {
        const fleet = await openFleet();
        const ids = Array.from({ length: 12 }, (_, i) => `job-${i}`);
        for (const id of ids) await fleet.coordinator.enqueue(testSpec({ lock: 'shared', timeoutMs: 5 * MINUTE }), id);

        for (let round = 0; round < 12; round += 1) {
          const queued = await fleet.coordinator.listQueued();
          const results = await Promise.all(
            queued.flatMap((job) => [0, 1, 2].map((k) => fleet.coordinator.tryClaimJob(job, `agent-${job.id}-${k}`))),
          );
          expect(oks(results)).toBe(1);
          const assigned = await fleet.stores.jobs.query({ partitionKey: fleet.fleetId, where: { status: 'assigned' } });
          expect(assigned).toHaveLength(1);
          const winner = results.find((r) => r.ok);
          if (!winner?.ok) throw new Error('no winner');
          fleet.clock.advance(MINUTE);
          if (round % 2 === 0) {
            expect(await fleet.coordinator.completeRun(winner.handle, 'succeeded')).toMatchObject({ ok: true });
          } else {
            // The holder crashes: the lock is handed on only after the reaper.
            fleet.clock.advance(5 * MINUTE);
            const report = await fleet.coordinator.reapExpired();
            expect(report.reaped).toBe(1);
            const reclaimed = await fleet.coordinator.getJob(winner.handle.jobId);
            if (reclaimed === null) throw new Error('job vanished');
            const retry = await fleet.coordinator.tryClaimJob(reclaimed, 'agent-retry');
            if (!retry.ok) throw new Error(`retry failed: ${retry.reason}`);
            expect(retry.handle.epoch).toBe(2);
            expect(await fleet.coordinator.completeRun(retry.handle, 'succeeded')).toMatchObject({ ok: true });
          }
        }
        const done = await fleet.stores.jobs.query({ partitionKey: fleet.fleetId, where: { status: 'succeeded' } });
        expect(done).toHaveLength(12);
        const report = await checkFleetInvariants(fleet.stores, fleet.fleetId, fleet.clock.now());
        expect(report.details).toEqual([]);
      });
    });

    // The legacy repository is a split-layout path: the single layout's claim is one batch and
    // does not go through the repository's compare-and-write.
    describe.skipIf(factory.layout !== 'split')('invariant 5: negative control — the legacy read-check-write repository', () => {
      it('double-assigns under the same two-claimer race', async () => {
        const fleet = await openFleet((stores) => createLegacyFleetRepository(stores, rendezvous(2)));
        await fleet.coordinator.enqueue(testSpec(), 'job-1');

        const results = await raceClaims(fleet, 'job-1', 2);

        expect(oks(results)).toBe(2);
        const report = await checkFleetInvariants(fleet.stores, fleet.fleetId, fleet.clock.now());
        expect(report.doubleAssignments).toBe(1);
        expect(await runsOf(fleet, 'job-1')).toHaveLength(2);
      });

      it('double-assigns N = 10 claimers', async () => {
        const fleet = await openFleet((stores) => createLegacyFleetRepository(stores, rendezvous(10)));
        await fleet.coordinator.enqueue(testSpec(), 'job-n');

        const results = await raceClaims(fleet, 'job-n', 10);

        expect(oks(results)).toBe(10);
        const report = await checkFleetInvariants(fleet.stores, fleet.fleetId, fleet.clock.now());
        expect(report.maxRunsPerEpoch).toBe(10);
      });

      it('lets two jobs under one lock be held at once', async () => {
        const fleet = await openFleet((stores) => createLegacyFleetRepository(stores, rendezvous(2)));
        const results = await raceTwoJobsUnderOneLock(fleet);

        expect(oks(results)).toBe(2);
        const report = await checkFleetInvariants(fleet.stores, fleet.fleetId, fleet.clock.now());
        expect(report.lockViolations).toBeGreaterThan(0);
      });
    });
  });
}

