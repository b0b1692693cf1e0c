/**
 * The providers the fleet suite runs on. Every suite is written against a
 * factory, so a provider is one more entry here. Memory always runs; the
 * Cosmos leg runs when an endpoint is configured (a live account via
 * COSMOS_ENDPOINT/COSMOS_KEY, or the local test server a globalSetup
 * starts and announces through the same variables).
 */

import { randomUUID } from 'node:crypto';
import { openFleetStores, type FleetStores } from '../stores.js';

export interface FleetStoreFactory {
  name: string;
  /** Why this leg is skipped, or null when it runs. */
  skip: string | null;
  open(): Promise<FleetStores>;
}

const isLoopback = (endpoint: string): boolean => {
  try {
    const host = new URL(endpoint).hostname;
    return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
  } catch {
    return false;
  }
};

function cosmosFactory(): FleetStoreFactory {
  const endpoint = process.env['COSMOS_ENDPOINT'];
  const key = process.env['COSMOS_KEY'];
  const configured = endpoint !== undefined && endpoint !== '' && key !== undefined && key !== '';
  return {
    name: 'cosmos',
    skip: configured ? null : 'COSMOS_ENDPOINT / COSMOS_KEY not set',
    open: () =>
      openFleetStores({
        provider: 'cosmos',
        endpoint: endpoint ?? '',
        key: key ?? '',
        database: process.env['COSMOS_DATABASE'] ?? 'platform-service-tests',
        containerPrefix: 'fleet',
        emulator: isLoopback(endpoint ?? ''),
      }),
  };
}

export const fleetStoreFactories: readonly FleetStoreFactory[] = [
  { name: 'memory', skip: null, open: () => openFleetStores({ provider: 'memory' }) },
  cosmosFactory(),
];

/** A fleet id of its own per test, so tests can share containers. */
export const freshFleetId = (): string => `fleet-${randomUUID()}`;
