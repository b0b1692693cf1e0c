// StrykerJS over lib/ (the TypeScript layer of @bytelyst/datastore).
// Run through scripts/mutants.sh (slow; not part of `npm test`).
//
// How the mutated code reaches the tests: Stryker instruments lib/*.ts in
// its sandbox (.stryker-tmp/sandbox-*), then `buildCommand` compiles that
// instrumented lib/ into the sandbox's dist/ with the project's own
// tsconfig.lib.json. The tests import `@bytelyst/datastore`, which resolves
// to the sandbox's own package (self-reference: esm/index.mjs -> dist/),
// and vitest.config.mts loads dist/ through Node (not Vite), exactly as in
// `npm test`. dist/ requires the sandbox's copy of the generated loader
// (index.js) and of the built addon (datastore.linux-x64-gnu.node), so build
// the addon before running this (`pnpm run build`); this config never builds it.
//
// vitest.stryker.config.mts is vitest.config.mts minus the suites that
// check in child processes (they cannot see a mutant, see there).
// `vitest.related` is off: dist/ is loaded outside Vite's module graph, so
// Vite cannot tell which tests import lib/; per-test coverage still limits
// each mutant to the tests that reached it.

// STRYKER_LIB_LEG (memory | cosmos, see vitest.stryker.config.mts) narrows
// the oracle to one provider's suites; each leg keeps its own reports.
const leg = process.env.STRYKER_LIB_LEG ? `-${process.env.STRYKER_LIB_LEG}` : '';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'pnpm',
  plugins: ['@stryker-mutator/vitest-runner'],
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.stryker.config.mts', related: false },
  // tsc from the project's node_modules/.bin (Stryker puts it on PATH).
  buildCommand: 'tsc -p tsconfig.lib.json',
  coverageAnalysis: 'perTest',
  // Most important first (the scripts can narrow this with --mutate).
  mutate: ['lib/codec.ts', 'lib/operations.ts', 'lib/batch.ts', 'lib/memory.ts', 'lib/cosmos.ts', 'lib/errors.ts', 'lib/provider.ts'],
  ignorePatterns: ['/target', '/examples', '/bench', '/npm', '/docs', '/.ci', '/mutants.out*'],
  concurrency: 1,
  timeoutMS: 30_000,
  timeoutFactor: 2,
  // A dry run includes the Cosmos suites (a real Cosmos-protocol server).
  dryRunTimeoutMinutes: 20,
  reporters: ['clear-text', 'progress', 'json', 'html'],
  // Reports under target/ (git-ignored), next to cargo-mutants' output.
  jsonReporter: { fileName: `target/mutants-js/lib${leg}.json` },
  htmlReporter: { fileName: `target/mutants-js/lib${leg}.html` },
  // `--incremental` (STRYKER_INCREMENTAL=1 in scripts/mutants.sh) reuses the
  // results of mutants whose code and covering tests did not change since.
  incrementalFile: `target/mutants-js/lib${leg}-incremental.json`,
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
  thresholds: { high: 90, low: 85, break: null },
};
