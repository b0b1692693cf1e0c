/**
 * The edges a hostile caller finds: ids that would address another
 * document, values that change between a check and a write, options and
 * `this` that are not what they claim, a container that moved under the
 * provider. Each case runs on both providers, which must agree, and each
 * rejected call is checked to have written nothing.
 */
import { randomUUID } from 'node:crypto';
import { scaled } from './setup/scale.js';
import { Agent } from 'node:https';
import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import { CosmosClient } from '@azure/cosmos';
import { CosmosProvider, DatastoreError, MemoryProvider, createProvider } from '@bytelyst/datastore';
import type { BaseDocument, CosmosProviderOptions, DatastoreProvider, Stored } from '@bytelyst/datastore';
import { rejection } from './suites/conformance.js';
import { EMULATOR_KEY } from '../testing/cosmos-server.mjs';
import { FaultProxy } from './setup/fault-proxy.js';
import { runsLeg } from './setup/legs.js';

const endpoint = inject('cosmosEndpoint');

interface Doc extends BaseDocument {
  id: string;
  t: string;
  [field: string]: unknown;
}

const cosmosOptions = (container: string, extra: Partial<CosmosProviderOptions> = {}): CosmosProviderOptions => ({
  endpoint,
  key: EMULATOR_KEY,
  database: 'hardening',
  container,
  partitionKeyPath: '/t',
  emulator: true,
  createIfNotExists: true,
  ...extra,
});

const providers: Array<[string, () => Promise<DatastoreProvider<Doc>>]> = [
  ['Memory', async () => new MemoryProvider<Doc>({ partitionKeyPath: '/t' })],
  ['Cosmos', async () => CosmosProvider.connect<Doc>(cosmosOptions(`c-${randomUUID()}`))],
];

/** Casts a deliberately wrong value past the type checker. */
const bad = <T>(v: unknown): T => v as T;

/** Everything the provider holds, without the fields that change per write. */
async function snapshot(p: DatastoreProvider<Doc>): Promise<unknown[]> {
  const docs = await p.query({ orderBy: { field: 'id' } });
  return docs.map(({ _etag: _e, _ts: _t, ...rest }) => rest).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
}

/** The 1 KiB the providers keep for their own fields out of Cosmos DB's 2 MiB. */
const MAX_BODY_BYTES = 2 * 1024 * 1024 - 1024;

