/**
 * The public types of `@bytelyst/datastore`.
 */

/** A partition key value: what a document holds at its `partitionKeyPath`. */
export type PartitionKey = string | number | boolean;

/** A JSON scalar, as `where` clauses compare them. */
export type JsonScalar = string | number | boolean | null;

/** Every document has a string `id`; the partition key field is named by the provider. */
export interface BaseDocument {
  id: string;
}

/** Fields the datastore sets on every document it returns. */
export interface SystemFields {
  /** Opaque; changes on every successful write. Pass it back in `updateIfMatch`. */
  readonly _etag: string;
  /** Seconds since the epoch of the last write. */
  readonly _ts: number;
  /** 1 after `create`, +1 on every successful write. Owned by the datastore. */
  readonly rev: number;
  /** Cosmos DB only. */
  readonly _rid?: string;
  /** Cosmos DB only. */
  readonly _self?: string;
  /** Cosmos DB only. */
  readonly _attachments?: string;
}

/** A document as stored: the caller's fields plus the system fields. */
export type Stored<T> = T & SystemFields;

/**
 * What `update` and `updateIfMatch` may set: any field but `rev` and `_*`
 * system fields. `id` and the partition key may appear only unchanged.
 */
export type Patch<T> = {
  [K in keyof T as K extends 'rev' | `_${string}` ? never : K]?: T[K];
};

/** The compare token(s) of `updateIfMatch`: at least one; when both, both must match. */
export type Expected =
  | { etag: string; rev?: number }
  | { etag?: string; rev: number };

/** The outcome of the conditional write. */
export type UpdateIfMatchResult<T> =
  | { ok: true; doc: Stored<T> }
  | { ok: false; reason: 'conflict' | 'not_found' };

/** The outcome of the conditional delete. */
export type DeleteIfMatchResult = { ok: true } | { ok: false; reason: 'conflict' | 'not_found' };

/**
 * One operation of a `batch`. Every `doc` must carry the batch's partition
 * key. A write with `expected` applies only when the document still matches
 * it (its `etag`, its `rev`, or both); `update` is a shallow merge as in
 * `update`. Later operations see the effects of earlier ones (a `create`
 * then an `update` of the same id works).
 */
export type BatchOp<T> =
  | { op: 'create'; doc: T }
  | { op: 'upsert'; doc: T }
  | { op: 'replace'; doc: T; expected?: { etag?: string; rev?: number } }
  | { op: 'update'; id: string; patch: Patch<T>; expected?: { etag?: string; rev?: number } }
  | { op: 'delete'; id: string; expected?: { etag?: string; rev?: number } }
  | { op: 'read'; id: string };

/**
 * The outcome of a `batch`: every operation's document (in order; `null`
 * for a delete; the document read for a read), or the index of the first
 * operation that failed and why, with **nothing** applied. `conflict`: a
 * condition did not match, or a `create` met an existing document;
 * `not_found`: a read, replace, update or delete met no document.
 */
export type BatchResult<T> =
  | { ok: true; results: (Stored<T> | null)[] }
  | { ok: false; index: number; reason: 'conflict' | 'not_found' };

/** Field names a query can address: the document's top-level fields and system fields. */
export type FieldName<T> = Extract<keyof Stored<T>, string>;

/** The portable query: the same results on every provider. */
export interface QueryFilter<T = BaseDocument> {
  /** Only documents in this partition. */
  partitionKey?: PartitionKey;
  /** Top-level equality on scalars, ANDed. A missing field never equals `null`. */
  where?: { [K in FieldName<T>]?: JsonScalar };
  /** Missing < null < false < true < numbers < strings, as Cosmos DB orders them. */
  orderBy?: { field: FieldName<T>; direction?: 'asc' | 'desc' };
  /** At most this many documents (1 ≤ limit ≤ 2^31 - 1). */
  limit?: number;
}

/**
 * Per-call limits: the optional last argument of every provider method.
 *
 * - `signal`: stop waiting when it fires. A signal that has already fired
 *   rejects the call at once with `code: 'timeout'` ("aborted"), nothing
 *   sent or written. Cosmos: a read or query stopped in flight rejects
 *   with `timeout`; a write stopped in flight is resolved like a lost
 *   response (re-read: its answer when the outcome can be told, else
 *   `timeout` saying the outcome is unknown). `signal.reason` is the
 *   error's `cause`.
 * - `timeoutMs`: this call's deadline, queueing included (a whole number
 *   of milliseconds, 1 to 2^31 - 1); replaces the provider's `timeoutMs`
 *   for this call, and is resolved like an abort when it passes.
 *
 * Memory answers synchronously, before any signal could fire: it checks
 * the options and honours a signal that has already fired, nothing more.
 */
