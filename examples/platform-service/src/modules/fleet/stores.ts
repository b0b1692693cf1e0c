/**
 * Where the fleet's documents live, chosen by configuration: Memory (the
 * default) or Cosmos, in one of two layouts.
 *
 * - `split` (the default; the drop-in path): four containers, one per kind
 *   (`${prefix}-jobs`, `-runs`, `-leases`, `-locks`). A claim is up to four
 *   separate writes; a crash between them leaves a half-claim the reaper
 *   repairs (coordinator.ts).
 * - `single`: one container (`${prefix}-docs`) holding every kind under the
 *   fleet's partition key, told apart by `kind` and an id prefix
 *   (single-container.ts). A claim is one `batch`: all or nothing.
 */

import { createProvider, type DatastoreProvider, type ProviderConfig } from '@bytelyst/datastore';
import { type FleetEntity, FleetContainer } from './single-container.js';
import { FLEET_PARTITION_KEY_PATH, type FleetJob, type FleetLease, type FleetLock, type FleetRun } from './types.js';

import { DEFAULT_FLEET_LAYOUT, type FleetLayout } from './layout.js';

export { DEFAULT_FLEET_LAYOUT, FLEET_LAYOUTS, type FleetLayout } from './layout.js';

export interface FleetStores {
  jobs: DatastoreProvider<FleetJob>;
  runs: DatastoreProvider<FleetRun>;
  leases: DatastoreProvider<FleetLease>;
  locks: DatastoreProvider<FleetLock>;
  /** The single layout's container (where a claim is one batch); `null` in the split layout. */
  container: FleetContainer | null;
}

export type FleetStoreConfig = (
  | { provider: 'memory' }
  | {
      provider: 'cosmos';
      endpoint: string;
      key: string;
      database: string;
      /** Prefix of the container names: `${prefix}-jobs`, ... (split) or `${prefix}-docs` (single). */
      containerPrefix: string;
      /** A local emulator or test server (loopback only). */
      emulator: boolean;
    }
) & {
  /** `split` when absent. */
  layout?: FleetLayout;
};

export const layoutOf = (config: FleetStoreConfig): FleetLayout => config.layout ?? DEFAULT_FLEET_LAYOUT;

type ContainerName = 'jobs' | 'runs' | 'leases' | 'locks' | 'docs';

function providerConfig(config: FleetStoreConfig, name: ContainerName): ProviderConfig {
  if (config.provider === 'memory') return { kind: 'memory', partitionKeyPath: FLEET_PARTITION_KEY_PATH };
  return {
    kind: 'cosmos',
    endpoint: config.endpoint,
    key: config.key,
    database: config.database,
    container: `${config.containerPrefix}-${name}`,
    partitionKeyPath: FLEET_PARTITION_KEY_PATH,
    createIfNotExists: true,
    emulator: config.emulator,
  };
}

export async function openFleetStores(config: FleetStoreConfig): Promise<FleetStores> {
  if (layoutOf(config) === 'single') {
    const container = new FleetContainer(await createProvider<FleetEntity>(providerConfig(config, 'docs')));
    return {
      jobs: container.view('job'),
      runs: container.view('run'),
      leases: container.view('lease'),
      locks: container.view('lock'),
      container,
    };
  }
  const [jobs, runs, leases, locks] = await Promise.all([
    createProvider<FleetJob>(providerConfig(config, 'jobs')),
    createProvider<FleetRun>(providerConfig(config, 'runs')),
    createProvider<FleetLease>(providerConfig(config, 'leases')),
    createProvider<FleetLock>(providerConfig(config, 'locks')),
  ]);
  return { jobs, runs, leases, locks, container: null };
}

/** Closes every provider the stores opened (the single layout's container once). */
export async function closeFleetStores(stores: FleetStores): Promise<void> {
  await Promise.all([stores.jobs.close(), stores.runs.close(), stores.leases.close(), stores.locks.close()]);
}
