/**
 * The picking claim (picker.ts): which queued job a claim tries, the
 * spread window, this process's reservations, and when the snapshot of
 * the queue is read again. Memory provider, split layout: the code under
 * test is the picker's, the same on every provider.
 *
 * Nothing here depends on timing: the draws come from a scripted `random`
 * (the picker's own seam), the snapshot's age from a `performance.now`
 * the tests move by hand, and a claim or a read is held in flight by a
 * promise the test opens.
 */
import { performance } from 'node:perf_hooks';
import type { Stored } from '@bytelyst/datastore';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from './clock.js';
import { FleetCoordinator } from './coordinator.js';
import { JobPicker, type JobPickerOptions, type PickResult, type TryClaim } from './picker.js';
import { type FleetStores, openFleetStores } from './stores.js';
import { freshFleetId } from './__fixtures__/fleet-stores.js';
import { MINUTE, testSpec } from './__fixtures__/specs.js';
import type { ClaimResult, FleetJob } from './types.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A read of the queue held after it took its data, until `release` (which may make it fail). */
interface HeldRead {
  /** Resolves once the read has taken its data. */
  captured: Promise<void>;
  release: (failure?: Error) => void;
}

interface Fleet {
  stores: FleetStores;
  fleetId: string;
  clock: ManualClock;
  coordinator: FleetCoordinator;
  /** Reads of the queue the picker made (`listQueued` calls). */
  reads: () => number;
  /** Job ids given to the coordinator's `tryClaimJob`, in order. */
  tried: string[];
  holdNextRead: () => HeldRead;
  failNextRead: (error: Error) => void;
}

async function openFleet(options: { realClock?: boolean; stores?: FleetStores } = {}): Promise<Fleet> {
  const stores = options.stores ?? (await openFleetStores({ provider: 'memory', layout: 'split' }));
  const fleetId = freshFleetId();
  const clock = new ManualClock(1_000_000);
  const coordinator = new FleetCoordinator({ stores, fleetId, ...(options.realClock ? {} : { now: clock.now }) });
  let reads = 0;
  const held: { captured: Deferred<void>; gate: Deferred<Error | undefined> }[] = [];
  const failures: Error[] = [];
  const listQueued = coordinator.listQueued.bind(coordinator);
  coordinator.listQueued = async () => {
    reads += 1;
    const failure = failures.shift();
    if (failure !== undefined) throw failure;
    const queued = await listQueued();
    const hold = held.shift();
    if (hold !== undefined) {
      hold.captured.resolve();
      const failure = await hold.gate.promise;
      if (failure !== undefined) throw failure;
    }
    return queued;
  };
  const tried: string[] = [];
  const tryClaimJob = coordinator.tryClaimJob.bind(coordinator);
  coordinator.tryClaimJob = (job, agentId) => {
    tried.push(job.id);
    return tryClaimJob(job, agentId);
  };
  return {
    stores,
    fleetId,
    clock,
    coordinator,
    reads: () => reads,
    tried,
    holdNextRead: () => {
      const hold = { captured: deferred(), gate: deferred<Error | undefined>() };
      held.push(hold);
      return { captured: hold.captured.promise, release: (failure) => hold.gate.resolve(failure) };
    },
    failNextRead: (error) => {
      failures.push(error);
    },
  };
}

/** Enqueues jobs in this order (1 ms apart, so the queue's order is theirs). */
async function enqueue(fleet: Fleet, ids: readonly string[], lock: string | null = null): Promise<void> {
  for (const id of ids) {
    await fleet.coordinator.enqueue(testSpec({ lock }), id);
    fleet.clock.advance(1);
  }
}

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `job-${String(i).padStart(3, '0')}`);

/** Draws these values in order, then `after` for ever. */
function draws(values: readonly number[], after = 0): () => number {
  const left = [...values];
  return () => left.shift() ?? after;
}

