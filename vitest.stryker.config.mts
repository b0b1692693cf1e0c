// vitest config for the StrykerJS run over lib/ (stryker.config.mjs) only;
// `npm test` uses vitest.config.mts. Same setup (the Cosmos-protocol
// server, dist/ loaded through Node), minus:
// - suites whose checks run in child processes (`survival.spec.ts`): a
//   mutant is switched on through the test process's global Stryker
//   namespace, which a child process does not share, so they can never
//   kill a mutant and only cost time;
// - suites that test something lib/ does not hold: `server-batch.spec.ts`
//   checks the patched test server itself, and `linearizability.spec.ts`
//   checks the Rust compare-and-write's atomicity over long histories
//   (minutes per run; lib/ only encodes and decodes those calls, which the
//   conformance and hardening suites cover call by call).
// The property suite runs with a smaller budget (DIFF_RUNS) and the load
// tests smaller (DS_TEST_SCALE, see __test__/setup/scale.ts), so a surviving
// mutant, which reruns every test that reaches it, costs a minute, not five.
import { mergeConfig } from 'vitest/config';
import base from './vitest.config.mts';

export default mergeConfig(base, {
  test: {
    exclude: ['**/node_modules/**', '__test__/survival.spec.ts', '__test__/server-batch.spec.ts', '__test__/linearizability.spec.ts'],
    // Instrumented code runs slower, and a run shares the machine: room for the load tests.
    testTimeout: 240_000,
    env: { DIFF_RUNS: process.env['DIFF_RUNS'] ?? '10', DS_TEST_SCALE: process.env['DS_TEST_SCALE'] ?? '0.1' },
  },
});