export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** Where `queryPage` starts: after the page that gave `continuation` (or at the start). */
export interface PageOptions {
  /** At most this many documents in the page (1 to 1000, 100 by default). A page may hold fewer, even none, and still have a next one. */
  maxItems?: number;
  /** The `continuation` of the previous page; `null` or absent for the first. */
  continuation?: string | null;
}

/** One page of a query, and where the next starts (`null`: this was the last). */
export interface QueryPage<T> {
  items: Stored<T>[];
  continuation: string | null;
}

/** How `queryIter` fetches: `pageSize` documents a request (1 to 1000, 100 by default). */
export interface IterOptions {
  pageSize?: number;
}

/**
 * Query paging, on `MemoryProvider`, `CosmosProvider` and what
 * `createProvider` returns. The filter is the portable one without
 * `orderBy` (refused with `invalid_argument`: the Cosmos provider orders
 * in process). A continuation token is opaque, and only continues the
 * query (same filter, same provider kind) that gave it.
 */
export interface PagedQueries<T extends BaseDocument = BaseDocument> {
  queryPage(filter?: QueryFilter<T>, page?: PageOptions, options?: CallOptions): Promise<QueryPage<T>>;
  /** Every matching document, a page at a time: `for await (const d of p.queryIter(filter)) …`. */
  queryIter(filter?: QueryFilter<T>, iter?: IterOptions, options?: CallOptions): AsyncIterableIterator<Stored<T>>;
}

/** The operations every provider offers. */
export interface DatastoreProvider<T extends BaseDocument = BaseDocument> {
  readonly kind: 'memory' | 'cosmos';
  /** The partition key path, e.g. `/tenantId`. */
  readonly partitionKeyPath: string;
  /** The document, or `null` when there is none. */
  get(id: string, partitionKey: PartitionKey, options?: CallOptions): Promise<Stored<T> | null>;
  /** Rejects with `code: 'conflict'` when the id already exists in that partition. */
  create(doc: T, options?: CallOptions): Promise<Stored<T>>;
  /** Creates or replaces. */
  upsert(doc: T, options?: CallOptions): Promise<Stored<T>>;
  /** Unconditional replace; rejects with `code: 'not_found'` when missing. */
  replace(doc: T, options?: CallOptions): Promise<Stored<T>>;
  /** Unconditional shallow merge; rejects with `code: 'not_found'` when missing. */
  update(id: string, partitionKey: PartitionKey, patch: Patch<T>, options?: CallOptions): Promise<Stored<T>>;
  /** `false` when there was nothing to delete. */
  delete(id: string, partitionKey: PartitionKey, options?: CallOptions): Promise<boolean>;
  query(filter?: QueryFilter<T>, options?: CallOptions): Promise<Stored<T>[]>;
  /**
   * The atomic conditional write: when the document still matches `expected`,
   * shallow-merges `patch` in one step with the compare. A stale token
   * writes nothing and answers `{ ok: false, reason: 'conflict' }`.
   */
  updateIfMatch(
    id: string,
    partitionKey: PartitionKey,
    expected: Expected,
    patch: Patch<T>,
    options?: CallOptions,
  ): Promise<UpdateIfMatchResult<T>>;
  /**
   * `updateIfMatch`'s twin: deletes the document only when it still matches
   * `expected`, in one step with the compare.
   */
  deleteIfMatch(id: string, partitionKey: PartitionKey, expected: Expected, options?: CallOptions): Promise<DeleteIfMatchResult>;
  /**
   * Applies `ops` (1 to 100, all in the partition `partitionKey`) all or
   * none, as one transaction: Memory in one critical section over every
   * document touched, Cosmos as one transactional batch request. Bad input
   * (an empty or oversized batch, a document of another partition, a bad
   * id or patch, documents over 2 MB together) rejects with
   * `invalid_argument` or `too_large` before anything is applied.
   */
  batch(partitionKey: PartitionKey, ops: BatchOp<T>[], options?: CallOptions): Promise<BatchResult<T>>;
  /** Closes the provider; later calls reject. Also `await using p = …`. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface MemoryProviderOptions {
  /** The field holding the partition key, as a path: `/tenantId`. */
  partitionKeyPath: string;
  /**
   * Open the process-wide store of this name: every instance opened with
   * it, from any worker thread, sees the same documents. Without it, each
   * instance is its own empty store.
   */
  shared?: string;
}

