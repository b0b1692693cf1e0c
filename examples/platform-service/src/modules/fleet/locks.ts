/**
 * Spec locks: at most one assigned job may hold a lock name at a time.
 *
 * A lock is one document per name, held by a job *epoch* (jobId, epoch),
 * not by an agent, and always changed with a conditional write. A claim
 * takes the lock before it writes the job, and the job's lease never
 * outlives the lock's `expiresAt` (claim writes both from one `now`; renew
 * extends the lock first, then the job). So whenever a job holds a live
 * lease under lock L, L names that job's epoch.
 */

import { type BatchOp, isDatastoreError, type Stored } from '@bytelyst/datastore';
import type { FleetRepository } from './repository.js';
import type { FleetStores } from './stores.js';
import type { FleetJob, FleetLock } from './types.js';

export function lockId(name: string): string {
  // Cosmos ids may not contain / \ ? #.
  return `lock-${encodeURIComponent(name)}`;
}

/** The lock name a lock document's id stands for (`lockId`'s inverse). */
export function lockNameOf(id: string): string {
  return decodeURIComponent(id.slice('lock-'.length));
}

/** The lock document, created free on first use. */
export async function readLock(stores: FleetStores, fleetId: string, name: string): Promise<Stored<FleetLock>> {
  const id = lockId(name);
  const existing = await stores.locks.get(id, fleetId);
  if (existing !== null) return existing;
  try {
    return await stores.locks.create({ id, fleetId, holderJobId: null, holderEpoch: null, expiresAt: null });
  } catch (e) {
    if (!isDatastoreError(e, 'conflict')) throw e;
    const raced = await stores.locks.get(id, fleetId);
    if (raced === null) throw e;
    return raced;
  }
}

/**
 * Whether a lock may be taken by another job epoch. Free when nobody holds
 * it, when it expired, or when its holder's epoch is over: the job moved to
 * a later epoch, or is at that epoch but no longer assigned (completed,
 * failed or reaped, and the release was lost to a crash). A holder job
 * still at an *earlier* epoch is a claim in flight (lock taken, job not yet
 * written) or one that crashed there; only expiry frees that, because the
 * two cannot be told apart.
 */
export function lockIsFree(lock: FleetLock, holder: FleetJob | null, now: number): boolean {
  if (lock.holderJobId === null || lock.holderEpoch === null) return true;
  if (lock.expiresAt === null || now >= lock.expiresAt) return true;
  if (holder === null) return true;
  if (holder.leaseEpoch > lock.holderEpoch) return true;
  return holder.leaseEpoch === lock.holderEpoch && holder.status !== 'assigned';
}

export type TakeLockResult =
  | { ok: true; lock: Stored<FleetLock>; /** The lock was free before; undo with `releaseLock` if the claim fails. */ tookFree: boolean }
  | { ok: false; reason: 'conflict' | 'locked' };

/** Points lock `name` at (jobId, epoch) until `expiresAt`, with one conditional write. */
export async function takeLock(
  stores: FleetStores,
  repo: FleetRepository,
  args: LockClaimArgs,
): Promise<TakeLockResult> {
  const lock = await readLock(stores, args.fleetId, args.name);
  const decided = await decideLock(stores, lock, args);
  if (!decided.ok) return decided;
  const written = await repo.revUpdateLock(lock, decided.patch);
  if (!written.ok) return { ok: false, reason: 'conflict' };
  return { ok: true, lock: written.doc, tookFree: decided.tookFree };
}

interface LockClaimArgs {
  fleetId: string;
  name: string;
  jobId: string;
  epoch: number;
  expiresAt: number;
  now: number;
}

type LockDecision =
  | { ok: true; patch: Pick<FleetLock, 'holderJobId' | 'holderEpoch' | 'expiresAt'>; tookFree: boolean }
  | { ok: false; reason: 'conflict' | 'locked' };

