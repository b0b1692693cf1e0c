/**
 * lib/'s checks, message by message, on the Memory provider: the mutants
 * StrykerJS found surviving lib/ on 2026-12-02 (docs/testing.md, "StrykerJS,
 * 2026-12-02"). The Rust layer refuses most of the same inputs with the same
 * code, so a test that matched only the code could not tell lib/'s check
 * from a missing one: these match the message lib/ writes (it names the
 * argument and what was wrong), and the inputs lib/ must let through.
 * Each was seen failing on its hand-made mutant of lib/.
 */
import { describe, expect, it } from 'vitest';
import { DatastoreError, MemoryProvider, createProvider, isDatastoreError } from '@bytelyst/datastore';
import type { CallOptions, PageOptions, QueryFilter, QueryPage } from '@bytelyst/datastore';
import { checkCallOptions, checkTimeoutMs, withAbortCause } from '../lib/call.js';
import { DatastoreError as LibError } from '../lib/errors.js';
import { checkPageOptions, token } from '../lib/paging.js';
import { decodeDeleteIfMatch, decodeUpdateIfMatch } from '../lib/codec.js';
import { rejection } from './suites/conformance.js';

interface Doc {
  id: string;
  t: string;
  n?: number;
}

/** Casts a deliberately wrong value past the type checker. */
const bad = <T>(v: unknown): T => v as T;

async function provider(): Promise<MemoryProvider<Doc>> {
  const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t' });
  await p.create({ id: 'a', t: 'x', n: 1 });
  return p;
}

describe('expected (updateIfMatch, deleteIfMatch, batch)', () => {
  it.each([
    [null, /^expected must be an object like \{ etag \} or \{ rev \}, got null$/],
    [[1], /^expected must be an object like \{ etag \} or \{ rev \}, got an array$/],
    [new Date(0), /^expected must be an object like \{ etag \} or \{ rev \}, got a Date$/],
    ['e', /^expected must be an object like \{ etag \} or \{ rev \}, got string$/],
    [{ etag: 5 }, /^expected\.etag must be a string, got number$/],
    [{ rev: 1.5 }, /^expected\.rev must be a whole number from 0 to 9007199254740991, got 1\.5$/],
    [{ rev: -1 }, /^expected\.rev must be a whole number from 0 to 9007199254740991, got -1$/],
    [{ rev: 2 ** 53 }, /^expected\.rev must be a whole number from 0 to 9007199254740991, got 9007199254740992$/],
    [{ rev: '1' }, /^expected\.rev must be a whole number from 0 to 9007199254740991, got string$/],
    [{ rev: null }, /^expected\.rev must be a whole number from 0 to 9007199254740991, got null$/],
    [{}, /^expected must give etag, rev, or both$/],
    [{ etag: 'e', tag: 1 }, /^expected has an unknown member "tag" \(known: etag, rev\)$/],
  ])('%j is refused with its own message, and writes nothing', async (expected, message) => {
    const p = await provider();
    const err = await rejection(p.updateIfMatch('a', 'x', bad(expected), { n: 2 }), 'invalid_argument');
    expect(err.message).toMatch(message);
    expect((await rejection(p.deleteIfMatch('a', 'x', bad(expected)), 'invalid_argument')).message).toMatch(message);
    const inBatch = await rejection(p.batch('x', [{ op: 'update', id: 'a', patch: { n: 2 }, expected: bad(expected) }]), 'invalid_argument');
    expect(inBatch.message).toBe(`ops[0]: ${err.message}`);
    expect((await p.get('a', 'x'))?.n).toBe(1);
  });

  it('rev 0 and MAX_SAFE_INTEGER are valid revisions: a conflict, not a refusal', async () => {
    const p = await provider();
    expect(await p.updateIfMatch('a', 'x', { rev: 0 }, { n: 2 })).toEqual({ ok: false, reason: 'conflict' });
    expect(await p.updateIfMatch('a', 'x', { rev: Number.MAX_SAFE_INTEGER }, { n: 2 })).toEqual({ ok: false, reason: 'conflict' });
    expect(await p.deleteIfMatch('a', 'x', { rev: 0 })).toEqual({ ok: false, reason: 'conflict' });
  });

  it('an expected object without a prototype is an object like any other', async () => {
    const p = await provider();
    const expected = Object.assign(Object.create(null) as { rev: number }, { rev: 1 });
    expect((await p.updateIfMatch('a', 'x', expected, { n: 2 })).ok).toBe(true);
  });

  it('the outcome codes: not_found and conflict are told apart on both conditional writes', async () => {
    const p = await provider();
    expect(await p.updateIfMatch('zz', 'x', { rev: 1 }, { n: 2 })).toEqual({ ok: false, reason: 'not_found' });
    expect(await p.deleteIfMatch('zz', 'x', { rev: 1 })).toEqual({ ok: false, reason: 'not_found' });
    expect(await p.updateIfMatch('a', 'x', { rev: 2 }, { n: 2 })).toEqual({ ok: false, reason: 'conflict' });
    expect(await p.deleteIfMatch('a', 'x', { rev: 2 })).toEqual({ ok: false, reason: 'conflict' });
  });
});

