/**
 * The provider conformance suite: written once, run against every provider
 * (Memory here, Cosmos against a real Cosmos-protocol server), so the
 * contract in README.md means the same thing everywhere.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { scaled } from '../setup/scale.js';
import { DatastoreError } from '@bytelyst/datastore';
import type { BaseDocument, CallOptions, DatastoreProvider, PagedQueries, QueryFilter, QueryPage, Stored } from '@bytelyst/datastore';
import { runWorkers, type WorkerStore } from '../fixtures/workers.mjs';
import { batchConformance } from './batch.js';

export type ProviderFactory = <T extends BaseDocument>(opts: { partitionKeyPath: string }) => Promise<DatastoreProvider<T>>;

export interface ConformanceOptions {
  /** Concurrent claimers in the N-claimer race. */
  claimers?: number;
  /** Concurrent read → updateIfMatch → retry loops that must lose no increment. */
  incrementers?: number;
  /**
   * Races across worker threads, which truly interleave inside the
   * provider (a `Promise.all` on one thread runs each call's compare and
   * write back to back). `open` gives a provider on a fresh store and what a
   * worker needs to open the same store; `scale` sizes the races (1 = 1,000
   * claims of one document, 2,000 documents claimed by 4 threads, 2,000
   * increments).
   */
  threads?: {
    open: <T extends BaseDocument>(opts: { partitionKeyPath: string }) => Promise<{ provider: DatastoreProvider<T>; where: WorkerStore }>;
    scale: number;
  };
}

export interface Job extends BaseDocument {
  tenantId: string;
  status?: string;
  owner?: string | null;
  n?: number;
  tags?: string[];
  meta?: { [k: string]: unknown };
  when?: unknown;
  [extra: string]: unknown;
}

/** Passes a deliberately ill-typed value through the public types. */
const bad = <T>(v: unknown): T => v as T;

