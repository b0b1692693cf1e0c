/**
 * The fleet demo: a dozen agents work through a few dozen job specs on
 * the Memory provider (or Cosmos with --provider cosmos), crashing and
 * coming back, then the store is checked for double assignments and lock
 * violations. Exits non-zero when an invariant is broken.
 *
 *   pnpm --filter @lysnrai/platform-service demo [-- --agents N --jobs N --replicas N --seed N --provider cosmos --endpoint URL --key KEY --layout split|single]
 */

import { createLegacyFleetRepository } from './modules/fleet/__fixtures__/legacy-repository.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDatastoreError } from '@bytelyst/datastore';
import { ConfigError, HelpRequested, readDemoConfig } from './config.js';
import { violations } from './modules/fleet/invariants.js';
import { openFleetStores } from './modules/fleet/stores.js';
import { Random } from './demo/random.js';
import { progressLine, summaryTable } from './demo/report.js';
import { runSimulation, TICK_MS } from './demo/simulation.js';
import { demoSpecs } from './demo/specs.js';

const out = process.stdout;
const ratio = (a: number, b: number): string => (b === 0 ? '-' : (a / b).toFixed(2));
const percent = (a: number, b: number): string => (b === 0 ? '-' : `${((100 * a) / b).toFixed(1)} %`);
const interactive = out.isTTY === true;

async function main(): Promise<number> {
  const config = readDemoConfig(process.argv.slice(2), process.env, interactive);
  const random = new Random(config.seed);
  const specs = await demoSpecs(config.jobs, random);
  const stores = await openFleetStores(config.store);
  // Memory starts empty; on Cosmos a fleet id of its own keeps runs apart.
  const fleetId = config.store.provider === 'memory' ? 'demo' : `demo-${Date.now().toString(36)}`;
  const lockCount = new Set(specs.map(({ spec }) => spec.lock).filter((lock) => lock !== null)).size;
  out.write(
    `fleet demo on ${config.store.provider} (${config.store.layout ?? 'split'} layout): ${specs.length} jobs (${specs.filter(({ spec }) => spec.lock !== null).length} under ${lockCount} locks, ` +
      `the seed spec among them), ${config.agents} agents over ${config.replicas} replica(s), seed ${config.seed}, 1 tick = ${TICK_MS / 60_000} simulated minute\n`,
  );

  const started = performance.now();
  let lastLogged = 0;
  let lastEvents = '';
  const result = await runSimulation({
    stores,
    fleetId,
    specs,
    agents: config.agents,
    replicas: config.replicas,
    random,
    ...(config.brokenClaims ? { repository: createLegacyFleetRepository(stores) } : {}),
    onTick: async (stats, report) => {
      const line = progressLine(stats, report);
      if (interactive) {
        out.write(`\r${line}`);
        if (config.delayMs > 0) await sleep(config.delayMs);
      } else {
        // In a log: a line when something happened, else one every 20 ticks.
        const events = `${stats.claimsWon}/${stats.succeeded + stats.failed}/${stats.reaped}/${stats.fencedStaleWrites}/${stats.crashes + stats.claimCrashes}`;
        if (events !== lastEvents || stats.ticks - lastLogged >= 20) {
          out.write(`${line}\n`);
          lastLogged = stats.ticks;
          lastEvents = events;
        }
      }
      for (const detail of report.details) out.write(`${interactive ? '\n' : ''}  ! ${detail}\n`);
    },
  });
  if (interactive) out.write('\n');

  const { stats, final } = result;
  const broken = violations(final) + stats.violationsSeen;
  out.write(
    `\n${summaryTable([
      ['jobs', specs.length],
      ['jobs done (succeeded / failed)', `${stats.succeeded + stats.failed} (${stats.succeeded} / ${stats.failed})`],
      ['claims tried', stats.claimsTried],
      ['claims won', stats.claimsWon],
      ['claims tried per claim won', ratio(stats.claimsTried, stats.claimsWon)],
      ['conflicts (lost the race)', stats.conflicts],
      ['refused: lock held', stats.locked],
      ['heartbeats', stats.renewals],
      ['agent crashes (holding / mid-claim)', `${stats.crashes + stats.claimCrashes} (${stats.crashes} / ${stats.claimCrashes})`],
      ['leases reaped', stats.reaped],
      ['crash left-overs repaired', stats.repaired],
      ['fenced stale writes', stats.fencedStaleWrites],
      ['double assignments (runs per job epoch > 1)', final.doubleAssignments],
      ['lock violations (overlapping holders)', final.lockViolations],
      ['epoch regressions', final.epochRegressions],
      ['ticks with a violation', stats.violationsSeen],
      ['agent utilisation (busy agent-ticks / agent-ticks)', percent(stats.busyAgentTicks, stats.ticks * config.agents)],
      ['agent-ticks idle while a job was claimable', stats.idleWhileClaimable],
      ['simulated time (budget)', `${Math.round(result.simulatedMs / 60_000)} min (${result.tickBudget})`],
      ['wall time', `${Math.round(performance.now() - started)} ms`],
    ])}\n`,
  );
  if (!result.allDone) {
    out.write(`FAILED: ${stats.queued + stats.assigned} jobs still open after ${stats.ticks} ticks\n`);
    return 1;
  }
  if (stats.idleWhileClaimable > 0) {
    out.write(`FAILED: agents went without a job ${stats.idleWhileClaimable} times while one was claimable\n`);
    return 1;
  }
  if (broken > 0) {
    out.write(`FAILED: invariants broken\n${final.details.map((d) => `  ${d}`).join('\n')}\n`);
    return 1;
  }
  out.write('invariants hold: every job epoch had at most one run, and no two holders of a lock overlapped\n');
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof HelpRequested) {
      out.write(e.message);
      return;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    if (isDatastoreError(e)) {
      process.stderr.write(`demo failed: ${e.code}: ${e.message}\n`);
      process.exitCode = 1;
      return;
    }
    process.stderr.write(`demo failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
