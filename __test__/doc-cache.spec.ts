/**
 * The Memory provider keeps the last versions it read or wrote parsed
 * (lib/doc-cache.ts) and answers from them when the native store says they
 * are current. What a caller sees must not change: every result is its own
 * copy, a write by anyone else is seen at once, and a document built from a
 * held version and a patch is exactly what a fresh read returns.
 */
import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryProvider } from '@bytelyst/datastore';
import { copyJson, DocCache, LONG_CREATED, MIN_CHARS, writtenFields } from '../lib/doc-cache.js';
import { memoryWriteCount } from '../index.js';

// Unique across reloads of this file: StrykerJS reruns it in one process, where shared stores outlive the module.
const shared = (): string => `doc-cache-${randomUUID()}`;

type Doc = { id: string; t: string; [k: string]: unknown };
/** Long enough to be held (documents under MIN_CHARS are parsed each time). */
const pad = 'p'.repeat(MIN_CHARS);

/** A provider with nothing held, on the same shared store: its `get` parses the native text. */
async function fresh(store: string, id: string): Promise<string> {
  const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
  const d = await p.get(id, 'x');
  return JSON.stringify(d) + String(d !== null && Object.getPrototypeOf(d) === Object.prototype);
}
const seen = (d: unknown): string => JSON.stringify(d) + String(Object.getPrototypeOf(d) === Object.prototype);

describe('MemoryProvider: parsed documents held between calls', () => {
  it('every read is its own copy, to the deepest member', async () => {
    const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t' });
    await p.create({ id: 'a', t: 'x', meta: { tags: ['q'], n: 1 }, pad });
    const first = await p.get('a', 'x'); // parsed from the native text
    const second = await p.get('a', 'x'); // the same version: a copy of the one held
    const third = await p.get('a', 'x');
    if (first === null || second === null || third === null) throw new Error('a vanished');
    expect(second).not.toBe(first);
    expect(third).not.toBe(second);
    expect(third['meta']).not.toBe(second['meta']);
    for (const d of [first, second, third]) {
      (d['meta'] as { tags: string[] }).tags.push('mutated');
      d['t'] = 'changed';
    }
    expect(await p.get('a', 'x')).toMatchObject({ t: 'x', meta: { tags: ['q'], n: 1 } });
    const w = await p.updateIfMatch('a', 'x', { etag: second._etag }, { n: 2 });
    if (!w.ok) throw new Error('write lost');
    (w.doc['meta'] as { tags: string[] }).tags.push('mutated');
    expect(await p.get('a', 'x')).toMatchObject({ n: 2, meta: { tags: ['q'] } });
  });

  it('a write through another provider of the same store is seen at once', async () => {
    const store = shared();
    const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
    const q = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
    const a = await p.create({ id: 'a', t: 'x', n: 0, pad });
    await p.get('a', 'x');
    await q.update('a', 'x', { n: 1 });
    expect(await p.get('a', 'x')).toMatchObject({ n: 1, rev: 2 });
    // p holds rev 2 now; q moves on; p's claim on rev 2's etag is a conflict, not a write.
    const held = await p.get('a', 'x');
    await q.update('a', 'x', { n: 2 });
    expect(await p.updateIfMatch('a', 'x', { etag: held?._etag ?? '' }, { n: 9 })).toEqual({ ok: false, reason: 'conflict' });
    const w = await p.updateIfMatch('a', 'x', { rev: 3 }, { m: 1 });
    expect(w.ok && w.doc).toMatchObject({ n: 2, m: 1, rev: 4 });
    await q.delete('a', 'x');
    expect(await p.get('a', 'x')).toBeNull();
    await q.create({ id: 'a', t: 'x', n: 5, pad });
    expect(await p.get('a', 'x')).toMatchObject({ n: 5, rev: 1 });
    expect((await p.get('a', 'x'))?._etag).not.toBe(a._etag);
  });

  it('a write onto a held version answers what a fresh read returns, member order and all', async () => {
    const store = shared();
    const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
    await p.create({ id: 'a', t: 'x', z: 1, 10: 'ten', b: { deep: [1, { e: 'é' }] }, '': 'empty', '01': 'not an index', pad });
    const patches: Array<Record<string, unknown>> = [
      { z: 2 }, // in place
      { new1: 'n', 2: 'two' }, // appended, and an index-like key
      { b: { other: true }, id: 'a', t: 'x' }, // a nested value replaced; id and key unchanged
      { 'é\u2028': 'line', 4294967295: 'past the last index', 4294967294: 'the last index', '-1': 'minus' },
      { gone: undefined, list: [null, 'x', 1.5e300] },
      {},
    ];
    for (const patch of patches) {
      const held = await p.get('a', 'x'); // hold the current version
      const w = await p.updateIfMatch('a', 'x', { etag: held?._etag ?? '' }, patch);
      if (!w.ok) throw new Error('write lost');
      expect(seen(w.doc)).toBe(await fresh(store, 'a'));
      expect(seen(await p.get('a', 'x'))).toBe(await fresh(store, 'a'));
    }
    expect(Object.keys((await p.get('a', 'x')) ?? {}).slice(0, 3)).toEqual(['2', '10', '4294967294']);
  });
});

describe('MemoryProvider.create: the answer built from the members written', () => {
  it('is what a fresh read returns: members, order, -0 and undefined as JSON has them, system fields replaced', async () => {
    const store = shared();
    const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
    const docs: Doc[] = [
      { id: 'a', t: 'x' },
      { id: 'b', t: 'x', n: -0, u: undefined, z: 1.5e300, 10: 'ten', 2: 'two', '': 'empty', 'é\u2028': 'line', s: 'q"\\' },
      { id: 'c', t: 'x', rev: 7, _etag: 'forged', _ts: 1, _rid: 'r', _self: 's', _attachments: 'a', _lsn: 3, b: false, nul: null },
      { id: 'd', t: 'x', pad },
    ];
    for (const doc of docs) {
      const created = await p.create(doc);
      const read = await new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store }).get(doc.id, 'x');
      expect(created).toStrictEqual(read);
      expect(Object.keys(created)).toEqual(Object.keys(read ?? {}));
      expect(Object.is(created['n'], read?.['n'])).toBe(true);
    }
  });
});

