/**
 * Strings the Memory provider's hot write hands the native layer through a
 * stack buffer (`src/binding/arg_str.rs`): the document's key, the patch,
 * the etags. Node copies at most the buffer's size less one byte and never
 * splits a character, so a string that did not fit comes back short by up
 * to four bytes and must be read again in full; one read as complete when
 * it was not would address another document (a key cut short) or write
 * another value. Every length around the buffer's edge, with characters of
 * every UTF-8 width ending there, is written and read back.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryProvider } from '@bytelyst/datastore';
import type { BaseDocument } from '@bytelyst/datastore';
import * as native from '../index.js';
import { memoryCreate, memoryGetFreshAt, memoryOpen, memoryUpdateIfMatchAt } from '../index.js';

interface Doc extends BaseDocument {
  id: string;
  t: string;
  s?: string;
  n?: number;
}

/** One character of each UTF-8 width: 1, 2, 3 and 4 bytes. */
const WIDE = ['a', 'é', '€', '😀'];
/** The stack buffer's size in bytes (`INLINE` in arg_str.rs); lengths are tried around it. */
const INLINE = 256;
const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** A writer and a reader on one shared store: the reader's answers come from the native store, not the writer's cache. */
function pair(): [MemoryProvider<Doc>, MemoryProvider<Doc>] {
  const shared = `native-args-${randomUUID()}`;
  return [new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared }), new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared })];
}

/** `prefix` padded with "x", then `last`, to exactly `total` UTF-8 bytes (undefined when it cannot be). */
function ofBytes(prefix: string, last: string, total: number): string | undefined {
  const pad = total - bytes(prefix) - bytes(last);
  return pad < 0 ? undefined : prefix + 'x'.repeat(pad) + last;
}

/** Every string `prefix…last` of `from`..`to` UTF-8 bytes, for each width of `last`. */
function around(prefix: string, from: number, to: number): string[] {
  const out: string[] = [];
  for (const last of WIDE) {
    for (let n = from; n <= to; n++) {
      const s = ofBytes(prefix, last, n);
      if (s !== undefined) out.push(s);
    }
  }
  return out;
}

describe('Memory updateIfMatch: strings around the stack buffer\'s edge are read whole', () => {
  it('a key of any length near the edge addresses its own document, not one named by a prefix of it', async () => {
    const [p, q] = pair();
    // The key crossing is `"t"` + "\n" + id: 4 bytes before the id.
    const ids = around('', INLINE - 12 - 4, INLINE + 8 - 4).filter((id) => [...id].length <= 255);
    expect(ids.length).toBeGreaterThan(60);
    for (const id of ids) {
      // Every id a shorter key could reach: the id cut back by up to 4 bytes, at a character's end.
      const prefixes = new Set<string>();
      const chars = [...id];
      for (let k = 1; k <= 4 && k < chars.length; k++) prefixes.add(chars.slice(0, chars.length - k).join(''));
      for (const d of prefixes) await p.upsert({ id: d, t: 't', n: 0 });
      const mine = await p.create({ id, t: 't', n: 0 });
      const r = await p.updateIfMatch(id, 't', { etag: mine._etag }, { n: 1 });
      expect(r.ok, `${bytes(id)}-byte id`).toBe(true);
      expect((await q.get(id, 't'))?.n).toBe(1);
      for (const d of prefixes) expect((await q.get(d, 't'))?.n, `decoy ${bytes(d)} bytes`).toBe(0);
      await p.delete(id, 't');
      for (const d of prefixes) await p.delete(d, 't');
    }
  });

  it('a patch of any length near the edge is written whole', async () => {
    const [p, q] = pair();
    let cur = await p.create({ id: 'a', t: 't', s: '' });
    // The patch crosses as `{"s":"…"}`: 8 bytes around the string.
    for (const s of around('', INLINE - 12 - 8, INLINE + 8 - 8)) {
      const r = await p.updateIfMatch('a', 't', { etag: cur._etag }, { s });
      if (!r.ok) throw new Error(`${bytes(s)}-byte string: ${r.reason}`);
      expect(r.doc.s).toBe(s);
      expect((await q.get('a', 't'))?.s).toBe(s);
      cur = r.doc;
    }
  });

  it('a long string read on the heap is read whole, whatever its characters\' widths (create, every path)', async () => {
    // A long string is copied into a buffer of its UTF-16 length + 8 bytes first: each 2-byte character
    // takes one of the spare bytes, each 3-byte one two, so these cross that edge both ways.
    const [p, q] = pair();
    let n = 0;
    for (let wide = 0; wide <= 14; wide++) {
      for (const last of WIDE) {
        const long = 'x'.repeat(1500) + 'é'.repeat(wide) + last;
        const docs: Doc[] = [
          { id: `s${n}`, t: 't', s: long }, // a long string member: handed over beside the text
          { id: `n${n}`, t: 't', nested: { s: long } } as Doc, // nested: the whole text
          { id: `f${n}`, t: 't', a: long.slice(0, 900), b: long.slice(-900) } as Doc, // flat, no long string: the text
        ];
        for (const d of docs) {
          await p.create(d);
          const back = await q.get(d.id, 't');
          expect(back, `${d.id}: ${wide} × é, then ${last}`).toMatchObject(d);
        }
        n++;
      }
    }
  });

  it('long strings read one after another into reused buffers are each read whole, never with bytes of an earlier one', async () => {
    // Long arguments are read into buffers kept for the next call (arg_str.rs, POOL): a longer string
    // followed by shorter ones, of other characters, must never come back with the earlier one's tail.
    const [p, q] = pair();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: INLINE, max: 70_000 }), fc.constantFrom(...WIDE), fc.constantFrom(...WIDE), fc.integer({ min: 0, max: 12 })), {
          minLength: 1,
          maxLength: 6,
        }),
        async (strings) => {
          for (const [len, fill, last, wide] of strings) {
            const s = fill.repeat(Math.ceil(len / fill.length)) + '€'.repeat(wide) + last; // whole characters only
            const id = `pool${n++}`;
            await p.create({ id, t: 't', s });
            expect((await q.get(id, 't'))?.s === s, `${id}: ${len} × ${fill}, ${wide} × €, ${last}`).toBe(true);
            // The same string as a patch (one argument, no placeholder), read back too.
            await p.update(id, 't', { n: 1, s: `${s}!` });
            expect((await q.get(id, 't'))?.s === `${s}!`, `${id} patched`).toBe(true);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('the native calls refuse a key that is not a partition key, a newline and an id, and an argument that is not a string', () => {
    const store = memoryOpen('/t', undefined);
    const doc = JSON.parse(memoryCreate(store, '{"id":"a","t":"x"}')) as { _etag: string };
    const patch = '{"n":1}';
    expect(() => memoryUpdateIfMatchAt(store, '"x"a', doc._etag, undefined, patch, undefined)).toThrow(/newline/);
    expect(() => memoryUpdateIfMatchAt(store, '"x"\na\tb', doc._etag, undefined, patch, undefined)).toThrow(/control character/);
    expect(() => memoryUpdateIfMatchAt(store, '{}\na', doc._etag, undefined, patch, undefined)).toThrow(/partition key/);
    expect(() => memoryUpdateIfMatchAt(store, 7 as unknown as string, doc._etag, undefined, patch, undefined)).toThrow(/string/);
    expect(() => memoryUpdateIfMatchAt(store, '"x"\na', 7 as unknown as string, undefined, patch, undefined)).toThrow(/string/);
    expect(() => memoryGetFreshAt(store, '"x"a', undefined)).toThrow(/newline/);
    expect(() => memoryGetFreshAt(store, '"x"\n.', undefined)).toThrow(/path segment/);
    expect(typeof memoryGetFreshAt(store, '"x"\na', doc._etag)).toBe('number'); // the version held is current: its stamp
    expect(memoryGetFreshAt(store, '"x"\nb', doc._etag)).toBeNull();
    // Nothing was written by any of them; the well-formed call lands, and answers only the fields.
    const out = memoryUpdateIfMatchAt(store, '"x"\na', doc._etag, undefined, patch, doc._etag);
    expect(out).toMatch(/^\+"[0-9a-f]{16}"2,\d+,\d+$/);
  });
});

