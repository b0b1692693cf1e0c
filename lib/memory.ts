/**
 * `MemoryProvider`: documents in Rust memory. Each method runs the native
 * call synchronously on this thread (the compare-and-write happens inside
 * one lock in Rust) and returns an already-settled promise: no thread hop.
 */

import {
  memoryBatch,
  memoryCreate,
  memoryCreateFields,
  memoryCreateFieldsWith,
  memoryDelete,
  memoryDropShared,
  memoryDeleteIfMatch,
  memoryGet,
  memoryGetFreshAt,
  memoryOpen,
  memoryQuery,
  memoryQueryPage,
  memoryRelease,
  memoryReplace,
  memoryUpdate,
  memoryUpdateIfMatch,
  memoryUpdateIfMatchAt,
  memoryStampHolds,
  memoryUpsert,
  memoryWriteCount,
} from '../index.js';
import { checkCallOptions } from './call.js';
import { checkExpected, checkId, checkName, checkOptionNames, closed, decode, decodeUpdateIfMatch, encodeFilter, encodeObject, encodePartitionKey, misuse, reading, setMember, type Encoded } from './codec.js';
import { DocCache, writtenFields } from './doc-cache.js';
import { checkIterOptions, checkPageOptions, pageOf, pageTake, refuseOrderBy, walk } from './paging.js';
import { invalidArgument, toDatastoreError } from './errors.js';
import { operations, type Maybe } from './operations.js';
import type {
  BaseDocument,
  BatchOp,
  BatchResult,
  CallOptions,
  DatastoreProvider,
  DeleteIfMatchResult,
  Expected,
  IterOptions,
  MemoryProviderOptions,
  PagedQueries,
  PageOptions,
  PartitionKey,
  Patch,
  QueryFilter,
  QueryPage,
  Stored,
  UpdateIfMatchResult,
} from './types.js';

type Store = ReturnType<typeof memoryOpen>;

/** The native functions, as they are: synchronous, the store handle first. */
const ops = operations<Store>({
  get: memoryGet,
  create: memoryCreate,
  upsert: memoryUpsert,
  replace: memoryReplace,
  update: memoryUpdate,
  delete: memoryDelete,
  query: memoryQuery,
  updateIfMatch: memoryUpdateIfMatch,
  deleteIfMatch: memoryDeleteIfMatch,
  batch: memoryBatch,
});
/** `ops.batch`, under a name the method's `ops` parameter does not shadow. */
const runBatch = ops.batch;

/** Strings of this many characters or more in a created document are written by the native layer (see `#createFlat`). */
const LONG_STRING = 1024;

/** Runs a native call; a throw becomes a rejected promise with a `DatastoreError`. */
function settle<R>(call: () => Maybe<R>): Promise<R> {
  try {
    return Promise.resolve(call());
  } catch (e) {
    return Promise.reject(toDatastoreError(e));
  }
}

export class MemoryProvider<T extends BaseDocument = BaseDocument> implements DatastoreProvider<T>, PagedQueries<T> {
  readonly kind = 'memory' as const;
  readonly partitionKeyPath: string;
  /** The shared store's name, when opened with `shared`. */
  readonly shared: string | undefined;
  /** The native store handle. */
  readonly #store: Store;
  /** The last versions read or written here, parsed (see doc-cache.ts). */
  readonly #cache: DocCache;
  /** The partition key's field (the path without its "/"). */
  readonly #pkField: string;
  #closed = false;

  constructor(options: MemoryProviderOptions) {
    if (typeof options !== 'object' || options === null) {
      throw invalidArgument('MemoryProvider options must be an object like { partitionKeyPath: "/tenantId" }');
    }
    checkOptionNames(options, ['partitionKeyPath', 'shared'], 'MemoryProvider');
    const { partitionKeyPath, shared } = reading('MemoryProvider options', () => ({ ...options }));
    if (typeof partitionKeyPath !== 'string') {
      throw invalidArgument('partitionKeyPath must be a string like "/tenantId"');
    }
    checkName(partitionKeyPath, 'partitionKeyPath');
    if (shared !== undefined) checkName(shared, 'shared');
    try {
      this.#store = memoryOpen(partitionKeyPath, shared);
    } catch (e) {
      throw toDatastoreError(e);
    }
    const store = this.#store;
    // A store of its own is written only through this provider: its cache learns of every write (see `#writing`).
    this.#cache = new DocCache((stamp) => memoryStampHolds(store, stamp), shared === undefined);
    this.partitionKeyPath = partitionKeyPath;
    this.#pkField = partitionKeyPath.slice(1);
    this.shared = shared;
  }

  /**
   * The native store of `self`, when `self` is a MemoryProvider. Call
   * options are looked at only when given (the hot path passes none), and
   * only checked: the call is synchronous, so a signal can only have fired
   * before it.
   */
  static #storeOf(self: unknown, method: string, options?: CallOptions): Store {
    if (typeof self === 'object' && self !== null && #store in self) {
      const p = self as MemoryProvider;
      if (p.#closed) throw closed('MemoryProvider', method);
      if (options !== undefined) checkCallOptions(options, `MemoryProvider.${method}`);
      return p.#store;
    }
    throw misuse('MemoryProvider', method, self);
  }