describe('DocCache', () => {
  it('holds at most 256 documents, the oldest dropped first, 32 more at once past the bound', () => {
    const c = new DocCache();
    const held = (n: number): number[] => Array.from({ length: n }, (_, i) => i).filter((i) => c.etagOf(`k${i}`) !== undefined);
    for (let i = 0; i < 256; i++) c.fromJson(`k${i}`, `{"id":"${i}","pad":"${pad}","_etag":"e${i}"}`);
    expect(held(256)).toEqual(Array.from({ length: 256 }, (_, i) => i));
    c.fromJson('k256', `{"id":"256","pad":"${pad}","_etag":"e256"}`); // the 257th: the 33 oldest go
    expect(held(257)).toEqual(Array.from({ length: 224 }, (_, i) => i + 33));
    for (let i = 257; i < 1000; i++) {
      c.fromJson(`k${i}`, `{"id":"${i}","pad":"${pad}","_etag":"e${i}"}`);
      const h = held(i + 1);
      // Always the newest, never more than 256, never fewer than 224.
      expect(h.length).toBeLessThanOrEqual(256);
      expect(h.length).toBeGreaterThanOrEqual(224);
      expect(h).toEqual(Array.from({ length: h.length }, (_, j) => i + 1 - h.length + j));
    }
  });

  it('holds at most 4 Mi characters of JSON', () => {
    const c = new DocCache();
    const big = (i: number): string => `{"p":"${'p'.repeat(1024 * 1024)}","_etag":"e${i}"}`;
    for (let i = 0; i < 5; i++) c.fromJson(`k${i}`, big(i));
    expect([0, 1, 2, 3, 4].map((i) => c.etagOf(`k${i}`))).toEqual([undefined, undefined, 'e2', 'e3', 'e4']);
    c.fromJson('huge', `{"p":"${'p'.repeat(4 * 1024 * 1024)}","_etag":"h"}`);
    expect(c.etagOf('huge')).toBeUndefined();
    expect(c.etagOf('k4')).toBe('e4');
  });

  it('holds a long created document only until the next long one is created, unless a write has held a newer version since', () => {
    const c = new DocCache();
    const fields = (i: number): { rev: number; _etag: string; _ts: number; stamp: number } => ({ rev: 1, _etag: `c${i}`, _ts: 1, stamp: Number.NaN });
    const create = (key: string, i: number, chars: number): void => void c.fromCreate(key, { id: key, p: 'x' }, fields(i), chars);
    for (let i = 0; i < 10; i++) create(`short${i}`, i, 4096); // a 4 KB job: all held
    create('short10', 10, LONG_CREATED - 1);
    create('long0', 100, LONG_CREATED);
    create('long1', 101, LONG_CREATED); // long0 is forgotten
    expect(['long0', 'long1'].map((k) => c.etagOf(k))).toEqual([undefined, 'c101']);
    // A claim onto long1 holds a newer version: the next long create leaves it.
    c.fromWrite('long1', '{"p":"y"}', { rev: 2, _etag: 'w1', _ts: 2, stamp: Number.NaN }, { p: 'y' });
    create('long2', 102, 64 * 1024);
    create('long3', 103, 64 * 1024);
    expect(['long1', 'long2', 'long3'].map((k) => c.etagOf(k))).toEqual(['w1', undefined, 'c103']);
    expect(Array.from({ length: 11 }, (_, i) => c.etagOf(`short${i}`))).toEqual(Array.from({ length: 11 }, (_, i) => `c${i}`));
    // The last long one gone meanwhile (dropped, evicted): the next long create holds its own.
    c.drop('long3');
    create('long4', 104, 64 * 1024);
    expect(c.etagOf('long4')).toBe('c104');
  });

  it('clear forgets every version held and the characters they counted', () => {
    const c = new DocCache();
    const mib = 'p'.repeat(1024 * 1024);
    for (let i = 0; i < 4; i++) c.fromJson(`k${i}`, `{"p":"${mib}","_etag":"e${i}"}`);
    c.clear();
    expect([0, 1, 2, 3].map((i) => c.etagOf(`k${i}`))).toEqual([undefined, undefined, undefined, undefined]);
    // Nothing counted is left: four more MiB fit again, the oldest of them kept.
    for (let i = 4; i < 8; i++) c.fromJson(`k${i}`, `{"p":"${mib.slice(0, mib.length - 100)}","_etag":"e${i}"}`);
    expect([4, 5, 6, 7].map((i) => c.etagOf(`k${i}`))).toEqual(['e4', 'e5', 'e6', 'e7']);
  });

  it('does not hold a nested write\'s answer under MIN_CHARS parsed; a flat one, and a read\'s, it holds at any size', () => {
    const c = new DocCache();
    c.fromJson('big', `{"pad":"${pad}","o":{},"_etag":"b"}`, Number.NaN, true);
    c.fromJson('small', '{"o":[1],"_etag":"s"}', Number.NaN, true);
    c.fromJson('flat', '{"n":1,"s":"x","z":null,"_etag":"f"}', Number.NaN, true);
    c.fromJson('read', '{"o":{},"_etag":"r"}');
    expect([c.etagOf('big'), c.etagOf('small'), c.etagOf('flat'), c.etagOf('read')]).toEqual(['b', undefined, 'f', 'r']);
  });

  it('a write onto a held flat document changing members it has is applied in place; answers are copies', () => {
    const c = new DocCache();
    const first = c.fromJson<Record<string, unknown>>('k', '{"id":"a","n":1,"s":"x","rev":1,"_etag":"e1","_ts":1}', Number.NaN, true);
    first['n'] = 'mutated by the caller';
    const patch = { n: 2, s: undefined, z: -0 };
    // `z` is new: not in place, merged (its place is before the system fields).
    const second = c.fromWrite<Record<string, unknown>>('k', JSON.stringify(patch), { rev: 2, _etag: 'e2', _ts: 2, stamp: Number.NaN }, patch);
    expect(JSON.stringify(second)).toBe('{"id":"a","n":2,"s":"x","z":0,"rev":2,"_etag":"e2","_ts":2}');
    second['s'] = 'mutated';
    const patch2 = { n: -0, s: 'y', z: undefined };
    const third = c.fromWrite<Record<string, unknown>>('k', JSON.stringify(patch2), { rev: 3, _etag: 'e3', _ts: 3, stamp: Number.NaN }, patch2);
    expect(JSON.stringify(third)).toBe('{"id":"a","n":0,"s":"y","z":0,"rev":3,"_etag":"e3","_ts":3}');
    expect(Object.is(third['n'], 0)).toBe(true);
    third['n'] = 'mutated';
    expect(JSON.stringify(c.copyOf('k'))).toBe('{"id":"a","n":0,"s":"y","z":0,"rev":3,"_etag":"e3","_ts":3}');
    expect(c.etagOf('k')).toBe('e3');
  });

  it('a "__proto__" member of a patch onto a held flat document stays a plain member', () => {
    const c = new DocCache();
    c.fromJson('k', '{"__proto__":1,"n":1,"rev":1,"_etag":"e1","_ts":1}', Number.NaN, true);
    const patch = JSON.parse('{"__proto__":2}') as Record<string, unknown>;
    const out = c.fromWrite<Record<string, unknown>>('k', '{"__proto__":2}', { rev: 2, _etag: 'e2', _ts: 2, stamp: Number.NaN }, patch);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(JSON.stringify(out)).toBe('{"__proto__":2,"n":1,"rev":2,"_etag":"e2","_ts":2}');
    expect(Object.getPrototypeOf(c.copyOf('k'))).toBe(Object.prototype);
  });

  it('notes only the version of a nested write\'s answer under MIN_CHARS: a claim on another version is known stale while nothing is written', async () => {
    await new MemoryProvider<Doc>({ partitionKeyPath: '/t' }).create({ id: 'a', t: 'x' }); // the write count is 1 or more
    // The etag of the write that left the count where it stands: a version with it is current until the next write.
    const now = `"${(memoryWriteCount() - 1).toString(16).padStart(16, '0')}"`;
    const other = `"${'f'.repeat(16)}"`;
    const c = new DocCache();
    c.fromJson('k', `{"o":[1],"rev":1,"_etag":${JSON.stringify(other)}}`); // a read's answer, held parsed
    c.fromJson('k', `{"o":[2],"rev":3,"_etag":${JSON.stringify(now)}}`, Number.NaN, true);
    expect(c.etagOf('k')).toBeUndefined(); // not held parsed, and the version read before is gone
    expect([c.stale('k', other, undefined), c.stale('k', undefined, 2), c.stale('k', now, undefined), c.stale('k', undefined, 3)]).toEqual([true, true, false, false]);
    // A nested write's answer of exactly MIN_CHARS is held parsed.
    const rest = '{"o":[],"p":"","_etag":"m"}';
    const exact = rest.replace('"p":""', `"p":"${'p'.repeat(MIN_CHARS - rest.length)}"`);
    expect(exact.length).toBe(MIN_CHARS);
    c.fromJson('m', exact, Number.NaN, true);
    expect(c.etagOf('m')).toBe('m');
    // An answer without an etag (the store always gives one) takes no place: all 256 held stay.
    const d = new DocCache();
    for (let i = 0; i < 256; i++) d.fromJson(`k${i}`, `{"_etag":"e${i}"}`);
    d.fromJson('none', '{"o":[1]}', Number.NaN, true);
    expect(d.etagOf('k0')).toBe('e0');
  });

  it('a write in place onto a held flat document with a "__proto__" member keeps it an own member of every answer', () => {
    const c = new DocCache();
    c.fromJson('k', '{"__proto__":1,"n":1,"rev":1,"_etag":"e1","_ts":1}', Number.NaN, true);
    const out = c.fromWrite<Record<string, unknown>>('k', '{"n":2}', { rev: 2, _etag: 'e2', _ts: 2, stamp: Number.NaN }, { n: 2 });
    for (const d of [out, c.copyOf<Record<string, unknown>>('k')]) {
      expect(Object.getPrototypeOf(d)).toBe(Object.prototype);
      expect(JSON.stringify(d)).toBe('{"__proto__":1,"n":2,"rev":2,"_etag":"e2","_ts":2}');
      Reflect.set(d, '__proto__', 'mutated by the caller'); // the own member, as an assignment would
    }
    expect(JSON.stringify(c.copyOf('k'))).toBe('{"__proto__":1,"n":2,"rev":2,"_etag":"e2","_ts":2}');
  });

  it('a write in place counts its characters: what it adds pushes the oldest out, and the document written is the last to go', () => {
    const c = new DocCache();
    const mib = 'p'.repeat(1024 * 1024);
    c.fromJson('w', '{"s":"","rev":1,"_etag":"w1","_ts":1}', Number.NaN, true); // the oldest
    for (let i = 0; i < 3; i++) c.fromJson(`k${i}`, `{"p":"${mib}","_etag":"e${i}"}`);
    const patch = { s: mib.slice(0, 1024 * 1024 - 200) };
    c.fromWrite('w', JSON.stringify(patch), { rev: 2, _etag: 'w2', _ts: 2, stamp: Number.NaN }, patch); // in place, now the newest
    // 3 MiB + 40 held, and the write adds nearly 1 MiB: still under 4 MiB.
    expect(['w', 'k0', 'k1', 'k2'].map((k) => c.etagOf(k))).toEqual(['w2', 'e0', 'e1', 'e2']);
    c.fromWrite('w', JSON.stringify(patch), { rev: 3, _etag: 'w3', _ts: 3, stamp: Number.NaN }, patch); // another 1 MiB counted: past 4 MiB
    expect(['w', 'k0', 'k1', 'k2'].map((k) => c.etagOf(k))).toEqual(['w3', undefined, 'e1', 'e2']);
    c.drop('w'); // gives back all it counted
    c.fromJson('k3', `{"p":"${mib}","_etag":"e3"}`);
    c.fromJson('k4', `{"p":"${mib.slice(0, 1024 * 1024 - 100)}","_etag":"e4"}`);
    expect(['k1', 'k2', 'k3', 'k4'].map((k) => c.etagOf(k))).toEqual(['e1', 'e2', 'e3', 'e4']);
  });

  it('copies JSON trees as JSON.parse would make them', () => {
    const src = JSON.parse('{"a":[1,{"b":null}],"__proto__":{"x":1},"7":"s"}') as Record<string, unknown>;
    const out = copyJson(src);
    expect(JSON.stringify(out)).toBe(JSON.stringify(src));
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(out['a']).not.toBe(src['a']);
    // An own, plain member, as JSON.parse makes it: the copy may be written like any other.
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')).toStrictEqual(Object.getOwnPropertyDescriptor(src, '__proto__'));
  });

  it('a write onto a held document with a "__proto__" member keeps it a plain member (the store refuses such members; the cache does not rely on it)', () => {
    const c = new DocCache();
    const text = `{"__proto__":{"x":1},"keep":1,"pad":"${pad}","rev":1,"_etag":"e1","_ts":1}`;
    c.fromJson('k', text);
    const fields = { rev: 2, _etag: 'e2', _ts: 2, stamp: Number.NaN };
    const written = c.fromWrite<Record<string, unknown>>('k', '{"__proto__":{"y":2},"more":3}', fields);
    const expected = JSON.parse(`{"__proto__":{"y":2},"keep":1,"pad":"${pad}","more":3,"rev":2,"_etag":"e2","_ts":2}`) as Record<string, unknown>;
    expect(Object.getOwnPropertyDescriptor(written, '__proto__')).toStrictEqual(Object.getOwnPropertyDescriptor(expected, '__proto__'));
    expect(JSON.stringify(written)).toBe(JSON.stringify(expected));
    expect(Object.getPrototypeOf(written)).toBe(Object.prototype);
  });

  it('reads a write\'s answer +"<etag>"<rev>,<ts>,<stamp> exactly, zeros and all', () => {
    const etag = '"00a0000000000f00"';
    const cases: Array<[string, number, number, number]> = [
      [`+${etag}1,1796200000,0`, 1, 1796200000, 0],
      [`+${etag}10,1700000009,987654320`, 10, 1700000009, 987654320],
      [`+${etag}9007199254740991,0,9007199254740960`, 9007199254740991, 0, 9007199254740960],
      [`+${etag}2,1796227152,31`, 2, 1796227152, 31],
    ];
    for (const [out, rev, ts, stamp] of cases) expect(writtenFields(out)).toStrictEqual({ _etag: etag, rev, _ts: ts, stamp });
  });

  it('asked for a key it does not hold, names the key', () => {
    const c = new DocCache();
    expect(() => c.copyOf('"x"\na')).toThrow('no document held for "x"\na');
    expect(() => c.fromWrite('"x"\nb', '{}', { rev: 1, _etag: 'e', _ts: 1, stamp: Number.NaN })).toThrow('no document held for "x"\nb');
  });
});

