/**
 * Linearizability: concurrent clients read one document and write it with
 * `updateIfMatch` on the revision they read; the recorded history (call and
 * return times, answers) must be explainable by some order of atomic steps
 * (`model/linearizability.ts`). The old read → check → await → replace must
 * fail the same check: that is what proves the check can fail.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { describe, expect, inject, it } from 'vitest';
import { CosmosProvider, MemoryProvider } from '@bytelyst/datastore';
import type { BaseDocument, DatastoreProvider } from '@bytelyst/datastore';
import { EMULATOR_KEY } from './setup/cosmos-server.js';
import { checkLinearizable, type HistoryOp } from './model/linearizability.js';

interface Reg extends BaseDocument {
  id: string;
  t: string;
  value: string;
}

type Cas = (p: DatastoreProvider<Reg>, expectRev: number, value: string) => Promise<'ok' | 'conflict'>;

/** The conditional write under test. */
const atomicCas: Cas = async (p, expectRev, value) => ((await p.updateIfMatch('r', 'x', { rev: expectRev }, { value })).ok ? 'ok' : 'conflict');

/** The replaced implementation: read, compare in JS, an await, then an unconditional replace. */
const legacyCas: Cas = async (p, expectRev, value) => {
  const cur = await p.get('r', 'x');
  if (cur === null || cur.rev !== expectRev) return 'conflict';
  await new Promise((resolve) => setImmediate(resolve));
  await p.replace({ ...cur, value });
  return 'ok';
};

/** `clients` loops of read → conditional write, run concurrently; returns the history. */
async function record(p: DatastoreProvider<Reg>, cas: Cas, clients: number, rounds: number): Promise<HistoryOp[]> {
  const history: HistoryOp[] = [];
  const client = async (c: number): Promise<void> => {
    for (let i = 0; i < rounds; i++) {
      let call = performance.now();
      const cur = await p.get('r', 'x');
      if (cur === null) throw new Error('the register vanished');
      history.push({ kind: 'read', call, ret: performance.now(), out: { rev: cur.rev, value: cur.value } });
      // A turn or two between read and write, varied, so clients interleave.
      for (let k = 0; k < (c + i) % 3; k++) await new Promise((resolve) => setImmediate(resolve));
      const value = `c${c}-${i}`;
      call = performance.now();
      const out = await cas(p, cur.rev, value);
      history.push({ kind: 'cas', call, ret: performance.now(), expectRev: cur.rev, value, out });
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  return history;
}

describe('the checker', () => {
  it('accepts a sequential history and rejects a double win, a lost write and a stale read', () => {
    const init = { rev: 1, value: 'init' };
    const seq: HistoryOp[] = [
      { kind: 'cas', call: 0, ret: 1, expectRev: 1, value: 'a', out: 'ok' },
      { kind: 'cas', call: 2, ret: 3, expectRev: 1, value: 'b', out: 'conflict' },
      { kind: 'read', call: 4, ret: 5, out: { rev: 2, value: 'a' } },
    ];
    expect(checkLinearizable(seq, init).linearizable).toBe(true);
    const doubleWin: HistoryOp[] = [
      { kind: 'cas', call: 0, ret: 3, expectRev: 1, value: 'a', out: 'ok' },
      { kind: 'cas', call: 1, ret: 2, expectRev: 1, value: 'b', out: 'ok' },
    ];
    expect(checkLinearizable(doubleWin, init).linearizable).toBe(false);
    const staleRead: HistoryOp[] = [
      { kind: 'cas', call: 0, ret: 1, expectRev: 1, value: 'a', out: 'ok' },
      { kind: 'read', call: 2, ret: 3, out: { rev: 1, value: 'init' } },
    ];
    expect(checkLinearizable(staleRead, init).linearizable).toBe(false);
    // Overlapping, the same read is fine: it may have come first.
    const overlapping: HistoryOp[] = [
      { kind: 'cas', call: 0, ret: 3, expectRev: 1, value: 'a', out: 'ok' },
      { kind: 'read', call: 1, ret: 2, out: { rev: 1, value: 'init' } },
    ];
    expect(checkLinearizable(overlapping, init).linearizable).toBe(true);
    // An unknown outcome may have taken effect, or not.
    const unknown: HistoryOp[] = [
      { kind: 'cas', call: 0, ret: 1, expectRev: 1, value: 'a', out: 'unknown' },
      { kind: 'read', call: 2, ret: 3, out: { rev: 2, value: 'a' } },
    ];
    expect(checkLinearizable(unknown, init).linearizable).toBe(true);
  });
});

const endpoint = inject('cosmosEndpoint');
const backends: Array<[string, () => Promise<DatastoreProvider<Reg>>, number, number]> = [
  ['Memory', async () => new MemoryProvider<Reg>({ partitionKeyPath: '/t' }), 8, 25],
  [
    'Cosmos (test server)',
    async () =>
      CosmosProvider.connect<Reg>({
        endpoint,
        key: EMULATOR_KEY,
        database: 'linearizability',
        container: `c-${randomUUID()}`,
        partitionKeyPath: '/t',
        emulator: true,
        createIfNotExists: true,
      }),
    8,
    8,
  ],
];

for (const [name, open, clients, rounds] of backends) {
  describe(`${name}: read → updateIfMatch histories`, () => {
    it(`${clients} clients × ${rounds} rounds: linearizable`, async () => {
      const p = await open();
      await p.create({ id: 'r', t: 'x', value: 'init' });
      const history = await record(p, atomicCas, clients, rounds);
      const wins = history.filter((o) => o.kind === 'cas' && o.out === 'ok').length;
      expect(wins, 'some writes won').toBeGreaterThan(0);
      expect(history.some((o) => o.kind === 'cas' && o.out === 'conflict'), 'clients contended').toBe(true);
      expect(checkLinearizable(history, { rev: 1, value: 'init' }).linearizable).toBe(true);
      // The final state is the last winning write.
      expect((await p.get('r', 'x'))?.rev).toBe(1 + wins);
    });

    it('negative control: the old read → check → await → replace is not linearizable', async () => {
      const p = await open();
      await p.create({ id: 'r', t: 'x', value: 'init' });
      const history = await record(p, legacyCas, clients, rounds);
      expect(checkLinearizable(history, { rev: 1, value: 'init' }).linearizable).toBe(false);
    });
  });
}
