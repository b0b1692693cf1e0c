import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['__test__/**/*.spec.ts'],
    // A real Cosmos-protocol server (patched @vercel/cosmosdb-server) for the Cosmos provider's tests.
    globalSetup: ['testing/global-setup.mts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    server: {
      deps: {
        // Load the built package as Node would (CommonJS + native addon), not
        // through Vite's transform: the tests exercise what users install.
        external: [/\/dist\/.*\.js$/, /\/esm\/index\.mjs$/, /\/index\.js$/],
      },
    },
  },
});
