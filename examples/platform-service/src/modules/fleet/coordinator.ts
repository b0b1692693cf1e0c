/**
 * The fleet coordinator: agents claim queued jobs, heartbeat their lease,
 * complete or fail their run; a reaper puts jobs with expired leases back
 * in the queue. The job's `leaseEpoch` is a fencing token: a holder whose
 * epoch is over can no longer renew or complete.
 *
 * WHAT A CLAIM WRITES, AND WHAT A CRASH BETWEEN THE WRITES LEAVES BEHIND
 *
 * A claim of job J (read at epoch e) by agent A makes up to four writes, in
 * this order; only the job write decides who won:
 *
 *   0. lock L (only if the spec has `lock: L`): conditional write pointing
 *      L at (J, e+1) until `expiresAt`.
 *   1. job J: conditional write (expected rev + etag) queued → assigned,
 *      assignedTo A, leaseEpoch e+1, leaseExpiresAt. This is the claim;
 *      everything the fleet needs to know about the hold is on the job.
 *   2. run `${J}:${e+1}:${A}` (outcome running).
 *   3. lease `${J}:${e+1}` (a mirror of the job's lease, for operators).
 *
 * - Crash after 0, before 1: L names (J, e+1) but J is still queued at e.
 *   Nobody can tell that from a claim still in flight, so L stays taken
 *   until its `expiresAt` (the lease timeout); then any claimer may take it
 *   and the reaper's sweep frees it. J itself stays claimable meanwhile.
 * - Crash after 1, before 2 or 3: J is assigned to A at e+1 with no run or
 *   lease document. The job alone is authoritative, so nothing is unsafe:
 *   A is gone, never heartbeats, J's `leaseExpiresAt` passes and the reaper
 *   puts J back to queued (it scans assigned jobs, not leases), records the
 *   missing run as `abandoned`, and frees L. The next claim gets e+2. Had A
 *   survived the error instead, its first heartbeat writes the missing run
 *   and lease.
 * - Crash after 2, before 3: the same, the run is closed as `lease_expired`.
 * - Left-overs of an earlier epoch (a lease or a `running` run of epoch
 *   e+1 after the job moved on): the next claim of J deletes/closes them,
 *   and the reaper's sweep does so for every job.
 *
 * Complete and reap write the job first too (the decision), then close the
 * run, delete the lease and free the lock; a crash in between leaves
 * documents of a finished epoch, which the same sweep cleans up, and a lock
 * whose holder epoch is over, which any claimer may take (locks.ts).
 */

import { isDatastoreError, type Stored } from '@bytelyst/datastore';
import { extendLock, lockIsFree, planLock, releaseLock, takeLock } from './locks.js';
import { createFleetRepository, type FleetRepository } from './repository.js';
import type { FleetBatchOp, FleetContainer } from './single-container.js';
import type { FleetStores } from './stores.js';
import type {
  ClaimResult,
  FleetJob,
  FleetRun,
  HoldResult,
  JobSpec,
  LeaseHandle,
  ReapReport,
  RunOutcome,
} from './types.js';

/**
 * The points of a claim, for fault injection in tests and the demo:
 * `claim-prepared` before its first write, then after each write. In the
 * single layout the four writes are one batch, so the four later steps all
 * come after that batch has landed.
 */
export type ClaimStep = 'claim-prepared' | 'lock-taken' | 'job-assigned' | 'run-written' | 'lease-written';

export interface FleetCoordinatorOptions {
  stores: FleetStores;
  fleetId: string;
  /** Milliseconds; inject a simulated clock in tests and the demo. */
  now?: () => number;
  /** Defaults to the conditional-write repository; the test suite swaps in the legacy one. */
  repository?: FleetRepository;
  /** Called after each write of a claim; throwing there simulates a crash at that point. */
  onClaimStep?: (step: ClaimStep, jobId: string) => void | Promise<void>;
}

/** How many times complete re-reads after losing a write to its own heartbeat. */
const COMPLETE_ATTEMPTS = 3;

