/**
 * Checks the fleet's invariants against what is actually in the store,
 * not against what the callers were told.
 */

import type { Stored } from '@bytelyst/datastore';
import type { FleetStores } from './stores.js';
import type { FleetJob } from './types.js';

export interface InvariantReport {
  /** (job, epoch) pairs with more than one run: two agents held the same claim. */
  doubleAssignments: number;
  /** Pairs of runs of different jobs under one lock whose holds overlapped in time. */
  lockViolations: number;
  /** Jobs whose epoch is behind one of their runs (the fencing token went backwards). */
  epochRegressions: number;
  /** The largest number of runs any (job, epoch) has. */
  maxRunsPerEpoch: number;
  /** One line per violation, for the log. */
  details: string[];
}

export function violations(report: InvariantReport): number {
  return report.doubleAssignments + report.lockViolations + report.epochRegressions;
}

export async function checkFleetInvariants(stores: FleetStores, fleetId: string, now: number): Promise<InvariantReport> {
  const [jobs, runs] = await Promise.all([
    stores.jobs.query({ partitionKey: fleetId }),
    stores.runs.query({ partitionKey: fleetId }),
  ]);
  const report: InvariantReport = {
    doubleAssignments: 0,
    lockViolations: 0,
    epochRegressions: 0,
    maxRunsPerEpoch: 0,
    details: [],
  };
  const jobsById = new Map(jobs.map((job) => [job.id, job]));

  const perEpoch = groupBy(runs, (run) => `${run.jobId}@${run.leaseEpoch}`);
  for (const [key, group] of perEpoch) {
    report.maxRunsPerEpoch = Math.max(report.maxRunsPerEpoch, group.length);
    if (group.length > 1) {
      report.doubleAssignments += 1;
      report.details.push(`double assignment: ${key} held by ${group.map((run) => run.agentId).join(', ')}`);
    }
  }

  for (const run of runs) {
    const job = jobsById.get(run.jobId);
    if (job !== undefined && run.leaseEpoch > job.leaseEpoch) {
      report.epochRegressions += 1;
      report.details.push(`epoch regression: ${run.id} has epoch ${run.leaseEpoch} > job's ${job.leaseEpoch}`);
    }
  }

  // Holds under one lock, as intervals [start, end). A run still open
  // counts as held until `now`: conservative, it can only over-report.
  const perLock = groupBy(
    runs.filter((run) => run.lock !== null),
    (run) => run.lock ?? '',
  );
  for (const [lock, group] of perLock) {
    const holds = group
      .map((run) => ({ run, start: run.startedAt, end: run.endedAt ?? Math.max(now, run.startedAt + 1) }))
      .sort((a, b) => a.start - b.start);
    for (let i = 0; i < holds.length; i += 1) {
      for (let j = i + 1; j < holds.length; j += 1) {
        const a = holds[i];
        const b = holds[j];
        if (a === undefined || b === undefined || b.start >= a.end) break;
        if (a.run.jobId === b.run.jobId && a.run.leaseEpoch === b.run.leaseEpoch) continue;
        report.lockViolations += 1;
        report.details.push(`lock ${lock}: ${a.run.id} [${a.start}, ${a.end}) overlaps ${b.run.id} [${b.start}, ${b.end})`);
      }
    }
  }

  // And right now: at most one job per lock holds a live lease.
  const liveByLock = groupBy(
    jobs.filter((job) => job.lock !== null && isLive(job, now)),
    (job) => job.lock ?? '',
  );
  for (const [lock, holders] of liveByLock) {
    if (holders.length > 1) {
      report.lockViolations += 1;
      report.details.push(`lock ${lock}: held now by ${holders.map((job) => job.id).join(', ')}`);
    }
  }
  return report;
}

function isLive(job: Stored<FleetJob>, now: number): boolean {
  return job.status === 'assigned' && job.leaseExpiresAt !== null && now < job.leaseExpiresAt;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group === undefined) groups.set(k, [item]);
    else group.push(item);
  }
  return groups;
}
