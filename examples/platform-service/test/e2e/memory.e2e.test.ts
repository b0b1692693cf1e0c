/**
 * The fleet end to end on Memory: the service as a child process, agent
 * processes that claim, heartbeat and complete, some SIGKILLed mid-job.
 */

import { afterEach, expect, it } from 'vitest';
import { AGENTS, JOBS, KILLS, runAgainst, stopCleanly, TEST_TIMEOUT_MS } from './harness.js';
import { startService, type ServiceProcess } from './processes.js';

let services: ServiceProcess[] = [];
afterEach(async () => {
  await Promise.all(services.map((service) => service.stop()));
  services = [];
});

it.each(['split', 'single'])(`Memory, %s layout, one service: ${AGENTS} agents, ${JOBS} jobs, ${KILLS} killed mid-job`, { timeout: TEST_TIMEOUT_MS }, async (layout) => {
  services = [await startService(['--reap-every-ms', '300', '--layout', layout])];
  const report = await runAgainst(services);
  expect(report.problems).toEqual([]);
  await stopCleanly(services);
});