describe('Memory: the store handle argument (src/binding/store_handle.rs)', () => {
  // Every native Memory function but these takes the store handle first.
  const storeless = new Set(['memoryOpen', 'memoryWriteCount', 'memoryDropShared']);
  const withStore = Object.entries(native).filter(([name, f]) => name.startsWith('memory') && typeof f === 'function' && !storeless.has(name));

  it('every function taking it refuses a value that is not a live handle, and writes nothing', () => {
    expect(withStore.map(([name]) => name)).toEqual(expect.arrayContaining(['memoryGet', 'memoryCreate', 'memoryUpdateIfMatchAt', 'memoryStampHolds', 'memoryBatch']));
    const store = memoryOpen('/t', undefined);
    memoryCreate(store, '{"id":"a","t":"x"}');
    const before = native.memoryWriteCount();
    const notHandles: unknown[] = [undefined, null, 0, 42, 'store', {}, [], () => store, Symbol('store'), Object.create(store as object)];
    for (const [name, f] of withStore) {
      for (const bad of notHandles) {
        const call = (): unknown => (f as (...args: unknown[]) => unknown)(bad, '"x"\na', '{"id":"a","t":"x","n":1}', '{"n":1}', undefined);
        expect(call, `${name}(${String(typeof bad === 'symbol' ? 'Symbol' : JSON.stringify(bad))})`).toThrow(/Memory store handle/);
      }
    }
    expect(native.memoryWriteCount()).toBe(before);
    expect(JSON.parse(native.memoryGet(store, 'a', '"x"') ?? 'null')).toMatchObject({ id: 'a', rev: 1 });
  });

  it('handles of one store, and of many, each address their own store', () => {
    const stores = Array.from({ length: 50 }, () => memoryOpen('/t', undefined));
    for (const [i, s] of stores.entries()) memoryCreate(s, `{"id":"a","t":"x","i":${i}}`);
    for (const [i, s] of stores.entries()) expect(JSON.parse(native.memoryGet(s, 'a', '"x"') ?? 'null')).toMatchObject({ i });
    const name = `native-args-${randomUUID()}`;
    const [p, q] = [memoryOpen('/t', name), memoryOpen('/t', name)];
    memoryCreate(p, '{"id":"s","t":"x"}');
    expect(native.memoryGet(q, 's', '"x"')).not.toBeNull();
    native.memoryDropShared(name);
  });
});
