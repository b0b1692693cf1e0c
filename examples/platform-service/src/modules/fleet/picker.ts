/**
 * The claim that picks for the agent: finds a queued job whose lock is free
 * and claims it with the coordinator's conditional-write claim, so that
 * concurrent agents spread over different jobs instead of piling onto the
 * head of the queue.
 *
 * How it keeps claim attempts low:
 * - One snapshot of the queue (queued jobs + held locks) serves every claim
 *   of this process until it is older than `maxSnapshotAgeMs` or something
 *   this process did made it stale (`invalidate`). Concurrent refreshes
 *   share one read.
 * - Jobs (and lock names) being claimed right now by this process are
 *   reserved: two claims of one process never race for the same job or lock.
 * - Each claim draws at random among the first `spreadWindow` candidates
 *   (wider with more claims in flight), so claims of other processes
 *   (service replicas) seldom meet; a job lost to one of them, or whose lock
 *   turned out held, is dropped from the snapshot, not retried.
 * - What this process learned (a job it won or lost, a lock it took) is
 *   kept until a snapshot read after it arrives, so an older read in flight
 *   cannot bring it back.
 *
 * Safety does not rest on any of this: the snapshot only chooses which job
 * to try; `tryClaimJob` decides with conditional writes.
 */

import { performance } from 'node:perf_hooks';
import type { Stored } from '@bytelyst/datastore';
import type { FleetCoordinator } from './coordinator.js';
import { lockIsFree, lockNameOf } from './locks.js';
import type { FleetStores } from './stores.js';
import type { ClaimResult, FleetJob, LeaseHandle } from './types.js';

/** Candidates the start window widens by per claim this process has in flight. */
const SPREAD_PER_CLAIM_IN_FLIGHT = 4;
/** Random draws in the window before walking the whole snapshot. */
const SAMPLES = 8;

export interface JobPickerOptions {
  coordinator: FleetCoordinator;
  stores: FleetStores;
  fleetId: string;
  /** The coordinator's clock (ms), for lock expiry. */
  now?: () => number;
  /** In [0, 1); injectable so the demo replays with its seed. */
  random?: () => number;
  /** Real ms a snapshot of the queue may serve claims (default 250). */
  maxSnapshotAgeMs?: number;
  /**
   * A claim starts among this many candidates at the head of the queue
   * (default 128), or more with many claims in flight: a wider window spreads
   * replicas apart, a narrower one keeps closer to first-in, first-out.
   */
  spreadWindow?: number;
  /** Claim attempts one pick may make before answering "nothing" (default 16). */
  maxAttempts?: number;
}

export type PickResult =
  | { ok: true; job: FleetJob; handle: LeaseHandle; expiresAt: number; attempts: number }
  | { ok: false; attempts: number };

/** Claims one job; the demo swaps in a claim that crashes part way. */
export type TryClaim = (job: Stored<FleetJob>, agentId: string) => Promise<ClaimResult>;

interface Snapshot {
  generation: number;
  /** performance.now() when its read began. */
  readStartedAt: number;
  /** performance.now() when it was installed. */
  readDoneAt: number;
  /** Queued jobs, oldest first. */
  jobs: Stored<FleetJob>[];
  /** Jobs tried since (won, lost or gone): skipped until the next snapshot. */
  dropped: Set<string>;
  heldLocks: Set<string>;
}

export class JobPicker {
  private readonly coordinator: FleetCoordinator;
  private readonly stores: FleetStores;
  private readonly fleetId: string;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly maxSnapshotAgeMs: number;
  private readonly spreadWindow: number;
  private readonly maxAttempts: number;

  private generation = 0;
  private snapshot: Snapshot | null = null;
  private loading: { generation: number; promise: Promise<Snapshot> } | null = null;
  private readonly claimingJobs = new Set<string>();
  private readonly claimingLocks = new Set<string>();
  /** Job id → (rev we saw it leave the queue at, when). */
  private readonly gone = new Map<string, { rev: number; at: number }>();
  /** Lock name → when this process took it. */
  private readonly taken = new Map<string, number>();
  /** Jobs this process claimed that hold a lock → the lock, so a completion here frees it at once. */
  private readonly lockOfJob = new Map<string, string>();

