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

/** Asked for with `--help`: the usage text, printed instead of running. */
export class HelpRequested extends Error {
  override readonly name = 'HelpRequested';
}

export const USAGE = `usage: pnpm demo [options]

Simulates a fleet of agents claiming jobs through the atomic claim, then
checks the invariants (no double assignment, no overlapping lock holders).

  --provider memory|cosmos  where the fleet's documents live (default memory;
                            env FLEET_PROVIDER)
  --endpoint URL            Cosmos account or test server (env COSMOS_ENDPOINT);
                            a loopback host is treated as an emulator
  --key KEY                 Cosmos account key (env COSMOS_KEY)
  --database NAME           Cosmos database (default platform-service;
                            env COSMOS_DATABASE)
  --seed N                  random seed of the simulation (default 7)
  --agents N                agents claiming concurrently (default 12)
  --jobs N                  job specs, the seed spec among them (default 36)
  --delay-ms N              real ms to pause per simulated minute
  --help                    this text
`;

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
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        help: { type: 'boolean' },
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
  } catch (e) {
    throw new ConfigError(`${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
  }
  const { values } = parsed;
  if (values.help === true) throw new HelpRequested(USAGE);
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
