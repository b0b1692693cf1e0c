import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { conformance, rejection } from './suites/conformance.js';
import * as esm from '@bytelyst/datastore';
import { MemoryProvider, createProvider, DatastoreError } from '@bytelyst/datastore';

// Unique across reloads of this file: StrykerJS reruns it in one process, where shared stores outlive the module.
const storeName = (what: string): string => `${what}-${randomUUID()}`;

conformance('MemoryProvider', async (opts) => new MemoryProvider(opts), {
  threads: {
    open: async (opts) => {
      const store = storeName('conformance');
      return { provider: new MemoryProvider({ ...opts, shared: store }), where: { store } };
    },
    scale: 1,
  },
});
conformance('createProvider({ kind: "memory" })', async (opts) => createProvider({ kind: 'memory', ...opts }), {
  claimers: 100,
  incrementers: 50,
});

interface Doc {
  id: string;
  t: string;
  owner?: string | null;
  n?: number;
}

describe('MemoryProvider query order', () => {
  it('without orderBy, documents come oldest write first: a rewrite moves a document last', async () => {
    const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t' });
    for (const id of ['a', 'b', 'c', 'd']) await p.create({ id, t: 'x', n: 0 });
    const ids = async (): Promise<string[]> => (await p.query()).map((d) => d.id);
    expect(await ids()).toEqual(['a', 'b', 'c', 'd']);
    await p.update('a', 'x', { n: 1 });
    expect(await ids()).toEqual(['b', 'c', 'd', 'a']);
    const c = await p.get('c', 'x');
    if (c === null) throw new Error('c vanished');
    expect((await p.updateIfMatch('c', 'x', { etag: c._etag }, { n: 2 })).ok).toBe(true);
    await p.replace({ id: 'b', t: 'x', n: 3 });
    expect(await ids()).toEqual(['d', 'a', 'c', 'b']);
    // Ties under orderBy keep the same order.
    expect((await p.query({ orderBy: { field: 't' } })).map((d) => d.id)).toEqual(['d', 'a', 'c', 'b']);
    expect((await p.query({ orderBy: { field: 't', direction: 'desc' } })).map((d) => d.id)).toEqual(['d', 'a', 'c', 'b']);
  });
});

describe('MemoryProvider query pages', () => {
  /** Ids of every page of `filter`, 2 at a time, running `between` after each page. */
  async function walkPages(p: MemoryProvider<Doc>, filter: { where?: { n: number }; limit?: number }, between: (page: number) => Promise<void>): Promise<string[]> {
    const seen: string[] = [];
    let continuation: string | null = null;
    for (let page = 0; page < 50; page++) {
      const got: { items: Doc[]; continuation: string | null } = await p.queryPage(filter, { maxItems: 2, continuation });
      seen.push(...got.items.map((d) => d.id));
      continuation = got.continuation;
      if (continuation === null) return seen;
      await between(page);
    }
    throw new Error('the pages never ended');
  }

  it('a document deleted between pages makes none skipped; a rewritten one comes again, last', async () => {
    const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t' });
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) await p.create({ id, t: 'x', n: 0 });
    const seen = await walkPages(p, {}, async (page) => {
      if (page === 0) await p.delete('a', 'x'); // behind the cursor
      if (page === 1) await p.update('b', 'x', { n: 1 }); // seen already: moves last
    });
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'b']);
  });

  it('with where and limit: the limit counts over pages; bodies are filtered page by page', async () => {
    const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t' });
    for (let i = 0; i < 9; i++) await p.create({ id: `d${i}`, t: 'x', n: i % 3 === 0 ? 1 : 0 });
    expect(await walkPages(p, { where: { n: 1 } }, async () => {})).toEqual(['d0', 'd3', 'd6']);
    expect(await walkPages(p, { limit: 5 }, async () => {})).toEqual(['d0', 'd1', 'd2', 'd3', 'd4']);
    expect(await walkPages(p, { where: { n: 0 }, limit: 3 }, async () => {})).toEqual(['d1', 'd2', 'd4']);
  });
});

describe('MemoryProvider stores', () => {
  it('instances without `shared` are isolated', async () => {
    const a = new MemoryProvider<Doc>({ partitionKeyPath: '/t' });
    const b = new MemoryProvider<Doc>({ partitionKeyPath: '/t' });
    await a.create({ id: 'x', t: 'x' });
    expect(await b.get('x', 'x')).toBeNull();
  });

  it('instances opened with the same `shared` name see one store', async () => {
    const name = storeName('same');
    const a = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: name });
    const b = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: name });
    const doc = await a.create({ id: 'x', t: 'x' });
    expect(await b.get('x', 'x')).toEqual(doc);
    expect(a.shared).toBe(name);
  });

  it('a shared store keeps its partition key path', () => {
    const name = storeName('pk');
    new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: name });
    expect(() => new MemoryProvider<Doc>({ partitionKeyPath: '/other', shared: name })).toThrow(DatastoreError);
  });

  it.each([
    ['no options', undefined],
    ['a path without /', { partitionKeyPath: 'tenantId' }],
    ['a nested path', { partitionKeyPath: '/a/b' }],
    ['a non-string path', { partitionKeyPath: 5 }],
    ['an empty shared name', { partitionKeyPath: '/t', shared: '' }],
  ])('the constructor refuses %s with invalid_argument', (_what, options) => {
    let caught: unknown;
    try {
      new MemoryProvider(options as never);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DatastoreError);
    expect((caught as DatastoreError).code).toBe('invalid_argument');
  });

  it('createProvider refuses an unknown kind', async () => {
    await rejection(createProvider({ kind: 'redis' } as never), 'invalid_argument');
  });
});

describe('loading', () => {
  it('require and import give the same classes and names', () => {
    const require = createRequire(import.meta.url);
    const cjs = require('@bytelyst/datastore') as typeof esm;
    expect(cjs.MemoryProvider).toBe(esm.MemoryProvider);
    expect(cjs.DatastoreError).toBe(esm.DatastoreError);
    expect(Object.keys(esm).filter((k) => k !== 'default').sort()).toEqual(
      Object.keys(cjs).filter((k) => k !== '__esModule').sort(),
    );
  });
});

// Races across worker threads are in the conformance suite (its `threads` leg).
