/**
 * The local Cosmos-protocol test server: `@vercel/cosmosdb-server`, patched
 * (see patches/ and docs/cosmos-test-server.md), over HTTPS on a free
 * loopback port. The root suites, the benches and the example's suites all
 * start it through this module.
 */
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createHttpsServer } from '@vercel/cosmosdb-server';

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
