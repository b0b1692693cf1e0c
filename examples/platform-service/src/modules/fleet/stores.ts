/**
 * The fleet's four containers, each a provider from `@bytelyst/datastore`
 * chosen by configuration (Memory by default).
 */

import { createProvider, type DatastoreProvider, type ProviderConfig } from '@bytelyst/datastore';
import { FLEET_PARTITION_KEY_PATH, type FleetJob, type FleetLease, type FleetLock, type FleetRun } from './types.js';

export interface FleetStores {
  jobs: DatastoreProvider<FleetJob>;
  runs: DatastoreProvider<FleetRun>;
  leases: DatastoreProvider<FleetLease>;
  locks: DatastoreProvider<FleetLock>;
}

export type FleetStoreConfig =
  | { provider: 'memory' }
  | {
      provider: 'cosmos';
      endpoint: string;
      key: string;
      database: string;
      /** Prefix of the four container names: `${prefix}-jobs`, ... */
      containerPrefix: string;
      /** A local emulator or test server (loopback only). */
      emulator: boolean;
    };

const KINDS = ['jobs', 'runs', 'leases', 'locks'] as const;

function providerConfig(config: FleetStoreConfig, kind: (typeof KINDS)[number]): ProviderConfig {
  if (config.provider === 'memory') return { kind: 'memory', partitionKeyPath: FLEET_PARTITION_KEY_PATH };
  return {
    kind: 'cosmos',
    endpoint: config.endpoint,
    key: config.key,
    database: config.database,
    container: `${config.containerPrefix}-${kind}`,
    partitionKeyPath: FLEET_PARTITION_KEY_PATH,
    createIfNotExists: true,
    emulator: config.emulator,
  };
}

export async function openFleetStores(config: FleetStoreConfig): Promise<FleetStores> {
  const [jobs, runs, leases, locks] = await Promise.all([
    createProvider<FleetJob>(providerConfig(config, 'jobs')),
    createProvider<FleetRun>(providerConfig(config, 'runs')),
    createProvider<FleetLease>(providerConfig(config, 'leases')),
    createProvider<FleetLock>(providerConfig(config, 'locks')),
  ]);
  return { jobs, runs, leases, locks };
}
