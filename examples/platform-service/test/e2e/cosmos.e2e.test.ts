/**
 * The fleet end to end on Cosmos (the test server the shared global setup
 * starts, or a live account: see testing/backends.ts at the root): two service replicas share one
 * set of containers; agents are spread over both.
 */

import { randomUUID } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { checkFleetInvariants } from '../../src/modules/fleet/invariants.js';
import { closeFleetStores, openFleetStores } from '../../src/modules/fleet/stores.js';
import { liveAccount, localServer } from '../../../../testing/backends.mjs';
import { AGENTS, JOBS, KILLS, runAgainst, stopCleanly, TEST_TIMEOUT_MS } from './harness.js';
import { startService, type ServiceProcess } from './processes.js';

const target = liveAccount() ?? localServer();
const endpoint = target?.endpoint;
const key = target?.key;
const DATABASE = 'platform-service-e2e';

let services: ServiceProcess[] = [];
afterEach(async () => {
  await Promise.all(services.map((service) => service.stop()));
  services = [];
});

it.skipIf(endpoint === undefined || key === undefined).each(['split', 'single'] as const)(
  `Cosmos, %s layout, two replicas sharing its containers: ${AGENTS} agents, ${JOBS} jobs, ${KILLS} killed mid-job`,
  { timeout: TEST_TIMEOUT_MS },
  async (layout) => {
    const fleetId = `e2e-${randomUUID()}`;
    const args = ['--provider', 'cosmos', '--endpoint', endpoint ?? '', '--key', key ?? '', '--database', DATABASE, '--fleet-id', fleetId, '--reap-every-ms', '300', '--layout', layout];
    // One after the other: the first creates the containers, the second opens them.
    services = [await startService([...args, '--replica', 'r1'])];
    services.push(await startService([...args, '--replica', 'r2']));
    const report = await runAgainst(services);
    expect(report.problems).toEqual([]);

    // And from the store itself, not through a service.
    const stores = await openFleetStores({
      provider: 'cosmos',
      endpoint: endpoint ?? '',
      key: key ?? '',
      database: DATABASE,
      containerPrefix: 'fleet',
      emulator: target?.emulator ?? false,
      layout,
    });
    const invariants = await checkFleetInvariants(stores, fleetId, Date.now());
    await closeFleetStores(stores);
    expect(invariants.details).toEqual([]);
    expect(invariants.maxRunsPerEpoch).toBe(1);
    await stopCleanly(services);
  },
);
