/**
 * Cosmos benchmark: the native provider versus `@azure/cosmos` doing the
 * same work against the same local Cosmos-protocol server (patched
 * @vercel/cosmosdb-server, started here on a free loopback port).
 *
 * - updateIfMatch: native `updateIfMatch({ etag })` on the etag it last
 *   returned, versus `@azure/cosmos` `item.read()` then
 *   `item.replace(body, { accessCondition: { type: 'IfMatch', condition } })`.
 *   The native provider remembers the version it last returned per
 *   document, so a claim on that etag needs no read first; the 412 still
 *   decides on the server (docs/cosmos-outcomes.md).
 * - get: native `get` versus `item.read()`.
 *
 * Each worker owns one ~300 B document (uncontended); concurrency 1 and 32.
 * The clients alternate in rounds (`BENCH_COSMOS_ROUNDS`, default 6).
 * Run alone with `tsx bench/cosmos.mts`.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startCosmosServerProcess } from '../testing/cosmos-server.mjs';
import { openClients } from './clients.mjs';
import { job, type FleetJob } from './docs.mjs';

type Row = [string, string, string, string, string];

interface Stats {
  p50: number;
  p99: number;
  opsPerSec: number;
}

/** Latencies and wall time of the rounds of one case on one client. */
interface Samples {
  lat: number[];
  wallMs: number;
  /** Each round's p50, to give the spread of the ratio between rounds. */
  p50s: number[];
}

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

/** Runs `op` on `concurrency` workers (each with its own state) until `total` ops are done; adds them to `into`. */
async function measure<S>(into: Samples, concurrency: number, total: number, init: (w: number) => Promise<S>, op: (s: S) => Promise<void>): Promise<void> {
  const states = await Promise.all(Array.from({ length: concurrency }, (_, w) => init(w)));
  const lat: number[] = [];
  let left = total;
  const t0 = performance.now();
  await Promise.all(
    states.map(async (s) => {
      while (left > 0) {
        left--;
        const a = performance.now();
        await op(s);
        lat.push(performance.now() - a);
      }
    }),
  );
  into.wallMs += performance.now() - t0;
  into.lat.push(...lat);
  into.p50s.push(quantile(lat.sort((x, y) => x - y), 0.5));
}

const samples = (): Samples => ({ lat: [], wallMs: 0, p50s: [] });

function stats(s: Samples): Stats {
  const lat = [...s.lat].sort((x, y) => x - y);
  return { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), opsPerSec: (lat.length / s.wallMs) * 1000 };
}

/** The lowest and highest of the rounds' p50 ratios, native ÷ `@azure/cosmos`. */
function spread(native: Samples, sdk: Samples): string {
  const r = native.p50s.map((p, i) => p / (sdk.p50s[i] ?? NaN)).sort((x, y) => x - y);
  return `rounds ${(r[0] ?? NaN).toFixed(2)}–${(r[r.length - 1] ?? NaN).toFixed(2)}×`;
}

const ms = (v: number): string => `${v.toFixed(2)} ms`;
const ops = (v: number): string => `${Math.round(v)} op/s`;

/**
 * Each case runs in `rounds` rounds, the two clients alternating (ABBA), so
 * a drift of the machine or of the server's state over the run falls on
 * both alike; the figures pool every round, and the p50 rows give the
 * lowest and highest per-round ratio.
 */
