// ESM entry: the same objects as the CommonJS build, so `instanceof` and
// shared state agree whichever way the package is loaded.
import cjs from '../dist/index.js';

export const { CosmosProvider, MemoryProvider, createProvider, DatastoreError, ERROR_CODES, isDatastoreError } = cjs;
