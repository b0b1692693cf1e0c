/**
 * The single-container layout: job, run, lease and lock documents in ONE
 * container under the fleet's partition key (`/fleetId`), told apart by a
 * `kind` field and an id prefix (`job:`, `run:`, `lease:`, `lock:`), so a
 * user's job id can never collide with a lease or lock id.
 *
 * The rest of the module keeps talking to four typed providers: each is a
 * `KindView` over the container that adds the tag and prefix on the way in
 * and removes them on the way out (a view's documents look exactly like the
 * split layout's; the etag and `rev` are the container document's own, so
 * `updateIfMatch` through a view is the container's atomic compare). What
 * the split layout cannot offer is `FleetContainer.batch`: operations on
 * documents of different kinds, all applied or none.
 */

import type {
  BatchOp,
  BatchResult,
  DatastoreProvider,
  DeleteIfMatchResult,
  Expected,
  JsonScalar,
  PartitionKey,
  Patch,
  QueryFilter,
  Stored,
  UpdateIfMatchResult,
} from '@bytelyst/datastore';
import type { FleetJob, FleetLease, FleetLock, FleetRun } from './types.js';

export type FleetKind = 'job' | 'run' | 'lease' | 'lock';

/** The document type of each kind. */
export interface FleetKindDocs {
  job: FleetJob;
  run: FleetRun;
  lease: FleetLease;
  lock: FleetLock;
}

/**
 * A document of the single container as the provider sees it. Every fleet
 * document is flat JSON scalars, so the index signature is exact.
 */
export interface FleetEntity {
  /** `${kind}:${id of the kind's document}`. */
  id: string;
  fleetId: string;
  kind: FleetKind;
  [field: string]: JsonScalar;
}

const prefixOf = (kind: FleetKind): string => `${kind}:`;

/** How a view turns its documents into container documents. Per kind, so no cast is needed. */
const encoders: { [K in FleetKind]: (doc: FleetKindDocs[K]) => FleetEntity } = {
  job: (doc) => ({ ...doc, id: prefixOf('job') + doc.id, kind: 'job' }),
  run: (doc) => ({ ...doc, id: prefixOf('run') + doc.id, kind: 'run' }),
  lease: (doc) => ({ ...doc, id: prefixOf('lease') + doc.id, kind: 'lease' }),
  lock: (doc) => ({ ...doc, id: prefixOf('lock') + doc.id, kind: 'lock' }),
};

/**
 * A container document back as its kind's document: the tag and prefix
 * removed, the system fields kept. The one assertion of the layout: a
 * document only ever enters the container through `encoders[kind]`, and
 * the kind is checked here.
 */
function decode<K extends FleetKind>(kind: K, stored: Stored<FleetEntity>): Stored<FleetKindDocs[K]> {
  if (stored.kind !== kind || !stored.id.startsWith(prefixOf(kind))) {
    throw new Error(`fleet container: ${stored.id} is a ${String(stored.kind)}, not a ${kind}`);
  }
  const { kind: _kind, ...rest } = stored;
  const doc = { ...rest, id: stored.id.slice(prefixOf(kind).length) };
  return doc as unknown as Stored<FleetKindDocs[K]>;
}