export async function benchCosmos(opsPerCase = 2_000, rounds = Number(process.env['BENCH_COSMOS_ROUNDS'] ?? 6)): Promise<Row[]> {
  const { endpoint, stop } = await startCosmosServerProcess();
  try {
    const clients = await openClients<FleetJob>(endpoint, `bench-${randomUUID()}`);
    const { native, sdk } = clients;

    const rows: Row[] = [];
    let seq = 0;
    for (const concurrency of [1, 32]) {
      const n = Math.max(concurrency, Math.round((concurrency === 1 ? Math.min(opsPerCase, 1_000) : opsPerCase) / rounds));
      const nativeDoc = async (w: number): Promise<FleetJob & { _etag: string }> => native.create(job(++seq * 100 + w, 300));
      const nativeId = async (w: number): Promise<string> => (await nativeDoc(w)).id;
      const cases = {
        nativeUim: (into: Samples, total: number) =>
          measure(into, concurrency, total, async (w) => ({ doc: await nativeDoc(w) }), async (s) => {
            const r = await native.updateIfMatch(s.doc.id, s.doc.tenantId, { etag: s.doc._etag }, { leaseEpoch: s.doc.leaseEpoch + 1 });
            if (!r.ok) throw new Error(`native updateIfMatch: ${r.reason}`);
            s.doc = r.doc;
          }),
        sdkUim: (into: Samples, total: number) =>
          measure(into, concurrency, total, nativeId, async (id) => {
            const item = sdk.item(id, 'tenant-1');
            const { resource } = await item.read<FleetJob & { _etag: string }>();
            if (!resource) throw new Error('@azure/cosmos read: missing');
            await item.replace(
              { ...resource, leaseEpoch: resource.leaseEpoch + 1 },
              { accessCondition: { type: 'IfMatch', condition: resource._etag } },
            );
          }),
        nativeGet: (into: Samples, total: number) =>
          measure(into, concurrency, total, nativeDoc, async (d) => {
            await native.get(d.id, d.tenantId);
          }),
        sdkGet: (into: Samples, total: number) =>
          measure(into, concurrency, total, nativeId, async (id) => {
            await sdk.item(id, 'tenant-1').read();
          }),
      };
      // Warm both clients' connection pools.
      for (const run of Object.values(cases)) await run(samples(), concurrency * 5);

      const got = { nativeUim: samples(), sdkUim: samples(), nativeGet: samples(), sdkGet: samples() };
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? (['native', 'sdk'] as const) : (['sdk', 'native'] as const);
        for (const what of ['Uim', 'Get'] as const) {
          for (const who of order) await cases[`${who}${what}`](got[`${who}${what}`], n);
        }
      }
      const [nUim, sUim, nGet, sGet] = [got.nativeUim, got.sdkUim, got.nativeGet, got.sdkGet].map(stats) as [Stats, Stats, Stats, Stats];

      const c = `c=${concurrency}`;
      const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
      rows.push(
        [`updateIfMatch p50, ${c}`, ms(nUim.p50), ms(sUim.p50), `${ratio(nUim.p50, sUim.p50)} (${spread(got.nativeUim, got.sdkUim)})`, '≤ 1.0× (lower is better)'],
        [`updateIfMatch p99, ${c}`, ms(nUim.p99), ms(sUim.p99), ratio(nUim.p99, sUim.p99), ''],
        [`updateIfMatch throughput, ${c}`, ops(nUim.opsPerSec), ops(sUim.opsPerSec), ratio(nUim.opsPerSec, sUim.opsPerSec), '(higher is better)'],
        [`get p50, ${c}`, ms(nGet.p50), ms(sGet.p50), `${ratio(nGet.p50, sGet.p50)} (${spread(got.nativeGet, got.sdkGet)})`, '≤ 1.0× (lower is better)'],
        [`get p99, ${c}`, ms(nGet.p99), ms(sGet.p99), ratio(nGet.p99, sGet.p99), ''],
        [`get throughput, ${c}`, ops(nGet.opsPerSec), ops(sGet.opsPerSec), ratio(nGet.opsPerSec, sGet.opsPerSec), '(higher is better)'],
      );
    }
    await clients.close();
    return rows;
  } finally {
    await stop();
  }
}

/** The table as markdown. */
export function cosmosMarkdown(rows: Row[], ops: number): string {
  const head: Row = ['case', 'native', '@azure/cosmos', 'ratio', 'goal'];
  return [
    `**Cosmos provider vs \`@azure/cosmos\` (read, then \`replace\` with \`accessCondition: IfMatch\`), same local cosmosdb-server, ${ops.toLocaleString('en-US')} operations per case at c=32 (1,000 at c=1) in alternating rounds**`,
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const ops = Number(process.env.BENCH_COSMOS_OPS ?? 2_000);
  console.log(cosmosMarkdown(await benchCosmos(ops), ops));
}