describe('MemoryProvider: answers from a held version while nothing has changed', () => {
  // Small documents too: a read's answer is held at any size, a write's version is kept.
  const sizes: Array<[string, Record<string, unknown>]> = [
    ['small', {}],
    ['large', { pad }],
  ];

  for (const [size, extra] of sizes) {
    it(`a stale claim on a ${size} document with a patch the store refuses is refused, not answered conflict`, async () => {
      const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t' });
      const a = await p.create({ id: 'a', t: 'x', n: 0, ...extra });
      const w = await p.updateIfMatch('a', 'x', { etag: a._etag }, { n: 1 }); // p holds rev 2
      if (!w.ok) throw new Error('write lost');
      await p.get('a', 'x');
      for (const patch of [{ rev: 5 }, { _x: 1 }, { id: 'b' }, { t: 'y' }, { n: Number.NaN }, { deep: { n: 1n } }, { rev: { a: 1 } }, { _x: [1] }, { id: { b: 1 } }]) {
        await expect(p.updateIfMatch('a', 'x', { etag: a._etag }, patch as never)).rejects.toMatchObject({ code: 'invalid_argument' });
        await expect(p.updateIfMatch('a', 'x', { rev: 1 }, patch as never)).rejects.toMatchObject({ code: 'invalid_argument' });
      }
      // The same id and partition key, unchanged, are allowed: the compare decides.
      expect(await p.updateIfMatch('a', 'x', { rev: 1 }, { id: 'a', t: 'x' })).toEqual({ ok: false, reason: 'conflict' });
      expect(await p.updateIfMatch('a', 'x', { rev: 1 }, { n: 9 })).toEqual({ ok: false, reason: 'conflict' });
      expect(await p.get('a', 'x')).toMatchObject({ n: 1, rev: 2 });
    });

    it(`a claim by rev, or by etag and rev, on the ${size} version held wins: after a read, a write in place, a merged write, a nested one`, async () => {
      const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t' }); // no etag seen yet
      await p.create({ id: 'a', t: 'x', n: 0, ...extra });
      await p.get('a', 'x'); // held, current
      const patches: Array<Record<string, unknown>> = [
        { n: 1 }, // on the version read; later ones in place (flat, members it has)
        { n: 2 },
        { m: 1 }, // a new member: merged
        { o: { p: [1] } }, // nested now
        { n: 5 },
      ];
      let rev = 1;
      for (const patch of patches) {
        const w = await p.updateIfMatch('a', 'x', { rev }, patch as never);
        expect(w).toMatchObject({ ok: true, doc: { ...patch, rev: rev + 1 } });
        if (!w.ok) throw new Error('write lost');
        expect(await p.updateIfMatch('a', 'x', { rev }, { n: 9 })).toEqual({ ok: false, reason: 'conflict' });
        const both = await p.updateIfMatch('a', 'x', { etag: w.doc._etag, rev: rev + 1 }, { z: rev });
        expect(both).toMatchObject({ ok: true, doc: { z: rev, rev: rev + 2 } });
        if (!both.ok) throw new Error('write lost');
        expect(await p.updateIfMatch('a', 'x', { etag: both.doc._etag, rev: rev + 3 }, { n: 9 })).toEqual({ ok: false, reason: 'conflict' });
        rev += 2;
      }
    });

    it(`an etag of the current ${size} version spelt otherwise (as the store still reads it) wins as it does natively`, async () => {
      const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t' });
      const a = await p.create({ id: 'a', t: 'x', n: 0, ...extra });
      // '"000…7"' read as hex: a leading '+' for a leading '0' is the same number to the store.
      const spelt = `"+${a._etag.slice(2)}`;
      expect(spelt).not.toBe(a._etag);
      const w = await p.updateIfMatch('a', 'x', { etag: spelt }, { n: 1 });
      expect(w).toMatchObject({ ok: true, doc: { n: 1, rev: 2 } });
      // Now the version is held (p wrote it, and reads it): the spelling must still reach the store, not lose here.
      if (!w.ok) throw new Error('write lost');
      await p.get('a', 'x');
      const again = `"+${w.doc._etag.slice(2)}`;
      expect(again).not.toBe(w.doc._etag);
      expect(await p.updateIfMatch('a', 'x', { etag: again }, { n: 2 })).toMatchObject({ ok: true, doc: { n: 2, rev: 3 } });
    });

    it(`a held ${size} version no write has touched since, while others were written: the store answers "unchanged", the caller gets its own copy`, async () => {
      const store = shared();
      const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
      const q = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
      await p.create({ id: 'a', t: 'x', meta: { tags: ['q'] }, ...extra });
      const first = await p.get('a', 'x'); // held
      await q.create({ id: 'b', t: 'x' }); // the write count moves; 'a' is untouched
      const second = await p.get('a', 'x'); // asked of the store with the held etag: unchanged
      if (first === null || second === null) throw new Error('a vanished');
      expect(second).toStrictEqual(first);
      expect(second).not.toBe(first);
      (second['meta'] as { tags: string[] }).tags.push('mutated');
      await q.update('b', 'x', { n: 1 });
      expect(await p.get('a', 'x')).toStrictEqual(first);
      expect(await p.get('a', 'x')).toStrictEqual(first); // and again, from the version held
    });

    it(`a ${size} version changed by another provider is never answered from the one held`, async () => {
      const store = shared();
      const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
      const q = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
      const a = await p.create({ id: 'a', t: 'x', n: 0, ...extra });
      await p.get('a', 'x'); // held, and current
      const b = await q.updateIfMatch('a', 'x', { etag: a._etag }, { n: 1 });
      if (!b.ok) throw new Error('write lost');
      expect(await p.get('a', 'x')).toMatchObject({ n: 1, rev: 2 });
      // q writes again; p's held etag is the one q expects: it wins, whatever p held.
      await p.updateIfMatch('a', 'x', { etag: b.doc._etag }, { n: 2 });
      const c = await q.get('a', 'x');
      await q.update('a', 'x', { n: 3 });
      expect(await p.updateIfMatch('a', 'x', { etag: (await q.get('a', 'x'))?._etag ?? '' }, { n: 4 })).toMatchObject({ ok: true });
      expect(await p.updateIfMatch('a', 'x', { etag: c?._etag ?? '' }, { n: 5 })).toEqual({ ok: false, reason: 'conflict' });
    });

    for (const how of ['delete', 'deleteIfMatch', 'batch'] as const) {
      it(`a ${size} document deleted by another provider (${how}) is gone at once: get is null, a stale claim is not_found`, async () => {
        const store = shared();
        const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
        const q = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
        const a = await p.create({ id: 'a', t: 'x', n: 0, ...extra });
        const w = await p.updateIfMatch('a', 'x', { etag: a._etag }, { n: 1 });
        if (!w.ok) throw new Error('write lost');
        await p.get('a', 'x');
        if (how === 'delete') await q.delete('a', 'x');
        else if (how === 'deleteIfMatch') expect(await q.deleteIfMatch('a', 'x', { etag: w.doc._etag })).toEqual({ ok: true });
        else expect(await q.batch('x', [{ op: 'delete', id: 'a' }])).toMatchObject({ ok: true });
        expect(await p.updateIfMatch('a', 'x', { etag: a._etag }, { n: 2 })).toEqual({ ok: false, reason: 'not_found' });
        expect(await p.get('a', 'x')).toBeNull();
      });
    }

    it(`every ${size} read from the held version is its own copy`, async () => {
      const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t' });
      await p.create({ id: 'a', t: 'x', meta: { tags: ['q'] }, ...extra });
      const first = await p.get('a', 'x');
      const second = await p.get('a', 'x');
      if (first === null || second === null) throw new Error('a vanished');
      expect(second).not.toBe(first);
      (second['meta'] as { tags: string[] }).tags.push('mutated');
      second['t'] = 'changed';
      expect(await p.get('a', 'x')).toMatchObject({ t: 'x', meta: { tags: ['q'] } });
    });
  }
});

