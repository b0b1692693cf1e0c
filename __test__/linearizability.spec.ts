/**
 * Linearizability: concurrent clients call the provider on a few documents
 * (reads, conditional and unconditional writes, creates, deletes) and the
 * recorded history (call and return times, answers, the documents writes
 * returned) must be explainable by some order of atomic steps
 * (`model/linearizability.ts`). On Memory the clients run on worker threads
 * over one shared store; on Cosmos, through two providers, one of them
 * behind a proxy that drops responses and resets connections. The old
 * read → check → await → replace must fail the same check: that is what
 * proves the check can fail.
 *
 * Sizes here are small for the test command; `scripts/linearizability.sh`
 * runs them larger (LIN_SCALE).
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CosmosProvider, MemoryProvider } from '@bytelyst/datastore';
import type { CosmosProviderOptions, DatastoreProvider } from '@bytelyst/datastore';
import { EMULATOR_KEY } from '../testing/cosmos-server.mjs';
import { FaultProxy } from './setup/fault-proxy.js';
import { checkLinearizable, checkPerKey, type DocState, type HistoryOp } from './model/linearizability.js';
import { legacyIfMatch, rng, runClient, type ClientOptions, type Reg } from './model/history-client.js';
import { runHistoryWorkers } from './fixtures/history-workers.mjs';

const scale = Number(process.env.LIN_SCALE ?? 1);
const seed = Number(process.env.LIN_SEED ?? 20261125);
const keys = ['a', 'b'];

const op = (action: HistoryOp['action'], out: HistoryOp['out'], call: number, ret: number, seen?: DocState): HistoryOp => ({
  key: 'r',
  call,
  ret,
  action,
  out,
  ...(seen !== undefined ? { seen } : {}),
});

describe('the checker', () => {
  const init = { rev: 1, value: 'init' };
  const cas = (expectRev: number, value: string): HistoryOp['action'] => ({ kind: 'updateIfMatch', expectRev, value });

  it('accepts a sequential history and rejects a double win, a stale read and a wrong returned version', () => {
    expect(
      checkLinearizable(
        [
          op(cas(1, 'a'), 'ok', 0, 1, { rev: 2, value: 'a' }),
          op(cas(1, 'b'), 'conflict', 2, 3),
          op({ kind: 'read' }, 'ok', 4, 5, { rev: 2, value: 'a' }),
        ],
        init,
      ).linearizable,
    ).toBe(true);
    const doubleWin = [op(cas(1, 'a'), 'ok', 0, 3, { rev: 2, value: 'a' }), op(cas(1, 'b'), 'ok', 1, 2, { rev: 2, value: 'b' })];
    expect(checkLinearizable(doubleWin, init).linearizable).toBe(false);
    const staleRead = [op(cas(1, 'a'), 'ok', 0, 1, { rev: 2, value: 'a' }), op({ kind: 'read' }, 'ok', 2, 3, init)];
    expect(checkLinearizable(staleRead, init).linearizable).toBe(false);
    // `ok` answered with another writer's later version.
    const foreign = [op(cas(1, 'a'), 'ok', 0, 3, { rev: 3, value: 'b' }), op({ kind: 'update', value: 'b' }, 'ok', 1, 2, { rev: 3, value: 'b' })];
    expect(checkLinearizable(foreign, init).linearizable).toBe(false);
  });

  it('lets overlapping operations go either way and an unknown write take effect or not', () => {
    expect(checkLinearizable([op(cas(1, 'a'), 'ok', 0, 3, { rev: 2, value: 'a' }), op({ kind: 'read' }, 'ok', 1, 2, init)], init).linearizable).toBe(true);
    expect(checkLinearizable([op(cas(1, 'a'), 'unknown', 0, 1), op({ kind: 'read' }, 'ok', 2, 3, { rev: 2, value: 'a' })], init).linearizable).toBe(true);
    expect(checkLinearizable([op(cas(1, 'a'), 'unknown', 0, 1), op({ kind: 'read' }, 'ok', 2, 3, init)], init).linearizable).toBe(true);
  });

  it('knows creates, deletes and their refusals', () => {
    const lostDelete = [op({ kind: 'delete' }, 'false', 0, 1), op({ kind: 'read' }, 'ok', 2, 3, null)];
    // "nothing to delete" while the document was there: wrong.
    expect(checkLinearizable(lostDelete, init).linearizable).toBe(false);
    const recreated = [
      op({ kind: 'delete' }, 'ok', 0, 1),
      op({ kind: 'create', value: 'c' }, 'ok', 2, 3, { rev: 1, value: 'c' }),
      op({ kind: 'deleteIfMatch', expectRev: 2 }, 'conflict', 4, 5),
      op({ kind: 'update', value: 'd' }, 'ok', 6, 7, { rev: 2, value: 'd' }),
      op({ kind: 'replace', value: 'e' }, 'not_found', 8, 11),
      op({ kind: 'delete' }, 'ok', 9, 10),
    ];
    expect(checkLinearizable(recreated, init).linearizable).toBe(true);
    // A create that came back after another client deleted it.
    const doubleCreate = [
      op({ kind: 'create', value: 'c' }, 'ok', 0, 5, { rev: 1, value: 'c' }),
      op({ kind: 'delete' }, 'ok', 1, 2),
      op({ kind: 'read' }, 'ok', 3, 4, { rev: 1, value: 'c' }),
      op({ kind: 'read' }, 'ok', 6, 7, null),
    ];
    expect(checkLinearizable(doubleCreate, null).linearizable).toBe(false);
  });
});

/** Client options for `n` clients named `prefix…`, every seed derived from the suite's. */
function clients(prefix: string, n: number, ops: number, mix: ClientOptions['mix'], extra: Partial<ClientOptions> = {}): ClientOptions[] {
  const r = rng(seed + prefix.length * 7919 + n);
  return Array.from({ length: n }, (_, c) => ({ client: `${prefix}${c}`, keys, ops, seed: Math.floor(r() * 2 ** 31), mix, ...extra }));
}

