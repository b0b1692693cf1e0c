/**
 * The local Cosmos-protocol test server: `@vercel/cosmosdb-server`, patched
 * (see patches/ and docs/cosmos-test-server.md), over HTTPS on a free
 * loopback port. The root suites, the benches and the example's suites all
 * start it through this module.
 */
import { spawn } from 'node:child_process';
import type { Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createHttpsServer } from '@vercel/cosmosdb-server';

/** The Cosmos DB emulator's published well-known key; the test server accepts any key. */
export const EMULATOR_KEY = 'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DjzJ2rdSJhT0V8Yp/3ZzRbX3QBtIACRAZKRD4yNx8xrnkpWpIA==';

// Every accepted TCP connection, from before its TLS handshake: see `stopServer`.
const sockets = new WeakMap<Server, Set<Socket>>();

/**
 * Keeps every TCP connection `server` accepts, from before its TLS
 * handshake, until it closes: `closeAllConnections()` only sees those past
 * it, and one a client's pool half-opened keeps `close()` waiting until that
 * pool drops it (reqwest: up to 180 s). Destroy them all before `close()`.
 */
export function trackConnections(server: Server): Set<Socket> {
  const open = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return open;
}

/** Starts a server on `127.0.0.1`, on a free port. */
export async function startCosmosServer(): Promise<{ server: Server; endpoint: string; port: number }> {
  const server = createHttpsServer({ keepAlive: true });
  sockets.set(server, trackConnections(server));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  // The server advertises https://127.0.0.1:PORT/ as its region endpoint; use the same.
  return { server, endpoint: `https://127.0.0.1:${port}/`, port };
}

/** Ends every connection (see `trackConnections`), then stops listening. */
export async function stopServer(server: Server): Promise<void> {
  server.closeAllConnections();
  for (const socket of sockets.get(server) ?? []) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/**
 * Starts the server in a child process (`cosmos-server-main.mts`), for the
 * benches: in the measuring process its request handling and its garbage
 * collections ran on the clients' own event loop, and a collection landing
 * on one request made the tail (p99) of whichever client sends fewer
 * requests per operation look worse than its own code is. A real Cosmos
 * account is another machine. `stop` ends the child and waits for it.
 */
export async function startCosmosServerProcess(): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const main = fileURLToPath(new URL('./cosmos-server-main.mts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', main], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the Cosmos test server process exited (${code}) before it listened`)));
    child.once('error', reject);
  });
  lines.close();
  const { endpoint } = JSON.parse(first) as { endpoint: string };
  return {
    endpoint,
    stop: async () => {
      child.stdin.end();
      await exited;
    },
  };
}