for (const [name, open] of providers.filter(([name]) => runsLeg(name))) {
  describe(`${name}: ids address exactly their own document`, () => {
    it.each([
      ['.', 'a path segment'],
      ['..', 'a path segment'],
      ['a\tb', 'a TAB'],
      ['a\nb', 'an LF'],
      ['a\rb', 'a CR'],
      ['a\u0000b', 'a NUL'],
      ['a\u0085b', 'a C1 control'],
      ['a\ud800', 'a lone high surrogate'],
      ['\udc00a', 'a lone low surrogate'],
      ['trailing ', 'a trailing space'],
    ])('%j (%s) is refused by every method, and its look-alike is untouched', async (id, _why) => {
      const p = await open();
      // The documents a lax provider would reach instead.
      const lookalikes = ['ab', 'a\ufffd', '\ufffda', 'trailing', 'a b'];
      for (const other of lookalikes) await p.create({ id: other, t: 'x', n: 1 });
      const before = await snapshot(p);
      await rejection(p.create({ id, t: 'x' }), 'invalid_argument');
      await rejection(p.upsert({ id, t: 'x' }), 'invalid_argument');
      await rejection(p.replace({ id, t: 'x' }), 'invalid_argument');
      await rejection(p.get(id, 'x'), 'invalid_argument');
      await rejection(p.update(id, 'x', { n: 2 }), 'invalid_argument');
      await rejection(p.updateIfMatch(id, 'x', { rev: 1 }, { n: 2 }), 'invalid_argument');
      await rejection(p.delete(id, 'x'), 'invalid_argument');
      expect(await snapshot(p)).toEqual(before);
    });

    it('the error for a lone surrogate says so, not "must be a string"', async () => {
      const p = await open();
      const err = await rejection(p.get('a\ud800', 'x'), 'invalid_argument');
      expect(err.message).toMatch(/surrogate/);
    });

    it.each(['a%2Fb', '%41', 'a+b', 'a b', "it's", 'a"b', 'a:b;c@d=e&f', '...', 'ü', '\ufffd'])(
      '%j is an ordinary id, distinct from its decoded look-alikes',
      async (id) => {
        const p = await open();
        await p.create({ id, t: 'x', who: 'the real one' });
        for (const other of ['a%2Fb', 'a%252Fb', 'A', 'a b', 'ab', 'a+b', 'a%20b', 'ä', 'it']) {
          if (other !== id) expect(await p.get(other, 'x')).toBeNull();
        }
        expect((await p.get(id, 'x'))?.who).toBe('the real one');
        expect(await p.delete(id, 'x')).toBe(true);
        expect(await p.get(id, 'x')).toBeNull();
      },
    );

    it('a partition key with a lone surrogate is refused, in arguments and in documents', async () => {
      const p = await open();
      await p.create({ id: 'a', t: 'x\ufffd' });
      await rejection(p.get('a', 'x\ud800'), 'invalid_argument');
      await rejection(p.create({ id: 'b', t: 'x\ud800' }), 'invalid_argument');
      await rejection(p.query({ partitionKey: 'x\ud800' }), 'invalid_argument');
      expect((await snapshot(p)).length).toBe(1);
    });

    it('a partition key over 2 KiB is refused before anything is sent', async () => {
      const p = await open();
      const long = 'k'.repeat(100_000);
      await rejection(p.create({ id: 'a', t: long }), 'invalid_argument');
      await rejection(p.get('a', long), 'invalid_argument');
      expect(await snapshot(p)).toEqual([]);
      // 2,048 bytes is the limit, counted in UTF-8 bytes.
      await p.create({ id: 'a', t: 'k'.repeat(2048) });
      await rejection(p.create({ id: 'b', t: 'é'.repeat(1025) }), 'invalid_argument');
    });
  });

  describe(`${name}: a tenant's scope never widens`, () => {
    it.each([null, undefined, NaN, {}])('query({ partitionKey: %s }) is refused, not "every partition"', async (pk) => {
      const p = await open();
      await p.create({ id: 'a', t: 'tenant-1' });
      await p.create({ id: 'b', t: 'tenant-2' });
      await rejection(p.query(bad({ partitionKey: pk })), 'invalid_argument');
    });
  });

  describe(`${name}: the value checked is the value written`, () => {
    it.each([
      ['new Number(NaN)', new Number(NaN)],
      ['new Number(Infinity)', new Number(Infinity)],
      ['Object(1n)', Object(1n)],
      ['a string with a lone surrogate', 'x\ud800'],
      ['a key with a lone surrogate', { 'k\udc00': 1 }],
      ['an ArrayBuffer', new ArrayBuffer(4)],
    ])('%s is refused, naming its path', async (_what, v) => {
      const p = await open();
      const err = await rejection(p.create({ id: 'a', t: 'x', v }), 'invalid_argument');
      expect(err.message).toContain('document.v');
      expect(await snapshot(p)).toEqual([]);
    });

    it('boxed primitives are stored as their primitive', async () => {
      const p = await open();
      const d = await p.create({ id: 'a', t: 'x', n: new Number(3), s: new String('s'), b: new Boolean(false) });
      expect([d.n, d.s, d.b]).toEqual([3, 's', false]);
      expect(await p.get('a', 'x')).toMatchObject({ n: 3, s: 's', b: false });
    });

    it('a getter that answers differently on its second read is read once', async () => {
      const p = await open();
      let reads = 0;
      const doc = { id: 'a', t: 'x' } as Doc;
      Object.defineProperty(doc, 'v', { enumerable: true, get: () => (++reads === 1 ? 1 : NaN) });
      const stored = await p.create(doc);
      expect(reads).toBe(1);
      expect(stored.v).toBe(1);
      expect((await p.get('a', 'x'))?.v).toBe(1);
    });

    it('a toJSON that answers differently on its second call is called once', async () => {
      const p = await open();
      let calls = 0;
      const v = { toJSON: () => (++calls === 1 ? 'ok' : 10n) };
      await p.create({ id: 'a', t: 'x', v });
      expect(calls).toBe(1);
      expect((await p.get('a', 'x'))?.v).toBe('ok');
    });

    it('a throwing getter is the caller\'s invalid_argument, not internal', async () => {
      const p = await open();
      const doc = { id: 'a', t: 'x' } as Doc;
      Object.defineProperty(doc, 'v', {
        enumerable: true,
        get: () => {
          throw new Error('nope');
        },
      });
      const err = await rejection(p.create(doc), 'invalid_argument');
      expect(err.message).toMatch(/nope/);
    });

    it('nesting deeper than 128 levels is refused; 128 is stored', async () => {
      const p = await open();
      const nest = (depth: number): unknown => {
        let v: unknown = 0;
        for (let i = 0; i < depth; i++) v = { v };
        return v;
      };
      // `v` sits at depth 1, so 127 more levels reach depth 128.
      await p.create({ id: 'ok', t: 'x', v: nest(127) });
      const err = await rejection(p.create({ id: 'deep', t: 'x', v: nest(128) }), 'invalid_argument');
      expect(err.message).toMatch(/nested deeper than 128/);
      await rejection(p.create({ id: 'deeper', t: 'x', v: nest(5000) }), 'invalid_argument');
      expect((await snapshot(p)).length).toBe(1);
    });
  });

  describe(`${name}: one size limit and one rule for "_" fields on every provider`, () => {
    it(`a document of exactly ${MAX_BODY_BYTES} bytes is stored; one byte more is too_large`, async () => {
      const p = await open();
      const shell = JSON.stringify({ id: 'a', t: 'x', blob: '' }).length;
      await p.create({ id: 'a', t: 'x', blob: 'b'.repeat(MAX_BODY_BYTES - shell) });
      await rejection(p.create({ id: 'c', t: 'x', blob: 'b'.repeat(MAX_BODY_BYTES - shell + 1) }), 'too_large');
      await rejection(p.update('a', 'x', { more: 1 }), 'too_large');
      expect((await snapshot(p)).length).toBe(1);
    });

    it.each(['_foo', '_dsw', '_'])('a document field %j is refused on every write', async (field) => {
      const p = await open();
      const a = await p.create({ id: 'a', t: 'x' });
      const before = await snapshot(p);
      await rejection(p.create({ id: 'b', t: 'x', [field]: 1 }), 'invalid_argument');
      await rejection(p.upsert({ id: 'a', t: 'x', [field]: 1 }), 'invalid_argument');
      await rejection(p.replace({ ...a, [field]: 1 }), 'invalid_argument');
      await rejection(p.update('a', 'x', { [field]: 1 }), 'invalid_argument');
      expect(await snapshot(p)).toEqual(before);
    });

    it('system fields of a document read back are accepted and replaced', async () => {
      const p = await open();
      const a = await p.create({ id: 'a', t: 'x' });
      const r = await p.replace({ ...a, rev: 99, _etag: 'forged', _ts: 1 } as Stored<Doc>);
      expect(r.rev).toBe(2);
      expect(r._etag).not.toBe('forged');
    });
  });

  describe(`${name}: an argument that throws when it is read is the caller's invalid_argument`, () => {
    // Revoked proxies, proxies whose traps throw, getters that throw, an AbortSignal that is not one:
    // anywhere an argument is looked at, reading it must not surface as `internal` or a bare TypeError.
    const TRAPS = ['get', 'ownKeys', 'getPrototypeOf', 'getOwnPropertyDescriptor'] as const;
    const KEYS = ['id', 't', 'etag', 'rev', 'signal', 'timeoutMs', 'where', 'partitionKey', 'limit', 'maxItems', 'continuation', 'pageSize', 'op', 'doc', 'patch', 'expected', 'orderBy'];
    const hostile: fc.Arbitrary<{ label: string; make: () => unknown }> = fc.oneof(
      fc.constant({ label: 'a revoked proxy', make: () => { const r = Proxy.revocable({}, {}); r.revoke(); return r.proxy; } }),
      fc.subarray([...TRAPS], { minLength: 1 }).map((traps) => ({
        label: `a proxy whose ${traps.join(', ')} trap(s) throw`,
        make: () => new Proxy({ n: 1 }, Object.fromEntries(traps.map((t) => [t, () => { throw new Error(`trap ${t}`); }]))),
      })),
      fc.constantFrom(...KEYS).map((k) => ({
        label: `an object whose ${k} getter throws`,
        make: () => Object.defineProperty({}, k, { enumerable: true, get: () => { throw new Error(`getter ${k}`); } }),
      })),
    );
    type Call = (p: DatastoreProvider<Doc> & { queryPage?: unknown }, v: unknown) => unknown;
    const paged = (p: unknown) => p as CosmosProvider<Doc>;
    const positions: Array<[string, Call]> = [
      ['get(id)', (p, v) => p.get(bad(v), 'x')],
      ['get(partitionKey)', (p, v) => p.get('a', bad(v))],
      ['create(doc)', (p, v) => p.create(bad(v))],
      ['upsert(doc)', (p, v) => p.upsert(bad(v))],
      ['update(patch)', (p, v) => p.update('a', 'x', bad(v))],
      ['updateIfMatch(expected)', (p, v) => p.updateIfMatch('a', 'x', bad(v), { n: 1 })],
      ['deleteIfMatch(expected)', (p, v) => p.deleteIfMatch('a', 'x', bad(v))],
      ['query(filter)', (p, v) => p.query(bad(v))],
      ['query({ where })', (p, v) => p.query(bad({ where: v }))],
      ['queryPage(filter)', (p, v) => paged(p).queryPage(bad(v))],
      ['queryPage(, page)', (p, v) => paged(p).queryPage(undefined, bad(v))],
      ['queryIter(, iter)', async (p, v) => { for await (const _ of paged(p).queryIter(undefined, bad(v))) { /* drain */ } }],
      ['batch(, ops)', (p, v) => p.batch('x', bad(v))],
      ['batch(, [op])', (p, v) => p.batch('x', [bad(v)])],
      ['batch(, [{ expected }])', (p, v) => p.batch('x', [{ op: 'delete', id: 'a', expected: bad(v) }])],
      ['delete(, , options)', (p, v) => p.delete('a', 'x', bad(v))],
      ['update(, , , { signal })', (p, v) => p.update('a', 'x', { n: 1 }, { signal: bad(v) })],
    ];

    it('on every argument, and nothing is written', async () => {
      const p = await open();
      await p.create({ id: 'a', t: 'x', n: 0 });
      const before = await snapshot(p);
      await fc.assert(
        fc.asyncProperty(hostile, fc.constantFrom(...positions), async (h, [where, call]) => {
          const err: unknown = await (async () => call(p, h.make()))().then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err, `${where} given ${h.label}`).toBeInstanceOf(DatastoreError);
          expect((err as DatastoreError).code, `${where} given ${h.label}: ${(err as Error).message}`).toBe('invalid_argument');
        }),
        { numRuns: 150 },
      );
      expect(await snapshot(p)).toEqual(before);
    });

    it('a signal that only poses as an AbortSignal, and a where that is no plain object', async () => {
      const p = await open();
      await p.create({ id: 'a', t: 'x', n: 0 });
      const before = await snapshot(p);
      const poser = Object.create(AbortSignal.prototype) as AbortSignal;
      await rejection(p.update('a', 'x', { n: 1 }, { signal: poser }), 'invalid_argument');
      await rejection(p.get('a', 'x', { signal: poser }), 'invalid_argument');
      // Its getters are not own members: JSON would drop them, and the query would match everything.
      const where = new (class Criteria {
        get n(): number {
          return 5;
        }
      })();
      await rejection(p.query(bad({ where })), 'invalid_argument');
      expect(await snapshot(p)).toEqual(before);
    });
  });

  describe(`${name}: errors blame the right party and say the right thing`, () => {
    it('a detached method or a foreign this is invalid_argument, naming the misuse', async () => {
      const p = await open();
      const { get } = p;
      const err = await rejection(get('a', 'x'), 'invalid_argument');
      expect(err.message).toMatch(/was called on/);
      await rejection(p.create.call({}, { id: 'a', t: 'x' }), 'invalid_argument');
      await rejection(p.updateIfMatch.call(null, 'a', 'x', { rev: 1 }, {}), 'invalid_argument');
    });

    it('expected.rev beyond 2^53 - 1 says where the limit is', async () => {
      const p = await open();
      await p.create({ id: 'a', t: 'x' });
      const err = await rejection(p.updateIfMatch('a', 'x', { rev: 2 ** 53 }, {}), 'invalid_argument');
      expect(err.message).toContain(String(Number.MAX_SAFE_INTEGER));
    });

    it('a bad orderBy.direction is named plainly', async () => {
      const p = await open();
      const err = await rejection(p.query(bad({ orderBy: { field: 'id', direction: 'up' } })), 'invalid_argument');
      expect(err.message).toMatch(/orderBy.direction must be 'asc' or 'desc'/);
      expect(err.message).not.toMatch(/line \d+ column/);
    });
  });
}