describe('partition keys and query filters', () => {
  it.each([
    [null, 'null'],
    [Number.NaN, 'number'],
    [Number.POSITIVE_INFINITY, 'number'],
    [{}, 'a Object'],
    [Object.create(null), 'a object'],
  ])('partition key %s is refused, naming what it got', async (pk, got) => {
    const p = await provider();
    const err = await rejection(p.get('a', bad(pk)), 'invalid_argument');
    expect(err.message).toBe(`partitionKey must be a string, a finite number or a boolean, got ${got}`);
    const inQuery = await rejection(p.query({ partitionKey: bad(pk) }), 'invalid_argument');
    expect(inQuery.message).toBe(`query filter: partitionKey must be a string, a finite number or a boolean, got ${got}`);
  });

  it('finite numbers and booleans are partition keys', async () => {
    const p = new MemoryProvider<{ id: string; k: number | boolean }>({ partitionKeyPath: '/k' });
    await p.create({ id: 'n', k: 3 });
    await p.create({ id: 'b', k: true });
    expect((await p.get('n', 3))?.id).toBe('n');
    expect((await p.get('b', true))?.id).toBe('b');
  });

  it('an undefined where value is refused by name', async () => {
    const p = await provider();
    const err = await rejection(p.query({ where: bad({ n: undefined }) }), 'invalid_argument');
    expect(err.message).toBe('query filter: where.n is undefined; give a value, or leave the field out');
  });
});

describe('ids, names and documents: where the bad value is', () => {
  it.each([
    [5, 'id must be a string, got number'],
    [null, 'id must be a string, got null'],
  ])('id %j', async (id, message) => {
    const p = await provider();
    expect((await rejection(p.get(bad(id), 'x'), 'invalid_argument')).message).toBe(message);
  });

  it('paths in messages: identifiers with a dot, other keys and indexes in brackets', async () => {
    const p = await provider();
    const err1 = await rejection(p.create(bad({ id: 'b', t: 'x', a: { b_1: [0, { 'c d': 1n }] } })), 'invalid_argument');
    expect(err1.message).toMatch(/^document\.a\.b_1\[1\]\["c d"\] /);
    const err2 = await rejection(p.create(bad({ id: 'b', t: 'x', '1a': 1n })), 'invalid_argument');
    expect(err2.message).toMatch(/^document\["1a"\] /);
    const err3 = await rejection(p.create(bad({ id: 'b', t: 'x', 'a-': 1n })), 'invalid_argument');
    expect(err3.message).toMatch(/^document\["a-"\] /);
    const err4 = await rejection(p.update('a', 'x', bad({ n: 1n })), 'invalid_argument');
    expect(err4.message).toMatch(/^patch\.n /);
  });

  it('a value that throws while read names the argument and keeps the cause', async () => {
    const p = await provider();
    const boom = new Error('boom');
    const doc = {
      id: 'b',
      t: 'x',
      get n(): number {
        throw boom;
      },
    };
    const err = await rejection(p.create(bad(doc)), 'invalid_argument');
    expect(err.message).toBe('document could not be read as JSON: boom');
    expect(err.cause).toBe(boom);
  });

  it('a shared store name is checked as a name', () => {
    expect(() => MemoryProvider.dropShared(bad(5))).toThrow('shared must be a string, got number');
  });
});

