/** The checker must be able to fail, or the demo's "0 violations" means nothing. */

import { describe, expect, it } from 'vitest';
import { checkFleetInvariants } from './invariants.js';
import { openFleetStores } from './stores.js';
import type { FleetRun } from './types.js';

const run = (over: Partial<FleetRun> & Pick<FleetRun, 'id' | 'jobId' | 'agentId'>): FleetRun => ({
  fleetId: 'f',
  leaseEpoch: 1,
  lock: null,
  startedAt: 0,
  endedAt: 10,
  outcome: 'succeeded',
  detail: null,
  ...over,
});

describe('checkFleetInvariants', () => {
  it('counts two runs of one job epoch as a double assignment', async () => {
    const stores = await openFleetStores({ provider: 'memory' });
    await stores.runs.create(run({ id: 'j:1:a', jobId: 'j', agentId: 'a' }));
    await stores.runs.create(run({ id: 'j:1:b', jobId: 'j', agentId: 'b' }));
    await stores.runs.create(run({ id: 'k:1:a', jobId: 'k', agentId: 'a' }));
    const report = await checkFleetInvariants(stores, 'f', 100);
    expect(report.doubleAssignments).toBe(1);
    expect(report.maxRunsPerEpoch).toBe(2);
  });

  it('counts overlapping holds of one lock by two jobs, and not back-to-back ones', async () => {
    const stores = await openFleetStores({ provider: 'memory' });
    await stores.runs.create(run({ id: 'a:1:x', jobId: 'a', agentId: 'x', lock: 'L', startedAt: 0, endedAt: 10 }));
    await stores.runs.create(run({ id: 'b:1:y', jobId: 'b', agentId: 'y', lock: 'L', startedAt: 10, endedAt: 20 }));
    expect((await checkFleetInvariants(stores, 'f', 100)).lockViolations).toBe(0);
    await stores.runs.create(run({ id: 'c:1:z', jobId: 'c', agentId: 'z', lock: 'L', startedAt: 15, endedAt: null, outcome: 'running' }));
    const report = await checkFleetInvariants(stores, 'f', 100);
    expect(report.lockViolations).toBe(1);
    expect(report.details[0]).toContain('lock L');
  });
});