function picker(fleet: Fleet, options: Partial<JobPickerOptions> = {}): JobPicker {
  return new JobPicker({ coordinator: fleet.coordinator, stores: fleet.stores, fleetId: fleet.fleetId, now: fleet.clock.now, ...options });
}

/**
 * A claim held in flight: its first attempt waits until opened, then answers
 * `answer` (or claims through the coordinator); later attempts claim at once.
 */
function heldClaim(fleet: Fleet, answer?: ClaimResult): { claim: TryClaim; entered: Promise<string>; open: () => void } {
  const entered = deferred<string>();
  const gate = deferred();
  let first = true;
  const claim: TryClaim = async (job, agentId) => {
    if (!first) return fleet.coordinator.tryClaimJob(job, agentId);
    first = false;
    entered.resolve(job.id);
    await gate.promise;
    return answer ?? fleet.coordinator.tryClaimJob(job, agentId);
  };
  return { claim, entered: entered.promise, open: () => gate.resolve() };
}

/** A claim that records the job and answers `answer` for the jobs it names, else claims for real. */
function answering(fleet: Fleet, answers: Record<string, ClaimResult | Error>): { claim: TryClaim; seen: string[] } {
  const seen: string[] = [];
  const claim: TryClaim = async (job: Stored<FleetJob>, agentId) => {
    seen.push(job.id);
    const answer = answers[job.id];
    if (answer instanceof Error) throw answer;
    return answer ?? fleet.coordinator.tryClaimJob(job, agentId);
  };
  return { claim, seen };
}

const jobOf = (result: PickResult): string | null => (result.ok ? result.job.id : null);

