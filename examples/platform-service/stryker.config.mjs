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
    'src/modules/fleet/repository.ts',
    'src/modules/fleet/locks.ts',
  ],
  concurrency: 1,
  timeoutMS: 30_000,
  timeoutFactor: 2,
  dryRunTimeoutMinutes: 20,
  reporters: ['clear-text', 'progress', 'json', 'html'],
  // Reports under the workspace's target/ (git-ignored).
  jsonReporter: { fileName: '../../target/mutants-js/fleet.json' },
  htmlReporter: { fileName: '../../target/mutants-js/fleet.html' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
  thresholds: { high: 90, low: 85, break: null },
};