describe('MemoryProvider: writes applied in place to a held flat document', () => {
  /** Member names: some every document has, some none has, an index-like one (`__proto__` the store refuses). */
  const names = ['n', 's', 'b', 'z', 'new1', 'new2', '7'] as const;
  const value = fc.oneof(
    fc.integer(),
    fc.constantFrom(-0, 0.5, -1e21, null, true, false, undefined),
    fc.string({ unit: 'grapheme', maxLength: 8 }),
    fc.constantFrom('"', '\\', '\u2028', '😀', ''),
  );
  const patch = fc.dictionary(fc.constantFrom(...names), value, { maxKeys: 4 });

  it('every answer is what a fresh read returns (text, member order, prototype), and the caller\'s mutations never reach it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom('n', 's', 'b', '7'), value, { maxKeys: 4 }), fc.array(patch, { minLength: 1, maxLength: 8 }), async (start, patches) => {
        const store = shared();
        const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
        let doc: Record<string, unknown> = await p.create({ ...start, id: 'a', t: 'x' } as Doc);
        for (const raw of patches) {
          // JSON.parse makes "__proto__" an own member; a literal would set the prototype.
          const pt = JSON.parse(JSON.stringify(raw, (_k, v: unknown) => (v === undefined ? '\u0000undef' : v))) as Record<string, unknown>;
          for (const k of Object.keys(pt)) if (pt[k] === '\u0000undef') pt[k] = undefined;
          const w = await p.updateIfMatch('a', 'x', { etag: doc['_etag'] as string }, pt as never);
          if (!w.ok) throw new Error(`uncontended write lost: ${w.reason}`);
          expect(seen(w.doc)).toBe(await fresh(store, 'a'));
          for (const k of Object.keys(w.doc)) if (k !== '_etag') (w.doc as Record<string, unknown>)[k] = 'mutated';
          doc = { _etag: w.doc._etag };
          const again = await p.get('a', 'x');
          expect(seen(again)).toBe(await fresh(store, 'a'));
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('MemoryProvider: writes in place among other writers, caller mutations, nesting and eviction', () => {
  // "7" and "10": index-like keys, which objects order first whatever the text's order.
  const names = ['n', 's', '7', '10', 'new'] as const;
  const prim = fc.oneof(fc.integer(), fc.constantFrom(-0, 0.5, null, true, undefined, '', '"\\\u2028😀'));
  const value = fc.oneof({ weight: 4, arbitrary: prim }, { weight: 1, arbitrary: fc.constantFrom<unknown>({ a: [1] }, [2, { b: null }], {}) });
  const members = fc.dictionary(fc.constantFrom(...names), value, { maxKeys: 3 });
  const step = fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('claim' as const), patch: members }) }, // p, on the version it last saw
    { weight: 3, arbitrary: fc.constant({ op: 'get' as const }) },
    { weight: 3, arbitrary: fc.constant({ op: 'mutate' as const }) }, // the caller writes into every answer it has, to the deepest member
    { weight: 1, arbitrary: fc.record({ op: fc.constant('update' as const), patch: members }) }, // q, another provider of the store
    { weight: 1, arbitrary: fc.record({ op: fc.constant('replace' as const), patch: members }) }, // q: members gone
    { weight: 1, arbitrary: fc.constant({ op: 'flood' as const }) }, // p reads 300 other documents of 16 KB: past 256 held and past 4 MiB
  );

  /** Writes into `d` everywhere, as a careless caller would. */
  function scribble(d: unknown): void {
    if (typeof d !== 'object' || d === null) return;
    if (Array.isArray(d)) {
      for (const x of d) scribble(x);
      d.push('mutated');
      return;
    }
    const o = d as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (typeof o[k] === 'object' && o[k] !== null) scribble(o[k]);
      else if (k !== '_etag') o[k] = 'mutated';
    }
    o['added'] = 'mutated';
  }

  /** `d` is what a provider with nothing held reads (text, member order, prototype, -0 told from 0); returns that read. */
  async function check(d: unknown, store: string): Promise<Doc | null> {
    const f = await new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store }).get('a', 'x');
    expect(seen(d)).toBe(seen(f));
    expect(d).toStrictEqual(f);
    return f;
  }

  it('a held flat document made nested by a patch, then flat again: every answer its own, every read a fresh read\'s', async () => {
    const store = shared();
    const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
    const q = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
    await p.create({ id: 'a', t: 'x', n: 1, s: 's', 7: 'seven', 10: 'ten' });
    let mine = (await p.get('a', 'x'))?._etag ?? ''; // held, flat
    const patches: Array<Record<string, unknown>> = [
      { n: 2, 10: -0, s: undefined }, // in place
      { 7: { a: [1] } }, // nested now
      { n: 3 },
      { 7: null }, // flat again
      { 10: 'x', n: -0 },
      { fresh: 1 }, // a new member: merged
      { fresh: 2 },
    ];
    for (const patch of patches) {
      const w = await p.updateIfMatch('a', 'x', { etag: mine }, patch as never);
      if (!w.ok) throw new Error(`uncontended write lost: ${w.reason}`);
      await check(w.doc, store);
      scribble(w.doc);
      const g = await p.get('a', 'x'); // from the version held
      await check(g, store);
      mine = g?._etag ?? '';
      scribble(g);
      await check(await p.get('a', 'x'), store);
    }
    // Another provider writes between p's calls: p's claim on its version loses, its next read is q's version.
    await q.update('a', 'x', { n: 9 });
    expect(await p.updateIfMatch('a', 'x', { etag: mine }, { n: 10 })).toEqual({ ok: false, reason: 'conflict' });
    await check(await p.get('a', 'x'), store);
  });

  it('every answer is what a fresh read returns; a claim wins exactly when its version is the current one', async () => {
    let floods = 0;
    await fc.assert(
      fc.asyncProperty(members, fc.array(step, { minLength: 1, maxLength: 12 }), async (start, steps) => {
        const store = shared();
        const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
        const q = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
        const answers: unknown[] = [];
        const created = await p.create({ ...start, id: 'a', t: 'x' } as Doc);
        answers.push(created);
        let mine = created._etag; // the version p last saw
        for (const s of steps) {
          if (s.op === 'claim') {
            const current = (await new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store }).get('a', 'x'))?._etag;
            const w = await p.updateIfMatch('a', 'x', { etag: mine }, s.patch as never);
            expect(w.ok).toBe(mine === current);
            if (w.ok) {
              await check(w.doc, store);
              answers.push(w.doc);
              mine = w.doc._etag;
            }
          } else if (s.op === 'update') {
            await q.update('a', 'x', s.patch as never);
          } else if (s.op === 'replace') {
            await q.replace({ ...s.patch, id: 'a', t: 'x' } as Doc);
          } else if (s.op === 'get') {
            const g = await p.get('a', 'x');
            await check(g, store);
            answers.push(g);
            mine = g?._etag ?? mine;
          } else if (s.op === 'mutate') {
            for (const d of answers) scribble(d);
          } else if (floods < 5) {
            floods++;
            const big = 'f'.repeat(16 * 1024);
            for (let i = 0; i < 300; i++) {
              await p.create({ id: `f${floods}-${i}`, t: 'x', big });
              await p.get(`f${floods}-${i}`, 'x');
            }
          }
        }
        await check(await p.get('a', 'x'), store);
      }),
      { numRuns: 300 },
    );
  });
});

