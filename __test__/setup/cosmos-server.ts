/**
 * Starts `@vercel/cosmosdb-server` (patched: see patches/) over HTTPS on a
 * free loopback port for the whole test run, and stops it afterwards. Tests
 * find it with `inject('cosmosEndpoint')` (or `process.env.COSMOS_TEST_ENDPOINT`).
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:https';
import { createHttpsServer } from '@vercel/cosmosdb-server';

declare module 'vitest' {
  export interface ProvidedContext {
    cosmosEndpoint: string;
  }
}

/** The Cosmos DB emulator's published well-known key; the test server accepts any key. */
export const EMULATOR_KEY = 'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DjzJ2rdSJhT0V8Yp/3ZzRbX3QBtIACRAZKRD4yNx8xrnkpWpIA==';

/** Starts a server on `127.0.0.1`, on a free port. */
export async function startCosmosServer(): Promise<{ server: Server; endpoint: string; port: number }> {
  const server = createHttpsServer({ keepAlive: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  // The server advertises https://127.0.0.1:PORT/ as its region endpoint; use the same.
  return { server, endpoint: `https://127.0.0.1:${port}/`, port };
}

export async function stopServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

interface Provider {
  provide(key: 'cosmosEndpoint', value: string): void;
}

export default async function setup(project: Provider): Promise<() => Promise<void>> {
  const { server, endpoint } = await startCosmosServer();
  process.env.COSMOS_TEST_ENDPOINT = endpoint;
  project.provide('cosmosEndpoint', endpoint);
  return async () => {
    await stopServer(server);
  };
}