// Agent ids come from outside; Cosmos ids may not contain / \\ ? #.
const idPart = (value: string): string => encodeURIComponent(value);
export const runId = (jobId: string, epoch: number, agentId: string): string =>
  `${idPart(jobId)}:${epoch}:${idPart(agentId)}`;
export const leaseId = (jobId: string, epoch: number): string => `${idPart(jobId)}:${epoch}`;

export class FleetCoordinator {
  readonly fleetId: string;
  private readonly stores: FleetStores;
  private readonly repo: FleetRepository;
  private readonly now: () => number;
  private readonly onClaimStep: FleetCoordinatorOptions['onClaimStep'];

  constructor(options: FleetCoordinatorOptions) {
    this.stores = options.stores;
    this.fleetId = options.fleetId;
    this.repo = options.repository ?? createFleetRepository(options.stores);
    this.now = options.now ?? Date.now;
    this.onClaimStep = options.onClaimStep;
  }

  /** Puts a spec in the queue as a new job. */
  async enqueue(spec: JobSpec, jobId: string): Promise<Stored<FleetJob>> {
    const now = this.now();
    return this.stores.jobs.create({
      id: jobId,
      fleetId: this.fleetId,
      status: 'queued',
      assignedTo: null,
      leaseEpoch: 0,
      leaseExpiresAt: null,
      specName: spec.name,
      engine: spec.engine,
      cwd: spec.cwd,
      yolo: spec.yolo,
      lock: spec.lock,
      timeoutMs: spec.timeoutMs,
      prompt: spec.prompt,
      createdAt: now,
      updatedAt: now,
      finishedAt: null,
    });
  }

  async getJob(jobId: string): Promise<Stored<FleetJob> | null> {
    return this.stores.jobs.get(jobId, this.fleetId);
  }

  async listQueued(): Promise<Stored<FleetJob>[]> {
    return this.stores.jobs.query({
      partitionKey: this.fleetId,
      where: { status: 'queued' },
      orderBy: { field: 'createdAt', direction: 'asc' },
    });
  }

  /**
   * Claims `job` as read by the caller for `agentId`. Exactly one of any
   * number of concurrent claims of the same read wins; the rest answer
   * `conflict` (or `locked` when another job holds the spec's lock).
   */
  async tryClaimJob(job: Stored<FleetJob>, agentId: string): Promise<ClaimResult> {
    if (job.status !== 'queued') return { ok: false, reason: 'not_claimable' };
    const now = this.now();
    const epoch = job.leaseEpoch + 1;
    const expiresAt = now + job.timeoutMs;
    if (this.stores.container !== null) {
      return this.claimInOneBatch(this.stores.container, job, agentId, { now, epoch, expiresAt });
    }
    await this.onClaimStep?.('claim-prepared', job.id);

    let lockTaken: { rev: number; tookFree: boolean } | null = null;
    if (job.lock !== null) {
      const taken = await takeLock(this.stores, this.repo, {
        fleetId: this.fleetId,
        name: job.lock,
        jobId: job.id,
        epoch,
        expiresAt,
        now,
      });
      if (!taken.ok) return { ok: false, reason: taken.reason };
      lockTaken = { rev: taken.lock.rev, tookFree: taken.tookFree };
      await this.onClaimStep?.('lock-taken', job.id);
    }

    const claimed = await this.repo.revUpdateJob(job, {
      status: 'assigned',
      assignedTo: agentId,
      leaseEpoch: epoch,
      leaseExpiresAt: expiresAt,
      updatedAt: now,
    });
    if (!claimed.ok) {
      if (job.lock !== null && lockTaken?.tookFree === true) {
        // Only undo our own write of the lock: if another claimer of this
        // epoch has extended it since, its rev moved and we leave it.
        await releaseLock(this.stores, this.repo, {
          fleetId: this.fleetId,
          name: job.lock,
          jobId: job.id,
          epoch,
          expectedRev: lockTaken.rev,
        });
      }
      return { ok: false, reason: claimed.reason === 'conflict' ? 'conflict' : 'not_claimable' };
    }
    await this.onClaimStep?.('job-assigned', job.id);

    await this.writeRun({
      jobId: job.id,
      agentId,
      leaseEpoch: epoch,
      lock: job.lock,
      startedAt: now,
      endedAt: null,
      outcome: 'running',
      detail: null,
    });
    await this.onClaimStep?.('run-written', job.id);
    await this.stores.leases.upsert({
      id: leaseId(job.id, epoch),
      fleetId: this.fleetId,
      jobId: job.id,
      agentId,
      epoch,
      acquiredAt: now,
      expiresAt,
      renewals: 0,
    });
    await this.onClaimStep?.('lease-written', job.id);

    // The next claim repairs what an earlier epoch's crash left behind.
    await this.repairEarlierEpochs(job, epoch);

    const handle: LeaseHandle = { fleetId: this.fleetId, jobId: job.id, agentId, epoch };
    return { ok: true, job: claimed.doc, handle, expiresAt };
  }

