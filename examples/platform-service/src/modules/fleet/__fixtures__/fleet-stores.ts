/**
 * The providers the fleet suite runs on. Every suite is written against a
 * factory, so a provider is one more entry here. Memory always runs; the
 * Cosmos leg runs on a live account when COSMOS_ENDPOINT/COSMOS_KEY name
 * one, else on the local test server the shared global setup starts
 * (`testing/backends.ts` at the repository root decides).
 */

import { randomUUID } from 'node:crypto';
import { liveAccount, localServer } from '../../../../../../testing/backends.mjs';
import { openFleetStores, type FleetLayout, type FleetStores } from '../stores.js';

export interface FleetStoreFactory {
  /** `memory`, `cosmos` (the split layout) or `memory/single`, `cosmos/single`. */
  name: string;
  layout: FleetLayout;
  /** Why this leg is skipped, or null when it runs. */
  skip: string | null;
  open(): Promise<FleetStores>;
}

function cosmosFactory(layout: FleetLayout): FleetStoreFactory {
  const target = liveAccount() ?? localServer();
  return {
    name: layout === 'split' ? 'cosmos' : `cosmos/${layout}`,
    layout,
    skip: target ? null : 'no Cosmos backend: neither the test server nor COSMOS_ENDPOINT / COSMOS_KEY',
    open: () =>
      openFleetStores({
        provider: 'cosmos',
        endpoint: target?.endpoint ?? '',
        key: target?.key ?? '',
        database: process.env['COSMOS_DATABASE'] ?? 'platform-service-tests',
        containerPrefix: 'fleet',
        emulator: target?.emulator ?? false,
        layout,
      }),
  };
}

/** Every provider in both layouts: the split layout (four containers) and the single one. */
export const fleetStoreFactories: readonly FleetStoreFactory[] = [
  { name: 'memory', layout: 'split', skip: null, open: () => openFleetStores({ provider: 'memory', layout: 'split' }) },
  cosmosFactory('split'),
  { name: 'memory/single', layout: 'single', skip: null, open: () => openFleetStores({ provider: 'memory', layout: 'single' }) },
  cosmosFactory('single'),
];

/** A fleet id of its own per test, so tests can share containers. */
export const freshFleetId = (): string => `fleet-${randomUUID()}`;