describe('JobPicker (memory, split layout)', () => {
  let perfNow = 0;
  beforeEach(() => {
    perfNow = 5_000;
    vi.spyOn(performance, 'now').mockImplementation(() => perfNow);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  describe('which job a claim draws', () => {
    it('a draw of 0 claims the oldest queued job, with one read and one attempt', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ids(3));
      const result = await picker(fleet, { random: () => 0 }).claimNext('agent-1');
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      expect(result.job.id).toBe('job-000');
      expect(result.attempts).toBe(1);
      expect(result.handle).toEqual({ fleetId: fleet.fleetId, jobId: 'job-000', agentId: 'agent-1', epoch: 1 });
      expect(result.expiresAt).toBe(fleet.clock.now() + 10 * MINUTE);
      expect((await fleet.coordinator.getJob('job-000'))?.assignedTo).toBe('agent-1');
      expect(fleet.tried).toEqual(['job-000']);
      expect(fleet.reads()).toBe(1);
    });

    it('draws among the first 128 queued jobs by default, and among all of a shorter queue', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ids(200));
      expect(jobOf(await picker(fleet, { random: () => 0.999 }).claimNext('a'))).toBe('job-127');

      const short = await openFleet();
      await enqueue(short, ids(10));
      expect(jobOf(await picker(short, { random: () => 0.95 }).claimNext('a'))).toBe('job-009');
    });

    it('spreadWindow narrows the draw', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ids(10));
      expect(jobOf(await picker(fleet, { random: () => 0.99, spreadWindow: 3 }).claimNext('a'))).toBe('job-002');
    });

    it('without a random source it draws with Math.random', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ids(5));
      vi.spyOn(Math, 'random').mockReturnValue(0.7);
      const p = new JobPicker({ coordinator: fleet.coordinator, stores: fleet.stores, fleetId: fleet.fleetId, now: fleet.clock.now });
      expect(jobOf(await p.claimNext('a'))).toBe('job-003');
    });

    it('each claim this process has in flight widens the window by four', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ids(20));
      const p = picker(fleet, { spreadWindow: 1, random: draws([0, 0.99, 0.99]) });
      const first = heldClaim(fleet);
      const second = heldClaim(fleet);
      const third = heldClaim(fleet);
      const results = [p.claimNext('a', first.claim)];
      expect(await first.entered).toBe('job-000');
      results.push(p.claimNext('b', second.claim));
      // One in flight: a window of 4.
      expect(await second.entered).toBe('job-003');
      results.push(p.claimNext('c', third.claim));
      // Two in flight: a window of 8.
      expect(await third.entered).toBe('job-007');
      for (const held of [first, second, third]) held.open();
      expect((await Promise.all(results)).map(jobOf)).toEqual(['job-000', 'job-003', 'job-007']);
      expect(fleet.reads()).toBe(1);
    });

    it('when the draws miss, walks the queue from a random place, wrapping around', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ids(6));
      // Window 1: the eight draws all land on job-000; then the walk starts at floor(0.99 * 6) = 5.
      const eightMisses = [0, 0, 0, 0, 0, 0, 0, 0];
      const p = picker(fleet, { spreadWindow: 1, random: draws([0, ...eightMisses, 0.99, ...eightMisses, 0.99], 0.5) });
      expect(jobOf(await p.claimNext('a'))).toBe('job-000');
      // job-000 was won: the walk from 5 finds job-005.
      expect(jobOf(await p.claimNext('b'))).toBe('job-005');
      // job-000 and job-005 won: from 5 the walk wraps to 0, then 1.
      expect(jobOf(await p.claimNext('c'))).toBe('job-001');
      expect(fleet.tried).toEqual(['job-000', 'job-005', 'job-001']);
      expect(fleet.reads()).toBe(1);
    });
  });

  describe('reservations within the process', () => {
    it('a job being claimed is not drawn by another claim, and both share one read', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ids(3));
      const p = picker(fleet, { random: () => 0 });
      const held = heldClaim(fleet);
      const first = p.claimNext('a', held.claim);
      expect(await held.entered).toBe('job-000');
      const second = await p.claimNext('b');
      expect(jobOf(second)).toBe('job-001');
      held.open();
      expect(jobOf(await first)).toBe('job-000');
      expect(fleet.reads()).toBe(1);
    });

    it("a lock being claimed keeps the lock's other jobs out of another claim", async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ['a', 'b'], 'plat');
      await enqueue(fleet, ['c']);
      const p = picker(fleet, { random: () => 0 });
      const held = heldClaim(fleet);
      const first = p.claimNext('agent-1', held.claim);
      expect(await held.entered).toBe('a');
      expect(jobOf(await p.claimNext('agent-2'))).toBe('c');
      held.open();
      expect(jobOf(await first)).toBe('a');
      expect(fleet.tried).toEqual(['c', 'a']);
    });

    it('a claim that lost its job frees its lock for the next job under it', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ['a', 'b'], 'plat');
      const p = picker(fleet, { random: () => 0 });
      const { claim, seen } = answering(fleet, { a: { ok: false, reason: 'conflict' } });
      const result = await p.claimNext('agent-1', claim);
      expect(seen).toEqual(['a', 'b']);
      expect(jobOf(result)).toBe('b');
      expect(result.attempts).toBe(2);
    });

    it('a claim that crashed is rethrown, its job left alone on this snapshot and tried again after a re-read', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ids(2));
      const p = picker(fleet, { random: () => 0 });
      const crash = new Error('crashed mid-claim');
      await expect(p.claimNext('a', answering(fleet, { 'job-000': crash }).claim)).rejects.toBe(crash);
      // Same snapshot: the crashed job is skipped.
      expect(jobOf(await p.claimNext('a'))).toBe('job-001');
      // Read afresh later: job-000 (still queued) is claimable again.
      perfNow += 1;
      p.invalidate();
      expect(jobOf(await p.claimNext('b'))).toBe('job-000');
      expect(fleet.tried).toEqual(['job-001', 'job-000']);
    });
  });

  describe('what a claim learns', () => {
    it('a job won is not tried again from the same snapshot', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ids(3));
      const p = picker(fleet, { random: () => 0 });
      const first = await p.claimNext('a');
      const second = await p.claimNext('b');
      expect([jobOf(first), jobOf(second)]).toEqual(['job-000', 'job-001']);
      expect([first.attempts, second.attempts]).toEqual([1, 1]);
      expect(fleet.tried).toEqual(['job-000', 'job-001']);
      expect(fleet.reads()).toBe(1);
    });

    it("a lock won keeps the lock's other jobs out, also after a re-read", async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ['a', 'b'], 'plat');
      const p = picker(fleet, { random: () => 0 });
      expect(jobOf(await p.claimNext('agent-1'))).toBe('a');
      perfNow += 1;
      // b is skipped on the snapshot, then on a re-read (the store shows the lock held).
      expect(await p.claimNext('agent-2')).toEqual({ ok: false, attempts: 0 });
      expect(fleet.tried).toEqual(['a']);
      expect(fleet.reads()).toBe(2);
    });

    it("a lock found held skips the lock's other jobs; a job lost under a lock does not", async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ['a', 'b'], 'plat');
      await enqueue(fleet, ['c']);
      const p = picker(fleet, { random: () => 0 });
      const { claim, seen } = answering(fleet, { a: { ok: false, reason: 'locked' } });
      const result = await p.claimNext('agent-1', claim);
      expect(seen).toEqual(['a', 'c']);
      expect(jobOf(result)).toBe('c');
      expect(result.attempts).toBe(2);
    });

    it('gives up after maxAttempts claims (16 by default, at least 1)', async () => {
      const lose = (fleet: Fleet) =>
        answering(fleet, Object.fromEntries(ids(20).map((id) => [id, { ok: false, reason: 'conflict' } as const])));
      for (const [maxAttempts, expected] of [
        [undefined, 16],
        [3, 3],
        [0, 1],
      ] as const) {
        const fleet = await openFleet();
        await enqueue(fleet, ids(20));
        const { claim, seen } = lose(fleet);
        const p = picker(fleet, { random: () => 0, ...(maxAttempts === undefined ? {} : { maxAttempts }) });
        expect(await p.claimNext('a', claim)).toEqual({ ok: false, attempts: expected });
        expect(seen).toHaveLength(expected);
        expect(new Set(seen).size).toBe(expected);
      }
    });

    it("released(): a completed job's lock is free for the next pick at once, and after a re-read", async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ['a', 'b', 'c'], 'plat');
      const p = picker(fleet, { random: () => 0 });
      const first = await p.claimNext('agent-1');
      if (!first.ok) throw new Error('no first claim');
      expect((await fleet.coordinator.completeRun(first.handle, 'succeeded')).ok).toBe(true);
      p.released('a');
      // Same snapshot, no re-read: b is claimable now.
      const second = await p.claimNext('agent-2');
      expect(jobOf(second)).toBe('b');
      expect(fleet.reads()).toBe(1);
      // A second release of a (a repeated completion) leaves b's lock held.
      p.released('a');
      expect(await p.claimNext('agent-3')).toEqual({ ok: false, attempts: 0 });
      if (!second.ok) return;
      expect((await fleet.coordinator.completeRun(second.handle, 'succeeded')).ok).toBe(true);
      p.released('b');
      // A re-read begun at the same instant the lock was taken still sees it free once released.
      p.invalidate();
      expect(jobOf(await p.claimNext('agent-4'))).toBe('c');
      expect(fleet.tried).toEqual(['a', 'b', 'c']);
    });
  });

  describe('locks as read from the store', () => {
    it('a lock held by an assigned job keeps its jobs out of the draw', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ['holder', 'a'], 'plat');
      await enqueue(fleet, ['c']);
      const holder = await fleet.coordinator.getJob('holder');
      if (holder === null) throw new Error('no holder');
      expect((await fleet.coordinator.tryClaimJob(holder, 'elsewhere')).ok).toBe(true);
      fleet.tried.length = 0;
      expect(jobOf(await picker(fleet, { random: () => 0 }).claimNext('agent-1'))).toBe('c');
      expect(fleet.tried).toEqual(['c']);
    });

    it("the same with both clocks left to default (Date.now)", async () => {
      const fleet = await openFleet({ realClock: true });
      await enqueue(fleet, ['holder', 'a'], 'plat');
      await enqueue(fleet, ['c']);
      const holder = await fleet.coordinator.getJob('holder');
      if (holder === null) throw new Error('no holder');
      expect((await fleet.coordinator.tryClaimJob(holder, 'elsewhere')).ok).toBe(true);
      fleet.tried.length = 0;
      const p = new JobPicker({ coordinator: fleet.coordinator, stores: fleet.stores, fleetId: fleet.fleetId, random: () => 0 });
      expect(jobOf(await p.claimNext('agent-1'))).toBe('c');
      expect(fleet.tried).toEqual(['c']);
    });

    it("another fleet's lock of the same name does not hold this fleet's jobs", async () => {
      const fleet = await openFleet();
      const other = await openFleet({ stores: fleet.stores });
      await enqueue(other, ['holder'], 'plat');
      const holder = await other.coordinator.getJob('holder');
      if (holder === null) throw new Error('no holder');
      expect((await other.coordinator.tryClaimJob(holder, 'elsewhere')).ok).toBe(true);
      // In this fleet a job of the same id is queued (the other fleet's lock would name it, at an earlier epoch).
      await enqueue(fleet, ['a'], 'plat');
      await enqueue(fleet, ['holder']);
      expect(jobOf(await picker(fleet, { random: () => 0 }).claimNext('agent-1'))).toBe('a');
    });

    it('a lock whose holder finished at its epoch (the release lost to a crash) is free', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ['holder', 'a'], 'plat');
      const holder = await fleet.coordinator.getJob('holder');
      if (holder === null) throw new Error('no holder');
      expect((await fleet.coordinator.tryClaimJob(holder, 'elsewhere')).ok).toBe(true);
      await fleet.stores.jobs.update('holder', fleet.fleetId, { status: 'succeeded', leaseExpiresAt: null });
      expect(jobOf(await picker(fleet, { random: () => 0 }).claimNext('agent-1'))).toBe('a');
    });

    it('a lock this process took before a read began is as that read shows it (freed by the reaper)', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ['a', 'b'], 'plat');
      const p = picker(fleet, { random: () => 0 });
      expect(jobOf(await p.claimNext('agent-1'))).toBe('a');
      fleet.clock.advance(10 * MINUTE);
      expect((await fleet.coordinator.reapExpired()).reaped).toBe(1);
      p.invalidate();
      perfNow += 1;
      const next = await p.claimNext('agent-2');
      expect(next.ok).toBe(true);
      expect(fleet.tried).toEqual(['a', next.ok ? next.job.id : 'none']);
    });

    it("a lock expired by the picker's clock, or released, is free", async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ['holder', 'a', 'b'], 'plat');
      const holder = await fleet.coordinator.getJob('holder');
      if (holder === null) throw new Error('no holder');
      const held = await fleet.coordinator.tryClaimJob(holder, 'elsewhere');
      if (!held.ok) throw new Error('no hold');
      fleet.clock.advance(10 * MINUTE);
      expect(jobOf(await picker(fleet, { random: () => 0 }).claimNext('agent-1'))).toBe('a');

      const other = await openFleet();
      await enqueue(other, ['holder', 'a'], 'plat');
      const h = await other.coordinator.getJob('holder');
      if (h === null) throw new Error('no holder');
      const claimed = await other.coordinator.tryClaimJob(h, 'elsewhere');
      if (!claimed.ok) throw new Error('no hold');
      expect((await other.coordinator.completeRun(claimed.handle, 'succeeded')).ok).toBe(true);
      expect(jobOf(await picker(other, { random: () => 0 }).claimNext('agent-1'))).toBe('a');
    });
  });

  describe('when the queue is read', () => {
    it('nothing queued: answers from a read made after the ask, without reading twice', async () => {
      const fleet = await openFleet();
      expect(await picker(fleet).claimNext('a')).toEqual({ ok: false, attempts: 0 });
      expect(fleet.reads()).toBe(1);
    });

    it('never answers "nothing" from a read finished before the ask: a job enqueued since is claimed', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ids(1));
      const p = picker(fleet, { random: () => 0 });
      expect(jobOf(await p.claimNext('a'))).toBe('job-000');
      await enqueue(fleet, ['late']);
      perfNow += 1;
      // Not invalidated: the snapshot is fresh but shows nothing claimable.
      expect(jobOf(await p.claimNext('b'))).toBe('late');
      expect(fleet.reads()).toBe(2);
    });

    it('a snapshot serves claims for maxSnapshotAgeMs (250 by default), then is read again', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ids(4));
      const p = picker(fleet, { random: () => 0 });
      await p.claimNext('a');
      perfNow += 250;
      await p.claimNext('b');
      expect(fleet.reads()).toBe(1);
      perfNow += 1;
      await p.claimNext('c');
      expect(fleet.reads()).toBe(2);
      p.invalidate();
      await p.claimNext('d');
      expect(fleet.reads()).toBe(3);
      // The snapshot read again serves the next claim.
      expect(await p.claimNext('e')).toEqual({ ok: false, attempts: 0 });
      expect(fleet.reads()).toBe(3);
      expect(fleet.tried).toEqual(['job-000', 'job-001', 'job-002', 'job-003']);
    });

    it('a read in flight when the queue changed is not shared by later claims', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ids(2));
      const p = picker(fleet, { random: () => 0 });
      const hold = fleet.holdNextRead();
      const first = p.claimNext('a');
      await hold.captured;
      p.invalidate();
      const second = p.claimNext('b');
      hold.release();
      expect([jobOf(await first), jobOf(await second)].sort()).toEqual(['job-000', 'job-001']);
      expect(fleet.reads()).toBe(2);
    });

    it('an older read finishing late does not replace the newer snapshot', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ids(3));
      const p = picker(fleet, { random: () => 0 });
      const hold = fleet.holdNextRead();
      const first = p.claimNext('a');
      await hold.captured;
      p.invalidate();
      perfNow += 1;
      expect(jobOf(await p.claimNext('b'))).toBe('job-000');
      hold.release();
      // The old read drops job-000, won by b since that read began.
      expect(jobOf(await first)).toBe('job-001');
      // The newer snapshot still serves: no third read.
      await p.claimNext('c');
      expect(fleet.reads()).toBe(2);
    });

    it('claims arriving together share one read', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ids(2));
      const p = picker(fleet, { random: () => 0 });
      const results = await Promise.all([p.claimNext('a'), p.claimNext('b')]);
      expect(results.map(jobOf)).toEqual(['job-000', 'job-001']);
      expect(fleet.reads()).toBe(1);
    });

    it('an older read ending does not stop later claims sharing the newer read in flight', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ids(3));
      const p = picker(fleet, { random: () => 0 });
      const old = fleet.holdNextRead();
      const first = p.claimNext('a');
      await old.captured;
      p.invalidate();
      const newer = fleet.holdNextRead();
      const second = p.claimNext('b');
      await newer.captured;
      old.release();
      expect(jobOf(await first)).toBe('job-000');
      const third = p.claimNext('c');
      expect(fleet.reads()).toBe(2);
      newer.release();
      expect([jobOf(await second), jobOf(await third)]).toEqual(['job-001', 'job-002']);
      expect(fleet.reads()).toBe(2);
    });

    it('an older read failing does not stop later claims sharing the newer read in flight', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ids(2));
      const p = picker(fleet, { random: () => 0 });
      const old = fleet.holdNextRead();
      const first = p.claimNext('a');
      await old.captured;
      p.invalidate();
      const newer = fleet.holdNextRead();
      const second = p.claimNext('b');
      await newer.captured;
      const failure = new Error('store unavailable');
      old.release(failure);
      await expect(first).rejects.toBe(failure);
      const third = p.claimNext('c');
      expect(fleet.reads()).toBe(2);
      newer.release();
      expect([jobOf(await second), jobOf(await third)]).toEqual(['job-000', 'job-001']);
    });

    it('an older read failing after a newer one ended fails its claim with its own error', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ids(2));
      const p = picker(fleet, { random: () => 0 });
      const old = fleet.holdNextRead();
      const first = p.claimNext('a');
      await old.captured;
      p.invalidate();
      expect(jobOf(await p.claimNext('b'))).toBe('job-000');
      const failure = new Error('store unavailable');
      old.release(failure);
      await expect(first).rejects.toBe(failure);
    });

    it('a read that fails fails the claim; the next claim reads again', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ids(1));
      const p = picker(fleet, { random: () => 0 });
      const failure = new Error('store unavailable');
      fleet.failNextRead(failure);
      await expect(p.claimNext('a')).rejects.toBe(failure);
      expect(jobOf(await p.claimNext('a'))).toBe('job-000');
      expect(fleet.reads()).toBe(2);
    });
  });

  describe('a read in flight while this process claims', () => {
    it('a job won meanwhile stays dropped from that read', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ids(2));
      const p = picker(fleet, { random: () => 0 });
      const held = heldClaim(fleet);
      const first = p.claimNext('a', held.claim);
      expect(await held.entered).toBe('job-000');
      p.invalidate();
      const hold = fleet.holdNextRead();
      const second = p.claimNext('b');
      await hold.captured; // this read shows job-000 still queued
      held.open();
      expect(jobOf(await first)).toBe('job-000');
      hold.release();
      const result = await second;
      expect(jobOf(result)).toBe('job-001');
      expect(result.attempts).toBe(1);
      expect(fleet.tried).toEqual(['job-000', 'job-001']);
    });

    it('also from a second read in flight that ends after the first', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ids(3));
      const p = picker(fleet, { random: () => 0 });
      const held = heldClaim(fleet);
      const first = p.claimNext('a', held.claim);
      expect(await held.entered).toBe('job-000');
      p.invalidate();
      const r2 = fleet.holdNextRead();
      const second = p.claimNext('b');
      await r2.captured;
      p.invalidate();
      const r3 = fleet.holdNextRead();
      const third = p.claimNext('c');
      await r3.captured;
      held.open();
      expect(jobOf(await first)).toBe('job-000');
      r2.release();
      expect(jobOf(await second)).toBe('job-001');
      r3.release();
      const result = await third;
      expect(jobOf(result)).toBe('job-002');
      expect(result.attempts).toBe(1);
      expect(fleet.tried).toEqual(['job-000', 'job-001', 'job-002']);
    });

    it('unless the read shows it at a later revision (queued again since)', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ids(2));
      const p = picker(fleet, { random: () => 0 });
      const held = heldClaim(fleet, { ok: false, reason: 'conflict' });
      const first = p.claimNext('a', held.claim);
      expect(await held.entered).toBe('job-000');
      await fleet.stores.jobs.update('job-000', fleet.fleetId, { updatedAt: fleet.clock.now() });
      p.invalidate();
      const hold = fleet.holdNextRead();
      const second = p.claimNext('b');
      await hold.captured;
      held.open();
      hold.release();
      expect(jobOf(await first)).toBe('job-001');
      expect(jobOf(await second)).toBe('job-000');
    });

    it('a lock taken meanwhile stays held in that read', async () => {
      const fleet = await openFleet();
      await enqueue(fleet, ['a', 'b'], 'plat');
      await enqueue(fleet, ['c']);
      const p = picker(fleet, { random: () => 0 });
      const held = heldClaim(fleet);
      const first = p.claimNext('agent-1', held.claim);
      expect(await held.entered).toBe('a');
      p.invalidate();
      const hold = fleet.holdNextRead();
      const second = p.claimNext('agent-2');
      await hold.captured; // this read shows the lock free
      held.open();
      expect(jobOf(await first)).toBe('a');
      hold.release();
      expect(jobOf(await second)).toBe('c');
      expect(fleet.tried).toEqual(['a', 'c']);
    });
  });
});
