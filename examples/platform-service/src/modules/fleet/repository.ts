/**
 * The fleet's compare-and-write primitives. Each is one `updateIfMatch`:
 * the datastore compares the revision and writes in one atomic step, so no
 * other write can land between the check and the write (the old version
 * read, compared `rev` in JavaScript, awaited, then replaced
 * unconditionally, and two concurrent claims could both win).
 */

import type { Patch, Stored, UpdateIfMatchResult } from '@bytelyst/datastore';
import type { FleetStores } from './stores.js';
import type { FleetJob, FleetLease, FleetLock } from './types.js';

/** What a caller read and now expects to still be current. */
export type Revision = Pick<Stored<{ id: string; fleetId: string }>, 'id' | 'fleetId' | 'rev' | '_etag'>;

export interface FleetRepository {
  revUpdateJob(current: Revision, patch: Patch<FleetJob>): Promise<UpdateIfMatchResult<FleetJob>>;
  revUpdateLease(current: Revision, patch: Patch<FleetLease>): Promise<UpdateIfMatchResult<FleetLease>>;
  revUpdateLock(current: Revision, patch: Patch<FleetLock>): Promise<UpdateIfMatchResult<FleetLock>>;
}

export function createFleetRepository(stores: FleetStores): FleetRepository {
  return {
    // Both tokens: the etag is what Cosmos can check server-side in one
    // request; the rev keeps the intent ("the revision I read") explicit.
    revUpdateJob: (current, patch) =>
      stores.jobs.updateIfMatch(current.id, current.fleetId, { etag: current._etag, rev: current.rev }, patch),
    revUpdateLease: (current, patch) =>
      stores.leases.updateIfMatch(current.id, current.fleetId, { etag: current._etag, rev: current.rev }, patch),
    revUpdateLock: (current, patch) =>
      stores.locks.updateIfMatch(current.id, current.fleetId, { etag: current._etag, rev: current.rev }, patch),
  };
}
