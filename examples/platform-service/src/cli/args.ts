/**
 * What the demo, `serve` and the agent CLI share on their command lines:
 * the `--` pnpm 10 hands a script, whole-number flags, and the provider
 * flags (`--provider memory|cosmos --endpoint --key --database`).
 */

import { DEFAULT_FLEET_LAYOUT, type FleetLayout } from '../modules/fleet/layout.js';
import type { FleetStoreConfig } from '../modules/fleet/stores.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Asked for with `--help`: the usage text, printed instead of running. */
export class HelpRequested extends Error {
  override readonly name = 'HelpRequested';
}

/**
 * `pnpm --filter x demo -- --agents 5` runs the script with `-- --agents 5`:
 * pnpm 10 passes the separator on. A leading `--` means nothing to us.
 */
export function withoutSeparator(argv: readonly string[]): string[] {
  return argv[0] === '--' ? argv.slice(1) : [...argv];
}

export function wholeNumber(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) {
    throw new ConfigError(`--${name} must be a whole number, got ${JSON.stringify(value)}`);
  }
  return n;
}

export const isLoopback = (endpoint: string): boolean => {
  const host = new URL(endpoint).hostname;
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
};

/** The provider flags as `parseArgs` declares them. */
export const STORE_OPTIONS = {
  provider: { type: 'string' },
  endpoint: { type: 'string' },
  key: { type: 'string' },
  database: { type: 'string' },
  layout: { type: 'string' },
} as const;

/** The usage lines of `--layout`, shared by the demo and `serve`. */
export const LAYOUT_USAGE = `  --layout split|single     split: jobs, runs, leases, locks in four containers
                            (default; the drop-in path); single: one container,
                            a claim is one batch (env FLEET_LAYOUT)`;

export interface StoreFlags {
  provider?: string | undefined;
  endpoint?: string | undefined;
  key?: string | undefined;
  database?: string | undefined;
  layout?: string | undefined;
}

function readLayout(flags: StoreFlags, env: NodeJS.ProcessEnv): FleetLayout {
  const layout = flags.layout ?? env['FLEET_LAYOUT'] ?? DEFAULT_FLEET_LAYOUT;
  if (layout !== 'split' && layout !== 'single') {
    throw new ConfigError(`--layout must be split or single, got ${JSON.stringify(layout)}`);
  }
  return layout;
}

/** Flags first, then FLEET_PROVIDER / FLEET_LAYOUT / COSMOS_ENDPOINT / COSMOS_KEY / COSMOS_DATABASE; Memory, split, by default. */
export function readStoreConfig(flags: StoreFlags, env: NodeJS.ProcessEnv, defaultDatabase: string): FleetStoreConfig {
  const provider = flags.provider ?? env['FLEET_PROVIDER'] ?? 'memory';
  const layout = readLayout(flags, env);
  if (provider === 'memory') return { provider: 'memory', layout };
  if (provider !== 'cosmos') throw new ConfigError(`--provider must be memory or cosmos, got ${JSON.stringify(provider)}`);
  const endpoint = flags.endpoint ?? env['COSMOS_ENDPOINT'];
  const key = flags.key ?? env['COSMOS_KEY'];
  if (endpoint === undefined || key === undefined || endpoint === '' || key === '') {
    throw new ConfigError('--provider cosmos needs --endpoint and --key (or COSMOS_ENDPOINT and COSMOS_KEY)');
  }
  let emulator: boolean;
  try {
    emulator = isLoopback(endpoint);
  } catch {
    throw new ConfigError(`--endpoint is not a URL: ${JSON.stringify(endpoint)}`);
  }
  return {
    provider: 'cosmos',
    endpoint,
    key,
    database: flags.database ?? env['COSMOS_DATABASE'] ?? defaultDatabase,
    containerPrefix: 'fleet',
    emulator,
    layout,
  };
}
