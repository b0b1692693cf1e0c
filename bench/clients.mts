/**
 * The two clients every Cosmos bench compares, on one container of the
 * local test server: the native provider, and `@azure/cosmos` doing the
 * same work.
 */
import { Agent } from 'node:https';
import { CosmosClient } from '@azure/cosmos';
import type { Container } from '@azure/cosmos';
import { CosmosProvider } from '@bytelyst/datastore';
import type { BaseDocument } from '@bytelyst/datastore';
import { EMULATOR_KEY } from '../testing/cosmos-server.mjs';

export interface BenchClients<T extends BaseDocument> {
  native: CosmosProvider<T>;
  sdk: Container;
  /** Closes both clients. */
  close(): Promise<void>;
}

/** Both clients on container `container` of database `bench` (created, partitioned on `/tenantId`). */
export async function openClients<T extends BaseDocument>(endpoint: string, container: string): Promise<BenchClients<T>> {
  const native = await CosmosProvider.connect<T>({
    endpoint,
    key: EMULATOR_KEY,
    database: 'bench',
    container,
    partitionKeyPath: '/tenantId',
    emulator: true,
    createIfNotExists: true,
  });
  const client = new CosmosClient({
    endpoint,
    key: EMULATOR_KEY,
    // The test server's certificate is self-signed; loopback only.
    agent: new Agent({ keepAlive: true, rejectUnauthorized: false }),
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  return {
    native,
    sdk: client.database('bench').container(container),
    close: async () => {
      client.dispose();
      await native.close();
    },
  };
}
