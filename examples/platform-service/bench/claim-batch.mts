/**
 * A claim as ONE batch (single layout) vs the sequential writes of the
 * split layout (job → run → lease, and the lock first when the spec has
 * one), on Memory and on Cosmos (the local test server, or a live account
 * from COSMOS_ENDPOINT/COSMOS_KEY). A bench, not a test. Two measures:
 *
 *   writes   only the claim's writes, from a job already read: one
 *            `batch` vs `updateIfMatch` + `create` + `upsert`.
 *   claim    `FleetCoordinator.tryClaimJob` end to end (with its reads: the
 *            lock and its holder, and the repair queries of earlier epochs).
 *
 * Claims run one at a time (latency), each on a fresh queued job.
 *
 *   npx tsx bench/claim-batch.mts [--claims N] [--cosmos-claims N] [--only memory|cosmos]
 */

import type { Server } from 'node:https';
import { parseArgs } from 'node:util';
import { liveAccount } from '../../../testing/backends.mjs';
import { EMULATOR_KEY, startCosmosServer, stopServer } from '../../../testing/cosmos-server.mjs';
import { withoutSeparator } from '../src/cli/args.js';
import { ManualClock } from '../src/modules/fleet/clock.js';
import { FleetCoordinator, leaseId, runId } from '../src/modules/fleet/coordinator.js';
import { closeFleetStores, openFleetStores, type FleetLayout, type FleetStoreConfig, type FleetStores } from '../src/modules/fleet/stores.js';
import type { FleetJob } from '../src/modules/fleet/types.js';
import type { Stored } from '@bytelyst/datastore';

const { values } = parseArgs({
  args: withoutSeparator(process.argv.slice(2)),
  options: { claims: { type: 'string' }, 'cosmos-claims': { type: 'string' }, only: { type: 'string' } },
});
const MEMORY_CLAIMS = Number(values.claims ?? 2000);
const COSMOS_CLAIMS = Number(values['cosmos-claims'] ?? 300);

interface Row {
  provider: string;
  layout: FleetLayout;
  measure: string;
  claims: number;
  opsPerSecond: number;
  p50: number;
  p99: number;
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;

async function enqueue(coordinator: FleetCoordinator, n: number, lock: string | null, prefix: string): Promise<Stored<FleetJob>[]> {
  const jobs: Stored<FleetJob>[] = [];
  for (let i = 0; i < n; i += 25) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(25, n - i) }, (_, k) =>
        coordinator.enqueue(
          { name: `${prefix}-${i + k}`, engine: 'devin', cwd: '/repo', yolo: false, lock, timeoutMs: 600_000, prompt: 'bench' },
          `${prefix}-${i + k}`,
        ),
      ),
    );
    jobs.push(...batch);
  }
  return jobs;
}

/** The claim's writes alone, from the job as read: the layout decides one batch or three writes. */
async function claimWrites(stores: FleetStores, fleetId: string, job: Stored<FleetJob>, now: number): Promise<boolean> {
  const epoch = job.leaseEpoch + 1;
  const run = { id: runId(job.id, epoch, 'agent'), fleetId, jobId: job.id, agentId: 'agent', leaseEpoch: epoch, lock: null, startedAt: now, endedAt: null, outcome: 'running' as const, detail: null };
  const lease = { id: leaseId(job.id, epoch), fleetId, jobId: job.id, agentId: 'agent', epoch, acquiredAt: now, expiresAt: now + 600_000, renewals: 0 };
  const patch = { status: 'assigned' as const, assignedTo: 'agent', leaseEpoch: epoch, leaseExpiresAt: now + 600_000, updatedAt: now };
  if (stores.container !== null) {
    const written = await stores.container.batch(fleetId, [
      { kind: 'job', op: { op: 'update', id: job.id, patch, expected: { etag: job._etag, rev: job.rev } } },
      { kind: 'run', op: { op: 'create', doc: run } },
      { kind: 'lease', op: { op: 'create', doc: lease } },
    ]);
    return written.ok;
  }
  const claimed = await stores.jobs.updateIfMatch(job.id, fleetId, { etag: job._etag, rev: job.rev }, patch);
  if (!claimed.ok) return false;
  await stores.runs.create(run);
  await stores.leases.upsert(lease);
  return true;
}

