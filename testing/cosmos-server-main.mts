/**
 * The test server in a process of its own: prints `{"endpoint": …}` on one
 * line once it listens, and stops when its standard input closes (the
 * parent ended or called `stop`). See `startCosmosServerProcess`.
 */
import { startCosmosServer, stopServer } from './cosmos-server.mjs';

const { server, endpoint } = await startCosmosServer();
process.stdout.write(`${JSON.stringify({ endpoint })}\n`);
process.stdin.resume();
process.stdin.once('close', () => {
  void stopServer(server).then(() => process.exit(0));
});
