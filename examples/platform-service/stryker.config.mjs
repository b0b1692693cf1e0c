// StrykerJS over the fleet module of the example platform service.
// Run through ../../scripts/mutants.sh (slow; not part of `npm test`).
// Uses vitest.stryker.config.ts: vitest.config.ts finds the workspace root
// as `../..` from itself, which is wrong inside Stryker's sandbox.
// @bytelyst/datastore is loaded as built (dist/ + the addon at the
// workspace root); only the fleet's own TypeScript is mutated here.

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'pnpm',
  plugins: ['@stryker-mutator/vitest-runner'],
  testRunner: 'vitest',
  // related: off, vite's related-file lookup proved flaky here; per-test coverage
  // already limits each mutant to the tests that reach it.
  vitest: { configFile: 'vitest.stryker.config.ts', related: false },
  coverageAnalysis: 'perTest',
  // The claim/renew/complete/reap paths first.
  mutate: [
    'src/modules/fleet/coordinator.ts',
    'src/modules/fleet/locks.ts',
    'src/modules/fleet/single-container.ts',
    'src/modules/fleet/picker.ts',
    'src/modules/fleet/repository.ts',
    'src/modules/fleet/invariants.ts',
  ],
  concurrency: 1,
  timeoutMS: 30_000,
  timeoutFactor: 2,
  dryRunTimeoutMinutes: 20,
  reporters: ['clear-text', 'progress', 'json', 'html'],
  // Reports under the workspace's target/ (git-ignored).
  jsonReporter: { fileName: '../../target/mutants-js/fleet.json' },
  htmlReporter: { fileName: '../../target/mutants-js/fleet.html' },
  // `--incremental` (STRYKER_INCREMENTAL=1 in scripts/mutants.sh) reuses the
  // results of mutants whose code and covering tests did not change since.
  incrementalFile: '../../target/mutants-js/fleet-incremental.json',
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
  thresholds: { high: 90, low: 85, break: null },
};