  /**
   * The single layout's claim: lock, job, run and lease written by ONE
   * batch, all or nothing, so no crash point leaves a half-claim. The
   * job's update is conditional on the etag and rev read (exactly one of
   * any number of claims of that read can land), the lock's on the version
   * `planLock` read, and run and lease are creates.
   */
  private async claimInOneBatch(
    container: FleetContainer,
    job: Stored<FleetJob>,
    agentId: string,
    at: { now: number; epoch: number; expiresAt: number },
  ): Promise<ClaimResult> {
    const { now, epoch, expiresAt } = at;
    const ops: FleetBatchOp[] = [];
    if (job.lock !== null) {
      const planned = await planLock(this.stores, { fleetId: this.fleetId, name: job.lock, jobId: job.id, epoch, expiresAt, now });
      if (!planned.ok) return { ok: false, reason: planned.reason };
      ops.push({ kind: 'lock', op: planned.op });
    }
    const jobIndex = ops.length;
    ops.push(
      {
        kind: 'job',
        op: {
          op: 'update',
          id: job.id,
          patch: { status: 'assigned', assignedTo: agentId, leaseEpoch: epoch, leaseExpiresAt: expiresAt, updatedAt: now },
          expected: { etag: job._etag, rev: job.rev },
        },
      },
      {
        kind: 'run',
        op: {
          op: 'create',
          doc: {
            id: runId(job.id, epoch, agentId),
            fleetId: this.fleetId,
            jobId: job.id,
            agentId,
            leaseEpoch: epoch,
            lock: job.lock,
            startedAt: now,
            endedAt: null,
            outcome: 'running',
            detail: null,
          },
        },
      },
      {
        kind: 'lease',
        op: {
          op: 'create',
          doc: {
            id: leaseId(job.id, epoch),
            fleetId: this.fleetId,
            jobId: job.id,
            agentId,
            epoch,
            acquiredAt: now,
            expiresAt,
            renewals: 0,
          },
        },
      },
    );
    await this.onClaimStep?.('claim-prepared', job.id);
    const written = await container.batch(this.fleetId, ops);
    if (!written.ok) {
      // Nothing was applied. The job gone: not claimable; anything else
      // (the job or lock changed since read, run/lease already there): a
      // concurrent claim won.
      return { ok: false, reason: written.index === jobIndex && written.reason === 'not_found' ? 'not_claimable' : 'conflict' };
    }
    const claimed = written.results[jobIndex];
    if (claimed?.kind !== 'job' || claimed.doc === null) throw new Error(`claim of ${job.id}: the batch returned no job`);
    // Every write landed at once; the steps are reported for parity with the split layout.
    if (job.lock !== null) await this.onClaimStep?.('lock-taken', job.id);
    await this.onClaimStep?.('job-assigned', job.id);
    await this.onClaimStep?.('run-written', job.id);
    await this.onClaimStep?.('lease-written', job.id);

    await this.repairEarlierEpochs(job, epoch);
    const handle: LeaseHandle = { fleetId: this.fleetId, jobId: job.id, agentId, epoch };
    return { ok: true, job: claimed.doc, handle, expiresAt };
  }

