/**
 * Each provider method once: check and encode the arguments, make the
 * native call, decode its answer. `MemoryProvider` and `CosmosProvider`
 * differ only in their native calls (synchronous functions over a store
 * handle; promise-returning methods of a store object), described by
 * `NativeCalls`, and in how a call is guarded (settled at once; counted
 * until it settles so `close` can wait).
 *
 * A synchronous native answer is decoded synchronously: Memory keeps its
 * no-thread-hop, no-extra-turn path.
 */

import {
  checkExpected,
  checkId,
  decode,
  decodeDeleteIfMatch,
  decodeUpdateIfMatch,
  encodeDocument,
  encodeFilter,
  encodePartitionKey,
  encodePatch,
} from './codec.js';
import { decodeBatch, encodeBatch } from './batch.js';
import type { BatchOp, BatchResult, DeleteIfMatchResult, Expected, PartitionKey, Patch, QueryFilter, Stored, UpdateIfMatchResult } from './types.js';

/** A value now, or later. */
export type Maybe<R> = R | Promise<R>;

/** The native calls of one provider over its store handle `S`, on encoded arguments (JSON text). */
export interface NativeCalls<S> {
  get(store: S, id: string, pkJson: string): Maybe<string | null | undefined>;
  create(store: S, docJson: string): Maybe<string>;
  upsert(store: S, docJson: string): Maybe<string>;
  replace(store: S, docJson: string): Maybe<string>;
  update(store: S, id: string, pkJson: string, patchJson: string): Maybe<string>;
  delete(store: S, id: string, pkJson: string): Maybe<boolean>;
  query(store: S, filterJson: string | undefined): Maybe<string>;
  updateIfMatch(store: S, id: string, pkJson: string, etag: string | undefined, rev: number | undefined, patchJson: string): Maybe<string | number>;
  deleteIfMatch(store: S, id: string, pkJson: string, etag: string | undefined, rev: number | undefined): Maybe<number>;
  batch(store: S, pkJson: string, opsJson: string): Maybe<string>;
}

/** `f` applied to `v`, now if `v` is a value, when it resolves if a promise. */
function map<A, B>(v: Maybe<A>, f: (a: A) => B): Maybe<B> {
  return v instanceof Promise ? v.then(f) : f(v);
}

const document = <T>(json: string): Stored<T> => decode<Stored<T>>(json);

/** The provider methods over `native`, each taking the store handle first. */
export function operations<S>(native: NativeCalls<S>) {
  return {
    get: <T>(s: S, id: string, pk: PartitionKey): Maybe<Stored<T> | null> =>
      map(native.get(s, checkId(id), encodePartitionKey(pk)), (json) => (json === null || json === undefined ? null : document<T>(json))),
    create: <T>(s: S, doc: T): Maybe<Stored<T>> => map(native.create(s, encodeDocument(doc)), document<T>),
    upsert: <T>(s: S, doc: T): Maybe<Stored<T>> => map(native.upsert(s, encodeDocument(doc)), document<T>),
    replace: <T>(s: S, doc: T): Maybe<Stored<T>> => map(native.replace(s, encodeDocument(doc)), document<T>),
    update: <T>(s: S, id: string, pk: PartitionKey, patch: Patch<T>): Maybe<Stored<T>> =>
      map(native.update(s, checkId(id), encodePartitionKey(pk), encodePatch(patch)), document<T>),
    delete: (s: S, id: string, pk: PartitionKey): Maybe<boolean> => native.delete(s, checkId(id), encodePartitionKey(pk)),
    query: <T>(s: S, filter: QueryFilter<T> | undefined): Maybe<Stored<T>[]> =>
      map(native.query(s, encodeFilter(filter)), (json) => decode<Stored<T>[]>(json)),
    updateIfMatch: <T>(s: S, id: string, pk: PartitionKey, expected: Expected, patch: Patch<T>): Maybe<UpdateIfMatchResult<T>> => {
      const { etag, rev } = checkExpected(expected);
      return map(native.updateIfMatch(s, checkId(id), encodePartitionKey(pk), etag, rev, encodePatch(patch)), (out) =>
        decodeUpdateIfMatch<T>(out),
      );
    },
    deleteIfMatch: (s: S, id: string, pk: PartitionKey, expected: Expected): Maybe<DeleteIfMatchResult> => {
      const { etag, rev } = checkExpected(expected);
      return map(native.deleteIfMatch(s, checkId(id), encodePartitionKey(pk), etag, rev), decodeDeleteIfMatch);
    },
    batch: <T>(s: S, pk: PartitionKey, ops: BatchOp<T>[]): Maybe<BatchResult<T>> =>
      map(native.batch(s, encodePartitionKey(pk), encodeBatch(ops)), (json) => decodeBatch<T>(json)),
  };
}
