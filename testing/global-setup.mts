/**
 * vitest globalSetup for the root suites and the example's: starts the
 * local Cosmos test server for the run, announces it to the test files
 * (`inject('cosmosEndpoint')`, and `COSMOS_TEST_ENDPOINT` for
 * `backends.ts` and child processes) and stops it afterwards.
 */
import { startCosmosServer, stopServer } from './cosmos-server.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    cosmosEndpoint: string;
  }
}

interface Provider {
  provide(key: 'cosmosEndpoint', value: string): void;
}

export default async function setup(project: Provider): Promise<() => Promise<void>> {
  const { server, endpoint } = await startCosmosServer();
  process.env['COSMOS_TEST_ENDPOINT'] = endpoint;
  project.provide('cosmosEndpoint', endpoint);
  return async () => {
    await stopServer(server);
  };
}
