/**
 * `CosmosProvider`: Azure Cosmos DB (or a Cosmos-protocol test server)
 * through the Rust `azure_data_cosmos` SDK. Each method is one native async
 * call on tokio; see docs/cosmos-outcomes.md for how writes whose response
 * was lost are resolved.
 */

import { cosmosConnect, NativeCall, type NativeCosmosStore } from '../index.js';
import { checkCallOptions, checkTimeoutMs, withAbortCause } from './call.js';
import { checkName, checkOptionNames, closed, decode, encodeFilter, misuse, reading } from './codec.js';
import { checkIterOptions, checkPageOptions, pageOf, pageTake, refuseOrderBy, walk } from './paging.js';
import { invalidArgument, toDatastoreError } from './errors.js';
import { operations, type Maybe } from './operations.js';
import type {
  BaseDocument,
  BatchOp,
  BatchResult,
  CallDiagnostics,
  CallOptions,
  CosmosProviderOptions,
  DatastoreProvider,
  DeleteIfMatchResult,
  Expected,
  IterOptions,
  OperationName,
  PagedQueries,
  PageOptions,
  PartitionKey,
  Patch,
  QueryFilter,
  QueryPage,
  Stored,
  TokenCredential,
  UpdateIfMatchResult,
} from './types.js';

/** A native store and the call's own limits (none for a call without options). */
interface Target {
  n: NativeCosmosStore;
  c: NativeCall | undefined;
}

/** The native store's methods, as `operations` takes them. */
const ops = operations<Target>({
  get: ({ n, c }, id, pk) => n.get(id, pk, c),
  create: ({ n, c }, doc) => n.create(doc, c),
  upsert: ({ n, c }, doc) => n.upsert(doc, c),
  replace: ({ n, c }, doc) => n.replace(doc, c),
  update: ({ n, c }, id, pk, patch) => n.update(id, pk, patch, c),
  delete: ({ n, c }, id, pk) => n.delete(id, pk, c),
  query: ({ n, c }, filter) => n.query(filter, c),
  updateIfMatch: ({ n, c }, id, pk, etag, rev, patch) => n.updateIfMatch(id, pk, etag, rev, patch, c),
  deleteIfMatch: ({ n, c }, id, pk, etag, rev) => n.deleteIfMatch(id, pk, etag, rev, c),
  batch: ({ n, c }, pk, opsJson) => n.batch(pk, opsJson, c),
});
/** `ops.batch`, under a name the method's `ops` parameter does not shadow. */
const runBatch = ops.batch;

/** Runs a native call; any throw or rejection becomes a `DatastoreError`. */
async function call<R>(f: () => Maybe<R>): Promise<R> {
  try {
    return await f();
  } catch (e) {
    throw toDatastoreError(e);
  }
}

function optionalString(v: unknown, name: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalidArgument(`${name} must be a string`);
  return v;
}

function optionalStrings(v: unknown, name: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw invalidArgument(`${name} must be an array of strings`);
  return [...v];
}

function optionalBoolean(v: unknown, name: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw invalidArgument(`${name} must be a boolean`);
  return v;
}

/** A number per credential object: providers given the same object share one client. */
const credentialIds = new WeakMap<TokenCredential, number>();
let lastCredentialId = 0;

/** `credential` checked, with its number and the `getToken` the native layer calls. */
function checkCredential(
  credential: unknown,
): { id: number; getToken: (scopes: string) => Promise<{ token: string; expiresOnTimestamp: number }> } | undefined {
  if (credential === undefined) return undefined;
  if (typeof credential !== 'object' || credential === null || typeof (credential as TokenCredential).getToken !== 'function') {
    throw invalidArgument('credential must be a TokenCredential: an object with getToken(scopes), such as DefaultAzureCredential');
  }
  const c = credential as TokenCredential;
  let id = credentialIds.get(c);
  if (id === undefined) {
    lastCredentialId += 1;
    id = lastCredentialId;
    credentialIds.set(c, id);
  }
  return {
    id,
    getToken: async (scopes) => {
      const t = await c.getToken(scopes.split(' '));
      if (t === null || typeof t !== 'object' || typeof t.token !== 'string' || typeof t.expiresOnTimestamp !== 'number') {
        throw new Error('getToken resolved no token (expected { token, expiresOnTimestamp })');
      }
      return { token: t.token, expiresOnTimestamp: t.expiresOnTimestamp };
    },
  };
}

