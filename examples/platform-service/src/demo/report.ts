/** Progress lines and the summary table, readable on a terminal and in a CI log. */

import type { InvariantReport } from '../modules/fleet/invariants.js';
import type { SimStats } from './simulation.js';

const pad = (n: number, width = 3): string => String(n).padStart(width);

export function progressLine(stats: Readonly<SimStats>, report: InvariantReport): string {
  const bad = report.doubleAssignments + report.lockViolations + report.epochRegressions;
  return [
    `t+${pad(stats.ticks, 4)}m`,
    `queued ${pad(stats.queued)}  assigned ${pad(stats.assigned)}  done ${pad(stats.succeeded + stats.failed)}`,
    `claims ${pad(stats.claimsTried, 4)} (won ${pad(stats.claimsWon)}, conflict ${pad(stats.conflicts)}, locked ${pad(stats.locked)})`,
    `crashes ${pad(stats.crashes + stats.claimCrashes, 2)}  reaped ${pad(stats.reaped, 2)}  fenced ${pad(stats.fencedStaleWrites, 2)}`,
    bad === 0 ? 'invariants ok' : `INVARIANTS BROKEN (${bad})`,
  ].join(' | ');
}

export function summaryTable(rows: ReadonlyArray<readonly [string, string | number]>): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  const valueWidth = Math.max(...rows.map(([, value]) => String(value).length));
  const rule = `+${'-'.repeat(width + 2)}+${'-'.repeat(valueWidth + 2)}+`;
  const lines = rows.map(([label, value]) => `| ${label.padEnd(width)} | ${String(value).padStart(valueWidth)} |`);
  return [rule, ...lines, rule].join('\n');
}