  constructor(options: JobPickerOptions) {
    this.coordinator = options.coordinator;
    this.stores = options.stores;
    this.fleetId = options.fleetId;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.maxSnapshotAgeMs = options.maxSnapshotAgeMs ?? 250;
    this.spreadWindow = Math.max(1, options.spreadWindow ?? 128);
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 16);
  }

  /** Something changed the queue or freed a lock (enqueue, complete, reap): read it afresh next time. */
  invalidate(): void {
    this.generation += 1;
  }

  /** The hold on `jobId` ended here (completed): a lock it held is free for the next pick. */
  released(jobId: string): void {
    const lock = this.lockOfJob.get(jobId);
    if (lock === undefined) return;
    this.lockOfJob.delete(jobId);
    this.taken.delete(lock);
    this.snapshot?.heldLocks.delete(lock);
  }

  /** Finds a claimable job and claims it for `agentId`; `ok: false` when none could be claimed now. */
  async claimNext(agentId: string, tryClaim?: TryClaim): Promise<PickResult> {
    const claim: TryClaim = tryClaim ?? ((job, agent) => this.coordinator.tryClaimJob(job, agent));
    const arrivedAt = performance.now();
    let attempts = 0;
    let reread = false;
    while (attempts < this.maxAttempts) {
      const snapshot = await this.current();
      const job = this.pickFrom(snapshot);
      if (job === undefined) {
        // Never answer "nothing" from a read finished before the agent asked.
        if (reread || snapshot.readDoneAt >= arrivedAt) return { ok: false, attempts };
        reread = true;
        this.invalidate();
        continue;
      }
      attempts += 1;
      this.claimingJobs.add(job.id);
      if (job.lock !== null) this.claimingLocks.add(job.lock);
      let result: ClaimResult;
      try {
        result = await claim(job, agentId);
      } catch (e) {
        // A crash mid-claim may have written the job: leave it alone until re-read.
        this.forget(snapshot, job);
        throw e;
      } finally {
        this.claimingJobs.delete(job.id);
        if (job.lock !== null) this.claimingLocks.delete(job.lock);
      }
      if (result.ok) {
        this.forget(snapshot, job);
        if (job.lock !== null) {
          this.noteLockTaken(snapshot, job.lock);
          this.lockOfJob.set(job.id, job.lock);
        }
        return { ...result, attempts };
      }
      if (result.reason === 'locked' && job.lock !== null) this.noteLockTaken(snapshot, job.lock);
      else this.forget(snapshot, job);
    }
    return { ok: false, attempts };
  }

  /**
   * A random candidate among the first `window` (sampled, so that picks do
   * not cluster behind one another), else the first claimable one from a
   * random place onwards.
   */
  private pickFrom(snapshot: Snapshot): Stored<FleetJob> | undefined {
    const { jobs } = snapshot;
    if (jobs.length === 0) return undefined;
    const claimable = (job: Stored<FleetJob> | undefined): job is Stored<FleetJob> =>
      job !== undefined &&
      !snapshot.dropped.has(job.id) &&
      !this.claimingJobs.has(job.id) &&
      (job.lock === null || (!snapshot.heldLocks.has(job.lock) && !this.claimingLocks.has(job.lock)));
    // The more claims this process has in flight, the wider it spreads them,
    // so that another replica's claims seldom land on the same jobs.
    const window = Math.min(jobs.length, Math.max(this.spreadWindow, SPREAD_PER_CLAIM_IN_FLIGHT * this.claimingJobs.size));
    for (let sample = 0; sample < SAMPLES; sample += 1) {
      const job = jobs[Math.floor(this.random() * window)];
      if (claimable(job)) return job;
    }
    const start = Math.floor(this.random() * jobs.length);
    for (let k = 0; k < jobs.length; k += 1) {
      const job = jobs[(start + k) % jobs.length];
      if (claimable(job)) return job;
    }
    return undefined;
  }

  private forget(snapshot: Snapshot, job: Stored<FleetJob>): void {
    snapshot.dropped.add(job.id);
    this.gone.set(job.id, { rev: job.rev, at: performance.now() });
  }

  private noteLockTaken(snapshot: Snapshot, lock: string): void {
    snapshot.heldLocks.add(lock);
    this.taken.set(lock, performance.now());
  }

  private async current(): Promise<Snapshot> {
    const fresh = (s: Snapshot): boolean =>
      s.generation === this.generation && performance.now() - s.readDoneAt <= this.maxSnapshotAgeMs;
    if (this.snapshot !== null && fresh(this.snapshot)) return this.snapshot;
    if (this.loading === null || this.loading.generation !== this.generation) {
      const generation = this.generation;
      const promise = this.read(generation).then(
        (snapshot) => {
          if (this.loading?.promise === promise) this.loading = null;
          // A slower, older read never replaces a newer one.
          if (this.snapshot === null || this.snapshot.readStartedAt <= snapshot.readStartedAt) this.snapshot = snapshot;
          return snapshot;
        },
        (e: unknown) => {
          if (this.loading?.promise === promise) this.loading = null;
          throw e;
        },
      );
      this.loading = { generation, promise };
    }
    return this.loading.promise;
  }

  /** Queued jobs and the locks that are held now, read from the store. */
  private async read(generation: number): Promise<Snapshot> {
    const readStartedAt = performance.now();
    const [queued, locks] = await Promise.all([
      this.coordinator.listQueued(),
      this.stores.locks.query({ partitionKey: this.fleetId }),
    ]);
    const now = this.now();
    const queuedById = new Map(queued.map((job) => [job.id, job]));
    const heldLocks = new Set<string>();
    await Promise.all(
      locks.map(async (lock) => {
        if (lock.holderJobId === null || lock.expiresAt === null || now >= lock.expiresAt) return;
        const holder = queuedById.get(lock.holderJobId) ?? (await this.stores.jobs.get(lock.holderJobId, this.fleetId));
        if (!lockIsFree(lock, holder, now)) heldLocks.add(lockNameOf(lock.id));
      }),
    );
    // What this process learned after this read began still holds.
    for (const [lock, at] of this.taken) {
      if (at >= readStartedAt) heldLocks.add(lock);
      else this.taken.delete(lock);
    }
    const dropped = new Set<string>();
    for (const job of queued) {
      const seen = this.gone.get(job.id);
      if (seen !== undefined && seen.at >= readStartedAt && job.rev <= seen.rev) dropped.add(job.id);
    }
    for (const [id, seen] of this.gone) if (seen.at < readStartedAt) this.gone.delete(id);
    return { generation, readStartedAt, readDoneAt: performance.now(), jobs: queued, dropped, heldLocks };
  }
}

