// vitest config for the StrykerJS run over lib/ (stryker.config.mjs) only;
// `npm test` uses vitest.config.mts. Same setup (the Cosmos-protocol
// server, dist/ loaded through Node), minus suites whose checks run in
// child processes: a mutant is switched on through the test process's
// global Stryker namespace, which a child process does not share, so those
// suites can never kill a mutant and only cost time.
import { mergeConfig } from 'vitest/config';
import base from './vitest.config.mts';

export default mergeConfig(base, {
  test: {
    exclude: ['**/node_modules/**', '__test__/survival.spec.ts'],
  },
});
