/** `createProvider`: a provider chosen by configuration. */

import { CosmosProvider } from './cosmos.js';
import { invalidArgument } from './errors.js';
import { MemoryProvider } from './memory.js';
import type { BaseDocument, DatastoreProvider, PagedQueries, ProviderConfig } from './types.js';

export async function createProvider<T extends BaseDocument = BaseDocument>(
  config: ProviderConfig,
): Promise<DatastoreProvider<T> & PagedQueries<T>> {
  if (typeof config !== 'object' || config === null) {
    throw invalidArgument("createProvider needs a config like { kind: 'memory', partitionKeyPath: '/tenantId' }");
  }
  switch (config.kind) {
    case 'memory': {
      const { kind: _kind, ...options } = config;
      return new MemoryProvider<T>(options);
    }
    case 'cosmos': {
      const { kind: _kind, ...options } = config;
      return CosmosProvider.connect<T>(options);
    }
    default:
      throw invalidArgument(`unknown provider kind ${JSON.stringify((config as { kind?: unknown }).kind)}; use 'memory' or 'cosmos'`);
  }
}
