/**
 * The Memory provider against the pure-TypeScript baseline, in one process:
 * ops/s and ratios for get, create and updateIfMatch (awaited), the
 * 1,000-claimer race, two worker threads against one, and memory for 200k
 * documents (each store measured in a child process of its own).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MemoryProvider } from '@bytelyst/datastore';
import { MapProvider } from './baseline.mjs';
import { job, type FleetJob } from './docs.mjs';
import { runWorkers } from '../__test__/fixtures/workers.mjs';

const RUNS = 5;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const fmt = (n: number): string => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2));

interface Store {
  get(id: string, pk: string): Promise<unknown>;
  create(doc: FleetJob): Promise<{ _etag: string }>;
  updateIfMatch(id: string, pk: string, e: { etag?: string; rev?: number }, p: Partial<FleetJob>): Promise<{ ok: boolean; doc?: { _etag: string } }>;
}

const makeNative = (): Store => new MemoryProvider<FleetJob>({ partitionKeyPath: '/tenantId' });
const makeBaseline = (): Store => new MapProvider<FleetJob>('tenantId');

/** ops/s of `op`, median of RUNS runs of `n` awaited calls. */
async function opsPerSec(setup: () => Promise<(i: number) => Promise<unknown>>, n: number): Promise<number> {
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const op = await setup();
    for (let i = 0; i < Math.min(1000, n); i++) await op(i); // warm up
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await op(i);
    rates.push(n / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  return median(rates);
}

const rows: Array<[string, string, string, string, string]> = [];
function row(what: string, native: number, baseline: number, unit: string, goal: string): void {
  const ratio = native / baseline;
  rows.push([what, `${fmt(native)} ${unit}`, `${fmt(baseline)} ${unit}`, `${ratio.toFixed(2)}×`, goal]);
  console.log(`  ${what}: native ${fmt(native)} ${unit}, baseline ${fmt(baseline)} ${unit}, ratio ${ratio.toFixed(2)}×`);
}

async function throughput(size: 300 | 4096): Promise<void> {
  const N = size === 300 ? 50_000 : 20_000;
  for (const [name, make] of [['get', 'get'], ['create', 'create'], ['updateIfMatch', 'uim']] as const) {
    const measure = (factory: () => Store) =>
      opsPerSec(async () => {
        const s = factory();
        if (make === 'create') {
          let k = 0;
          return () => s.create(job(k++, size));
        }
        await s.create(job(0, size));
        if (make === 'get') return () => s.get('job-0', 'tenant-1');
        let etag = (await s.create(job(1, size)))._etag;
        return async (i) => {
          const r = await s.updateIfMatch('job-1', 'tenant-1', { etag }, { leaseEpoch: i, status: 'assigned' });
          if (!r.ok || !r.doc) throw new Error('uncontended updateIfMatch lost');
          etag = r.doc._etag;
        };
      }, N);
    const native = await measure(makeNative);
    const baseline = await measure(makeBaseline);
    // The performance goals are set for the 300 B document only (README, "Performance").
    const goal = size !== 300 || name === 'create' ? '' : name === 'get' ? '≥ 1.0×' : '≥ 1.0× (stretch 1.5×)';
    row(`${name} ${size} B`, native, baseline, 'ops/s', goal);
  }
}

async function claimRace(): Promise<void> {
  const time = async (factory: () => Store): Promise<number> => {
    const times: number[] = [];
    for (let r = -1; r < RUNS; r++) {
      const s = factory();
      const { _etag } = await s.create(job(0, 300));
      const t0 = process.hrtime.bigint();
      const res = await Promise.all(
        Array.from({ length: 1000 }, (_, i) => s.updateIfMatch('job-0', 'tenant-1', { etag: _etag }, { assignedTo: `agent-${i}` })),
      );
      if (r >= 0) times.push(Number(process.hrtime.bigint() - t0) / 1e6); // run -1 warms up
      const winners = res.filter((x) => x.ok).length;
      if (winners !== 1) throw new Error(`race had ${winners} winners`);
    }
    return median(times);
  };
  const native = await time(makeNative);
  const baseline = await time(makeBaseline);
  rows.push(['1,000-claimer race (1 winner)', `${native.toFixed(2)} ms`, `${baseline.toFixed(2)} ms`, `${(native / baseline).toFixed(2)}× time`, '≤ 1.5× time']);
  console.log(`  1,000-claimer race: native ${native.toFixed(2)} ms, baseline ${baseline.toFixed(2)} ms (exactly one winner each run)`);
}

async function threads(): Promise<void> {
  const attempts = 100_000;
  const rate = async (threads: number): Promise<number> => {
    const rates: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const store = `bench-threads-${threads}-${r}-${process.pid}`;
      const p = new MemoryProvider<{ id: string; t: string; n: number }>({ partitionKeyPath: '/t', shared: store });
      for (let w = 0; w < threads; w++) await p.create({ id: `doc-${w}`, t: 'x', n: 0 });
      const res = await runWorkers({ threads, store, docId: 'doc', attempts, mode: 'disjoint' });
      const slowest = Math.max(...res.map((x) => x.elapsedNs)) / 1e9;
      rates.push((threads * attempts) / slowest);
    }
    return median(rates);
  };
  const one = await rate(1);
  const two = await rate(2);
  rows.push(['2 worker threads vs 1 (disjoint docs, get + updateIfMatch)', `${fmt(two)} ops/s`, `${fmt(one)} ops/s (1 thread)`, `${(two / one).toFixed(2)}×`, '≥ 1.6×']);
  console.log(`  threads: 1 → ${fmt(one)} ops/s, 2 → ${fmt(two)} ops/s`);
}