describe('batch operations: each refusal names the operation', () => {
  it.each([
    [5, 'batch operations must be an array of operations'],
    [[null], "ops[0] must be an object like { op: 'create', doc }"],
    [[[]], "ops[0] must be an object like { op: 'create', doc }"],
    [[5], "ops[0] must be an object like { op: 'create', doc }"],
    [[{ op: { toString: () => 'read' }, id: 'a' }], 'ops[0].op must be one of create, upsert, replace, update, delete, read, got {}'],
    [[{ op: 'nope' }], 'ops[0].op must be one of create, upsert, replace, update, delete, read, got "nope"'],
    [[{ op: 'toString' }], 'ops[0].op must be one of create, upsert, replace, update, delete, read, got "toString"'],
    [[{ op: 5 }], 'ops[0].op must be one of create, upsert, replace, update, delete, read, got 5'],
    [[{}], 'ops[0].op must be one of create, upsert, replace, update, delete, read, got undefined'],
    [[{ op: 'read', id: 'a', doc: {} }], 'ops[0]: "read" takes no "doc" (it takes id)'],
    [[{ op: 'delete', id: 'a', patch: {} }], 'ops[0]: "delete" takes no "patch" (it takes id, expected)'],
    [[{ op: 'read', id: 5 }], 'ops[0].id must be a string, got number'],
    [[{ op: 'create', doc: { id: 'b', t: 'x' } }, { op: 'update', id: 'a', patch: 5 }], 'ops[1].patch must be'],
  ])('%j', async (ops, message) => {
    const p = await provider();
    const err = await rejection(p.batch('x', bad(ops)), 'invalid_argument');
    expect(err.message.startsWith(message)).toBe(true);
    expect(await p.get('b', 'x')).toBeNull();
  });

  it('a field given as undefined is no field', async () => {
    const p = await provider();
    const out = await p.batch('x', bad([{ op: 'read', id: 'a', doc: undefined }]));
    expect(out.ok).toBe(true);
  });
});