async function measure(
  provider: string,
  layout: FleetLayout,
  measureName: string,
  config: FleetStoreConfig,
  claims: number,
  claimOne: (ctx: { stores: FleetStores; fleetId: string; coordinator: FleetCoordinator; job: Stored<FleetJob>; now: number }) => Promise<boolean>,
  lock: string | null,
): Promise<Row> {
  const stores = await openFleetStores({ ...config, layout });
  const fleetId = `bench-${layout}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const clock = new ManualClock(1_000_000);
  const coordinator = new FleetCoordinator({ stores, fleetId, now: clock.now });
  const jobs = await enqueue(coordinator, claims, lock, 'job');
  // Warm-up: the first requests open connections and create the lock document.
  const warm = await enqueue(coordinator, 5, lock, 'warm');
  for (const job of warm) {
    await claimOne({ stores, fleetId, coordinator, job, now: clock.now() });
    clock.advance(1);
  }
  const latencies: number[] = [];
  const started = performance.now();
  for (const job of jobs) {
    // With a lock, each claim must find it free: end the previous hold by time.
    if (lock !== null) clock.advance(600_001);
    const t0 = performance.now();
    const ok = await claimOne({ stores, fleetId, coordinator, job, now: clock.now() });
    latencies.push(performance.now() - t0);
    if (!ok) throw new Error(`${provider}/${layout}/${measureName}: claim of ${job.id} failed`);
  }
  const elapsed = performance.now() - started;
  await closeFleetStores(stores);
  latencies.sort((a, b) => a - b);
  return { provider, layout, measure: measureName, claims, opsPerSecond: (claims / elapsed) * 1000, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

async function main(): Promise<void> {
  const configs: Array<[string, FleetStoreConfig, number]> = [];
  let cosmosServer: Server | null = null;
  if (values.only !== 'cosmos') configs.push(['memory', { provider: 'memory' }, MEMORY_CLAIMS]);
  if (values.only !== 'memory') {
    const live = liveAccount();
    let endpoint = live?.endpoint;
    let key = live?.key;
    if (endpoint === undefined || key === undefined) {
      const started = await startCosmosServer();
      cosmosServer = started.server;
      endpoint = started.endpoint;
      key = EMULATOR_KEY;
    }
    const emulator = live === null || live === undefined ? true : live.emulator;
    configs.push([
      live ? 'cosmos (live)' : 'cosmos (test server)',
      { provider: 'cosmos', endpoint, key, database: 'platform-service-bench', containerPrefix: 'bench', emulator },
      COSMOS_CLAIMS,
    ]);
  }
  const rows: Row[] = [];
  for (const [provider, config, claims] of configs) {
    for (const layout of ['split', 'single'] as const) {
      rows.push(await measure(provider, layout, 'writes', config, claims, ({ stores, fleetId, job, now }) => claimWrites(stores, fleetId, job, now), null));
      rows.push(
        await measure(provider, layout, 'claim', config, claims, async ({ coordinator, job }) => (await coordinator.tryClaimJob(job, 'agent')).ok, null),
      );
      rows.push(
        await measure(provider, layout, 'claim, locked spec', config, claims, async ({ coordinator, job }) => (await coordinator.tryClaimJob(job, 'agent')).ok, 'bench-lock'),
      );
      process.stderr.write(`done: ${provider} ${layout}\n`);
    }
  }
  if (cosmosServer !== null) await stopServer(cosmosServer);
  const f = (n: number, digits = 2): string => n.toFixed(digits);
  process.stdout.write('Claims one at a time, each of a fresh queued job.\n');
  process.stdout.write('writes = the claim\'s writes only (split: updateIfMatch + create + upsert; single: one batch);\n');
  process.stdout.write('claim = tryClaimJob end to end (split, locked spec: 4 writes; single: 1 batch).\n\n');
  process.stdout.write('| provider | layout | measure | claims | ops/s | p50 ms | p99 ms |\n|---|---|---|---:|---:|---:|---:|\n');
  for (const r of rows) {
    process.stdout.write(`| ${r.provider} | ${r.layout} | ${r.measure} | ${r.claims} | ${f(r.opsPerSecond, 0)} | ${f(r.p50)} | ${f(r.p99)} |\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