/** Expects a rejection with a `DatastoreError` of `code`, and returns it. */
export async function rejection(p: Promise<unknown>, code: DatastoreError['code']): Promise<DatastoreError> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected a rejection with code ${code}`).toBeInstanceOf(DatastoreError);
  expect((err as DatastoreError).code).toBe(code);
  return err as DatastoreError;
}

/** The worker-thread leg's helpers: sizes scaled for the provider, a fresh store, the workers' common options. */
export function threadLeg(threads: NonNullable<ConformanceOptions['threads']>): {
  size: (n: number) => number;
  onThreads: () => Promise<{ t: DatastoreProvider<Job>; where: WorkerStore }>;
  common: { partitionKeyPath: '/tenantId'; pk: 't1' };
} {
  return {
    size: (n) => Math.max(4, Math.round(n * threads.scale)),
    onThreads: async () => {
      const { provider, where } = await threads.open<Job>({ partitionKeyPath: '/tenantId' });
      return { t: provider, where };
    },
    common: { partitionKeyPath: '/tenantId', pk: 't1' },
  };
}

export function conformance(name: string, makeProvider: ProviderFactory, options: ConformanceOptions = {}): void {
  const claimers = options.claimers ?? 1000;
  const incrementers = options.incrementers ?? scaled(500, 50);

  describe(`${name}: provider conformance`, () => {
    let p: DatastoreProvider<Job>;
    beforeEach(async () => {
      p = await makeProvider<Job>({ partitionKeyPath: '/tenantId' });
    });

    const job = (id: string, extra: Partial<Job> = {}): Job => ({ id, tenantId: 't1', status: 'queued', owner: null, ...extra });

    describe('CRUD and system fields', () => {
      it('create returns the document with rev 1, an _etag and _ts', async () => {
        const before = Math.floor(Date.now() / 1000) - 5;
        const d = await p.create(job('a', { n: 1, tags: ['x'], meta: { deep: { k: true } } }));
        expect(d).toMatchObject({ id: 'a', tenantId: 't1', status: 'queued', owner: null, n: 1, tags: ['x'], meta: { deep: { k: true } } });
        expect(d.rev).toBe(1);
        expect(typeof d._etag).toBe('string');
        expect(d._etag.length).toBeGreaterThan(0);
        expect(d._ts).toBeGreaterThanOrEqual(before);
        expect(d._ts).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 5);
        const got = await p.get('a', 't1');
        expect(got).toEqual(d);
      });

      it('get of a missing document is null', async () => {
        expect(await p.get('nope', 't1')).toBeNull();
      });

      it('create of an existing id in the same partition rejects with conflict', async () => {
        await p.create(job('a', { n: 1 }));
        await rejection(p.create(job('a', { n: 2 })), 'conflict');
        expect((await p.get('a', 't1'))?.n).toBe(1);
      });

      it('the same id in another partition is another document', async () => {
        await p.create(job('a', { n: 1 }));
        const other = await p.create(job('a', { tenantId: 't2', n: 2 }));
        expect(other.rev).toBe(1);
        expect((await p.get('a', 't1'))?.n).toBe(1);
        expect((await p.get('a', 't2'))?.n).toBe(2);
      });

      it('a caller-supplied rev or system field is overwritten, never trusted', async () => {
        const d = await p.create(bad<Job>({ ...job('a'), rev: 41, _etag: 'forged', _ts: 1 }));
        expect(d.rev).toBe(1);
        expect(d._etag).not.toBe('forged');
        expect(d._ts).toBeGreaterThan(1);
        const r = await p.replace(bad<Job>({ ...d, rev: 99 }));
        expect(r.rev).toBe(2);
      });

      it('upsert creates, then replaces with rev + 1', async () => {
        const a = await p.upsert(job('a', { n: 1 }));
        expect(a.rev).toBe(1);
        const b = await p.upsert(job('a', { n: 2 }));
        expect(b.rev).toBe(2);
        expect(b.n).toBe(2);
        expect(b._etag).not.toBe(a._etag);
      });

      it('replace swaps the whole document and bumps rev; a missing one is not_found', async () => {
        const a = await p.create(job('a', { n: 1, tags: ['x'] }));
        const b = await p.replace({ id: 'a', tenantId: 't1', status: 'done' });
        expect(b.rev).toBe(2);
        expect(b._etag).not.toBe(a._etag);
        expect(b.tags).toBeUndefined();
        expect(b.status).toBe('done');
        await rejection(p.replace(job('missing')), 'not_found');
        expect(await p.get('missing', 't1')).toBeNull();
      });

      it('a document read back can be written back as is', async () => {
        const a = await p.create(job('a'));
        const again = await p.replace({ ...a, status: 'assigned' });
        expect(again.rev).toBe(2);
        expect(again.status).toBe('assigned');
      });

      it('update is a shallow merge and bumps rev; a missing one is not_found', async () => {
        await p.create(job('a', { n: 1, meta: { a: 1, b: 2 } }));
        const u = await p.update('a', 't1', { status: 'assigned', meta: { a: 9 } });
        expect(u).toMatchObject({ status: 'assigned', n: 1, meta: { a: 9 }, rev: 2 });
        expect(u.meta).toEqual({ a: 9 });
        await rejection(p.update('missing', 't1', { status: 'x' }), 'not_found');
        expect(await p.get('missing', 't1')).toBeNull();
      });

      it('delete answers true once, then false', async () => {
        await p.create(job('a'));
        expect(await p.delete('a', 't1')).toBe(true);
        expect(await p.get('a', 't1')).toBeNull();
        expect(await p.delete('a', 't1')).toBe(false);
      });

      it('values are stored as JSON.stringify writes them', async () => {
        const d = await p.create(job('a', { when: new Date(0), gone: undefined, list: [1, undefined, 'x'] }));
        expect(d.when).toBe('1970-01-01T00:00:00.000Z');
        expect('gone' in d).toBe(false);
        expect(d['list']).toEqual([1, null, 'x']);
        expect(await p.get('a', 't1')).toEqual(d);
      });

      it('numeric and boolean partition keys work', async () => {
        const q = await makeProvider<{ id: string; shard: number | boolean }>({ partitionKeyPath: '/shard' });
        await q.create({ id: 'a', shard: 7 });
        await q.create({ id: 'a', shard: true });
        expect((await q.get('a', 7))?.shard).toBe(7);
        expect((await q.get('a', true))?.shard).toBe(true);
        expect(await q.get('a', 8)).toBeNull();
      });
    });

    describe('updateIfMatch', () => {
      it('a matching etag writes the patch, bumps rev and changes _etag', async () => {
        const a = await p.create(job('a', { n: 1 }));
        const r = await p.updateIfMatch('a', 't1', { etag: a._etag }, { status: 'assigned', owner: 'agent-1' });
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.doc).toMatchObject({ id: 'a', status: 'assigned', owner: 'agent-1', n: 1, rev: 2 });
        expect(r.doc._etag).not.toBe(a._etag);
        expect(await p.get('a', 't1')).toEqual(r.doc);
      });

      it('a matching rev writes', async () => {
        await p.create(job('a'));
        const r = await p.updateIfMatch('a', 't1', { rev: 1 }, { status: 'assigned' });
        expect(r.ok && r.doc.rev).toBe(2);
      });

      it('with both, both must match', async () => {
        const a = await p.create(job('a'));
        expect((await p.updateIfMatch('a', 't1', { etag: a._etag, rev: 2 }, { n: 1 })).ok).toBe(false);
        const r = await p.updateIfMatch('a', 't1', { etag: a._etag, rev: 1 }, { n: 1 });
        expect(r.ok).toBe(true);
      });

      it('a stale etag with the current rev is a conflict: the rev does not excuse the etag', async () => {
        const a = await p.create(job('a'));
        // Same rev, another version: deleted and created again.
        await p.delete('a', 't1');
        const b = await p.create(job('a'));
        expect(b.rev).toBe(a.rev);
        expect(await p.updateIfMatch('a', 't1', { etag: a._etag, rev: b.rev }, { owner: 'me' })).toEqual({ ok: false, reason: 'conflict' });
        // And a current etag does not excuse a stale rev.
        expect(await p.updateIfMatch('a', 't1', { etag: b._etag, rev: b.rev + 1 }, { owner: 'me' })).toEqual({ ok: false, reason: 'conflict' });
        expect(await p.get('a', 't1')).toEqual(b);
      });

      it('a stale etag is a conflict and writes nothing', async () => {
        const a = await p.create(job('a'));
        const won = await p.updateIfMatch('a', 't1', { etag: a._etag }, { owner: 'first' });
        expect(won.ok).toBe(true);
        const lost = await p.updateIfMatch('a', 't1', { etag: a._etag }, { owner: 'second' });
        expect(lost).toEqual({ ok: false, reason: 'conflict' });
        const now = await p.get('a', 't1');
        expect(now?.owner).toBe('first');
        expect(now?.rev).toBe(2);
      });

      it('a stale rev is a conflict and writes nothing', async () => {
        await p.create(job('a'));
        await p.update('a', 't1', { n: 5 });
        expect(await p.updateIfMatch('a', 't1', { rev: 1 }, { n: 6 })).toEqual({ ok: false, reason: 'conflict' });
        expect((await p.get('a', 't1'))?.n).toBe(5);
      });

      it('an etag that was never issued is a conflict', async () => {
        await p.create(job('a'));
        expect(await p.updateIfMatch('a', 't1', { etag: '"not-an-etag"' }, { n: 1 })).toEqual({ ok: false, reason: 'conflict' });
      });

      it('a missing document is not_found', async () => {
        expect(await p.updateIfMatch('nope', 't1', { rev: 1 }, { n: 1 })).toEqual({ ok: false, reason: 'not_found' });
        expect(await p.updateIfMatch('nope', 't1', { etag: '"x"' }, { n: 1 })).toEqual({ ok: false, reason: 'not_found' });
      });

      it("a document deleted and created again does not match its old life's etag", async () => {
        const a = await p.create(job('a'));
        await p.delete('a', 't1');
        await p.create(job('a'));
        expect(await p.updateIfMatch('a', 't1', { etag: a._etag }, { n: 1 })).toEqual({ ok: false, reason: 'conflict' });
      });

      it('id and partition key may appear in a patch only unchanged', async () => {
        const a = await p.create(job('a'));
        const r = await p.updateIfMatch('a', 't1', { etag: a._etag }, { id: 'a', tenantId: 't1', n: 1 });
        expect(r.ok).toBe(true);
      });

      it.each([
        ['id', { id: 'b' }],
        ['the partition key', { tenantId: 't2' }],
        ['rev', { rev: 7 }],
        ['_etag', { _etag: 'x' }],
        ['a _-field', { _custom: 1 }],
      ])('a patch changing %s is invalid_argument and writes nothing', async (_what, patch) => {
        const a = await p.create(job('a'));
        await rejection(p.updateIfMatch('a', 't1', { etag: a._etag }, bad(patch)), 'invalid_argument');
        await rejection(p.update('a', 't1', bad(patch)), 'invalid_argument');
        expect(await p.get('a', 't1')).toEqual(a);
      });

      it.each([
        ['neither etag nor rev', {}],
        ['null', null],
        ['a non-string etag', { etag: 1 }],
        ['a fractional rev', { rev: 1.5 }],
        ['a negative rev', { rev: -1 }],
        // A misspelt etag beside a matching rev would otherwise weaken the compare to rev alone.
        ['a misspelt member beside a matching rev', { rev: 1, eTag: '"x"' }],
        ['an unknown member beside a matching rev', { rev: 1, revision: 2 }],
      ])('expected with %s is invalid_argument', async (_what, expected) => {
        const a = await p.create(job('a'));
        await rejection(p.updateIfMatch('a', 't1', bad(expected), { n: 1 }), 'invalid_argument');
        expect(await p.get('a', 't1')).toEqual(a);
      });
    });

    describe('deleteIfMatch', () => {
      it('a matching etag, rev, or both deletes the document', async () => {
        for (const expected of ['etag', 'rev', 'both'] as const) {
          const a = await p.create(job('a'));
          const by = expected === 'etag' ? { etag: a._etag } : expected === 'rev' ? { rev: a.rev } : { etag: a._etag, rev: a.rev };
          expect(await p.deleteIfMatch('a', 't1', by)).toEqual({ ok: true });
          expect(await p.get('a', 't1')).toBeNull();
        }
      });

      it('a stale etag or rev is a conflict and deletes nothing', async () => {
        const a = await p.create(job('a'));
        const b = await p.update('a', 't1', { n: 1 });
        expect(await p.deleteIfMatch('a', 't1', { etag: a._etag })).toEqual({ ok: false, reason: 'conflict' });
        expect(await p.deleteIfMatch('a', 't1', { rev: a.rev })).toEqual({ ok: false, reason: 'conflict' });
        expect(await p.deleteIfMatch('a', 't1', { etag: a._etag, rev: b.rev })).toEqual({ ok: false, reason: 'conflict' });
        expect(await p.deleteIfMatch('a', 't1', { etag: b._etag, rev: a.rev })).toEqual({ ok: false, reason: 'conflict' });
        expect(await p.get('a', 't1')).toEqual(b);
      });

      it('a missing document is not_found', async () => {
        expect(await p.deleteIfMatch('nope', 't1', { rev: 1 })).toEqual({ ok: false, reason: 'not_found' });
        expect(await p.deleteIfMatch('nope', 't1', { etag: '"x"' })).toEqual({ ok: false, reason: 'not_found' });
      });

      it('bad expectations and ids are invalid_argument and delete nothing', async () => {
        const a = await p.create(job('a'));
        await rejection(p.deleteIfMatch('a', 't1', bad({})), 'invalid_argument');
        await rejection(p.deleteIfMatch('a', 't1', bad({ rev: -1 })), 'invalid_argument');
        await rejection(p.deleteIfMatch('a', 't1', bad({ rev: a.rev, etagg: '"x"' })), 'invalid_argument');
        await rejection(p.deleteIfMatch('..', 't1', { rev: 1 }), 'invalid_argument');
        await rejection(p.deleteIfMatch('a', bad(null), { rev: 1 }), 'invalid_argument');
        expect(await p.get('a', 't1')).toEqual(a);
      });

      it('racing deletes and updates on one version: exactly one wins', async () => {
        const a = await p.create(job('a'));
        const results = await Promise.all([
          ...Array.from({ length: 5 }, () => p.deleteIfMatch('a', 't1', { etag: a._etag })),
          ...Array.from({ length: 5 }, (_, i) => p.updateIfMatch('a', 't1', { etag: a._etag }, { owner: `u${i}` })),
        ]);
        expect(results.filter((r) => r.ok).length).toBe(1);
        for (const r of results) if (!r.ok) expect(['conflict', 'not_found']).toContain(r.reason);
      });
    });

    describe('query', () => {
      beforeEach(async () => {
        const rows: Array<[string, string, string, number]> = [
          ['a', 't1', 'queued', 3],
          ['b', 't1', 'done', 1],
          ['c', 't1', 'queued', 2],
          ['d', 't2', 'queued', 0],
        ];
        for (const [id, tenantId, status, n] of rows) await p.create({ id, tenantId, status, n });
      });
      const ids = (docs: Array<Stored<Job>>): string[] => docs.map((d) => d.id);

      it('without a filter returns every document, with system fields', async () => {
        const all = await p.query();
        expect(ids(all).sort()).toEqual(['a', 'b', 'c', 'd']);
        for (const d of all) expect(d.rev).toBe(1);
      });

      it('filters by partition', async () => {
        expect(ids(await p.query({ partitionKey: 't1' })).sort()).toEqual(['a', 'b', 'c']);
        expect(ids(await p.query({ partitionKey: 't9' }))).toEqual([]);
      });

      it('ANDs equality clauses', async () => {
        expect(ids(await p.query({ where: { status: 'queued', tenantId: 't1' } })).sort()).toEqual(['a', 'c']);
        expect(ids(await p.query({ where: { n: 1 } }))).toEqual(['b']);
        expect(ids(await p.query({ where: { status: 'nope' } }))).toEqual([]);
      });

      it('orders ascending and descending, and limits', async () => {
        expect(ids(await p.query({ orderBy: { field: 'n' } }))).toEqual(['d', 'b', 'c', 'a']);
        expect(ids(await p.query({ orderBy: { field: 'n', direction: 'desc' } }))).toEqual(['a', 'c', 'b', 'd']);
        expect(
          ids(await p.query({ partitionKey: 't1', where: { status: 'queued' }, orderBy: { field: 'n', direction: 'desc' }, limit: 1 })),
        ).toEqual(['a']);
        expect(await p.query({ limit: 2 })).toHaveLength(2);
      });

      it('orders missing fields, nulls and mixed types in one partition alike, each limit a prefix', async () => {
        // Ascending: missing < null < false < true < numbers < strings (by code point) < arrays < objects.
        const order: Array<[string, unknown]> = [
          ['m0', undefined],
          ['m1', null],
          ['m2', false],
          ['m3', true],
          ['m4', -1.5],
          ['m5', 2],
          ['m6', 10],
          ['m7', ''],
          ['m8', 'B'],
          ['m9', 'a'],
          ['mA', '\uffff'],
          ['mB', '😀'],
          ['mC', [1]],
          ['mD', { a: 1 }],
        ];
        // Written out of order, so that write order cannot pass for sort order.
        for (const [id, when] of [...order].reverse()) await p.create(when === undefined ? { id, tenantId: 'm' } : { id, tenantId: 'm', when });
        const asc = order.map(([id]) => id);
        const desc = [...asc].reverse();
        expect(ids(await p.query({ partitionKey: 'm', orderBy: { field: 'when' } }))).toEqual(asc);
        expect(ids(await p.query({ partitionKey: 'm', orderBy: { field: 'when', direction: 'desc' } }))).toEqual(desc);
        for (const limit of [1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14, 20]) {
          expect(ids(await p.query({ partitionKey: 'm', orderBy: { field: 'when' }, limit })), `asc, limit ${limit}`).toEqual(asc.slice(0, limit));
          expect(ids(await p.query({ partitionKey: 'm', orderBy: { field: 'when', direction: 'desc' }, limit })), `desc, limit ${limit}`).toEqual(
            desc.slice(0, limit),
          );
        }
        // Only portable values (no surrogate pairs, no arrays or objects): the case a server may order.
        const plain = new Set(['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9']);
        for (const id of asc) if (!plain.has(id)) await p.delete(id, 'm');
        expect(ids(await p.query({ partitionKey: 'm', orderBy: { field: 'when' }, limit: 3 }))).toEqual(['m0', 'm1', 'm2']);
        expect(ids(await p.query({ partitionKey: 'm', orderBy: { field: 'when', direction: 'desc' }, limit: 3 }))).toEqual(['m9', 'm8', 'm7']);
        expect(ids(await p.query({ partitionKey: 'm', where: { when: null }, orderBy: { field: 'when' } }))).toEqual(['m1']);
      });

      it('sees writes', async () => {
        await p.update('b', 't1', { status: 'queued' });
        await p.delete('a', 't1');
        expect(ids(await p.query({ where: { status: 'queued' }, orderBy: { field: 'n' } }))).toEqual(['d', 'b', 'c']);
      });

      it.each([
        ['an unknown key', { orderby: { field: 'n' } }],
        ['a field that is not a top-level name', { where: { 'a.b': 1 } }],
        ['an object value', { where: { n: { $gt: 1 } } }],
        ['limit 0', { limit: 0 }],
        ['a fractional limit', { limit: 1.5 }],
        ['a bad direction', { orderBy: { field: 'n', direction: 'up' } }],
        ['an object partition key', { partitionKey: { t: 1 } }],
      ])('rejects a filter with %s', async (_what, filter) => {
        await rejection(p.query(bad(filter)), 'invalid_argument');
      });
    });

    describe('bad input gets a clear error and writes nothing', () => {
      const count = async (): Promise<number> => (await p.query()).length;

      it.each([
        ['empty', ''],
        ['over 255 characters', 'x'.repeat(256)],
        ['with /', 'a/b'],
        ['with \\', 'a\\b'],
        ['with ?', 'a?b'],
        ['with #', 'a#b'],
      ])('an id %s', async (_what, id) => {
        const err = await rejection(p.create(job(id)), 'invalid_argument');
        expect(err.message).toMatch(/id/);
        await rejection(p.upsert(job(id)), 'invalid_argument');
        await rejection(p.get(id, 't1'), 'invalid_argument');
        expect(await count()).toBe(0);
      });

      it('accepts an id of exactly 255 characters', async () => {
        expect((await p.create(job('x'.repeat(255)))).rev).toBe(1);
      });

      it.each([
        ['null', null],
        ['an array', [{ id: 'a', tenantId: 't1' }]],
        ['a string', '{"id":"a"}'],
        ['a Date', new Date()],
        ['a Map', new Map([['id', 'a']])],
        ['a class instance', new (class Job { id = 'a'; tenantId = 't1'; })()],
      ])('a document that is %s', async (_what, doc) => {
        const err = await rejection(p.create(bad(doc)), 'invalid_argument');
        expect(err.message).toMatch(/document/);
        expect(await count()).toBe(0);
      });

      it.each([
        ['missing', { id: 'a' }],
        ['null', { id: 'a', tenantId: null }],
        ['an object', { id: 'a', tenantId: { x: 1 } }],
        ['an array', { id: 'a', tenantId: ['t1'] }],
      ])('a partition key that is %s', async (_what, doc) => {
        const err = await rejection(p.create(bad(doc)), 'invalid_argument');
        expect(err.message).toMatch(/tenantId/);
        expect(await count()).toBe(0);
      });

      it('a non-string id', async () => {
        await rejection(p.create(bad({ id: 7, tenantId: 't1' })), 'invalid_argument');
        await rejection(p.get(bad(7), 't1'), 'invalid_argument');
        expect(await count()).toBe(0);
      });

      it.each([
        ['a BigInt', { big: 10n }, 'document.meta.big'],
        ['NaN', { x: NaN }, 'document.meta.x'],
        ['Infinity', { x: Infinity }, 'document.meta.x'],
        ['-Infinity', { x: -Infinity }, 'document.meta.x'],
        ['a function', { f: () => 1 }, 'document.meta.f'],
        ['a symbol', { s: Symbol('s') }, 'document.meta.s'],
        ['NaN inside an array', { list: [1, NaN] }, 'document.meta.list[1]'],
      ])('%s anywhere in the document, named by its path', async (_what, meta, path) => {
        const err = await rejection(p.create(job('a', { meta })), 'invalid_argument');
        expect(err.message).toContain(path);
        expect(await count()).toBe(0);
      });

      it('a cycle, named by its path', async () => {
        const meta: { [k: string]: unknown } = { inner: {} };
        (meta['inner'] as { [k: string]: unknown })['back'] = meta;
        const err = await rejection(p.create(job('a', { meta })), 'invalid_argument');
        expect(err.message).toContain('document.meta.inner.back');
        expect(await count()).toBe(0);
      });

      it('bad values in a patch write nothing', async () => {
        const a = await p.create(job('a'));
        await rejection(p.updateIfMatch('a', 't1', { etag: a._etag }, bad({ n: NaN })), 'invalid_argument');
        await rejection(p.updateIfMatch('a', 't1', { etag: a._etag }, bad([1])), 'invalid_argument');
        await rejection(p.update('a', 't1', bad({ n: 1n })), 'invalid_argument');
        expect(await p.get('a', 't1')).toEqual(a);
      });

      it('a partition key argument that is not a scalar', async () => {
        await rejection(p.get('a', bad(undefined)), 'invalid_argument');
        await rejection(p.get('a', bad({})), 'invalid_argument');
        await rejection(p.delete('a', bad(NaN)), 'invalid_argument');
      });

      it('a document over 2 MB is too_large', async () => {
        await rejection(p.create(job('a', { blob: 'x'.repeat(2 * 1024 * 1024) })), 'too_large');
        expect(await count()).toBe(0);
        const a = await p.create(job('a'));
        await rejection(p.update('a', 't1', { blob: 'x'.repeat(2 * 1024 * 1024) }), 'too_large');
        expect(await p.get('a', 't1')).toEqual(a);
      });
    });

    describe('races', () => {
      /** Fires `n` claims of one freshly read job at once. */
      async function race(n: number): Promise<{ ok: number; conflicts: number; winner: Stored<Job> | null }> {
        const read = await p.create(job('race'));
        const results = await Promise.all(
          Array.from({ length: n }, (_, i) => p.updateIfMatch('race', 't1', { etag: read._etag }, { status: 'assigned', owner: `agent-${i}` })),
        );
        const winners = results.filter((r) => r.ok);
        return {
          ok: winners.length,
          conflicts: results.filter((r) => !r.ok && r.reason === 'conflict').length,
          winner: winners[0]?.ok ? winners[0].doc : null,
        };
      }

      it('two claims under Promise.all: exactly one wins', async () => {
        const { ok, conflicts, winner } = await race(2);
        expect([ok, conflicts]).toEqual([1, 1]);
        const stored = await p.get('race', 't1');
        expect(stored?.owner).toBe(winner?.owner);
        expect(stored?.rev).toBe(2);
      });

      it(`${claimers} concurrent claims: exactly one wins, the rest conflict`, async () => {
        const { ok, conflicts, winner } = await race(claimers);
        expect(ok).toBe(1);
        expect(conflicts).toBe(claimers - 1);
        const stored = await p.get('race', 't1');
        expect(stored?.owner).toBe(winner?.owner);
        // Exactly one write landed: a claim answered `conflict` after writing would show here.
        expect(stored?.rev).toBe(2);
      });

      it(`${incrementers} concurrent read → updateIfMatch → retry loops lose no increment`, async () => {
        await p.create(job('counter', { n: 0 }));
        let conflicts = 0;
        const loop = async (): Promise<void> => {
          for (;;) {
            const cur = await p.get('counter', 't1');
            if (!cur) throw new Error('counter vanished');
            const r = await p.updateIfMatch('counter', 't1', { etag: cur._etag }, { n: (cur.n ?? 0) + 1 });
            if (r.ok) return;
            expect(r.reason).toBe('conflict');
            conflicts++;
          }
        };
        await Promise.all(Array.from({ length: incrementers }, loop));
        const end = await p.get('counter', 't1');
        expect(end?.n).toBe(incrementers);
        expect(end?.rev).toBe(incrementers + 1);
        expect(conflicts).toBeGreaterThan(0); // the loops really did contend
      });

      it('negative control: read → check → write with get and replace double-assigns under the same race', async () => {
        await p.create(job('legacy'));
        const n = 10;
        let reads = 0;
        let release!: () => void;
        const allRead = new Promise<void>((r) => (release = r));
        // The replaced implementation: read, check in JS, then an `await`
        // before the unconditional write. Every claimer reads before any writes.
        const legacyClaim = async (agent: string): Promise<boolean> => {
          const cur = await p.get('legacy', 't1');
          if (!cur || cur.owner !== null) return false;
          if (++reads === n) release();
          await allRead;
          await p.replace({ ...cur, owner: agent, status: 'assigned' });
          return true;
        };
        const wins = (await Promise.all(Array.from({ length: n }, (_, i) => legacyClaim(`agent-${i}`)))).filter(Boolean);
        expect(wins.length).toBeGreaterThan(1); // double assignment: the bug updateIfMatch fixes
        expect((await p.get('legacy', 't1'))?.rev).toBe(n + 1);
      });

      const threads = options.threads;
      if (threads) {
        const { size, onThreads, common } = threadLeg(threads);

        it(`4 threads × ${size(250)} claims of one job (rev 1): exactly one wins, one write lands`, async () => {
          const { t, where } = await onThreads();
          await t.create(job('job'));
          const attempts = size(250);
          const results = await runWorkers({ ...where, ...common, threads: 4, docId: 'job', attempts, mode: 'claim' });
          expect(results.reduce((s, r) => s + r.ok, 0)).toBe(1);
          expect(results.reduce((s, r) => s + r.conflicts, 0)).toBe(4 * attempts - 1);
          const end = await t.get('job', 't1');
          expect(end?.rev).toBe(2);
          expect(end?.owner).toMatch(/^w\d-\d+$/);
        });

        it(`4 threads claiming the same ${size(2000)} fresh documents: exactly one winner for each`, async () => {
          const { t, where } = await onThreads();
          const docs = size(2000);
          // A 4 KB body makes each merge (between the compare and the write) take a while.
          const pad = 'x'.repeat(4096);
          for (let i = 0; i < docs; i++) await t.create(job(`job-${i}`, { meta: { pad } }));
          const results = await runWorkers({ ...where, ...common, threads: 4, docId: 'job', attempts: docs, mode: 'claim-each' });
          expect(results.reduce((s, r) => s + r.ok, 0)).toBe(docs);
          const claimed = await t.query({ where: { rev: 2 } });
          expect(claimed).toHaveLength(docs);
          expect(await t.query({ where: { rev: 3 } }), 'no document was written twice').toHaveLength(0);
        });

        it(`4 threads × ${size(500)} read → updateIfMatch → retry increments of one document lose nothing`, async () => {
          const { t, where } = await onThreads();
          await t.create(job('counter', { n: 0 }));
          const attempts = size(500);
          const results = await runWorkers({ ...where, ...common, threads: 4, docId: 'counter', attempts, mode: 'increment' });
          // Every value 1..N was written by exactly one successful write: two
          // "wins" on one revision would show as a duplicate and a gap.
          const wrote = results.flatMap((r) => r.wrote).sort((a, b) => a - b);
          expect(wrote).toEqual(Array.from({ length: 4 * attempts }, (_, i) => i + 1));
          const end = await t.get('counter', 't1');
          expect(end?.rev).toBe(4 * attempts + 1);
        });
      }
    });

    describe('call options ({ signal, timeoutMs } as the last argument)', () => {
      /** Every method once, with `o` as its call options; the document `a` exists at rev 1. */
      const everyMethod = (o: unknown): Array<[string, () => Promise<unknown>]> => {
        const opts = bad<CallOptions>(o);
        return [
          ['get', () => p.get('a', 't1', opts)],
          ['create', () => p.create(job('new'), opts)],
          ['upsert', () => p.upsert(job('a', { n: 9 }), opts)],
          ['replace', () => p.replace(job('a', { n: 9 }), opts)],
          ['update', () => p.update('a', 't1', { n: 9 }, opts)],
          ['delete', () => p.delete('a', 't1', opts)],
          ['query', () => p.query({ partitionKey: 't1' }, opts)],
          ['updateIfMatch', () => p.updateIfMatch('a', 't1', { rev: 1 }, { n: 9 }, opts)],
          ['deleteIfMatch', () => p.deleteIfMatch('a', 't1', { rev: 1 }, opts)],
          ['batch', () => p.batch('t1', [{ op: 'update', id: 'a', patch: { n: 9 } }], opts)],
        ];
      };

      it('every method takes them, and an unfired signal or a roomy deadline changes nothing', async () => {
        const a = await p.create(job('a', { n: 1 }));
        const live = { signal: new AbortController().signal, timeoutMs: 60_000 };
        expect(await p.get('a', 't1', live)).toEqual(a);
        expect(await p.get('a', 't1', {})).toEqual(a);
        expect(await p.query({ where: { n: 1 } }, live)).toEqual([a]);
        const u = await p.updateIfMatch('a', 't1', { etag: a._etag }, { owner: 'me' }, live);
        expect(u).toMatchObject({ ok: true, doc: { owner: 'me', rev: 2 } });
        expect(await p.update('a', 't1', { n: 2 }, { timeoutMs: 60_000 })).toMatchObject({ n: 2, rev: 3 });
        expect((await p.batch('t1', [{ op: 'read', id: 'a' }], live)).ok).toBe(true);
        expect(await p.deleteIfMatch('a', 't1', { rev: 3 }, live)).toEqual({ ok: true });
        expect((await p.create(job('b'), live)).rev).toBe(1);
        expect((await p.upsert(job('b', { n: 5 }), live)).rev).toBe(2);
        expect((await p.replace(job('b', { n: 6 }), live)).rev).toBe(3);
        expect(await p.delete('b', 't1', live)).toBe(true);
      });

      it('a signal that has already fired rejects every method at once with timeout, its reason as cause, nothing written', async () => {
        const a = await p.create(job('a', { n: 1 }));
        const reason = new Error('the caller gave up');
        const c = new AbortController();
        c.abort(reason);
        for (const [method, run] of everyMethod({ signal: c.signal })) {
          const err = await rejection(run(), 'timeout');
          expect(err.message, method).toMatch(/aborted/);
          expect(err.cause, method).toBe(reason);
        }
        // AbortSignal.abort() too, whose reason is a DOMException.
        const err = await rejection(p.update('a', 't1', { n: 2 }, { signal: AbortSignal.abort() }), 'timeout');
        expect((err.cause as Error).name).toBe('AbortError');
        expect(await p.get('a', 't1')).toEqual(a);
        expect(await p.get('new', 't1')).toBeNull();
      });

      it.each([
        ['timeoutMs 0', { timeoutMs: 0 }],
        ['a negative timeoutMs', { timeoutMs: -1 }],
        ['a fractional timeoutMs', { timeoutMs: 1.5 }],
        ['timeoutMs NaN', { timeoutMs: Number.NaN }],
        ['timeoutMs Infinity', { timeoutMs: Number.POSITIVE_INFINITY }],
        ['timeoutMs over 2^31 - 1', { timeoutMs: 2 ** 31 }],
        ['a string timeoutMs', { timeoutMs: '100' }],
        ['a signal that is not an AbortSignal', { signal: { aborted: true } }],
        ['an AbortController as the signal', { signal: new AbortController() }],
        ['an unknown key', { timeout: 100 }],
        ['null', null],
        ['a number', 100],
        ['an array', []],
      ])('%s is invalid_argument on every method, and nothing is written', async (_what, o) => {
        const a = await p.create(job('a', { n: 1 }));
        for (const [method, run] of everyMethod(o)) {
          const err = await rejection(run(), 'invalid_argument');
          expect(err.message, method).toContain(method);
        }
        expect(await p.get('a', 't1')).toEqual(a);
        expect(await p.get('new', 't1')).toBeNull();
      });
    });

    describe('query pages (queryPage, queryIter)', () => {
      /** The provider under test, with its paging methods (not part of DatastoreProvider). */
      const paged = (): DatastoreProvider<Job> & PagedQueries<Job> => p as DatastoreProvider<Job> & PagedQueries<Job>;
      beforeEach(async () => {
        for (let i = 0; i < 7; i++) await p.create(job(`a${i}`, { n: i, status: i % 2 === 0 ? 'even' : 'odd' }));
        for (let i = 0; i < 3; i++) await p.create(job(`b${i}`, { tenantId: 't2', n: i, status: 'even' }));
      });

      /** Every page of `filter`, `maxItems` at a time. */
      async function pages(filter: QueryFilter<Job> | undefined, maxItems: number): Promise<string[][]> {
        const out: string[][] = [];
        let continuation: string | null = null;
        do {
          const page: QueryPage<Job> = await paged().queryPage(filter, { maxItems, continuation });
          expect(page.items.length).toBeLessThanOrEqual(maxItems);
          out.push(page.items.map((d) => d.id));
          continuation = page.continuation;
          expect(out.length, 'it ends').toBeLessThan(50);
        } while (continuation !== null);
        return out;
      }
      const sorted = (xs: string[][]): string[] => xs.flat().sort();

      it('pages through a partition: every document once, then a null continuation', async () => {
        const got = await pages({ partitionKey: 't1' }, 3);
        expect(sorted(got)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6']);
        expect(got.filter((pg) => pg.length > 0).length).toBeGreaterThanOrEqual(3);
        const one = await paged().queryPage({ partitionKey: 't1' }, { maxItems: 1000 });
        expect(one.items).toHaveLength(7);
        expect(one.continuation).toBeNull();
        expect(one.items[0]).toHaveProperty('_etag');
      });

      it('across partitions, with where', async () => {
        expect(sorted(await pages({ where: { status: 'even' } }, 2))).toEqual(['a0', 'a2', 'a4', 'a6', 'b0', 'b1', 'b2']);
        expect(sorted(await pages(undefined, 4))).toHaveLength(10);
      });

      it('limit caps the documents over all pages', async () => {
        expect(sorted(await pages({ partitionKey: 't1', limit: 5 }, 2))).toHaveLength(5);
        expect(sorted(await pages({ limit: 4 }, 3))).toHaveLength(4);
      });

      it('queryIter yields every document once, a page at a time', async () => {
        const ids: string[] = [];
        for await (const d of paged().queryIter({ where: { status: 'odd' } }, { pageSize: 2 })) if (ids.push(d.id) > 50) break; // it must end
        expect(ids.sort()).toEqual(['a1', 'a3', 'a5']);
        const all: string[] = [];
        for await (const d of paged().queryIter()) if (all.push(d.id) > 50) break;
        expect(all).toHaveLength(10);
      });

      it('refuses orderBy, a token of another query or forged, and bad sizes, with invalid_argument', async () => {
        const first = await paged().queryPage({ partitionKey: 't1' }, { maxItems: 2 });
        expect(first.continuation).not.toBeNull();
        const err = await rejection(paged().queryPage({ orderBy: { field: 'n' } }), 'invalid_argument');
        expect(err.message).toMatch(/orderBy cannot be paged/);
        await rejection(paged().queryIter({ orderBy: { field: 'n' } }).next(), 'invalid_argument');
        const other = await rejection(paged().queryPage({ partitionKey: 't2' }, { continuation: first.continuation }), 'invalid_argument');
        expect(other.message).toMatch(/another query/);
        for (const continuation of ['nonsense', 'eyJ2IjoxfQ', bad<string>(7)]) {
          await rejection(paged().queryPage({ partitionKey: 't1' }, { continuation }), 'invalid_argument');
        }
        // The real token with its position emptied: it would start the query over, not continue it.
        const envelope = JSON.parse(Buffer.from(first.continuation ?? '', 'base64url').toString('utf8')) as { at: string };
        const emptied = Buffer.from(JSON.stringify({ ...envelope, at: '' }), 'utf8').toString('base64url');
        await rejection(paged().queryPage({ partitionKey: 't1' }, { maxItems: 2, continuation: emptied }), 'invalid_argument');
        for (const maxItems of [0, 1001, 1.5, bad<number>('2')]) {
          await rejection(paged().queryPage(undefined, { maxItems }), 'invalid_argument');
        }
        await rejection(paged().queryPage(undefined, bad({ max: 2 })), 'invalid_argument');
        expect(() => paged().queryIter(undefined, { pageSize: 0 })).toThrow(/pageSize/);
      });
    });

    batchConformance(makeProvider, options);
  });
}