async function seedDocs(p: DatastoreProvider<Reg>): Promise<void> {
  for (const id of keys) await p.create({ id, t: 'x', value: 'init' } as Reg);
}

function verdicts(history: HistoryOp[]): { linearizable: boolean; sizes: Record<string, number> } {
  const v = checkPerKey(history, () => ({ rev: 1, value: 'init' }));
  // LIN_DUMP=<file>: a failing document's history, for reading.
  const dump = process.env['LIN_DUMP'];
  for (const [key, verdict] of v) {
    if (!verdict.linearizable && dump !== undefined) {
      writeFileSync(dump, JSON.stringify(history.filter((o) => o.key === key).sort((a, b) => a.call - b.call), null, 1));
    }
  }
  const sizes: Record<string, number> = {};
  for (const k of keys) sizes[k] = history.filter((o) => o.key === k).length;
  return { linearizable: [...v.values()].every((x) => x.linearizable), sizes };
}

describe('Memory: histories across worker threads on one shared store', () => {
  it(`4 threads × 2 clients × ${40 * scale} calls of every kind: linearizable`, async () => {
    const store = `lin-${randomUUID()}`;
    const p = new MemoryProvider<Reg>({ partitionKeyPath: '/t', shared: store });
    await seedDocs(p);
    const history = await runHistoryWorkers(
      store,
      Array.from({ length: 4 }, (_, t) => clients(`t${t}c`, 2, 40 * scale, 'all')),
    );
    expect(history.length).toBeGreaterThan(0);
    expect(history.some((o) => o.action.kind === 'delete' && o.out === 'ok'), 'deletes happened').toBe(true);
    expect(history.some((o) => o.action.kind === 'updateIfMatch' && o.out === 'conflict'), 'clients contended').toBe(true);
    expect(verdicts(history).linearizable).toBe(true);
    MemoryProvider.dropShared(store);
  });

  it('negative control: the old read → check → await → replace on worker threads is not linearizable', async () => {
    const store = `lin-${randomUUID()}`;
    const p = new MemoryProvider<Reg>({ partitionKeyPath: '/t', shared: store });
    await seedDocs(p);
    // The legacy write is a function: it cannot cross to a worker, so its clients run here, 8 at once.
    const history = (await Promise.all(clients('legacy', 8, 30, 'cas', { keys: ['a'], ifMatch: legacyIfMatch }).map((c) => runClient(p, c)))).flat();
    expect(verdicts(history).linearizable).toBe(false);
    MemoryProvider.dropShared(store);
  });
});