describe('options: a misspelt option is refused, not ignored', () => {
  it.each([
    ['MemoryProvider', () => new MemoryProvider(bad({ partitionKeyPath: '/t', shraed: 'x' }))],
    ['createProvider memory', () => createProvider(bad({ kind: 'memory', partitionKeyPath: '/t', shraed: 'x' }))],
    ['CosmosProvider.connect', () => CosmosProvider.connect(bad({ ...cosmosOptions('c-x'), creatIfNotExists: true }))],
  ])('%s', async (_what, make) => {
    const err = await rejection(Promise.resolve().then(make), 'invalid_argument');
    expect(err.message).toMatch(/unknown option "(shraed|creatIfNotExists)"/);
  });

  it.each([
    ['MemoryProvider', (o: unknown) => new MemoryProvider(bad(o))],
    ['createProvider', (o: unknown) => createProvider(bad(o))],
    ['CosmosProvider.connect', (o: unknown) => CosmosProvider.connect(bad(o))],
  ])('%s given options that throw when read is invalid_argument', async (_what, make) => {
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const getter = Object.defineProperty({ kind: 'memory' }, 'partitionKeyPath', { enumerable: true, get: () => { throw new Error('nope'); } });
    for (const o of [revoked.proxy, getter]) await rejection(Promise.resolve().then(() => make(o)), 'invalid_argument');
  });

  it('a partitionKeyPath with a lone surrogate is refused', async () => {
    expect(() => new MemoryProvider({ partitionKeyPath: '/t\ud800' })).toThrow(/surrogate/);
    const err = await rejection(CosmosProvider.connect(cosmosOptions('c-x', { partitionKeyPath: '/t\ud800' })), 'invalid_argument');
    expect(err.message).toMatch(/surrogate/);
  });

  it('a shared store name with a lone surrogate is refused', () => {
    expect(() => new MemoryProvider({ partitionKeyPath: '/t', shared: 's\ud800' })).toThrow(/surrogate/);
  });
});

