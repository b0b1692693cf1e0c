/**
 * Other code in the process has put accessors or values on `Object.prototype`
 * under names a document uses (prototype pollution, or a careless polyfill).
 * `JSON.parse` and `JSON.stringify` ignore inherited members; so must every
 * object this package builds from a caller's members: an assignment would
 * call an inherited setter instead of making the member, and the member
 * would silently vanish from what is stored or answered.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryProvider } from '@bytelyst/datastore';

type Doc = { id: string; t: string; [k: string]: unknown };

/** Inherited members the test adds and removes: a setter that swallows, a getter only, a plain value. */
const polluted = ['color', 'size', 'owner', 'rev'] as const;
const swallowed: unknown[] = [];

beforeAll(() => {
  Object.defineProperty(Object.prototype, 'color', {
    configurable: true,
    get: () => 'inherited',
    set: (v: unknown) => {
      swallowed.push(v);
    },
  });
  Object.defineProperty(Object.prototype, 'size', { configurable: true, get: () => 'inherited' });
  Object.defineProperty(Object.prototype, 'owner', { configurable: true, writable: false, value: 'inherited' });
  Object.defineProperty(Object.prototype, 'rev', { configurable: true, set: (v: unknown) => swallowed.push(v) });
});

afterAll(() => {
  for (const k of polluted) delete (Object.prototype as Record<string, unknown>)[k];
});

/** The members of `d` as JSON would write them: own members only. */
const text = (d: unknown): string => JSON.stringify(d);

describe('Memory: members named like inherited accessors of Object.prototype', () => {
  const long = 'L'.repeat(4096); // the long-string path of create
  const cases: Array<[string, Doc]> = [
    ['flat', { id: 'a', t: 'x', color: 'red', size: 3, owner: 'me', n: 1 }],
    ['flat, long string', { id: 'b', t: 'x', color: long, size: long, owner: 'me' }],
    ['nested', { id: 'c', t: 'x', color: 'red', meta: { size: 2, color: 'blue' }, owner: 'me' }],
  ];
  for (const [name, doc] of cases) {
    it(`${name}: create, get, updateIfMatch, upsert, replace and query keep every member`, async () => {
      swallowed.length = 0;
      const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t' });
      const own = (d: unknown) => Object.keys(d as object).filter((k) => k !== 'rev' && k !== '_etag' && k !== '_ts');
      const created = await p.create(doc);
      expect(own(created)).toEqual(Object.keys(doc));
      expect(Object.hasOwn(created, 'rev')).toBe(true);
      const read = await p.get(doc.id, 'x');
      expect(text(read)).toBe(text(created));
      expect(text(await p.get(doc.id, 'x'))).toBe(text(created)); // from the held version
      const w = await p.updateIfMatch(doc.id, 'x', { etag: created._etag }, { color: 'green', owner: 'you' });
      if (!w.ok) throw new Error('uncontended write lost');
      expect(w.doc).toMatchObject({ color: 'green', owner: 'you' });
      expect(Object.hasOwn(w.doc, 'color') && Object.hasOwn(w.doc, 'owner') && Object.hasOwn(w.doc, 'rev')).toBe(true);
      const w2 = await p.updateIfMatch(doc.id, 'x', { etag: w.doc._etag }, { color: 'pink', size: 9 }); // onto the held version
      if (!w2.ok) throw new Error('uncontended write lost');
      expect(text(await p.get(doc.id, 'x'))).toBe(text(w2.doc));
      expect(w2.doc).toMatchObject({ color: 'pink', size: 9, owner: 'you' });
      const up = await p.upsert({ ...doc, id: `${doc.id}-u` });
      expect(own(up)).toEqual(Object.keys(doc));
      const rep = await p.replace({ ...doc, color: 'black' });
      expect(rep).toMatchObject({ color: 'black', owner: 'me' });
      const all = await p.query({ partitionKey: 'x' });
      expect(all.every((d) => Object.hasOwn(d, 'color') && Object.hasOwn(d, 'owner'))).toBe(true);
      expect(swallowed).toEqual([]);
    });
  }

  it('a shared store read by a provider that holds nothing answers the same text', async () => {
    // Unique per run, not per process: StrykerJS reruns this file in one process, and a run that
    // fails before dropShared would leave `a` behind for the next one's create.
    const shared = `polluted-${randomUUID()}`;
    const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared });
    const q = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared });
    const a = await p.create({ id: 'a', t: 'x', color: 'red', owner: 'me' });
    const w = await p.updateIfMatch('a', 'x', { etag: a._etag }, { color: 'green' });
    if (!w.ok) throw new Error('uncontended write lost');
    const w2 = await p.updateIfMatch('a', 'x', { etag: w.doc._etag }, { owner: 'you' });
    if (!w2.ok) throw new Error('uncontended write lost');
    expect(text(await q.get('a', 'x'))).toBe(text(w2.doc));
    expect(text(w2.doc)).toContain('"color":"green"');
    MemoryProvider.dropShared(shared);
  });
});
