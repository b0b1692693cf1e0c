/**
 * Which provider the fleet runs on, from flags and the environment:
 * `--provider memory` (the default) or `--provider cosmos` with
 * `--endpoint`/`--key` (or COSMOS_ENDPOINT/COSMOS_KEY).
 */

import { parseArgs } from 'node:util';
import { ConfigError, HelpRequested, LAYOUT_USAGE, readStoreConfig, STORE_OPTIONS, wholeNumber, withoutSeparator } from './cli/args.js';
import type { FleetStoreConfig } from './modules/fleet/stores.js';

export { ConfigError, HelpRequested } from './cli/args.js';

export interface DemoConfig {
  store: FleetStoreConfig;
  seed: number;
  agents: number;
  jobs: number;
  /** Pickers (service replicas) the agents are spread over. */
  replicas: number;
  /** Real milliseconds to pause per simulated tick, so a person can watch. */
  delayMs: number;
  /** Claims through the replaced read → check → write repository (a negative control). */
  brokenClaims: boolean;
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
${LAYOUT_USAGE}
  --seed N                  random seed of the simulation (default 7)
  --agents N                agents claiming concurrently (default 12)
  --jobs N                  job specs, the seed spec among them (default 36)
  --replicas N              service replicas the agents are spread over, each
                            picking jobs on its own (default 1)
  --delay-ms N              real ms to pause per simulated minute
  --broken-claims           claim with the replaced read -> check -> write code
                            instead of the atomic one (split layout): the
                            invariants should break and the demo exit 1
  --help                    this text
`;

export function readDemoConfig(argv: readonly string[], env: NodeJS.ProcessEnv, interactive: boolean): DemoConfig {
  let parsed;
  try {
    parsed = parseArgs({
      args: withoutSeparator(argv),
      options: {
        help: { type: 'boolean' },
        ...STORE_OPTIONS,
        seed: { type: 'string' },
        agents: { type: 'string' },
        jobs: { type: 'string' },
        replicas: { type: 'string' },
        'delay-ms': { type: 'string' },
        'broken-claims': { type: 'boolean' },
      },
      strict: true,
    });
  } catch (e) {
    throw new ConfigError(`${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
  }
  const { values } = parsed;
  if (values.help === true) throw new HelpRequested(USAGE);
  const store = readStoreConfig(values, env, 'platform-service');
  return {
    store,
    seed: wholeNumber('seed', values.seed, 7),
    agents: Math.max(1, wholeNumber('agents', values.agents, 12)),
    jobs: Math.max(1, wholeNumber('jobs', values.jobs, 36)),
    replicas: Math.max(1, wholeNumber('replicas', values.replicas, 1)),
    delayMs: wholeNumber('delay-ms', values['delay-ms'], interactive ? 15 : 0),
    brokenClaims: values['broken-claims'] === true,
  };
}
