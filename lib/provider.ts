/** `createProvider`: a provider chosen by configuration. */

import { CosmosProvider } from './cosmos.js';
import { reading } from './codec.js';
import { invalidArgument } from './errors.js';
import { MemoryProvider } from './memory.js';
import type { BaseDocument, DatastoreProvider, PagedQueries, ProviderConfig } from './types.js';

export async function createProvider<T extends BaseDocument = BaseDocument>(
  config: ProviderConfig,
): Promise<DatastoreProvider<T> & PagedQueries<T>> {
  if (typeof config !== 'object' || config === null) {
    throw invalidArgument("createProvider needs a config like { kind: 'memory', partitionKeyPath: '/tenantId' }");
  }
  // Read once: a getter that throws is the caller's invalid_argument.
  const { kind, ...options } = reading('createProvider config', () => ({ ...config }));
  switch (kind) {
    case 'memory':
      return new MemoryProvider<T>(options as ProviderConfig & { kind: 'memory' });
    case 'cosmos':
      return CosmosProvider.connect<T>(options as ProviderConfig & { kind: 'cosmos' });
    default:
      throw invalidArgument(`unknown provider kind ${JSON.stringify(kind)}; use 'memory' or 'cosmos'`);
  }
}
