/**
 * The local Cosmos-protocol test server: `@vercel/cosmosdb-server`, patched
 * (see patches/ and docs/cosmos-test-server.md), over HTTPS on a free
 * loopback port. The root suites, the benches and the example's suites all
 * start it through this module.
 */
import type { Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createHttpsServer } from '@vercel/cosmosdb-server';

/** The Cosmos DB emulator's published well-known key; the test server accepts any key. */
export const EMULATOR_KEY = 'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DjzJ2rdSJhT0V8Yp/3ZzRbX3QBtIACRAZKRD4yNx8xrnkpWpIA==';

// Every accepted TCP connection, from before its TLS handshake: see `stopServer`.
const sockets = new WeakMap<Server, Set<Socket>>();

/** Starts a server on `127.0.0.1`, on a free port. */
export async function startCosmosServer(): Promise<{ server: Server; endpoint: string; port: number }> {
  const server = createHttpsServer({ keepAlive: true });
  const open = new Set<Socket>();
  sockets.set(server, open);
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  // The server advertises https://127.0.0.1:PORT/ as its region endpoint; use the same.
  return { server, endpoint: `https://127.0.0.1:${port}/`, port };
}

/**
 * Ends every connection, then stops listening. `closeAllConnections()` only
 * sees connections past their TLS handshake; one a client's pool had
 * half-opened would keep `close()` waiting until that pool dropped it.
 */
export async function stopServer(server: Server): Promise<void> {
  server.closeAllConnections();
  for (const socket of sockets.get(server) ?? []) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
