/**
 * `@bytelyst/datastore`: a native datastore with an atomic conditional
 * write. See README.md.
 */

export { CosmosProvider } from './cosmos.js';
export { MemoryProvider } from './memory.js';
export { createProvider } from './provider.js';
export { DatastoreError, ERROR_CODES, isDatastoreError } from './errors.js';
export type { CosmosDiagnostics, ErrorCode } from './errors.js';
export type {
  BaseDocument,
  BatchOp,
  BatchResult,
  CallDiagnostics,
  CallOptions,
  CosmosProviderOptions,
  DatastoreProvider,
  DeleteIfMatchResult,
  Expected,
  FieldName,
  IterOptions,
  JsonScalar,
  MemoryProviderOptions,
  OperationName,
  PageOptions,
  PagedQueries,
  PartitionKey,
  Patch,
  ProviderConfig,
  QueryFilter,
  QueryPage,
  Stored,
  SystemFields,
  TokenCredential,
  UpdateIfMatchResult,
} from './types.js';
