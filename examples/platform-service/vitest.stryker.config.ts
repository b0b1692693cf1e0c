// vitest config for the Stryker run over the fleet module only
// (stryker.config.mjs). Same as vitest.config.ts, except how it finds the
// workspace root: Stryker runs the tests from a sandbox copy
// (.stryker-tmp/sandbox-*), where `../..` is not the workspace root, so
// the root is found from where `@bytelyst/datastore` really resolves.
// The Cosmos leg (a Cosmos-protocol server per run) is left out unless
// STRYKER_FLEET_COSMOS=1: the fleet code under test is the same on both
// providers, and the Memory leg alone keeps a run within the hour.
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);
const datastoreRoot = dirname(realpathSync(require.resolve('@bytelyst/datastore/package.json')));
const escaped = datastoreRoot.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export default defineConfig({
  // The fixtures import the workspace's shared test helpers by a relative
  // path (`../../../../../../testing/backends.mjs`), which points outside the
  // sandbox copy; send it to the real one. Without this the fleet suites fail
  // to load in the sandbox and Stryker's dry run passes on the few that remain.
  resolve: {
    alias: [{ find: /^(?:\.\.\/)+testing\/(.*)$/, replacement: `${datastoreRoot}/testing/$1` }],
  },
  test: {
    include: ['src/modules/fleet/**/*.test.ts'],
    globalSetup: process.env['STRYKER_FLEET_COSMOS'] === '1' ? [resolve(datastoreRoot, 'testing/global-setup.mts')] : [],
    testTimeout: 60_000,
    server: {
      deps: {
        external: [new RegExp(`^${escaped}/(dist|esm)/`)],
      },
    },
  },
});