const endpoint = inject('cosmosEndpoint');
const upstreamPort = Number(new URL(endpoint).port);

describe('Cosmos (test server): histories through two providers', () => {
  let proxy: FaultProxy;
  const open = (at: string, container: string): Promise<CosmosProvider<Reg>> =>
    CosmosProvider.connect<Reg>({
      endpoint: at,
      key: EMULATOR_KEY,
      database: 'linearizability',
      container,
      partitionKeyPath: '/t',
      emulator: true,
      createIfNotExists: true,
    } satisfies CosmosProviderOptions);

  beforeAll(async () => {
    proxy = await FaultProxy.start(upstreamPort);
  });
  afterAll(async () => {
    await proxy.close();
  });

  async function run(withFaults: boolean, perProvider: number, ops: number): Promise<HistoryOp[]> {
    const container = `c-${randomUUID()}`;
    const a = await open(endpoint, container);
    const b = await open(withFaults ? proxy.endpoint : endpoint, container);
    await seedDocs(a);
    if (withFaults) {
      // 3% of document requests lost before the server sees them, 3% of responses lost after it applied them.
      const draw = rng(seed ^ 0x5eed);
      const docs = (req: { url: string }): boolean => /\/docs(\/|$)/.test(req.url);
      proxy.arm({ match: (req) => docs(req) && draw() < 0.03, fault: 'reset', times: Infinity });
      proxy.arm({ match: (req) => docs(req) && draw() < 0.03, fault: 'drop-response', times: Infinity });
    }
    try {
      const histories = await Promise.all([
        ...clients('a', perProvider, ops, 'all').map((c) => runClient(a, c)),
        ...clients('b', perProvider, ops, 'all').map((c) => runClient(b, c)),
      ]);
      return histories.flat();
    } finally {
      proxy.disarm();
      await a.close();
      await b.close();
    }
  }

  it(`fault-free: 2 providers × 4 clients × ${15 * scale} calls of every kind: linearizable, and no outcome unknown`, async () => {
    const history = await run(false, 4, 15 * scale);
    const v = verdicts(history);
    expect(v.linearizable).toBe(true);
    expect(history.filter((o) => o.out === 'unknown'), 'a healthy server leaves no outcome unknown').toEqual([]);
  });

  it(`through a proxy dropping 3% of requests and 3% of responses: linearizable`, async () => {
    const fired = proxy.fired.length;
    const history = await run(true, 4, 15 * scale);
    expect(proxy.fired.length - fired, 'faults fired').toBeGreaterThan(0);
    expect(verdicts(history).linearizable).toBe(true);
  });

  it('negative control: the old read → check → await → replace is not linearizable', async () => {
    const container = `c-${randomUUID()}`;
    const p = await open(endpoint, container);
    await seedDocs(p);
    const history = (await Promise.all(clients('legacy', 8, 16, 'cas', { keys: ['a'], ifMatch: legacyIfMatch }).map((c) => runClient(p, c)))).flat();
    await p.close();
    expect(verdicts(history).linearizable).toBe(false);
  });
});