  /**
   * Heartbeat: extends the caller's lease. Of concurrent renews of one read
   * (or a renew racing the reaper) exactly one write wins. A caller whose
   * epoch is over, or whose lease already expired, is fenced.
   */
  async renewLease(handle: LeaseHandle): Promise<HoldResult> {
    const job = await this.stores.jobs.get(handle.jobId, handle.fleetId);
    if (job === null) return { ok: false, reason: 'not_found' };
    const now = this.now();
    if (!holds(job, handle, now)) return { ok: false, reason: 'fenced' };
    const expiresAt = now + job.timeoutMs;

    if (job.lock !== null) {
      // The lock first: a lease must never outlive its lock.
      const extended = await extendLock(this.stores, this.repo, {
        fleetId: handle.fleetId,
        name: job.lock,
        jobId: handle.jobId,
        epoch: handle.epoch,
        expiresAt,
        now,
      });
      if (extended !== 'ok') return { ok: false, reason: extended };
    }
    const written = await this.repo.revUpdateJob(job, { leaseExpiresAt: expiresAt, updatedAt: now });
    if (!written.ok) return this.lostHoldWrite(handle, written.reason);

    await this.mirrorLease(handle, job, expiresAt, now);
    return { ok: true, expiresAt };
  }

  /** Ends the caller's run. A fenced caller (reaped, expired, re-claimed) is rejected and writes nothing. */
  async completeRun(
    handle: LeaseHandle,
    outcome: 'succeeded' | 'failed',
    detail: string | null = null,
  ): Promise<HoldResult> {
    for (let attempt = 0; attempt < COMPLETE_ATTEMPTS; attempt += 1) {
      const job = await this.stores.jobs.get(handle.jobId, handle.fleetId);
      if (job === null) return { ok: false, reason: 'not_found' };
      const now = this.now();
      if (!holds(job, handle, now)) return { ok: false, reason: 'fenced' };
      const written = await this.repo.revUpdateJob(job, {
        status: outcome,
        leaseExpiresAt: null,
        finishedAt: now,
        updatedAt: now,
      });
      if (written.ok) {
        await this.settleEpoch(job, handle.epoch, outcome, now, detail);
        return { ok: true, expiresAt: now };
      }
      if (written.reason === 'not_found') return { ok: false, reason: 'not_found' };
      // Lost to a concurrent write (our own heartbeat, or the reaper): re-read and re-check.
    }
    return { ok: false, reason: 'conflict' };
  }

  /**
   * Puts every assigned job whose lease has expired back to `queued` (the
   * epoch stays; the next claim takes epoch + 1), then sweeps documents a
   * crash left behind.
   */
  async reapExpired(): Promise<ReapReport> {
    const report: ReapReport = { reaped: 0, conflicts: 0, repaired: 0 };
    const assigned = await this.stores.jobs.query({ partitionKey: this.fleetId, where: { status: 'assigned' } });
    for (const job of assigned) {
      const now = this.now();
      if (job.leaseExpiresAt === null || now < job.leaseExpiresAt) continue;
      // leaseExpiresAt is kept: it records when the reaped hold ended.
      const written = await this.repo.revUpdateJob(job, { status: 'queued', assignedTo: null, updatedAt: now });
      if (!written.ok) {
        report.conflicts += 1;
        continue;
      }
      report.reaped += 1;
      report.repaired += await this.settleEpoch(job, job.leaseEpoch, 'lease_expired', job.leaseExpiresAt, null);
    }
    report.repaired += await this.sweep();
    return report;
  }

  /** Creates the run of (job, epoch, agent); an existing one is left as it is. */
  private async writeRun(run: Omit<FleetRun, 'id' | 'fleetId'>): Promise<void> {
    try {
      await this.stores.runs.create({ ...run, id: runId(run.jobId, run.leaseEpoch, run.agentId), fleetId: this.fleetId });
    } catch (e) {
      // Already there: this claim's own retry, or a heartbeat's repair.
      if (!isDatastoreError(e, 'conflict')) throw e;
    }
  }

