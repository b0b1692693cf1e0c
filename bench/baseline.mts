/**
 * The baseline: a pure-TypeScript Map provider with the semantics of the
 * package being replaced (deep copy on write and on read, so callers never
 * hold aliases of stored state). Kept here only, to measure against.
 */
import type { BaseDocument, Expected, PartitionKey, Patch, Stored, UpdateIfMatchResult } from '@bytelyst/datastore';

let nextEtag = 1;

export class MapProvider<T extends BaseDocument> {
  readonly #docs = new Map<string, Stored<T>>();
  constructor(private readonly pkField: string) {}

  #key(id: string, pk: PartitionKey): string {
    return `${JSON.stringify(pk)}\n${id}`;
  }

  async get(id: string, pk: PartitionKey): Promise<Stored<T> | null> {
    const d = this.#docs.get(this.#key(id, pk));
    return d ? structuredClone(d) : null;
  }

  async create(doc: T): Promise<Stored<T>> {
    const pk = (doc as unknown as Record<string, PartitionKey>)[this.pkField] as PartitionKey;
    const key = this.#key(doc.id, pk);
    if (this.#docs.has(key)) throw new Error('conflict');
    const stored = { ...structuredClone(doc), rev: 1, _etag: `"${nextEtag++}"`, _ts: Math.floor(Date.now() / 1000) } as Stored<T>;
    this.#docs.set(key, stored);
    return structuredClone(stored);
  }

  async updateIfMatch(id: string, pk: PartitionKey, expected: Expected, patch: Patch<T>): Promise<UpdateIfMatchResult<T>> {
    const key = this.#key(id, pk);
    const cur = this.#docs.get(key);
    if (!cur) return { ok: false, reason: 'not_found' };
    if ((expected.etag !== undefined && expected.etag !== cur._etag) || (expected.rev !== undefined && expected.rev !== cur.rev)) {
      return { ok: false, reason: 'conflict' };
    }
    const next = { ...cur, ...structuredClone(patch), rev: cur.rev + 1, _etag: `"${nextEtag++}"`, _ts: Math.floor(Date.now() / 1000) } as Stored<T>;
    this.#docs.set(key, next);
    return { ok: true, doc: structuredClone(next) };
  }
}
