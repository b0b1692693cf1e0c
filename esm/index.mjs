// ESM entry: the very objects of the CommonJS build (loaded with Node's own
// `require`, even under bundlers and test runners that transform imports),
// so `instanceof` and shared state agree whichever way the package is loaded.
import { createRequire } from 'node:module';

const cjs = createRequire(import.meta.url)('../dist/index.js');

export const { CosmosProvider, MemoryProvider, createProvider, DatastoreError, ERROR_CODES, isDatastoreError } = cjs;
