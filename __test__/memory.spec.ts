import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { conformance, rejection } from './suites/conformance.js';
import { runWorkers } from './fixtures/workers.mjs';
import * as esm from '@bytelyst/datastore';
import { MemoryProvider, createProvider, DatastoreError } from '@bytelyst/datastore';

conformance('MemoryProvider', async (opts) => new MemoryProvider(opts));
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

let unique = 0;
const storeName = (what: string): string => `${what}-${process.pid}-${++unique}`;

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

describe('across worker threads', () => {
  it('four threads × 250 claims of one shared document: exactly one wins', async () => {
    const store = storeName('claims');
    const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
    await p.create({ id: 'job', t: 'x', owner: null });
    const results = await runWorkers({ threads: 4, store, docId: 'job', attempts: 250, mode: 'claim' });
    expect(results.reduce((s, r) => s + r.ok, 0)).toBe(1);
    expect(results.reduce((s, r) => s + r.conflicts, 0)).toBe(999);
    const end = await p.get('job', 'x');
    expect(end?.rev).toBe(2);
    expect(end?.owner).toMatch(/^w\d-\d+$/);
  });

  it('four threads claiming the same 2,000 fresh documents: exactly one winner for each', async () => {
    const store = storeName('claim-each');
    const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
    const docs = 2_000;
    for (let i = 0; i < docs; i++) await p.create({ id: `job-${i}`, t: 'x', owner: null });
    const results = await runWorkers({ threads: 4, store, docId: 'job', attempts: docs, mode: 'claim-each' });
    expect(results.reduce((s, r) => s + r.ok, 0)).toBe(docs);
    expect(results.reduce((s, r) => s + r.conflicts, 0)).toBe(3 * docs);
    const claimed = await p.query({ where: { rev: 2 } });
    expect(claimed).toHaveLength(docs);
  });

  it('four threads incrementing one shared document lose nothing', async () => {
    const store = storeName('incr');
    const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
    await p.create({ id: 'counter', t: 'x', n: 0 });
    const results = await runWorkers({ threads: 4, store, docId: 'counter', attempts: 500, mode: 'increment' });
    // Every value 1..2000 was written by exactly one successful write: two
    // "wins" on one revision would show as a duplicate and a gap.
    const wrote = results.flatMap((r) => r.wrote).sort((a, b) => a - b);
    expect(wrote).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
    const end = await p.get('counter', 'x');
    expect(end?.n).toBe(2000);
    expect(end?.rev).toBe(2001);
  });
});