function encodePatch<K extends FleetKind>(kind: K, patch: Patch<FleetKindDocs[K]>): Patch<FleetEntity> {
  const out: Patch<FleetEntity> = {};
  for (const [field, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    out[field] = field === 'id' && typeof value === 'string' ? prefixOf(kind) + value : (value as JsonScalar);
  }
  return out;
}

function encodeOp<K extends FleetKind>(kind: K, op: BatchOp<FleetKindDocs[K]>): BatchOp<FleetEntity> {
  const encode = encoders[kind] as (doc: FleetKindDocs[K]) => FleetEntity;
  const id = (raw: string): string => prefixOf(kind) + raw;
  switch (op.op) {
    case 'create':
    case 'upsert':
      return { op: op.op, doc: encode(op.doc) };
    case 'replace':
      return op.expected === undefined
        ? { op: 'replace', doc: encode(op.doc) }
        : { op: 'replace', doc: encode(op.doc), expected: op.expected };
    case 'update':
      return op.expected === undefined
        ? { op: 'update', id: id(op.id), patch: encodePatch(kind, op.patch) }
        : { op: 'update', id: id(op.id), patch: encodePatch(kind, op.patch), expected: op.expected };
    case 'delete':
      return op.expected === undefined ? { op: 'delete', id: id(op.id) } : { op: 'delete', id: id(op.id), expected: op.expected };
    case 'read':
      return { op: 'read', id: id(op.id) };
  }
}

/** One operation of a cross-kind batch: which kind it writes, and the operation in that kind's terms. */
export type FleetBatchOp = { [K in FleetKind]: { kind: K; op: BatchOp<FleetKindDocs[K]> } }[FleetKind];

/** A cross-kind batch's document per operation, with its kind (`doc` null for a delete). */
export type FleetBatchDoc = { [K in FleetKind]: { kind: K; doc: Stored<FleetKindDocs[K]> | null } }[FleetKind];

export type FleetBatchResult =
  | { ok: true; results: FleetBatchDoc[] }
  | { ok: false; index: number; reason: 'conflict' | 'not_found' };

/** The one container of the single layout. */
export class FleetContainer {
  private closing: Promise<void> | null = null;

  constructor(readonly provider: DatastoreProvider<FleetEntity>) {}

  /**
   * Applies `ops` on documents of any kinds of fleet `fleetId`, all or
   * none, as one `batch` of the container (one transactional batch request
   * on Cosmos). At most 100 operations, as `batch` allows.
   */
  async batch(fleetId: string, ops: readonly FleetBatchOp[]): Promise<FleetBatchResult> {
    const encoded = ops.map((entry) => encodeEntry(entry));
    const result = await this.provider.batch(fleetId, encoded);
    if (!result.ok) return result;
    return {
      ok: true,
      results: result.results.map((stored, i) => {
        const entry = ops[i];
        if (entry === undefined) throw new Error(`fleet container: no operation ${i}`);
        return decodeEntry(entry.kind, stored);
      }),
    };
  }

  /** Closes the container once, however many views ask. */
  close(): Promise<void> {
    this.closing ??= this.provider.close();
    return this.closing;
  }

  view<K extends FleetKind>(kind: K): KindView<K> {
    return new KindView(this, kind);
  }
}

function encodeEntry(entry: FleetBatchOp): BatchOp<FleetEntity> {
  switch (entry.kind) {
    case 'job':
      return encodeOp('job', entry.op);
    case 'run':
      return encodeOp('run', entry.op);
    case 'lease':
      return encodeOp('lease', entry.op);
    case 'lock':
      return encodeOp('lock', entry.op);
  }
}

function decodeEntry(kind: FleetKind, stored: Stored<FleetEntity> | null): FleetBatchDoc {
  switch (kind) {
    case 'job':
      return { kind, doc: stored === null ? null : decode(kind, stored) };
    case 'run':
      return { kind, doc: stored === null ? null : decode(kind, stored) };
    case 'lease':
      return { kind, doc: stored === null ? null : decode(kind, stored) };
    case 'lock':
      return { kind, doc: stored === null ? null : decode(kind, stored) };
  }
}

/** The documents of one kind in the single container, as a provider of their own. */
export class KindView<K extends FleetKind> implements DatastoreProvider<FleetKindDocs[K]> {
  readonly kind: 'memory' | 'cosmos';
  readonly partitionKeyPath: string;
  private readonly provider: DatastoreProvider<FleetEntity>;
  private readonly encode: (doc: FleetKindDocs[K]) => FleetEntity;

  constructor(
    private readonly container: FleetContainer,
    readonly docKind: K,
  ) {
    this.provider = container.provider;
    this.kind = container.provider.kind;
    this.partitionKeyPath = container.provider.partitionKeyPath;
    this.encode = encoders[docKind] as (doc: FleetKindDocs[K]) => FleetEntity;
  }

  private id(raw: string): string {
    return prefixOf(this.docKind) + raw;
  }

  private out(stored: Stored<FleetEntity>): Stored<FleetKindDocs[K]> {
    return decode(this.docKind, stored);
  }

  async get(id: string, partitionKey: PartitionKey): Promise<Stored<FleetKindDocs[K]> | null> {
    const stored = await this.provider.get(this.id(id), partitionKey);
    return stored === null ? null : this.out(stored);
  }

  async create(doc: FleetKindDocs[K]): Promise<Stored<FleetKindDocs[K]>> {
    return this.out(await this.provider.create(this.encode(doc)));
  }

  async upsert(doc: FleetKindDocs[K]): Promise<Stored<FleetKindDocs[K]>> {
    return this.out(await this.provider.upsert(this.encode(doc)));
  }

  async replace(doc: FleetKindDocs[K]): Promise<Stored<FleetKindDocs[K]>> {
    return this.out(await this.provider.replace(this.encode(doc)));
  }

  async update(id: string, partitionKey: PartitionKey, patch: Patch<FleetKindDocs[K]>): Promise<Stored<FleetKindDocs[K]>> {
    return this.out(await this.provider.update(this.id(id), partitionKey, encodePatch(this.docKind, patch)));
  }

  delete(id: string, partitionKey: PartitionKey): Promise<boolean> {
    return this.provider.delete(this.id(id), partitionKey);
  }

  async query(filter: QueryFilter<FleetKindDocs[K]> = {}): Promise<Stored<FleetKindDocs[K]>[]> {
    const where: { [field: string]: JsonScalar | undefined } = { ...filter.where, kind: this.docKind };
    const id = where['id'];
    if (typeof id === 'string') where['id'] = this.id(id);
    const inner: QueryFilter<FleetEntity> = { where };
    if (filter.partitionKey !== undefined) inner.partitionKey = filter.partitionKey;
    if (filter.orderBy !== undefined) {
      inner.orderBy =
        filter.orderBy.direction === undefined
          ? { field: filter.orderBy.field }
          : { field: filter.orderBy.field, direction: filter.orderBy.direction };
    }
    if (filter.limit !== undefined) inner.limit = filter.limit;
    const found = await this.provider.query(inner);
    return found.map((stored) => this.out(stored));
  }

  async updateIfMatch(
    id: string,
    partitionKey: PartitionKey,
    expected: Expected,
    patch: Patch<FleetKindDocs[K]>,
  ): Promise<UpdateIfMatchResult<FleetKindDocs[K]>> {
    const written = await this.provider.updateIfMatch(this.id(id), partitionKey, expected, encodePatch(this.docKind, patch));
    return written.ok ? { ok: true, doc: this.out(written.doc) } : written;
  }

  deleteIfMatch(id: string, partitionKey: PartitionKey, expected: Expected): Promise<DeleteIfMatchResult> {
    return this.provider.deleteIfMatch(this.id(id), partitionKey, expected);
  }

  async batch(partitionKey: PartitionKey, ops: BatchOp<FleetKindDocs[K]>[]): Promise<BatchResult<FleetKindDocs[K]>> {
    const result = await this.provider.batch(
      partitionKey,
      ops.map((op) => encodeOp(this.docKind, op)),
    );
    if (!result.ok) return result;
    return { ok: true, results: result.results.map((stored) => (stored === null ? null : this.out(stored))) };
  }

  close(): Promise<void> {
    return this.container.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
