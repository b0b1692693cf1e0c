import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** The workspace root, where `@bytelyst/datastore` lives (workspace:*). */
const datastoreRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const escaped = datastoreRoot.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The Cosmos leg runs against the real Cosmos-protocol server the root's
    // shared setup starts (or a live account: ../../testing/backends.ts decides).
    globalSetup: ['../../testing/global-setup.mts'],
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
