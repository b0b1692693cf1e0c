/**
 * Which Cosmos backends the suites run on, decided here and nowhere else:
 *
 * - the local test server, always (the vitest global setup starts it and
 *   announces it in `COSMOS_TEST_ENDPOINT`);
 * - a live Azure Cosmos DB account as well, when `COSMOS_ENDPOINT` and
 *   `COSMOS_KEY` are set.
 *
 * Memory needs no decision: every suite runs on it.
 */
import { EMULATOR_KEY } from './cosmos-server.mjs';

export interface CosmosTarget {
  name: string;
  endpoint: string;
  key: string;
  /** Loopback test server: its self-signed certificate is accepted. */
  emulator: boolean;
  live: boolean;
}

/** The local test server the global setup started, if it did. */
export function localServer(env: NodeJS.ProcessEnv = process.env): CosmosTarget | undefined {
  const endpoint = env['COSMOS_TEST_ENDPOINT'];
  if (endpoint === undefined || endpoint === '') return undefined;
  return { name: 'cosmosdb-server', endpoint, key: EMULATOR_KEY, emulator: true, live: false };
}

/** The live account named by `COSMOS_ENDPOINT` / `COSMOS_KEY`, if both are set. */
export function liveAccount(env: NodeJS.ProcessEnv = process.env): CosmosTarget | undefined {
  const endpoint = env['COSMOS_ENDPOINT'];
  const key = env['COSMOS_KEY'];
  if (endpoint === undefined || endpoint === '' || key === undefined || key === '') return undefined;
  return { name: 'live Azure Cosmos DB', endpoint, key, emulator: false, live: true };
}

/** Every Cosmos backend to run on: the local server, then a live account when given. */
export function cosmosTargets(env: NodeJS.ProcessEnv = process.env): CosmosTarget[] {
  return [localServer(env), liveAccount(env)].filter((t): t is CosmosTarget => t !== undefined);
}