/** Whether (jobId, epoch) may take `lock` now, and the write that takes it. */
async function decideLock(stores: FleetStores, lock: FleetLock, args: LockClaimArgs): Promise<LockDecision> {
  const sameClaim = lock.holderJobId === args.jobId && lock.holderEpoch === args.epoch;
  let free = false;
  if (!sameClaim) {
    const holder = lock.holderJobId === null ? null : await stores.jobs.get(lock.holderJobId, args.fleetId);
    free = lockIsFree(lock, holder, args.now);
    if (!free) return { ok: false, reason: lock.holderJobId === args.jobId ? 'conflict' : 'locked' };
  }
  // sameClaim: another claimer of this very job epoch got here first. Only
  // one of us can win the job's own conditional write, so sharing the lock
  // is safe; we only make sure it lasts as long as our lease would.
  const expiresAt = sameClaim ? Math.max(lock.expiresAt ?? 0, args.expiresAt) : args.expiresAt;
  return { ok: true, patch: { holderJobId: args.jobId, holderEpoch: args.epoch, expiresAt }, tookFree: free };
}

export type PlannedLock = { ok: true; op: BatchOp<FleetLock> } | { ok: false; reason: 'conflict' | 'locked' };

/**
 * `takeLock` for a claim that is one batch (the single layout): reads the
 * lock and decides as `takeLock` does, but writes nothing. The answer is
 * the batch operation that takes the lock, conditional on the version read
 * (or a create of the lock, held, when it never existed), so the lock is
 * taken exactly when the rest of the claim lands.
 */
export async function planLock(stores: FleetStores, args: LockClaimArgs): Promise<PlannedLock> {
  const id = lockId(args.name);
  const lock = await stores.locks.get(id, args.fleetId);
  if (lock === null) {
    return {
      ok: true,
      op: { op: 'create', doc: { id, fleetId: args.fleetId, holderJobId: args.jobId, holderEpoch: args.epoch, expiresAt: args.expiresAt } },
    };
  }
  const decided = await decideLock(stores, lock, args);
  if (!decided.ok) return decided;
  return { ok: true, op: { op: 'update', id, patch: decided.patch, expected: { etag: lock._etag, rev: lock.rev } } };
}

/** Extends the lock for a live holder; false when (jobId, epoch) no longer holds it. */
export async function extendLock(
  stores: FleetStores,
  repo: FleetRepository,
  args: { fleetId: string; name: string; jobId: string; epoch: number; expiresAt: number; now: number },
): Promise<'ok' | 'fenced' | 'conflict'> {
  const held = (lock: Stored<FleetLock> | null): lock is Stored<FleetLock> & { expiresAt: number } =>
    lock !== null &&
    lock.holderJobId === args.jobId &&
    lock.holderEpoch === args.epoch &&
    lock.expiresAt !== null &&
    args.now < lock.expiresAt;
  const lock = await stores.locks.get(lockId(args.name), args.fleetId);
  if (!held(lock)) return 'fenced';
  const written = await repo.revUpdateLock(lock, { expiresAt: Math.max(lock.expiresAt, args.expiresAt) });
  if (written.ok) return 'ok';
  // Lost the write: to the reaper (the hold is gone: fenced), or to another
  // write that left the hold in place (a conflict the caller may retry).
  return held(await stores.locks.get(lockId(args.name), args.fleetId)) ? 'conflict' : 'fenced';
}

/**
 * Frees the lock if (jobId, epoch) still holds it. `expectedRev` narrows it
 * to the exact revision a failed claim wrote, so a claim that lost never
 * frees a lock another claimer of the same epoch has since relied on.
 */
export async function releaseLock(
  stores: FleetStores,
  repo: FleetRepository,
  args: { fleetId: string; name: string; jobId: string; epoch: number; expectedRev?: number },
): Promise<boolean> {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const lock = await stores.locks.get(lockId(args.name), args.fleetId);
    if (lock === null || lock.holderJobId !== args.jobId || lock.holderEpoch !== args.epoch) return false;
    if (args.expectedRev !== undefined && lock.rev !== args.expectedRev) return false;
    const written = await repo.revUpdateLock(lock, { holderJobId: null, holderEpoch: null, expiresAt: null });
    if (written.ok) return true;
    if (args.expectedRev !== undefined) return false;
  }
  return false;
}
