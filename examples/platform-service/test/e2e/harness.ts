/**
 * What both end-to-end files share: the sizes (FLEET_E2E_AGENTS / _JOBS /
 * _KILLS / _DEADLINE_MS; scripts/e2e-large.sh runs it bigger), the run
 * with its figures, and a clean stop.
 */

import { expect } from 'vitest';
import type { ServiceProcess } from './processes.js';
import { runFleetScenario, type ScenarioReport } from './scenario.js';

const size = (name: string, fallback: number): number => Number(process.env[`FLEET_E2E_${name}`] ?? fallback);
export const AGENTS = size('AGENTS', 20);
export const JOBS = size('JOBS', 40);
export const KILLS = size('KILLS', 5);
export const DEADLINE_MS = size('DEADLINE_MS', 60_000);
export const TEST_TIMEOUT_MS = DEADLINE_MS + 90_000;

/** Runs the scenario against the services; on a problem, shows their last log lines too. */
export async function runAgainst(services: readonly ServiceProcess[]): Promise<ScenarioReport> {
  const report = await runFleetScenario({
    urls: services.map((service) => service.url),
    agents: AGENTS,
    jobs: JOBS,
    kills: KILLS,
    deadlineMs: DEADLINE_MS,
  });
  console.info(`e2e figures: ${JSON.stringify(report.figures)}`);
  if (report.problems.length > 0) {
    for (const service of services) console.error(service.log.slice(-20).join('\n'));
  }
  return report;
}

/** SIGTERM drains and exits 0, having closed the providers. */
export async function stopCleanly(services: readonly ServiceProcess[]): Promise<void> {
  for (const service of services) {
    expect(await service.stop()).toBe(0);
    expect(service.log.some((line) => line.includes('"event":"stopped"'))).toBe(true);
  }
}
