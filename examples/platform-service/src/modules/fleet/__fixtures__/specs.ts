import type { JobSpec } from '../types.js';

export const MINUTE = 60_000;

export function testSpec(overrides: Partial<JobSpec> = {}): JobSpec {
  return {
    name: 'test-spec',
    engine: 'devin',
    cwd: '/work/repo',
    yolo: false,
    lock: null,
    timeoutMs: 10 * MINUTE,
    prompt: 'Do the thing.',
    ...overrides,
  };
}
