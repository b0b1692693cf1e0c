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
//
// STRYKER_LIB_LEG narrows the oracle to one provider's suites, so a run over
// a slice costs minutes (a surviving mutant reruns every test that reached it):
// - `memory`, for the code both providers share (codec, operations, errors,
//   batch, provider) and lib/memory.ts: the Memory conformance legs
//   (memory.spec.ts), the hardening suite's Memory cases (DS_TEST_LEGS),
//   the codec fast path, lifecycle, the parsed-document cache (doc-cache),
//   members named like Object.prototype's (polluted-prototype) and the
//   mutant-aimed tests;
// - `cosmos`, for lib/cosmos.ts: the Cosmos suites (conformance leg, faults,
//   secrets, credentials), hardening's Cosmos cases, lifecycle and the
//   mutant-aimed tests.
// Unset: every suite below. A narrowed run can only score lower than the
// full oracle (fewer tests), never higher.
import { mergeConfig } from 'vitest/config';
import base from './vitest.config.mts';

const legs: Record<string, string[]> = {
  memory: ['memory', 'hardening', 'codec-fast-path', 'lifecycle', 'mutants-lib', 'mutants-call-paging', 'doc-cache', 'polluted-prototype'],
  cosmos: ['cosmos', 'cosmos-faults', 'secrets', 'credential', 'hardening', 'lifecycle', 'mutants-lib', 'mutants-call-paging'],
};
const leg = process.env['STRYKER_LIB_LEG'];
const only = leg === undefined || leg === '' ? undefined : legs[leg];
if (leg !== undefined && leg !== '' && only === undefined) throw new Error(`STRYKER_LIB_LEG must be one of ${Object.keys(legs).join(', ')}`);

const config = mergeConfig(base, {
  test: {
    exclude: ['**/node_modules/**', '__test__/survival.spec.ts', '__test__/server-batch.spec.ts', '__test__/linearizability.spec.ts'],
    // Instrumented code runs slower, and a run shares the machine: room for the load tests.
    testTimeout: 240_000,
    env: {
      DIFF_RUNS: process.env['DIFF_RUNS'] ?? '10',
      DS_TEST_SCALE: process.env['DS_TEST_SCALE'] ?? '0.1',
      // The suites that run both providers case by case (hardening) keep only the leg's cases.
      ...(only === undefined || leg === undefined ? {} : { DS_TEST_LEGS: leg }),
    },
  },
});

// mergeConfig concatenates arrays: the leg's files replace `include`.
if (only !== undefined && config.test !== undefined) config.test.include = only.map((f) => `__test__/${f}.spec.ts`);

export default config;