/**
 * Runs `f` on native call limits `c`: an abort fired with `signal`. A
 * `timeout` after the signal fired carries `signal.reason` as its `cause`.
 */
async function abortable<R>(c: NativeCall, signal: AbortSignal | undefined, f: (c: NativeCall) => Maybe<R>): Promise<R> {
  if (signal === undefined) return await f(c);
  const onAbort = (): void => c.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await f(c);
  } catch (e) {
    const err = toDatastoreError(e);
    throw signal.aborted && err.code === 'timeout' ? withAbortCause(err, signal) : err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

type DiagnosticsHook = (d: CallDiagnostics) => void;

/** Gives `d` to the hook; a hook that throws does not change the call's answer. */
function report(hook: DiagnosticsHook, d: CallDiagnostics): void {
  try {
    hook(d);
  } catch (e) {
    process.emitWarning(`CosmosProvider onDiagnostics threw (the call's answer stands): ${e instanceof Error ? e.message : String(e)}`, 'DatastoreWarning');
  }
}

/** What the native call heard, as `CallDiagnostics` fields. */
function heard(c: NativeCall | undefined): Pick<CallDiagnostics, 'requests' | 'requestCharge' | 'activityId' | 'status' | 'subStatus'> {
  const m = c?.diagnostics();
  if (m === undefined) return { requests: 0, requestCharge: 0 };
  return {
    requests: m.requests,
    requestCharge: m.requestCharge,
    ...(m.activityId == null ? {} : { activityId: m.activityId }),
    ...(m.status == null ? {} : { status: m.status }),
    ...(m.subStatus == null ? {} : { subStatus: m.subStatus }),
  };
}

/**
 * Runs `f` under the call's `options` (checked here) and, given a hook,
 * reports what the call heard once it settles.
 */
async function limited<R>(
  operation: OperationName,
  options: CallOptions | undefined,
  hook: DiagnosticsHook | undefined,
  f: (c: NativeCall) => Maybe<R>,
): Promise<R> {
  const started = performance.now();
  let c: NativeCall | undefined;
  let ok = false;
  try {
    const checked = options === undefined ? {} : checkCallOptions(options, `CosmosProvider.${operation}`);
    c = new NativeCall(checked.timeoutMs);
    const r = await abortable(c, checked.signal, f);
    ok = true;
    return r;
  } finally {
    if (hook !== undefined) report(hook, { operation, ...heard(c), durationMs: performance.now() - started, ok });
  }
}

const COSMOS_OPTIONS = [
  'endpoint',
  'key',
  'connectionString',
  'credential',
  'database',
  'container',
  'partitionKeyPath',
  'emulator',
  'createIfNotExists',
  'timeoutMs',
  'onDiagnostics',
  'preferredRegions',
  'consistencyLevel',
] as const satisfies readonly (keyof CosmosProviderOptions)[];

export class CosmosProvider<T extends BaseDocument = BaseDocument> implements DatastoreProvider<T>, PagedQueries<T> {
  readonly kind = 'cosmos' as const;
  readonly partitionKeyPath: string;
  readonly database: string;
  readonly container: string;
  readonly #native: NativeCosmosStore;
  readonly #onDiagnostics: DiagnosticsHook | undefined;

  private constructor(native: NativeCosmosStore, options: { partitionKeyPath: string; database: string; container: string }, onDiagnostics: DiagnosticsHook | undefined) {
    this.#native = native;
    this.#onDiagnostics = onDiagnostics;
    this.partitionKeyPath = options.partitionKeyPath;
    this.database = options.database;
    this.container = options.container;
  }

  /**
   * Connects to a container on the account's shared client (one connection
   * pool per account per process), creating database and container first
   * when `createIfNotExists` is set.
   */
  static async connect<T extends BaseDocument = BaseDocument>(options: CosmosProviderOptions): Promise<CosmosProvider<T>> {
    if (typeof options !== 'object' || options === null) {
      throw invalidArgument('CosmosProvider.connect needs options like { endpoint, key, database, container, partitionKeyPath }');
    }
    checkOptionNames(options, COSMOS_OPTIONS, 'CosmosProvider.connect');
    // Read once: a getter that throws is the caller's invalid_argument.
    options = reading('CosmosProvider.connect options', () => ({ ...options }));
    if (typeof options.partitionKeyPath === 'string') checkName(options.partitionKeyPath, 'partitionKeyPath');
    for (const name of ['database', 'container'] as const) {
      if (typeof options[name] === 'string') checkName(options[name], name);
    }
    const checked = {
      endpoint: optionalString(options.endpoint, 'endpoint'),
      key: optionalString(options.key, 'key'),
      connectionString: optionalString(options.connectionString, 'connectionString'),
      database: optionalString(options.database, 'database') ?? '',
      container: optionalString(options.container, 'container') ?? '',
      partitionKeyPath: optionalString(options.partitionKeyPath, 'partitionKeyPath') ?? '',
      emulator: optionalBoolean(options.emulator, 'emulator'),
      createIfNotExists: optionalBoolean(options.createIfNotExists, 'createIfNotExists'),
      timeoutMs: checkTimeoutMs(options.timeoutMs),
      preferredRegions: optionalStrings(options.preferredRegions, 'preferredRegions'),
      consistencyLevel: optionalString(options.consistencyLevel, 'consistencyLevel'),
    };
    const { onDiagnostics } = options;
    if (onDiagnostics !== undefined && typeof onDiagnostics !== 'function') {
      throw invalidArgument('onDiagnostics must be a function (d: CallDiagnostics) => void');
    }
    const credential = checkCredential(options.credential);
    const native = await call(() =>
      cosmosConnect({ ...checked, credentialId: credential?.id }, credential?.getToken),
    );
    return new CosmosProvider<T>(native, checked, onDiagnostics);
  }

  /** `self`, when it is an open CosmosProvider. */
  static #open(self: unknown, method: string): CosmosProvider {
    if (typeof self === 'object' && self !== null && #native in self) {
      const p = self as CosmosProvider;
      if (p.#closed) throw closed('CosmosProvider', method);
      return p;
    }
    throw misuse('CosmosProvider', method, self);
  }

  /** Calls in flight, so `close` can wait for them. */
  readonly #pending = new Set<Promise<unknown>>();
  #closed = false;

  /**
   * Runs `f` on the native store of `self` (which must be an open
   * CosmosProvider) under the call's `options`, counted among the calls in
   * flight until it settles.
   */
  static #call<R>(self: unknown, method: OperationName, options: CallOptions | undefined, f: (target: Target) => Maybe<R>): Promise<R> {
    const p = call(() => {
      const provider = CosmosProvider.#open(self, method);
      const n = provider.#native;
      const hook = provider.#onDiagnostics;
      if (options === undefined && hook === undefined) return f({ n, c: undefined });
      return limited(method, options, hook, (c) => f({ n, c }));
    });
    if (self instanceof CosmosProvider) {
      const pending = self.#pending;
      pending.add(p);
      const done = (): void => void pending.delete(p);
      p.then(done, done);
    }
    return p;
  }

  /**
   * Closes this provider: later calls reject with `invalid_argument`, and
   * the returned promise settles once the calls already in flight have.
   * The account's shared connection pool stays for its other providers.
   */
  async close(): Promise<void> {
    if (!(this instanceof CosmosProvider)) throw misuse('CosmosProvider', 'close', this);
    this.#closed = true;
    await Promise.allSettled([...this.#pending]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  get(id: string, partitionKey: PartitionKey, options?: CallOptions): Promise<Stored<T> | null> {
    return CosmosProvider.#call(this, 'get', options, (n) => ops.get<T>(n, id, partitionKey));
  }

  create(doc: T, options?: CallOptions): Promise<Stored<T>> {
    return CosmosProvider.#call(this, 'create', options, (n) => ops.create(n, doc));
  }

  upsert(doc: T, options?: CallOptions): Promise<Stored<T>> {
    return CosmosProvider.#call(this, 'upsert', options, (n) => ops.upsert(n, doc));
  }

  replace(doc: T, options?: CallOptions): Promise<Stored<T>> {
    return CosmosProvider.#call(this, 'replace', options, (n) => ops.replace(n, doc));
  }

  update(id: string, partitionKey: PartitionKey, patch: Patch<T>, options?: CallOptions): Promise<Stored<T>> {
    return CosmosProvider.#call(this, 'update', options, (n) => ops.update<T>(n, id, partitionKey, patch));
  }

  delete(id: string, partitionKey: PartitionKey, options?: CallOptions): Promise<boolean> {
    return CosmosProvider.#call(this, 'delete', options, (n) => ops.delete(n, id, partitionKey));
  }

  query(filter?: QueryFilter<T>, options?: CallOptions): Promise<Stored<T>[]> {
    return CosmosProvider.#call(this, 'query', options, (n) => ops.query<T>(n, filter));
  }

  updateIfMatch(id: string, partitionKey: PartitionKey, expected: Expected, patch: Patch<T>, options?: CallOptions): Promise<UpdateIfMatchResult<T>> {
    return CosmosProvider.#call(this, 'updateIfMatch', options, (n) => ops.updateIfMatch<T>(n, id, partitionKey, expected, patch));
  }

  deleteIfMatch(id: string, partitionKey: PartitionKey, expected: Expected, options?: CallOptions): Promise<DeleteIfMatchResult> {
    return CosmosProvider.#call(this, 'deleteIfMatch', options, (n) => ops.deleteIfMatch(n, id, partitionKey, expected));
  }

  /**
   * One page of the query, as one request to Cosmos DB, resuming at the
   * SDK's continuation token (wrapped in this provider's opaque token).
   * A filter's `limit` caps the documents over all pages.
   */
  queryPage(filter?: QueryFilter<T>, page?: PageOptions, options?: CallOptions): Promise<QueryPage<T>> {
    return CosmosProvider.#call(this, 'queryPage', options, async ({ n, c }) => {
      const what = 'CosmosProvider.queryPage';
      refuseOrderBy(filter, what);
      const filterJson = encodeFilter(filter);
      const { maxItems, from } = checkPageOptions(page, 'cosmos', filterJson, what);
      const { take, remaining } = pageTake(filter, from, maxItems);
      if (take === 0) return { items: [], continuation: null };
      const out = decode<{ items: Stored<T>[]; continuation: string | null }>(await n.queryPage(filterJson, take, from?.at, c));
      return pageOf('cosmos', filterJson, remaining, out.items, out.continuation);
    });
  }

  queryIter(filter?: QueryFilter<T>, iter?: IterOptions, options?: CallOptions): AsyncIterableIterator<Stored<T>> {
    const pageSize = checkIterOptions(iter, 'CosmosProvider.queryIter');
    return walk((page) => this.queryPage(filter, page, options), pageSize);
  }

  batch(partitionKey: PartitionKey, ops: BatchOp<T>[], options?: CallOptions): Promise<BatchResult<T>> {
    return CosmosProvider.#call(this, 'batch', options, (n) => runBatch<T>(n, partitionKey, ops));
  }
}