  /**
   * Runs `write` on the native store of `self` (see `#storeOf`), then tells
   * its cache the store may have changed, whatever `write` did or threw:
   * the versions it holds are no longer known current by its epoch. Only
   * `create` and `updateIfMatch` write without it: each changes one
   * document and the cache holds its answer (or drops the entry) before
   * anything can read it.
   */
  static #writing<R>(self: unknown, method: string, options: CallOptions | undefined, write: (store: Store) => R): R {
    const store = MemoryProvider.#storeOf(self, method, options);
    try {
      return write(store);
    } finally {
      (self as MemoryProvider).#cache.wrote();
    }
  }

  /**
   * Closes this provider: later calls reject with `invalid_argument`. A
   * store of its own is emptied and its memory freed at once, as is a
   * shared one that `dropShared` forgot and no other provider holds; any
   * other shared store stays open for its other providers.
   */
  close(): Promise<void> {
    if (typeof this !== 'object' || this === null || !(#store in this)) {
      return Promise.reject(misuse('MemoryProvider', 'close', this));
    }
    if (!this.#closed) {
      this.#closed = true;
      // A store of its own is freed now: V8 does not see its documents' memory, and would collect the
      // handle (and free them) only when its own heap asks for a collection.
      memoryRelease(this.#store);
      this.#cache.clear();
    }
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Forgets the process-wide store `name`: the next provider opened with
   * that name starts empty. Providers already open on it keep the old one.
   * `true` when there was such a store.
   */
  static dropShared(name: string): boolean {
    try {
      return memoryDropShared(checkName(name, 'shared'));
    } catch (e) {
      throw toDatastoreError(e);
    }
  }

  get(id: string, partitionKey: PartitionKey, options?: CallOptions): Promise<Stored<T> | null> {
    return settle(() => {
      const store = MemoryProvider.#storeOf(this, 'get', options);
      const idc = checkId(id);
      const pk = encodePartitionKey(partitionKey);
      const cache = this.#cache;
      const key = DocCache.key(pk, idc);
      // Nothing changed anywhere since the version held was current: it is the answer.
      const held = cache.current<T>(key);
      if (held !== undefined) return held;
      const count = memoryWriteCount(); // before the read: the version read was current then too
      const out = memoryGetFreshAt(store, key, cache.etagOf(key));
      if (out === null || out === undefined) {
        cache.drop(key);
        return null;
      }
      // A number: the version held is the current one, and this is its shard's stamp.
      if (typeof out === 'number') return cache.copyOf<T>(key, count, out);
      return cache.fromJson<T>(key, out, count);
    });
  }

  create(doc: T, options?: CallOptions): Promise<Stored<T>> {
    return settle(() => {
      const store = MemoryProvider.#storeOf(this, 'create', options);
      const out: Encoded = { lazyFrom: LONG_STRING };
      const json = encodeObject(doc, 'document', out);
      const flat = out.flat;
      const cache = this.#cache;
      // The cache's epoch stands (see `#writing`): a create adds one document, which no version held can be
      // (a delete moved the epoch past any version of it), and the answer of a flat one is held.
      if (flat === undefined) return decode<Stored<T>>(memoryCreate(store, json));
      // Every member a JSON primitive: the answer is built from them, not parsed from the stored text.
      const { answer, chars } = json === '' ? this.#createLong(store, flat) : { answer: memoryCreateFields(store, json), chars: json.length };
      // The store read `id` and the partition key from this very text: a string, and JSON text as encodePartitionKey writes it.
      const key = DocCache.key(JSON.stringify(flat[this.#pkField]), flat['id'] as string);
      return cache.fromCreate<T>(key, flat, writtenFields(answer), chars);
    });
  }

  /**
   * Creates a document of JSON primitives with long strings (`LONG_STRING`),
   * handed over beside its text rather than written into it: V8's
   * `JSON.stringify` writes a string character by character (~3 ns each
   * here, most of a 64 KB create), the native layer escapes it in bulk.
   * `id` and the partition key stay in the text, where the store reads them.
   * The store's answer, and the document's length as JSON (about).
   */
  #createLong(store: Store, flat: Record<string, unknown>): { answer: string; chars: number } {
    const strings: string[] = [];
    const text: Record<string, unknown> = {};
    let chars = 0;
    for (const k of Object.keys(flat)) {
      const v = flat[k];
      if (typeof v === 'string' && v.length >= LONG_STRING && k !== 'id' && k !== 'rev' && k !== this.#pkField && k.charCodeAt(0) !== 95) {
        strings.push(k, v);
        chars += v.length;
        setMember(text, k, 0); // its place in the member order
      } else {
        setMember(text, k, v);
      }
    }
    const json = JSON.stringify(text);
    return { answer: memoryCreateFieldsWith(store, json, strings), chars: chars + json.length };
  }

  upsert(doc: T, options?: CallOptions): Promise<Stored<T>> {
    return settle(() => MemoryProvider.#writing(this, 'upsert', options, (store) => ops.upsert(store, doc)));
  }

  replace(doc: T, options?: CallOptions): Promise<Stored<T>> {
    return settle(() => MemoryProvider.#writing(this, 'replace', options, (store) => ops.replace(store, doc)));
  }

  update(id: string, partitionKey: PartitionKey, patch: Patch<T>, options?: CallOptions): Promise<Stored<T>> {
    return settle(() => MemoryProvider.#writing(this, 'update', options, (store) => ops.update<T>(store, id, partitionKey, patch)));
  }

  delete(id: string, partitionKey: PartitionKey, options?: CallOptions): Promise<boolean> {
    return settle(() => MemoryProvider.#writing(this, 'delete', options, (store) => ops.delete(store, id, partitionKey)));
  }

  query(filter?: QueryFilter<T>, options?: CallOptions): Promise<Stored<T>[]> {
    return settle(() => ops.query<T>(MemoryProvider.#storeOf(this, 'query', options), filter));
  }

  updateIfMatch(id: string, partitionKey: PartitionKey, expected: Expected, patch: Patch<T>, options?: CallOptions): Promise<UpdateIfMatchResult<T>> {
    return settle((): UpdateIfMatchResult<T> => {
      // Checked in the order ops.updateIfMatch checks them.
      const store = MemoryProvider.#storeOf(this, 'updateIfMatch', options);
      const { etag, rev } = checkExpected(expected);
      const idc = checkId(id);
      const pk = encodePartitionKey(partitionKey);
      const enc: Encoded = { lazy: true };
      const text = encodeObject(patch, 'patch', enc);
      const cache = this.#cache;
      const key = DocCache.key(pk, idc);
      // A claim on a version that is certainly not the current one loses here, the patch checked as
      // the native store would check it: every member a JSON primitive, none it could refuse.
      if (enc.flat !== undefined && cache.stale(key, etag, rev) && this.#plain(enc.flat)) return { ok: false, reason: 'conflict' };
      const patchJson = enc.flat === undefined ? text : JSON.stringify(enc.flat);
      // The cache's epoch stands (see `#writing`): this writes only `key`, whose entry its answer replaces.
      const out = memoryUpdateIfMatchAt(store, key, etag, rev, patchJson, cache.etagOf(key));
      if (typeof out === 'number') return decodeUpdateIfMatch<T>(out);
      // "+" and the new system fields: the write landed on the version held.
      if (out.charCodeAt(0) === 43) return { ok: true, doc: cache.fromWrite<T>(key, patchJson, writtenFields(out), enc.flat) };
      return { ok: true, doc: cache.fromJson<T>(key, out, Number.NaN, true) };
    });
  }

  /**
   * Whether the native store's patch check (`check_patch`) passes `patch`
   * whatever the document: it names no member the store owns (`rev`,
   * `_…`) and neither `id` nor the partition key (allowed only unchanged).
   */
  #plain(patch: Record<string, unknown>): boolean {
    for (const k in patch) {
      if (k === 'rev' || k === 'id' || k === this.#pkField || k.charCodeAt(0) === 95) return false;
    }
    return true;
  }

  deleteIfMatch(id: string, partitionKey: PartitionKey, expected: Expected, options?: CallOptions): Promise<DeleteIfMatchResult> {
    return settle(() => MemoryProvider.#writing(this, 'deleteIfMatch', options, (store) => ops.deleteIfMatch(store, id, partitionKey, expected)));
  }

  /**
   * One page of the query, in write order. The token is the version the
   * page ended at, not an offset: a document deleted or rewritten between
   * pages never makes another be skipped; a rewritten one comes again, at
   * the end (the store has no snapshot to page through).
   */
  queryPage(filter?: QueryFilter<T>, page?: PageOptions, options?: CallOptions): Promise<QueryPage<T>> {
    return settle(() => {
      const what = 'MemoryProvider.queryPage';
      const store = MemoryProvider.#storeOf(this, 'queryPage', options);
      refuseOrderBy(filter, what);
      const filterJson = encodeFilter(filter);
      const { maxItems, from } = checkPageOptions(page, 'memory', filterJson, what);
      const { take, remaining } = pageTake(filter, from, maxItems);
      if (take === 0) return { items: [], continuation: null };
      const out = decode<{ items: Stored<T>[]; next: string | null }>(memoryQueryPage(store, filterJson, from?.at, take));
      return pageOf('memory', filterJson, remaining, out.items, out.next);
    });
  }

  queryIter(filter?: QueryFilter<T>, iter?: IterOptions, options?: CallOptions): AsyncIterableIterator<Stored<T>> {
    const pageSize = checkIterOptions(iter, 'MemoryProvider.queryIter');
    return walk((page) => this.queryPage(filter, page, options), pageSize);
  }

  batch(partitionKey: PartitionKey, ops: BatchOp<T>[], options?: CallOptions): Promise<BatchResult<T>> {
    return settle(() => MemoryProvider.#writing(this, 'batch', options, (store) => runBatch<T>(store, partitionKey, ops)));
  }
}