describe('MemoryProvider: messages the Memory leg of the mutation run did not check', () => {
  it('names the constructor\'s options and the patch of updateIfMatch', async () => {
    const refusal = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return (e as Error).message;
      }
      return 'no throw';
    };
    const throwing = new Proxy({ partitionKeyPath: '/t' }, { get: () => { throw new Error('boom'); } });
    expect([
      refusal(() => new MemoryProvider(5 as never)),
      refusal(() => new MemoryProvider({ partitionKeyPath: '/t', bogus: 1 } as never)),
      refusal(() => new MemoryProvider(throwing)),
      refusal(() => new MemoryProvider({ partitionKeyPath: '/t\ud800' })),
      refusal(() => new MemoryProvider({ partitionKeyPath: '/t', shared: '' })),
      refusal(() => new MemoryProvider({ partitionKeyPath: '/t', shared: 5 as never })),
    ]).toEqual([
      'MemoryProvider options must be an object like { partitionKeyPath: "/tenantId" }',
      'unknown option "bogus" for MemoryProvider (known: partitionKeyPath, shared)',
      'MemoryProvider options could not be read: boom',
      'partitionKeyPath "/t\\ud800" has a lone surrogate (not well-formed UTF-16)',
      'shared store name must be a non-empty string',
      'shared must be a string, got number',
    ]);
    const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t' });
    await p.create({ id: 'a', t: 'x' });
    await expect(p.updateIfMatch('a', 'x', { rev: 1 }, { n: 1n } as never)).rejects.toThrow(/^patch\.n is a BigInt, which JSON cannot hold$/);
  });
});

