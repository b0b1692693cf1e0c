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
 * Run alone with `tsx bench/cosmos.mts`.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startCosmosServer, stopServer } from '../testing/cosmos-server.mjs';
import { openClients } from './clients.mjs';
import { job, type FleetJob } from './docs.mjs';

type Row = [string, string, string, string, string];

interface Stats {
  p50: number;
  p99: number;
  opsPerSec: number;
}

/** Runs `op` on `concurrency` workers (each with its own state) until `total` ops are done. */
async function measure<S>(concurrency: number, total: number, init: (w: number) => Promise<S>, op: (s: S) => Promise<void>): Promise<Stats> {
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
  const wall = performance.now() - t0;
  lat.sort((x, y) => x - y);
  const at = (q: number): number => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), opsPerSec: (lat.length / wall) * 1000 };
}

const ms = (v: number): string => `${v.toFixed(2)} ms`;
const ops = (v: number): string => `${Math.round(v)} op/s`;

export async function benchCosmos(opsPerCase = 2_000): Promise<Row[]> {
  const { server, endpoint } = await startCosmosServer();
  try {
    const clients = await openClients<FleetJob>(endpoint, `bench-${randomUUID()}`);
    const { native, sdk } = clients;

    const rows: Row[] = [];
    let seq = 0;
    for (const concurrency of [1, 32]) {
      const n = concurrency === 1 ? Math.min(opsPerCase, 1_000) : opsPerCase;
      // Warm both clients' connection pools.
      await measure(concurrency, concurrency * 5, async (w) => native.create(job(++seq * 100 + w, 300)), async (d) => {
        await native.get(d.id, d.tenantId);
      });
      await measure(concurrency, concurrency * 5, async (w) => (await native.create(job(++seq * 100 + w, 300))).id, async (id) => {
        await sdk.item(id, 'tenant-1').read();
      });

      const nUim = await measure(
        concurrency,
        n,
        async (w) => ({ doc: await native.create(job(++seq * 100 + w, 300)) }),
        async (s) => {
          const r = await native.updateIfMatch(s.doc.id, s.doc.tenantId, { etag: s.doc._etag }, { leaseEpoch: s.doc.leaseEpoch + 1 });
          if (!r.ok) throw new Error(`native updateIfMatch: ${r.reason}`);
          s.doc = r.doc;
        },
      );
      const sUim = await measure(
        concurrency,
        n,
        async (w) => (await native.create(job(++seq * 100 + w, 300))).id,
        async (id) => {
          const item = sdk.item(id, 'tenant-1');
          const { resource } = await item.read<FleetJob & { _etag: string }>();
          if (!resource) throw new Error('@azure/cosmos read: missing');
          await item.replace(
            { ...resource, leaseEpoch: resource.leaseEpoch + 1 },
            { accessCondition: { type: 'IfMatch', condition: resource._etag } },
          );
        },
      );
      const nGet = await measure(concurrency, n, async (w) => native.create(job(++seq * 100 + w, 300)), async (d) => {
        await native.get(d.id, d.tenantId);
      });
      const sGet = await measure(concurrency, n, async (w) => (await native.create(job(++seq * 100 + w, 300))).id, async (id) => {
        await sdk.item(id, 'tenant-1').read();
      });

      const c = `c=${concurrency}`;
      const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
      rows.push(
        [`updateIfMatch p50, ${c}`, ms(nUim.p50), ms(sUim.p50), ratio(nUim.p50, sUim.p50), '≤ 1.0× (lower is better)'],
        [`updateIfMatch p99, ${c}`, ms(nUim.p99), ms(sUim.p99), ratio(nUim.p99, sUim.p99), ''],
        [`updateIfMatch throughput, ${c}`, ops(nUim.opsPerSec), ops(sUim.opsPerSec), ratio(nUim.opsPerSec, sUim.opsPerSec), '(higher is better)'],
        [`get p50, ${c}`, ms(nGet.p50), ms(sGet.p50), ratio(nGet.p50, sGet.p50), '(lower is better)'],
        [`get p99, ${c}`, ms(nGet.p99), ms(sGet.p99), ratio(nGet.p99, sGet.p99), ''],
        [`get throughput, ${c}`, ops(nGet.opsPerSec), ops(sGet.opsPerSec), ratio(nGet.opsPerSec, sGet.opsPerSec), '(higher is better)'],
      );
    }
    await clients.close();
    return rows;
  } finally {
    await stopServer(server);
  }
}

/** The table as markdown. */
export function cosmosMarkdown(rows: Row[], ops: number): string {
  const head: Row = ['case', 'native', '@azure/cosmos', 'ratio', 'goal'];
  return [
    `**Cosmos provider vs \`@azure/cosmos\` (read, then \`replace\` with \`accessCondition: IfMatch\`), same local cosmosdb-server, ${ops.toLocaleString('en-US')} operations per case**`,
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