  /** Writes the lease mirror (and the run, if a crashed claim never wrote them). */
  private async mirrorLease(handle: LeaseHandle, job: FleetJob, expiresAt: number, now: number): Promise<void> {
    const id = leaseId(handle.jobId, handle.epoch);
    for (let attempt = 0; attempt < COMPLETE_ATTEMPTS; attempt += 1) {
      const lease = await this.stores.leases.get(id, handle.fleetId);
      if (lease === null) {
        // A claim that failed after its job write: record its run and lease now.
        const claimedAt = (job.leaseExpiresAt ?? now) - job.timeoutMs;
        await this.writeRun({
          jobId: handle.jobId,
          agentId: handle.agentId,
          leaseEpoch: handle.epoch,
          lock: job.lock,
          startedAt: claimedAt,
          endedAt: null,
          outcome: 'running',
          detail: 'recorded by a heartbeat: the claim failed before writing it',
        });
        await this.stores.leases.upsert({
          id,
          fleetId: handle.fleetId,
          jobId: handle.jobId,
          agentId: handle.agentId,
          epoch: handle.epoch,
          acquiredAt: claimedAt,
          expiresAt,
          renewals: 1,
        });
        return;
      }
      if (lease.expiresAt >= expiresAt) return;
      const written = await this.repo.revUpdateLease(lease, { expiresAt, renewals: lease.renewals + 1 });
      if (written.ok || written.reason === 'not_found') return;
    }
  }

  /** Tells a fenced holder from one that lost a race with its own concurrent write. */
  private async lostHoldWrite(handle: LeaseHandle, reason: 'conflict' | 'not_found'): Promise<HoldResult> {
    if (reason === 'not_found') return { ok: false, reason };
    const job = await this.stores.jobs.get(handle.jobId, handle.fleetId);
    if (job === null) return { ok: false, reason: 'not_found' };
    return { ok: false, reason: holds(job, handle, this.now()) ? 'conflict' : 'fenced' };
  }

  /**
   * After the job write that ended epoch `epoch` of `job`: closes its runs
   * (recording one if the claim crashed before writing it), deletes its
   * lease, frees its lock. Returns how many repairs that took.
   */
  private async settleEpoch(
    job: FleetJob,
    epoch: number,
    outcome: RunOutcome,
    endedAt: number,
    detail: string | null,
  ): Promise<number> {
    let repaired = 0;
    const runs = await this.stores.runs.query({
      partitionKey: this.fleetId,
      where: { jobId: job.id, leaseEpoch: epoch },
    });
    for (const run of runs) {
      if (run.outcome !== 'running') continue;
      await this.stores.runs.updateIfMatch(run.id, run.fleetId, { rev: run.rev }, { outcome, endedAt, detail });
    }
    if (runs.length === 0 && job.assignedTo !== null) {
      // The claim crashed between the job write and the run write. The
      // claim set leaseExpiresAt = claimedAt + timeout and nobody renewed
      // (a heartbeat would have written the run), so the start is exact.
      repaired += 1;
      await this.writeRun({
        jobId: job.id,
        agentId: job.assignedTo,
        leaseEpoch: epoch,
        lock: job.lock,
        startedAt: job.leaseExpiresAt === null ? endedAt : job.leaseExpiresAt - job.timeoutMs,
        endedAt,
        outcome: outcome === 'lease_expired' ? 'abandoned' : outcome,
        detail: 'claim crashed before writing its run; recorded when the epoch ended',
      });
    }
    const deleted = await this.stores.leases.delete(leaseId(job.id, epoch), this.fleetId);
    if (!deleted && outcome === 'lease_expired') repaired += 1;
    if (job.lock !== null) {
      await releaseLock(this.stores, this.repo, { fleetId: this.fleetId, name: job.lock, jobId: job.id, epoch });
    }
    return repaired;
  }

