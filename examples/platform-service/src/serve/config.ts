/**
 * `serve`'s command line: the port, the provider (Memory by default, Cosmos
 * by `--provider cosmos` or FLEET_PROVIDER), the fleet id replicas share.
 */

import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { ConfigError, HelpRequested, LAYOUT_USAGE, readStoreConfig, STORE_OPTIONS, wholeNumber, withoutSeparator } from '../cli/args.js';
import type { FleetStoreConfig } from '../modules/fleet/stores.js';

export interface ServeConfig {
  store: FleetStoreConfig;
  host: string;
  port: number;
  fleetId: string;
  /** How often this replica reaps expired leases (every replica may; the writes are conditional). */
  reapEveryMs: number;
  logLevel: string;
  /** Names this process in the logs. */
  replica: string;
}

export const SERVE_USAGE = `usage: pnpm serve [-- options]

Serves the fleet over HTTP (routes in README.md).

  --port N                  listen port (default 8080; env PORT; 0 picks a free one)
  --host HOST               listen address (default 127.0.0.1; env HOST)
  --provider memory|cosmos  where the fleet's documents live (default memory;
                            env FLEET_PROVIDER)
  --endpoint URL            Cosmos account or test server (env COSMOS_ENDPOINT)
  --key KEY                 Cosmos account key (env COSMOS_KEY)
  --database NAME           Cosmos database (default platform-service; env COSMOS_DATABASE)
${LAYOUT_USAGE}
  --fleet-id ID             the fleet (partition) this service serves; replicas
                            sharing a container must agree (default default; env FLEET_ID)
  --reap-every-ms N         reaper period (default 1000)
  --log-level LEVEL         fatal|error|warn|info|debug|trace (default info; env LOG_LEVEL)
  --replica NAME            this replica's name in the logs (default host:pid)
  --help                    this text
`;

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export function readServeConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ServeConfig {
  let values;
  try {
    ({ values } = parseArgs({
      args: withoutSeparator(argv),
      options: {
        help: { type: 'boolean' },
        ...STORE_OPTIONS,
        host: { type: 'string' },
        port: { type: 'string' },
        'fleet-id': { type: 'string' },
        'reap-every-ms': { type: 'string' },
        'log-level': { type: 'string' },
        replica: { type: 'string' },
      },
      strict: true,
    }));
  } catch (e) {
    throw new ConfigError(`${e instanceof Error ? e.message : String(e)}\n\n${SERVE_USAGE}`);
  }
  if (values.help === true) throw new HelpRequested(SERVE_USAGE);
  const port = wholeNumber('port', values.port ?? env['PORT'], 8080);
  if (port > 65_535) throw new ConfigError(`--port must be at most 65535, got ${port}`);
  const fleetId = values['fleet-id'] ?? env['FLEET_ID'] ?? 'default';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(fleetId)) {
    throw new ConfigError(`--fleet-id must be letters, digits, . _ - (at most 100), got ${JSON.stringify(fleetId)}`);
  }
  const logLevel = values['log-level'] ?? env['LOG_LEVEL'] ?? 'info';
  if (!LOG_LEVELS.has(logLevel)) throw new ConfigError(`--log-level must be one of ${[...LOG_LEVELS].join(', ')}`);
  const reapEveryMs = wholeNumber('reap-every-ms', values['reap-every-ms'], 1_000);
  if (reapEveryMs < 10) throw new ConfigError('--reap-every-ms must be at least 10');
  return {
    store: readStoreConfig(values, env, 'platform-service'),
    host: values.host ?? env['HOST'] ?? '127.0.0.1',
    port,
    fleetId,
    reapEveryMs,
    logLevel,
    replica: values.replica ?? `${hostname()}:${process.pid}`,
  };
}
