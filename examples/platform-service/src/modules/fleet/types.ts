/**
 * The documents of the fleet module. Each kind lives in its own provider
 * (container), all partitioned by `fleetId`.
 */

/** The partition key path every fleet container uses. */
export const FLEET_PARTITION_KEY_PATH = '/fleetId';

/** What a job spec (Markdown with front matter) says. */
export interface JobSpec {
  /** A stable name, e.g. the spec's file name without extension. */
  name: string;
  engine: string;
  cwd: string;
  yolo: boolean;
  /** A resource at most one assigned job may hold at a time. */
  lock: string | null;
  /** How long a lease lasts without a heartbeat. */
  timeoutMs: number;
  prompt: string;
}

export type JobStatus = 'queued' | 'assigned' | 'succeeded' | 'failed';

/**
 * The job is the single authoritative record of who holds it: `assignedTo`,
 * `leaseEpoch` and `leaseExpiresAt` live here, so a claim, renew, complete
 * or reap is one conditional write of this document. Run and lease
 * documents are written after it and can be repaired from it.
 */
export interface FleetJob extends Omit<JobSpec, 'name'> {
  id: string;
  fleetId: string;
  status: JobStatus;
  assignedTo: string | null;
  /** +1 on every successful claim; the fencing token. Never goes down. */
  leaseEpoch: number;
  /**
   * Milliseconds (coordinator clock). While assigned: when the lease ends.
   * After a reap it is kept: when the reaped hold ended. `null` before the
   * first claim and after completion.
   */
  leaseExpiresAt: number | null;
  /** The spec's `name`; its other fields are copied onto the job. */
  specName: string;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

export type RunOutcome = 'running' | 'succeeded' | 'failed' | 'lease_expired' | 'abandoned';

/**
 * One per successful claim. Keyed by job, epoch and agent, so that two
 * agents believing they hold the same epoch (a double assignment) would
 * leave two runs behind: the invariant check can see it.
 */
export interface FleetRun {
  id: string;
  fleetId: string;
  jobId: string;
  agentId: string;
  leaseEpoch: number;
  lock: string | null;
  startedAt: number;
  /** When the hold ended: completion time, or the lease expiry when reaped. */
  endedAt: number | null;
  outcome: RunOutcome;
  detail: string | null;
}

/** One per job while it is held, keyed `${jobId}:${epoch}`; mirrors the job's lease. */
export interface FleetLease {
  id: string;
  fleetId: string;
  jobId: string;
  agentId: string;
  epoch: number;
  acquiredAt: number;
  expiresAt: number;
  renewals: number;
}

/** One per lock name; held by a job epoch (not by an agent). */
export interface FleetLock {
  id: string;
  fleetId: string;
  holderJobId: string | null;
  holderEpoch: number | null;
  expiresAt: number | null;
}

/** What an agent keeps after a successful claim and passes back to renew/complete. */
export interface LeaseHandle {
  fleetId: string;
  jobId: string;
  agentId: string;
  epoch: number;
}

export type ClaimResult =
  | { ok: true; job: FleetJob; handle: LeaseHandle; expiresAt: number }
  /**
   * `conflict`: another writer changed the job (or its lock) since it was
   * read. `locked`: the spec's lock is held by another job.
   * `not_claimable`: the job read is not queued.
   */
  | { ok: false; reason: 'conflict' | 'locked' | 'not_claimable' };

export type HoldResult =
  | { ok: true; expiresAt: number }
  /**
   * `fenced`: the caller's epoch no longer holds the job (reaped, expired,
   * or claimed again). `conflict`: a concurrent write to the job won.
   */
  | { ok: false; reason: 'fenced' | 'conflict' | 'not_found' };

export interface ReapReport {
  /** Assigned jobs whose lease had expired, put back to `queued`. */
  reaped: number;
  /** Expired jobs whose reaping lost a race (renewed or completed meanwhile). */
  conflicts: number;
  /** Lease/run/lock documents left behind by a crash and cleaned up. */
  repaired: number;
}