/**
 * An Entra ID (Azure AD) token source: `@azure/identity`'s
 * `DefaultAzureCredential`, `ManagedIdentityCredential`, or any object of
 * `@azure/core-auth`'s `TokenCredential` shape. Declared here by shape, so
 * the package does not depend on `@azure/core-auth`.
 */
export interface TokenCredential {
  getToken(scopes: string | string[], options?: object): Promise<{ token: string; expiresOnTimestamp: number } | null>;
}

/** A provider method's name. */
export type OperationName =
  | 'get'
  | 'create'
  | 'upsert'
  | 'replace'
  | 'update'
  | 'delete'
  | 'query'
  | 'updateIfMatch'
  | 'deleteIfMatch'
  | 'batch'
  | 'queryPage';

/**
 * What one Cosmos provider call cost and heard, given to `onDiagnostics`
 * once the call has settled (resolved or rejected).
 */
export interface CallDiagnostics {
  operation: OperationName;
  /**
   * Request units charged (`x-ms-request-charge`), summed over every answer
   * the call heard: the read before a conditional write, the write, any
   * re-read or resend. 0 when the server reported none.
   */
  requestCharge: number;
  /** Answers heard (the SDK's own retries inside one request count once). */
  requests: number;
  /** The last answer's activity id (`x-ms-activity-id`), for Azure support. */
  activityId?: string;
  /** The last answer's HTTP status and Cosmos sub-status. */
  status?: number;
  subStatus?: number;
  /** From the call to its settling, in milliseconds. */
  durationMs: number;
  /** `false` when the call rejected. */
  ok: boolean;
}

export interface CosmosProviderOptions {
  /** `https://<account>.documents.azure.com:443/`. Give it with `key` or `credential`, or give `connectionString`. */
  endpoint?: string;
  /** The account key. Never appears in errors. */
  key?: string;
  /**
   * Sign requests with Entra ID tokens from this credential instead of a
   * key (for accounts with key auth disabled). The SDK asks it for a token
   * whenever it holds none that is fresh enough.
   */
  credential?: TokenCredential;
  /** `AccountEndpoint=...;AccountKey=...;` */
  connectionString?: string;
  database: string;
  container: string;
  /** The container's partition key path, e.g. `/tenantId`. */
  partitionKeyPath: string;
  /**
   * The endpoint is a local emulator or test server: accept its self-signed
   * certificate, use HTTP/1.1 and no binary encoding. Refused unless the
   * host is loopback.
   */
  emulator?: boolean;
  /** Create the database and container when missing. Off by default. */
  createIfNotExists?: boolean;
  /**
   * Every request's deadline in milliseconds, end to end (the SDK's retries
   * included); a call's own `timeoutMs` (`CallOptions`) replaces it. A read that misses it rejects with `timeout`. A write that
   * misses it is resolved like a lost response: the provider re-reads and
   * answers exactly when it can tell, else rejects with `timeout` saying the
   * outcome is unknown. None by default.
   */
  timeoutMs?: number;
  /**
   * Called once per call, after it settles, with the request units it was
   * charged (summed over its requests) and what the server last said.
   * Synchronous; a hook that throws does not change the call's answer (a
   * process warning says so).
   */
  onDiagnostics?: (d: CallDiagnostics) => void;
  /**
   * Regions to route to first, in this order (`['West US 2', 'East US']`),
   * as `@azure/cosmos`'s `connectionPolicy.preferredLocations`. Not a
   * restriction: after them the SDK may fail over to any region.
   */
  preferredRegions?: string[];
  /**
   * The consistency reads ask for, as `@azure/cosmos`'s `consistencyLevel`
   * names it; unset, the account's default. The pinned SDK can ask for
   * `Strong` (only on accounts whose default is Strong), `Session` and
   * `Eventual`; `BoundedStaleness` and `ConsistentPrefix` are refused with
   * `invalid_argument`. Writes are always at the account's level.
   */
  consistencyLevel?: 'Strong' | 'BoundedStaleness' | 'Session' | 'Eventual' | 'ConsistentPrefix';
}

/** Chooses a provider by configuration. */
export type ProviderConfig =
  | ({ kind: 'memory' } & MemoryProviderOptions)
  | ({ kind: 'cosmos' } & CosmosProviderOptions);
