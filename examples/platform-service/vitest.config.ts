import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** The workspace root, where `@bytelyst/datastore` lives (workspace:*). */
const datastoreRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const escaped = datastoreRoot.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The Cosmos leg runs against a real Cosmos-protocol server started here.
    globalSetup: ['test/cosmos-server.ts'],
    testTimeout: 60_000,
    server: {
      deps: {
        // The workspace link resolves outside node_modules, so vitest would
        // transform the package's files itself and break its CJS-backed ESM
        // entry. Load them as Node does, as it would an installed package.
        external: [new RegExp(`^${escaped}/(dist|esm)/`)],
      },
    },
  },
});