/** Child process: fill a store with 200k × 300 B documents and report memory growth. */
async function memoryChild(kind: string): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage();
  const s = kind === 'native' ? makeNative() : makeBaseline();
  for (let i = 0; i < 200_000; i++) await s.create(job(i, 300));
  gc?.();
  const after = process.memoryUsage();
  // Read the store after measuring, so it cannot be collected before.
  if ((await s.get('job-0', 'tenant-1')) === null) throw new Error('store lost its documents');
  process.stdout.write(JSON.stringify({ rss: after.rss - before.rss, heap: after.heapUsed - before.heapUsed }));
}

function memory(): void {
  const self = fileURLToPath(import.meta.url);
  const measure = (kind: string): { rss: number; heap: number } =>
    JSON.parse(
      execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', self, '--memory-child', kind], { encoding: 'utf8' }),
    ) as { rss: number; heap: number };
  const native = measure('native');
  const baseline = measure('baseline');
  const per = (b: number): string => `${(b / 200_000).toFixed(0)} B/doc`;
  rows.push(['200k × 300 B: RSS growth', per(native.rss), per(baseline.rss), `${(native.rss / baseline.rss).toFixed(2)}×`, '≤ 0.7×']);
  rows.push(['200k × 300 B: V8 heap growth', per(native.heap), per(baseline.heap), '', 'nothing on the V8 heap']);
  console.log(`  memory: native RSS ${per(native.rss)} (heap ${per(native.heap)}), baseline RSS ${per(baseline.rss)} (heap ${per(baseline.heap)})`);
}

export async function benchMemory(): Promise<Array<[string, string, string, string, string]>> {
  console.log(`Memory provider vs pure-TS Map baseline (median of ${RUNS} runs, Node ${process.version})`);
  await throughput(300);
  await throughput(4096);
  await claimRace();
  await threads();
  memory();
  return rows;
}

export function printTable(title: string, table: Array<[string, string, string, string, string]>): void {
  const head: [string, string, string, string, string] = ['case', 'native', 'baseline', 'ratio', 'goal'];
  console.log(`\n### ${title}\n`);
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map(() => '---').join('|')}|`);
  for (const r of table) console.log(`| ${r.join(' | ')} |`);
}

if (process.argv[2] === '--memory-child') {
  await memoryChild(process.argv[3] ?? 'native');
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  printTable('Memory provider', await benchMemory());
}
