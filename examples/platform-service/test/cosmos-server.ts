/**
 * vitest globalSetup: unless COSMOS_ENDPOINT/COSMOS_KEY name a real account,
 * start a Cosmos-protocol test server (`@vercel/cosmosdb-server`, patched at
 * the workspace root) on a free loopback port for the run and point the
 * fleet suite's Cosmos leg at it through those same variables.
 */
import type { AddressInfo } from 'node:net';
import { createHttpsServer } from '@vercel/cosmosdb-server';

/** The Cosmos DB emulator's published well-known key; the test server accepts any key. */
const EMULATOR_KEY = 'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DjzJ2rdSJhT0V8Yp/3ZzRbX3QBtIACRAZKRD4yNx8xrnkpWpIA==';

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env['COSMOS_ENDPOINT'] && process.env['COSMOS_KEY']) return undefined; // a live account was given
  const server = createHttpsServer({ keepAlive: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  process.env['COSMOS_ENDPOINT'] = `https://127.0.0.1:${port}/`;
  process.env['COSMOS_KEY'] = EMULATOR_KEY;
  return async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}