describe('MemoryProvider.create: long strings handed to the native layer beside the text', () => {
  const long = (s: string): string => s.repeat(Math.ceil(2048 / s.length));
  it('stores what JSON.stringify would have written: escapes, member order, id and partition key in place', async () => {
    const store = shared();
    const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
    const docs: Doc[] = [
      { id: 'a', t: 'x', first: long('plain'), n: 1, last: long('q"\\\n\t\r\b\f\u0001\u001f\u007f\u2028é😀') },
      { id: 'b', t: long('k'), 10: long('ten'), 2: 'short', s: long('s') },
      { id: long('i').slice(0, 200), t: 'x', rev: long('r'), _etag: long('e'), u: undefined, z: -0 },
    ];
    for (const doc of docs) {
      const created = await p.create(doc);
      const read = await new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store }).get(doc.id, doc.t);
      expect(created).toStrictEqual(read);
      const { rev: _r, _etag: _e, ...own } = JSON.parse(JSON.stringify(doc)) as Doc;
      expect(JSON.stringify(read)).toBe(JSON.stringify({ ...own, rev: 1, _etag: read?._etag, _ts: read?._ts }));
    }
    await expect(p.create({ id: 'c', t: 'x', _own: long('o') })).rejects.toMatchObject({ code: 'invalid_argument' });
    // An id too long stays in the text, where the store reads it and says what is wrong with it.
    await expect(p.create({ id: long('i'), t: 'x', s: long('s') })).rejects.toThrow(/^id is longer than 255 characters/);
    await expect(p.create({ id: 'a', t: 'x', more: long('m') })).rejects.toMatchObject({ code: 'conflict' });
  });
});

