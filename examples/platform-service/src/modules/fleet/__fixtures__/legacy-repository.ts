/**
 * NEGATIVE CONTROL, kept only for the test suite: the repository as it was
 * before `updateIfMatch`. It reads the document, compares `rev` in
 * JavaScript, awaits, then replaces unconditionally. Between the read and
 * the write other claims run, so two of them can both pass the check and
 * both write. The race tests run against it to prove they can fail.
 */

import type { DatastoreProvider, Patch, Stored, UpdateIfMatchResult } from '@bytelyst/datastore';
import type { FleetRepository, Revision } from '../repository.js';
import type { FleetStores } from '../stores.js';
import type { Gap } from './rendezvous.js';

type Doc = { id: string; fleetId: string };

/** What the old code awaited between check and write (an audit write, a metric flush). */
const nextTurn: Gap = () => new Promise((resolve) => setImmediate(resolve));

async function readCheckWrite<T extends Doc>(
  store: DatastoreProvider<T>,
  current: Revision,
  patch: Patch<T>,
  gap: Gap,
): Promise<UpdateIfMatchResult<T>> {
  const fresh = await store.get(current.id, current.fleetId);
  if (fresh === null) return { ok: false, reason: 'not_found' };
  if (fresh.rev !== current.rev) return { ok: false, reason: 'conflict' };
  await gap();
  const doc = await store.replace({ ...withoutSystemFields(fresh), ...patch });
  return { ok: true, doc };
}

function withoutSystemFields<T extends Doc>(stored: Stored<T>): T {
  const { _etag: _e, _ts: _t, rev: _r, _rid: _i, _self: _s, _attachments: _a, ...doc } = stored;
  return doc as unknown as T;
}

export function createLegacyFleetRepository(stores: FleetStores, gap: Gap = nextTurn): FleetRepository {
  return {
    revUpdateJob: (current, patch) => readCheckWrite(stores.jobs, current, patch, gap),
    revUpdateLease: (current, patch) => readCheckWrite(stores.leases, current, patch, gap),
    revUpdateLock: (current, patch) => readCheckWrite(stores.locks, current, patch, gap),
  };
}