describe('misuse and options', () => {
  it('a method called on something that is not a provider says so, for close too', async () => {
    const p = await provider();
    const { get, close } = p;
    expect((await rejection(get.call(bad({}), 'a', 'x'), 'invalid_argument')).message).toBe(
      'MemoryProvider.get was called on a Object, not on a MemoryProvider: call it as provider.get(...) or bind it',
    );
    expect((await rejection(close.call(bad(null)), 'invalid_argument')).message).toMatch(/^MemoryProvider\.close was called on null, not on a MemoryProvider/);
    expect((await rejection(close.call(bad(5)), 'invalid_argument')).message).toMatch(/^MemoryProvider\.close was called on number/);
    expect((await rejection(close.call(bad({})), 'invalid_argument')).message).toMatch(/^MemoryProvider\.close was called on a Object/);
  });

  it('a closed provider names itself and the method', async () => {
    const p = await provider();
    await p.close();
    expect((await rejection(p.batch('x', []), 'invalid_argument')).message).toBe('MemoryProvider.batch: the provider is closed; open a new one');
  });

  it('option messages', async () => {
    expect(() => new MemoryProvider(bad(null))).toThrow(/^MemoryProvider options must be an object like \{ partitionKeyPath: "/);
    expect(() => new MemoryProvider(bad({ partitionKeyPath: 5 }))).toThrow('partitionKeyPath must be a string like "/tenantId"');
    expect(() => new MemoryProvider(bad({ partitionKeyPath: '/t', nope: 1 }))).toThrow(/^unknown option "nope" for .*\(known: \w+, \w+/);
    const create = (config: unknown) => rejection(Promise.resolve().then(() => createProvider(bad(config))), 'invalid_argument');
    expect((await create(null)).message).toMatch(/^createProvider needs a config like \{ kind: 'memory', partitionKeyPath/);
    expect((await create('memory')).message).toMatch(/^createProvider needs a config like/);
    expect((await create({ kind: 'disk' })).message).toMatch(/^unknown provider kind "disk"/);
  });
});

describe('isDatastoreError', () => {
  it('tells a DatastoreError, and its code, from anything else', async () => {
    const p = await provider();
    const err = await rejection(p.create({ id: 'a', t: 'x' }), 'conflict');
    expect(isDatastoreError(err)).toBe(true);
    expect(isDatastoreError(err, 'conflict')).toBe(true);
    expect(isDatastoreError(err, 'not_found')).toBe(false);
    expect(isDatastoreError(new Error('conflict'))).toBe(false);
    expect(isDatastoreError(new Error('conflict'), 'conflict')).toBe(false);
    expect(isDatastoreError({ code: 'conflict' }, 'conflict')).toBe(false);
    expect(isDatastoreError(new DatastoreError('internal', 'x'), 'internal')).toBe(true);
  });
});

/**
 * lib/call.ts and lib/paging.ts (2026-12-02, later): the survivors of the
 * Memory-leg Stryker run over them (docs/testing.md). The provider-level
 * checks go through MemoryProvider (dist/); the code only Cosmos reaches
 * (`withAbortCause`, `checkTimeoutMs` without a method name, a Cosmos
 * token) is called from lib/ directly, as doc-cache.spec.ts does.
 */
describe('call options and query pages, message by message', () => {
  /** Thrown by `f` (lib/ loaded directly has its own DatastoreError class: code and message only). */
  const thrown = (f: () => unknown): { code: unknown; message: string } => {
    try {
      f();
    } catch (e) {
      return { code: (e as { code?: unknown }).code, message: (e as Error).message };
    }
    throw new Error('it did not throw');
  };

  /** A provider holding a0..a{n-1} in partition x. */
  async function docs(n: number): Promise<MemoryProvider<Doc>> {
    const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t' });
    for (let i = 0; i < n; i++) await p.create({ id: `a${i}`, t: 'x', n: i });
    return p;
  }

  it('timeoutMs from 1 to 2^31 - 1 is accepted; malformed call options are named in the message', async () => {
    const p = await provider();
    expect(await p.get('a', 'x', { timeoutMs: 1 })).toMatchObject({ id: 'a' });
    expect(await p.get('a', 'x', { timeoutMs: 2 ** 31 - 1 })).toMatchObject({ id: 'a' });
    expect((await rejection(p.get('a', 'x', bad(null)), 'invalid_argument')).message).toBe(
      'MemoryProvider.get: the last argument must be call options like { signal, timeoutMs }, got null',
    );
    expect((await rejection(p.get('a', 'x', bad(100)), 'invalid_argument')).message).toMatch(/, got number$/);
  });

  it('checkCallOptions answers only the options given; checkTimeoutMs without a method name', () => {
    const signal = new AbortController().signal;
    expect(checkCallOptions({}, 'w')).toStrictEqual({});
    expect(checkCallOptions({ signal }, 'w')).toStrictEqual({ signal });
    expect(checkCallOptions({ timeoutMs: 5, signal }, 'w')).toStrictEqual({ timeoutMs: 5, signal });
    expect(thrown(() => checkTimeoutMs(0))).toEqual({ code: 'invalid_argument', message: 'timeoutMs must be a whole number of milliseconds from 1 to 2147483647, got 0' });
    expect(checkTimeoutMs(undefined)).toBeUndefined();
  });

  it("withAbortCause keeps the error's code, message, status and diagnostics, with the signal's reason as cause", () => {
    const reason = new Error('gave up');
    const c = new AbortController();
    c.abort(reason);
    const diagnostics = { subStatus: 3, activityId: 'act', requestCharge: 1.5, retryAfterMs: 20 };
    const err = withAbortCause(new LibError('timeout', 'slow', 408, { diagnostics }), c.signal);
    expect({ ...err, message: err.message, cause: err.cause }).toStrictEqual({ name: 'DatastoreError', code: 'timeout', status: 408, ...diagnostics, message: 'slow', cause: reason });
    const bare = withAbortCause(new LibError('timeout', 'slow'), c.signal);
    expect([bare.code, bare.message, bare.cause, bare.status, bare.subStatus, bare.retryAfterMs]).toEqual(['timeout', 'slow', reason, undefined, undefined, undefined]);
  });

  it('queryPage without page options: the first page of up to 100; maxItems 1 is a page size', async () => {
    const p = await docs(3);
    expect((await p.queryPage({ partitionKey: 'x' })).items.map((d) => d.id)).toEqual(['a0', 'a1', 'a2']);
    const one = await p.queryPage(undefined, { maxItems: 1 });
    expect(one.items.map((d) => d.id)).toEqual(['a0']);
    expect(one.continuation).not.toBeNull();
  });

  it('bad page and iteration options are refused with messages naming them', async () => {
    const p = await docs(1);
    const what = 'MemoryProvider.queryPage: ';
    const pageErr = async (page: unknown, filter?: unknown): Promise<string> => (await rejection(p.queryPage(bad(filter), bad(page)), 'invalid_argument')).message;
    expect(await pageErr(null)).toBe(`${what}page options must be an object like { maxItems: 100, continuation }`);
    expect(await pageErr(5)).toBe(`${what}page options must be an object like { maxItems: 100, continuation }`);
    expect(await pageErr({ maxItems: 0 })).toBe(`${what}maxItems must be a whole number from 1 to 1000, got 0`);
    expect(await pageErr({ continuation: 7 })).toBe(`${what}continuation must be a string from an earlier page, or null`);
    expect(await pageErr(undefined, { orderBy: { field: 'n' } })).toMatch(/^MemoryProvider\.queryPage: orderBy cannot be paged \(the Cosmos provider orders in process/);
    expect(await pageErr(undefined, null)).toBe('query filter must be a plain object, got null');
    for (const iter of [null, 5]) expect(() => p.queryIter(undefined, bad(iter))).toThrow(/^MemoryProvider\.queryIter: options must be an object like \{ pageSize: 100 \}$/);
  });

  it('a continuation that is not a token this provider gave is refused as such', async () => {
    const p = await docs(5);
    const first = await p.queryPage(undefined, { maxItems: 2 });
    const real = JSON.parse(Buffer.from(first.continuation ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    const forge = (change: Record<string, unknown>): string => Buffer.from(JSON.stringify({ ...real, ...change }), 'utf8').toString('base64url');
    const forged = [
      'nonsense',
      Buffer.from('null').toString('base64url'),
      forge({ v: 2 }),
      forge({ k: 'cosmos' }),
      ...['x1', '1x', '0', '01', '1'.repeat(21), 7].map((at) => forge({ at })),
      ...[-1, 1.5, '2', undefined].map((r) => forge({ r })),
    ];
    for (const continuation of forged) {
      const err = await rejection(p.queryPage(undefined, { maxItems: 2, continuation }), 'invalid_argument');
      expect(err.message, continuation).toBe('MemoryProvider.queryPage: continuation is not a token this provider gave');
    }
    // What the checks let through: the real token, and one with no limit left (an empty, last page).
    expect((await p.queryPage(undefined, { maxItems: 2, continuation: forge({}) })).items.map((d) => d.id)).toEqual(['a2', 'a3']);
    expect(await p.queryPage(undefined, { maxItems: 2, continuation: forge({ r: 0 }) })).toEqual({ items: [], continuation: null });
  });

  it("a Cosmos token's position is the SDK's own, any string; a Memory token's a version number", () => {
    const cosmos = token('cosmos', '{"f":1}', { at: 'sdk-token', remaining: 3 });
    expect(checkPageOptions({ continuation: cosmos }, 'cosmos', '{"f":1}', 'w')).toEqual({ maxItems: 100, from: { at: 'sdk-token', remaining: 3 } });
    const memory = token('memory', '{"f":1}', { at: 'sdk-token', remaining: null });
    expect(thrown(() => checkPageOptions({ continuation: memory }, 'memory', '{"f":1}', 'w')).message).toBe('w: continuation is not a token this provider gave');
  });

  it("a limit is spent over the pages: the page that reaches it is the last, limit 1 included", async () => {
    const p = await docs(6);
    const pagesOf = async (filter: { limit: number }, maxItems: number): Promise<string[][]> => {
      const out: string[][] = [];
      let continuation: string | null = null;
      do {
        const page: { items: Doc[]; continuation: string | null } = await p.queryPage(filter, { maxItems, continuation });
        out.push(page.items.map((d) => d.id));
        continuation = page.continuation;
      } while (continuation !== null && out.length < 20);
      return out;
    };
    expect(await pagesOf({ limit: 4 }, 2)).toEqual([['a0', 'a1'], ['a2', 'a3']]);
    expect(await pagesOf({ limit: 1 }, 2)).toEqual([['a0']]);
  });

  it('queryIter asks for pages of its pageSize, each from the last one', async () => {
    const asked: unknown[] = [];
    class Watched extends MemoryProvider<Doc> {
      override queryPage(filter?: QueryFilter<Doc>, page?: PageOptions, options?: CallOptions): Promise<QueryPage<Doc>> {
        asked.push(page);
        return super.queryPage(filter, page, options);
      }
    }
    const p = new Watched({ partitionKeyPath: '/t' });
    for (let i = 0; i < 3; i++) await p.create({ id: `a${i}`, t: 'x', n: i });
    const ids: string[] = [];
    for await (const d of p.queryIter(undefined, { pageSize: 2 })) if (ids.push(d.id) > 10) break;
    expect(ids).toEqual(['a0', 'a1', 'a2']);
    expect(asked).toHaveLength(2);
    expect(asked[0]).toEqual({ maxItems: 2, continuation: null });
    expect(asked[1]).toMatchObject({ maxItems: 2, continuation: expect.any(String) });
  });
});

describe('lib/ after the performance work: the survivors of 2026-12-02 (stryk5), message by message', () => {
  /** An object whose `constructor` cannot be read: neither plain nor describable by its class. */
  const unreadable = (): object =>
    Object.create(
      Object.defineProperty({}, 'constructor', {
        get(): never {
          throw new Error('no constructor');
        },
      }),
    ) as object;

  it('an argument whose class cannot be read is named as such, not as its typeof', async () => {
    const p = await provider();
    const what = 'an object that cannot be read (a revoked proxy, or a trap or getter that throws)';
    expect((await rejection(p.create(bad(unreadable())), 'invalid_argument')).message).toBe(`document must be a plain object, got ${what}`);
    expect((await rejection(p.updateIfMatch('a', 'x', bad(unreadable()), { n: 2 }), 'invalid_argument')).message).toBe(
      `expected must be an object like { etag } or { rev }, got ${what}`,
    );
  });

  it('an expected that throws while read: "expected could not be read", the cause kept, nothing written', async () => {
    const p = await provider();
    const boom = new Error('boom');
    const expected = {
      get etag(): string {
        throw boom;
      },
    };
    for (const call of [p.updateIfMatch('a', 'x', bad(expected), { n: 2 }), p.deleteIfMatch('a', 'x', bad(expected))]) {
      const err = await rejection(call, 'invalid_argument');
      expect(err.message).toBe('expected could not be read: boom');
      expect(err.cause).toBe(boom);
    }
    expect((await p.get('a', 'x'))?.n).toBe(1);
  });

  it('values JSON cannot hold, each with its own words: a BigInt, a boxed symbol, a root toJSON answering undefined', async () => {
    const p = await provider();
    expect((await rejection(p.create(bad({ id: 'b', t: 'x', n: 1n })), 'invalid_argument')).message).toBe('document.n is a BigInt, which JSON cannot hold');
    expect((await rejection(p.create(bad({ id: 'b', t: 'x', m: { n: 1n } })), 'invalid_argument')).message).toBe('document.m.n is a BigInt, which JSON cannot hold');
    expect((await rejection(p.create(bad({ id: 'b', t: 'x', s: Object(Symbol('q')) })), 'invalid_argument')).message).toBe(
      'document.s is a boxed symbol, which JSON cannot hold',
    );
    expect((await rejection(p.create(bad({ id: 'b', t: 'x', toJSON: () => undefined })), 'invalid_argument')).message).toBe(
      'document did not serialize to a JSON object',
    );
    expect(await p.get('b', 'x')).toBeNull();
  });

  it('upsert and replace name their argument "document"', async () => {
    const p = await provider();
    expect((await rejection(p.upsert(bad(new Date(0))), 'invalid_argument')).message).toBe('document must be a plain object, got a Date');
    expect((await rejection(p.replace(bad([])), 'invalid_argument')).message).toBe('document must be a plain object, got an array');
  });

  it("a where that is not a plain object is refused with lib/'s message", async () => {
    const p = await provider();
    expect((await rejection(p.query({ where: bad(new Date(0)) }), 'invalid_argument')).message).toBe(
      "query filter: where must be a plain object like { status: 'open' }, got a Date",
    );
  });

  it('a closed provider names queryPage', async () => {
    const p = await provider();
    await p.close();
    expect((await rejection(p.queryPage(), 'invalid_argument')).message).toBe('MemoryProvider.queryPage: the provider is closed; open a new one');
  });

  it("the conditional writes' outcome decoding (the Cosmos provider's path, called from lib/ directly)", () => {
    expect(decodeUpdateIfMatch('{"n":1}')).toStrictEqual({ ok: true, doc: { n: 1 } });
    let err: unknown;
    try {
      decodeDeleteIfMatch(7);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LibError);
    expect((err as LibError).code).toBe('internal');
    expect((err as LibError).message).toBe('the native layer answered an unknown outcome code 7');
  });
});