describe('MemoryProvider: a held version checked by its shard\'s stamp', () => {
  // The write count moves with every write anywhere; a held version is then checked by the one
  // shard holding it. Every kind of write to the document must move that shard's stamp.
  type Step = [string, (w: MemoryProvider<Doc>, d: Doc) => Promise<unknown>];
  const writes: Step[] = [
    ['upsert', (w) => w.upsert({ id: 'd', t: 'x', n: 2 })],
    ['replace', (w) => w.replace({ id: 'd', t: 'x', n: 2 })],
    ['update', (w) => w.update('d', 'x', { n: 2 })],
    ['updateIfMatch', (w, d) => w.updateIfMatch('d', 'x', { etag: d['_etag'] as string }, { n: 2 })],
    ['delete', (w) => w.delete('d', 'x')],
    ['deleteIfMatch', (w, d) => w.deleteIfMatch('d', 'x', { etag: d['_etag'] as string })],
    ['delete, then create', async (w) => { await w.delete('d', 'x'); await w.create({ id: 'd', t: 'x', n: 2 }); }],
    ['batch upsert', (w) => w.batch('x', [{ op: 'upsert', doc: { id: 'd', t: 'x', n: 2 } }])],
    ['batch delete', (w) => w.batch('x', [{ op: 'delete', id: 'd' }])],
  ];
  for (const size of ['small', 'large'] as const) {
    for (const [kind, write] of writes) {
      it(`${size}: after another provider's ${kind}, the version held is not answered`, async () => {
        const store = shared();
        const reader = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
        const writer = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
        const extra = size === 'large' ? { pad } : {};
        await writer.create({ id: 'd', t: 'x', n: 1, ...extra });
        // Enough other documents that most sit in other shards: their writes move the count, not d's stamp.
        for (let i = 0; i < 40; i++) await writer.create({ id: `o${i}`, t: 'x', n: 0 });
        const held = await reader.get('d', 'x'); // read, then held
        expect(held?.['n']).toBe(1);
        for (let i = 0; i < 40; i++) await writer.update(`o${i}`, 'x', { n: 1 });
        expect((await reader.get('d', 'x'))?.['n']).toBe(1); // still current: from the stamp or the store
        const claimed = await reader.updateIfMatch('d', 'x', { etag: held?.['_etag'] as string }, { n: 1 });
        if (!claimed.ok) throw new Error(`the claim on the current version lost: ${claimed.reason}`);
        for (let i = 0; i < 40; i++) await writer.update(`o${i}`, 'x', { n: 2 });
        expect((await reader.get('d', 'x'))?.['rev']).toBe(claimed.doc.rev); // the write's stamp, or the store
        const current = await writer.get('d', 'x');
        if (current === null) throw new Error('d vanished');
        await write(writer, current);
        expect(await reader.get('d', 'x')).toStrictEqual(await new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store }).get('d', 'x'));
        // A claim on the version held before the write loses, as the store decides.
        const stale = await reader.updateIfMatch('d', 'x', { etag: claimed.doc._etag }, { n: 9 });
        expect(stale.ok).toBe(false);
      });
    }
  }
});

describe('MemoryProvider: a write by another thread', () => {
  /** Runs `update(n)` of document 'a' on `store` in a worker thread; resolves with the etag it wrote. */
  function writeInThread(store: string, n: number): Promise<string> {
    const src = `const { workerData, parentPort } = require('node:worker_threads');
const { MemoryProvider } = require('@bytelyst/datastore');
new MemoryProvider({ partitionKeyPath: '/t', shared: workerData.store })
  .update('a', 'x', { n: workerData.n })
  .then((d) => parentPort.postMessage(d._etag), (e) => parentPort.postMessage({ failed: String(e) }));`;
    const w = new Worker(src, { eval: true, workerData: { store, n } });
    return new Promise<unknown>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    }).then(async (etag) => {
      await w.terminate();
      if (typeof etag !== 'string') throw new Error(`the worker's write failed: ${JSON.stringify(etag)}`);
      return etag;
    });
  }

  for (const [size, extra] of [['small', {}], ['large', { pad }]] as const) {
    it(`is seen at once by a provider holding the ${size} version it replaced: get, and a claim on the old version`, async () => {
      const store = shared();
      const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
      const a = await p.create({ id: 'a', t: 'x', n: 0, ...extra });
      await p.get('a', 'x');
      await p.get('a', 'x'); // held, and answered from the held version
      const etag = await writeInThread(store, 1);
      expect(await p.get('a', 'x')).toMatchObject({ n: 1, rev: 2, _etag: etag });
      expect(await p.updateIfMatch('a', 'x', { etag: a._etag }, { n: 9 })).toEqual({ ok: false, reason: 'conflict' });
      const third = await writeInThread(store, 2); // p holds rev 2 now; the thread writes rev 3
      expect(await p.updateIfMatch('a', 'x', { etag }, { n: 9 })).toEqual({ ok: false, reason: 'conflict' });
      expect(await p.updateIfMatch('a', 'x', { rev: 2 }, { n: 9 })).toEqual({ ok: false, reason: 'conflict' });
      // A claim on the thread's version, which p does not hold, is the store's to decide: it wins.
      expect(await p.updateIfMatch('a', 'x', { etag: third }, { n: 3 })).toMatchObject({ ok: true, doc: { n: 3, rev: 4 } });
      expect(await p.get('a', 'x')).toMatchObject({ n: 3, rev: 4 });
    });
  }
});

