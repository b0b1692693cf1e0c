/**
 * Claims per second through the fleet service (a bench, not a test):
 * Memory with one replica, Cosmos (the local test server, or
 * COSMOS_ENDPOINT/COSMOS_KEY) with one and two replicas. Concurrent
 * clients claim and complete at once until the queue is empty; reports
 * claims/s, claim latency p50/p99, claim attempts per claim won, and HTTP
 * and store requests per completed job.
 *
 *   pnpm --filter @lysnrai/platform-service bench:serve [-- --jobs 400 --clients 16]
 */

import type { Server } from 'node:https';
import { parseArgs } from 'node:util';
import { liveAccount } from '../../../testing/backends.mjs';
import { EMULATOR_KEY, startCosmosServer, stopServer } from '../../../testing/cosmos-server.mjs';
import { FleetClient } from '../src/agent/client.js';
import { withoutSeparator } from '../src/cli/args.js';
import { startService, type ServiceProcess } from '../test/e2e/processes.js';

const { values } = parseArgs({
  args: withoutSeparator(process.argv.slice(2)),
  options: { jobs: { type: 'string' }, clients: { type: 'string' }, only: { type: 'string' } },
});
const JOBS = Number(values.jobs ?? 300);
const CLIENTS = Number(values.clients ?? 16);

interface Row {
  setup: string;
  claimsPerSecond: number;
  p50: number;
  p99: number;
  attemptsPerWin: number;
  httpPerJob: number;
  storePerJob: number;
}
interface Stats {
  counters: { claimsWon: number; claimAttempts: number };
  storeCalls: Record<string, number>;
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;

async function run(setup: string, services: ServiceProcess[]): Promise<Row> {
  const loader = new FleetClient(services[0]?.url ?? '');
  for (let i = 0; i < JOBS; i += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, JOBS - i) }, (_, k) =>
        loader.enqueue({ engine: 'devin', cwd: '/repo', timeout: '10m', prompt: `bench job ${i + k}` }, `bench-${i + k}`),
      ),
    );
  }
  const latencies: number[] = [];
  const clients = Array.from({ length: CLIENTS }, (_, i) => new FleetClient(services[i % services.length]?.url ?? ''));
  let completed = 0;
  const started = performance.now();
  await Promise.all(
    clients.map(async (client, i) => {
      const agentId = `bench-agent-${i}`;
      for (;;) {
        const t0 = performance.now();
        const claim = await client.claim(agentId);
        latencies.push(performance.now() - t0);
        if (claim === null) return; // the queue is empty: nothing is reaped in a bench run
        const done = await client.complete(agentId, claim.jobId, claim.epoch, 'succeeded');
        if (done.ok) completed += 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const stats = await Promise.all(services.map((s) => new FleetClient(s.url).get<Stats>('/fleet/stats')));
  const won = stats.reduce((n, s) => n + s.counters.claimsWon, 0);
  const attempts = stats.reduce((n, s) => n + s.counters.claimAttempts, 0);
  const storeCalls = stats.reduce((n, s) => n + Object.values(s.storeCalls).reduce((a, b) => a + b, 0), 0);
  const sorted = [...latencies].sort((a, b) => a - b);
  const http = clients.reduce((n, c) => n + c.requests, 0);
  return {
    setup,
    claimsPerSecond: won / seconds,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    attemptsPerWin: attempts / Math.max(1, won),
    // Enqueueing excluded: claim and complete requests (and the final 204s) per job done.
    httpPerJob: http / Math.max(1, completed),
    storePerJob: storeCalls / Math.max(1, completed),
  };
}

async function main(): Promise<void> {
  const live = liveAccount();
  let endpoint = live?.endpoint;
  let key = live?.key;
  let cosmosServer: Server | null = null;
  if (endpoint === undefined || key === undefined) {
    const started = await startCosmosServer();
    cosmosServer = started.server;
    endpoint = started.endpoint;
    key = EMULATOR_KEY;
  }
  const cosmosArgs = (fleetId: string): string[] => ['--provider', 'cosmos', '--endpoint', endpoint ?? '', '--key', key ?? '', '--database', 'platform-service-bench', '--fleet-id', fleetId];
  const setups: Array<[string, () => Promise<ServiceProcess[]>]> = [
    ['memory, 1 replica', async () => [await startService([])]],
    ['cosmos, 1 replica', async () => [await startService([...cosmosArgs(`bench-${Date.now()}`)])]],
    [
      'cosmos, 2 replicas',
      async () => {
        const fleetId = `bench-${Date.now()}`;
        const first = await startService([...cosmosArgs(fleetId)]);
        return [first, await startService([...cosmosArgs(fleetId)])];
      },
    ],
  ];
  const rows: Row[] = [];
  for (const [name, start] of setups) {
    if (values.only !== undefined && !name.startsWith(values.only)) continue;
    const services = await start();
    try {
      rows.push(await run(name, services));
      process.stderr.write(`done: ${name}\n`);
    } finally {
      await Promise.all(services.map((s) => s.stop()));
    }
  }
  if (cosmosServer !== null) await stopServer(cosmosServer);
  const f = (n: number, digits = 1): string => n.toFixed(digits);
  process.stdout.write(`${JOBS} jobs, ${CLIENTS} concurrent clients (claim, then complete at once)\n\n`);
  process.stdout.write('| setup | claims/s | claim p50 ms | claim p99 ms | attempts per claim won | HTTP requests per job | store requests per job |\n|---|---:|---:|---:|---:|---:|---:|\n');
  for (const r of rows) {
    process.stdout.write(`| ${r.setup} | ${f(r.claimsPerSecond, 0)} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.attemptsPerWin, 2)} | ${f(r.httpPerJob, 2)} | ${f(r.storePerJob, 1)} |\n`);
  }
}

await main();
