/**
 * The invariant checker, report field by report field: the demo's and the
 * fleet suites' "0 violations" are only as good as its ability to count
 * each kind exactly. Written for the mutants StrykerJS found surviving
 * invariants.ts on 2026-12-02 (docs/testing.md); each seen failing on its
 * hand-made mutant.
 */
import { describe, expect, it } from 'vitest';
import { checkFleetInvariants, violations } from './invariants.js';
import { openFleetStores } from './stores.js';
import type { FleetJob, FleetRun } from './types.js';

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

const job = (over: Partial<FleetJob> & Pick<FleetJob, 'id'>): FleetJob => ({
  fleetId: 'f',
  status: 'assigned',
  assignedTo: 'a',
  leaseEpoch: 1,
  leaseExpiresAt: 200,
  specName: 's',
  engine: 'devin',
  cwd: '/w',
  yolo: false,
  lock: null,
  timeoutMs: 100,
  prompt: 'p',
  createdAt: 0,
  updatedAt: 0,
  finishedAt: null,
  ...over,
});

describe('checkFleetInvariants, field by field', () => {
  it('violations() is the sum of the three kinds', () => {
    const report = { doubleAssignments: 1, lockViolations: 2, epochRegressions: 4, maxRunsPerEpoch: 0, details: [] };
    expect(violations(report)).toBe(7);
  });

  it('a double assignment names the pair and its agents; other fleets are not read', async () => {
    const stores = await openFleetStores({ provider: 'memory' });
    await stores.runs.create(run({ id: 'j:1:a', jobId: 'j', agentId: 'a' }));
    await stores.runs.create(run({ id: 'j:1:b', jobId: 'j', agentId: 'b' }));
    // The same pattern in another fleet, and a job regressed there: not this fleet's business.
    await stores.runs.create(run({ id: 'j:1:a', fleetId: 'g', jobId: 'j', agentId: 'a' }));
    await stores.runs.create(run({ id: 'j:1:c', fleetId: 'g', jobId: 'j', agentId: 'c' }));
    await stores.jobs.create(job({ id: 'j', fleetId: 'g', leaseEpoch: 0 }));
    const report = await checkFleetInvariants(stores, 'f', 100);
    expect(report).toEqual({
      doubleAssignments: 1,
      lockViolations: 0,
      epochRegressions: 0,
      maxRunsPerEpoch: 2,
      details: ['double assignment: j@1 held by a, b'],
    });
  });

  it('an epoch regression: a run ahead of its job (and not a run of a job that is gone, nor one at the job\'s epoch)', async () => {
    const stores = await openFleetStores({ provider: 'memory' });
    await stores.jobs.create(job({ id: 'j', leaseEpoch: 1 }));
    await stores.runs.create(run({ id: 'j:1:a', jobId: 'j', agentId: 'a', leaseEpoch: 1 }));
    await stores.runs.create(run({ id: 'j:2:a', jobId: 'j', agentId: 'a', leaseEpoch: 2 }));
    await stores.runs.create(run({ id: 'gone:5:a', jobId: 'gone', agentId: 'a', leaseEpoch: 5 }));
    const report = await checkFleetInvariants(stores, 'f', 100);
    expect(report.epochRegressions).toBe(1);
    expect(report.details).toEqual(["epoch regression: j:2:a has epoch 2 > job's 1"]);
    expect(violations(report)).toBe(1);
  });

  it('lock holds overlap only between different (job, epoch) pairs under the same lock', async () => {
    const stores = await openFleetStores({ provider: 'memory' });
    // Two runs of one job epoch (a double assignment, counted there) do not also count as a lock violation.
    await stores.runs.create(run({ id: 'a:1:x', jobId: 'a', agentId: 'x', lock: 'L', startedAt: 0, endedAt: 10 }));
    await stores.runs.create(run({ id: 'a:1:y', jobId: 'a', agentId: 'y', lock: 'L', startedAt: 5, endedAt: 15 }));
    // Overlapping runs without a lock, or under different locks, are fine.
    await stores.runs.create(run({ id: 'p:1:x', jobId: 'p', agentId: 'x', startedAt: 0, endedAt: 50 }));
    await stores.runs.create(run({ id: 'q:1:x', jobId: 'q', agentId: 'x', startedAt: 0, endedAt: 50 }));
    await stores.runs.create(run({ id: 'm:1:x', jobId: 'm', agentId: 'x', lock: 'M', startedAt: 0, endedAt: 50 }));
    let report = await checkFleetInvariants(stores, 'f', 100);
    expect(report.lockViolations).toBe(0);
    expect(report.doubleAssignments).toBe(1);
    // Inserted out of order: b [30, 40) and c [12, 35) overlap; a's runs end before c starts.
    await stores.runs.create(run({ id: 'b:1:x', jobId: 'b', agentId: 'x', lock: 'L', startedAt: 30, endedAt: 40 }));
    await stores.runs.create(run({ id: 'c:1:x', jobId: 'c', agentId: 'x', lock: 'L', startedAt: 16, endedAt: 35 }));
    report = await checkFleetInvariants(stores, 'f', 100);
    expect(report.lockViolations).toBe(1);
    expect(report.details).toContain('lock L: c:1:x [16, 35) overlaps b:1:x [30, 40)');
  });

  it('two epochs of one job whose holds of a lock overlap are a violation (only the same pair is exempt)', async () => {
    const stores = await openFleetStores({ provider: 'memory' });
    await stores.runs.create(run({ id: 'a:1:x', jobId: 'a', agentId: 'x', lock: 'L', leaseEpoch: 1, startedAt: 0, endedAt: 10 }));
    await stores.runs.create(run({ id: 'a:2:y', jobId: 'a', agentId: 'y', lock: 'L', leaseEpoch: 2, startedAt: 5, endedAt: 15 }));
    expect((await checkFleetInvariants(stores, 'f', 100)).details).toEqual(['lock L: a:1:x [0, 10) overlaps a:2:y [5, 15)']);
  });

  it('an open run holds its lock until now (at least one ms), so a later start overlaps it', async () => {
    const stores = await openFleetStores({ provider: 'memory' });
    await stores.runs.create(run({ id: 'a:1:x', jobId: 'a', agentId: 'x', lock: 'L', startedAt: 50, endedAt: null, outcome: 'running' }));
    await stores.runs.create(run({ id: 'b:1:x', jobId: 'b', agentId: 'x', lock: 'L', startedAt: 99, endedAt: 120 }));
    expect((await checkFleetInvariants(stores, 'f', 100)).details).toEqual(['lock L: a:1:x [50, 100) overlaps b:1:x [99, 120)']);
    // Checked before its start: the open run holds [start, start + 1), which b does not reach.
    expect((await checkFleetInvariants(stores, 'f', 10)).details).toEqual([]);
    await stores.runs.create(run({ id: 'c:1:x', jobId: 'c', agentId: 'x', lock: 'K', startedAt: 50, endedAt: null, outcome: 'running' }));
    await stores.runs.create(run({ id: 'd:1:x', jobId: 'd', agentId: 'x', lock: 'K', startedAt: 50, endedAt: 60 }));
    expect((await checkFleetInvariants(stores, 'f', 10)).details).toContain('lock K: c:1:x [50, 51) overlaps d:1:x [50, 60)');
  });

  it('right now, two live holders of one lock are a violation; expired, finished or lockless jobs are not holders', async () => {
    const stores = await openFleetStores({ provider: 'memory' });
    await stores.jobs.create(job({ id: 'a', lock: 'L', leaseExpiresAt: 200 }));
    await stores.jobs.create(job({ id: 'expired', lock: 'L', leaseExpiresAt: 100 }));
    await stores.jobs.create(job({ id: 'done', lock: 'L', status: 'succeeded', leaseExpiresAt: 200 }));
    await stores.jobs.create(job({ id: 'unleased', lock: 'L', leaseExpiresAt: null }));
    await stores.jobs.create(job({ id: 'free1', lock: null }));
    await stores.jobs.create(job({ id: 'free2', lock: null }));
    await stores.jobs.create(job({ id: 'm', lock: 'M' }));
    expect(await checkFleetInvariants(stores, 'f', 100)).toMatchObject({ lockViolations: 0, details: [] });
    await stores.jobs.create(job({ id: 'b', lock: 'L', leaseExpiresAt: 101 }));
    expect(await checkFleetInvariants(stores, 'f', 100)).toMatchObject({ lockViolations: 1, details: ['lock L: held now by a, b'] });
  });
});