describe('MemoryProvider: a store of its own, whose versions held since its last write are current', () => {
  // Not `shared`: only this provider writes the store, so its cache trusts a version held since the
  // provider's last write with no native call (the epoch). Every write must end that trust, after the
  // caller's own code has run: a getter may read, and so hold, the version the write replaces.
  type Sneaky = (p: MemoryProvider<Doc>, d: Doc, read: () => number) => Promise<unknown>;
  /** An object whose member `n` reads the document (holding it) when the provider reads it. */
  const reading = <O extends object>(o: O, read: () => number): O & { n: number } =>
    Object.defineProperty({ ...o }, 'n', { enumerable: true, get: read }) as O & { n: number };
  /** `o` with a member `name` that reads the document and is undefined. */
  const readingNothing = <O extends object>(o: O, name: string, read: () => number): O =>
    Object.defineProperty({ ...o }, name, {
      enumerable: true,
      get: () => {
        read();
        return undefined;
      },
    });
  const writes: Array<[string, Sneaky]> = [
    ['upsert', (p, _d, read) => p.upsert(reading({ id: 'd', t: 'x' }, read))],
    ['replace', (p, _d, read) => p.replace(reading({ id: 'd', t: 'x' }, read))],
    ['update', (p, _d, read) => p.update('d', 'x', reading({}, read))],
    ['updateIfMatch', (p, d, read) => p.updateIfMatch('d', 'x', { etag: d._etag as string }, reading({}, read))],
    ['delete', (p, _d, read) => p.delete('d', 'x', readingNothing({}, 'signal', read))],
    ['deleteIfMatch', (p, d, read) => p.deleteIfMatch('d', 'x', readingNothing({ etag: d._etag as string }, 'rev', read))],
    ['batch update', (p, _d, read) => p.batch('x', [{ op: 'update', id: 'd', patch: reading({}, read) }])],
    ['batch upsert of another document, then delete', (p, _d, read) => p.batch('x', [{ op: 'upsert', doc: reading({ id: 'e', t: 'x' }, read) }, { op: 'delete', id: 'd' }])],
  ];
  // Nested, the created document is not held: the getter's read is the one that holds it, after the
  // write began. Flat, it is held from the create on, and the getter's read is answered from it.
  const docs = [
    ['small nested', { meta: { k: 1 } }],
    ['large nested', { meta: { k: 1 }, pad }],
    ['small flat', {}],
    ['large flat', { pad }],
  ] as const;
  for (const [size, extra] of docs) {
    for (const [kind, write] of writes) {
      it(`${size}: a version read while a ${kind}'s arguments are read is not answered after it`, async () => {
        const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t' });
        const d = await p.create({ id: 'd', t: 'x', n: 0, ...extra });
        let reads = 0;
        const read = (): number => {
          // Synchronous: the read is done, and its version held, before the write goes on.
          void p.get('d', 'x');
          reads++;
          return 1;
        };
        await write(p, d as Doc, read);
        expect(reads).toBeGreaterThan(0);
        const twin = new MemoryProvider<Doc>({ partitionKeyPath: '/t' });
        const now = await p.get('d', 'x');
        if (now === null) {
          await expect(p.updateIfMatch('d', 'x', { etag: d._etag }, { n: 9 })).resolves.toEqual({ ok: false, reason: 'not_found' });
          return;
        }
        expect(now).toMatchObject({ n: 1, rev: 2 });
        expect(await twin.get('d', 'x')).toBeNull(); // its own store: another provider sees none of it
        expect(await p.updateIfMatch('d', 'x', { etag: d._etag }, { n: 9 })).toEqual({ ok: false, reason: 'conflict' });
        expect(await p.updateIfMatch('d', 'x', { etag: now._etag }, { n: 2 })).toMatchObject({ ok: true, doc: { n: 2, rev: 3 } });
      });
    }
  }

  it('a claim or a create (short or long) leaves the other versions held current; every answer is what the store holds', async () => {
    // Reads answered from held versions after writes to other documents, checked against a
    // shared store given the very same calls (its cache checks every version natively).
    const store = shared();
    const own = new MemoryProvider<Doc>({ partitionKeyPath: '/t' });
    const twin = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
    const check = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: store });
    // The etag and _ts differ between the stores; everything else must not.
    const strip = (d: Doc | null): unknown => (d === null ? null : { ...d, _etag: undefined, _ts: undefined });
    /** `f` on both stores, in turn; an error as its code. */
    const both = async <R>(f: (p: MemoryProvider<Doc>) => Promise<R>): Promise<[R | string, R | string]> => {
      const out: Array<R | string> = [];
      for (const p of [own, twin]) out.push(await f(p).catch((e: { code?: string }) => `error ${e.code}`));
      return [out[0] as R | string, out[1] as R | string];
    };
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom('get', 'claim', 'stale', 'create', 'update', 'delete'), fc.integer({ min: 0, max: 3 })), { maxLength: 40 }),
        async (steps) => {
          for (const [what, i] of steps) {
            const id = `k${i}`;
            if (what === 'get') {
              const [a, b] = await both((p) => p.get(id, 'x'));
              expect(typeof a === 'string' ? a : strip(a)).toEqual(typeof b === 'string' ? b : strip(b));
              expect(typeof b === 'string' ? b : strip(b)).toEqual(strip(await check.get(id, 'x')));
            } else if (what === 'claim' || what === 'stale') {
              const [a, b] = await both(async (p) => {
                const cur = await p.get(id, 'x');
                const rev = what === 'claim' ? (cur?.rev ?? 1) : (cur?.rev ?? 1) + 1;
                const r = await p.updateIfMatch(id, 'x', { rev }, { n: rev });
                return r.ok ? { ok: true, rev: r.doc.rev } : r;
              });
              expect(a).toEqual(b);
            } else if (what === 'create') {
              // k2 and k3 are long: held from their create only until the other is created.
              const doc: Doc = i >= 2 ? { id, t: 'x', n: 0, p: 'P'.repeat(LONG_CREATED) } : { id, t: 'x', n: 0 };
              const [a, b] = await both((p) => p.create(doc).then((d) => d.rev));
              expect(a).toEqual(b);
            } else if (what === 'update') {
              const [a, b] = await both((p) => p.update(id, 'x', { n: -1 }).then((d) => d.rev));
              expect(a).toEqual(b);
            } else {
              const [a, b] = await both((p) => p.delete(id, 'x'));
              expect(a).toEqual(b);
            }
          }
          for (let i = 0; i < 4; i++) await both((p) => p.delete(`k${i}`, 'x'));
        },
      ),
      { numRuns: 60 },
    );
  });
});
