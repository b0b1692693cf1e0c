/**
 * Which provider the fleet runs on, from flags and the environment:
 * `--provider memory` (the default) or `--provider cosmos` with
 * `--endpoint`/`--key` (or COSMOS_ENDPOINT/COSMOS_KEY).
 */

import { parseArgs } from 'node:util';
import type { FleetStoreConfig } from './modules/fleet/stores.js';

export interface DemoConfig {
  store: FleetStoreConfig;
  seed: number;
  agents: number;
  jobs: number;
  /** Real milliseconds to pause per simulated tick, so a person can watch. */
  delayMs: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const isLoopback = (endpoint: string): boolean => {
  const host = new URL(endpoint).hostname;
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
};

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`--${name} must be a whole number, got ${JSON.stringify(value)}`);
  return n;
}

export function readDemoConfig(argv: readonly string[], env: NodeJS.ProcessEnv, interactive: boolean): DemoConfig {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      provider: { type: 'string' },
      endpoint: { type: 'string' },
      key: { type: 'string' },
      database: { type: 'string' },
      seed: { type: 'string' },
      agents: { type: 'string' },
      jobs: { type: 'string' },
      'delay-ms': { type: 'string' },
    },
    strict: true,
  });
  const provider = values.provider ?? env['FLEET_PROVIDER'] ?? 'memory';
  let store: FleetStoreConfig;
  if (provider === 'memory') {
    store = { provider: 'memory' };
  } else if (provider === 'cosmos') {
    const endpoint = values.endpoint ?? env['COSMOS_ENDPOINT'];
    const key = values.key ?? env['COSMOS_KEY'];
    if (endpoint === undefined || key === undefined) {
      throw new ConfigError('--provider cosmos needs --endpoint and --key (or COSMOS_ENDPOINT and COSMOS_KEY)');
    }
    let emulator: boolean;
    try {
      emulator = isLoopback(endpoint);
    } catch {
      throw new ConfigError(`--endpoint is not a URL: ${JSON.stringify(endpoint)}`);
    }
    store = {
      provider: 'cosmos',
      endpoint,
      key,
      database: values.database ?? env['COSMOS_DATABASE'] ?? 'platform-service',
      containerPrefix: 'fleet',
      emulator,
    };
  } else {
    throw new ConfigError(`--provider must be memory or cosmos, got ${JSON.stringify(provider)}`);
  }
  return {
    store,
    seed: positiveInt('seed', values.seed, 7),
    agents: Math.max(1, positiveInt('agents', values.agents, 12)),
    jobs: Math.max(1, positiveInt('jobs', values.jobs, 36)),
    delayMs: positiveInt('delay-ms', values['delay-ms'], interactive ? 15 : 0),
  };
}