  /** A new claim at `epoch` cleans up leases and open runs of earlier epochs. */
  private async repairEarlierEpochs(job: FleetJob, epoch: number): Promise<void> {
    const leases = await this.stores.leases.query({ partitionKey: this.fleetId, where: { jobId: job.id } });
    for (const lease of leases) {
      if (lease.epoch < epoch) await this.stores.leases.delete(lease.id, lease.fleetId);
    }
    const runs = await this.stores.runs.query({
      partitionKey: this.fleetId,
      where: { jobId: job.id, outcome: 'running' },
    });
    for (const run of runs) {
      if (run.leaseEpoch >= epoch) continue;
      await this.stores.runs.updateIfMatch(run.id, run.fleetId, { rev: run.rev }, {
        outcome: 'abandoned',
        endedAt: job.leaseExpiresAt ?? run.startedAt,
        detail: 'closed by the next claim',
      });
    }
  }

  /** Leases, open runs and locks of epochs that are over; returns how many it fixed. */
  private async sweep(): Promise<number> {
    let repaired = 0;
    // Read the job afresh for each document: a cached read could predate a
    // claim and make a live run look over.
    const jobOf = (id: string): Promise<Stored<FleetJob> | null> => this.stores.jobs.get(id, this.fleetId);
    const live = (job: FleetJob | null, epoch: number): boolean =>
      job !== null && job.status === 'assigned' && job.leaseEpoch === epoch;

    for (const lease of await this.stores.leases.query({ partitionKey: this.fleetId })) {
      if (live(await jobOf(lease.jobId), lease.epoch)) continue;
      if (await this.stores.leases.delete(lease.id, lease.fleetId)) repaired += 1;
    }
    for (const run of await this.stores.runs.query({ partitionKey: this.fleetId, where: { outcome: 'running' } })) {
      const job = await jobOf(run.jobId);
      if (live(job, run.leaseEpoch)) continue;
      const closed = await this.stores.runs.updateIfMatch(run.id, run.fleetId, { rev: run.rev }, endOfRun(job, run));
      if (closed.ok) repaired += 1;
    }
    const now = this.now();
    for (const lock of await this.stores.locks.query({ partitionKey: this.fleetId })) {
      if (lock.holderJobId === null || lock.holderEpoch === null) continue;
      if (!lockIsFree(lock, await jobOf(lock.holderJobId), now)) continue;
      const freed = await this.repo.revUpdateLock(lock, { holderJobId: null, holderEpoch: null, expiresAt: null });
      if (freed.ok) repaired += 1;
    }
    return repaired;
  }
}

/**
 * How the sweep closes a run whose epoch is over. If the job's own write
 * ended that epoch (a completion, or a reap), the run takes that outcome:
 * the sweep may run between that job write and the run write that follows
 * it (another replica's reaper, or a crash in between), and must not
 * overrule the decision. Otherwise the run was abandoned.
 */
function endOfRun(job: FleetJob | null, run: FleetRun): Pick<FleetRun, 'outcome' | 'endedAt' | 'detail'> {
  if (job !== null && job.leaseEpoch === run.leaseEpoch) {
    if (job.status === 'succeeded' || job.status === 'failed') {
      return { outcome: job.status, endedAt: job.finishedAt ?? run.startedAt, detail: 'closed by the reaper after the job completed' };
    }
    if (job.status === 'queued') {
      return { outcome: 'lease_expired', endedAt: job.leaseExpiresAt ?? run.startedAt, detail: 'closed by the reaper after the lease was reaped' };
    }
  }
  return { outcome: 'abandoned', endedAt: job?.leaseExpiresAt ?? run.startedAt, detail: 'closed by the reaper: its epoch was over' };
}

/** Whether the handle's epoch still holds a live lease on the job. */
function holds(job: FleetJob, handle: LeaseHandle, now: number): boolean {
  return (
    job.status === 'assigned' &&
    job.assignedTo === handle.agentId &&
    job.leaseEpoch === handle.epoch &&
    job.leaseExpiresAt !== null &&
    now < job.leaseExpiresAt
  );
}
