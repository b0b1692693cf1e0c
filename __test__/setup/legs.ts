/**
 * `DS_TEST_LEGS` (comma-separated `memory`, `cosmos`; default both) picks the
 * provider legs of a suite that runs both. Only the mutation runs set it
 * (vitest.stryker.config.mts, `STRYKER_LIB_LEG`): a run over Memory-side
 * code then does not pay for the Cosmos cases, which reach the same shared
 * code through a server.
 */
const raw = process.env['DS_TEST_LEGS'];
const legs = raw === undefined || raw === '' ? ['memory', 'cosmos'] : raw.split(',').map((l) => l.trim().toLowerCase());

/** Whether the leg named `name` (`Memory`, `Cosmos`, case-insensitive) runs. */
export const runsLeg = (name: string): boolean => legs.includes(name.toLowerCase());