describe.runIf(runsLeg('Cosmos'))('Cosmos: the provider reads its surroundings', () => {
  // The test server's certificate is self-signed; this admin client only lists and deletes.
  const admin = new CosmosClient({
    endpoint,
    key: EMULATOR_KEY,
    agent: new Agent({ keepAlive: false, rejectUnauthorized: false }),
    connectionPolicy: { enableEndpointDiscovery: false },
  });

  it.each(['..', '.', 'a\nb', 'a\tb', 'x\ud800'])(
    'a database or container named %j is refused before anything is created',
    async (name) => {
      const before = (await admin.databases.readAll().fetchAll()).resources.map((d) => d.id);
      await rejection(CosmosProvider.connect(cosmosOptions('c-ok', { database: name })), 'invalid_argument');
      await rejection(CosmosProvider.connect(cosmosOptions(name)), 'invalid_argument');
      const after = (await admin.databases.readAll().fetchAll()).resources.map((d) => d.id);
      expect(after).toEqual(before);
    },
  );

  it('a container partitioned on another path is refused at connect', async () => {
    const container = `c-${randomUUID()}`;
    await CosmosProvider.connect(cosmosOptions(container));
    const err = await rejection(
      CosmosProvider.connect(cosmosOptions(container, { partitionKeyPath: '/u', createIfNotExists: false })),
      'invalid_argument',
    );
    expect(err.message).toMatch(/partitioned on/);
  });

  it('after the container is deleted, calls fail loudly instead of answering "no such document"', async () => {
    const container = `c-${randomUUID()}`;
    const p = await CosmosProvider.connect<Doc>(cosmosOptions(container));
    const a = await p.create({ id: 'a', t: 'x' });
    await admin.database('hardening').container(container).delete();
    for (const call of [
      () => p.get('a', 'x'),
      () => p.updateIfMatch('a', 'x', { etag: a._etag }, { n: 1 }),
      () => p.delete('a', 'x'),
      () => p.update('a', 'x', { n: 1 }),
      () => p.create({ id: 'b', t: 'x' }),
    ]) {
      const err = await rejection(call(), 'not_found');
      expect(err.message).toMatch(/container or its database does not exist/);
    }
  });

  it('errors caused by a Cosmos response carry its diagnostics', async () => {
    const container = `c-${randomUUID()}`;
    const p = await CosmosProvider.connect<Doc>(cosmosOptions(container));
    await p.create({ id: 'a', t: 'x' });
    const conflict = await rejection(p.create({ id: 'a', t: 'x' }), 'conflict');
    expect(conflict.status).toBe(409);
    expect(conflict.activityId).toMatch(/^[0-9a-f-]{36}$/);
    expect(conflict.requestCharge).toBe(1);
    await admin.database('hardening').container(container).delete();
    const gone = await rejection(p.get('a', 'x'), 'not_found');
    expect([gone.status, gone.subStatus]).toEqual([404, 1003]);
    // Errors the provider raises itself carry none.
    const bad = await rejection(p.get('..', 'x'), 'invalid_argument');
    expect([bad.status, bad.subStatus, bad.activityId, bad.requestCharge]).toEqual([undefined, undefined, undefined, undefined]);
  });

  // 1,000 is still far over the 64 allowed in flight.
  const gets = scaled(10_000, 1_000);
  it(`${gets.toLocaleString('en-US')} concurrent gets keep a bounded number of requests in flight`, async () => {
    const proxy = await FaultProxy.start(Number(new URL(endpoint).port));
    try {
      const p = await CosmosProvider.connect<Doc>({ ...cosmosOptions(`c-${randomUUID()}`), endpoint: proxy.endpoint });
      await p.create({ id: 'a', t: 'x' });
      const got = await Promise.all(Array.from({ length: gets }, () => p.get('a', 'x')));
      expect(got.every((d) => d?.id === 'a')).toBe(true);
      expect(proxy.maxInFlight).toBeGreaterThan(1);
      expect(proxy.maxInFlight).toBeLessThanOrEqual(64);
    } finally {
      await proxy.close();
    }
  });
});
