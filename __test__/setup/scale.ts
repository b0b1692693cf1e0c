/**
 * `DS_TEST_SCALE` (default 1) scales the load tests' sizes down for the
 * mutation runs (vitest.stryker.config.mts sets 0.1), where a surviving
 * mutant reruns every test that reaches it. Never below each test's floor:
 * what a test checks must still be able to fail.
 */
const raw = Number(process.env['DS_TEST_SCALE'] ?? 1);
const scale = Number.isFinite(raw) && raw > 0 ? Math.min(raw, 1) : 1;

/** `n` scaled, at least `floor`. */
export const scaled = (n: number, floor: number): number => Math.max(floor, Math.round(n * scale));
