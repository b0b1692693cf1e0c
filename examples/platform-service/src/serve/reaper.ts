/**
 * The reaper loop of one replica: every `everyMs`, put jobs with expired
 * leases back in the queue. Several replicas may reap at once: every reap
 * write is conditional, so one of them wins each job and the rest count a
 * conflict.
 */

import type { FastifyBaseLogger } from 'fastify';
import type { FleetCoordinator } from '../modules/fleet/coordinator.js';
import type { ReapReport } from '../modules/fleet/types.js';

export interface Reaper {
  /** Stops the loop and waits for a pass in progress. */
  stop(): Promise<void>;
}

export function startReaper(options: {
  coordinator: FleetCoordinator;
  everyMs: number;
  log: FastifyBaseLogger;
  onReaped: (report: ReapReport) => void;
}): Reaper {
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let pass: Promise<void> = Promise.resolve();

  const run = async (): Promise<void> => {
    try {
      const report = await options.coordinator.reapExpired();
      if (report.reaped > 0 || report.repaired > 0) {
        options.log.info({ event: 'reaped', ...report }, 'requeued jobs with expired leases');
        options.onReaped(report);
      }
    } catch (e) {
      options.log.warn({ event: 'reap_failed', err: e }, 'reaper pass failed; retrying next period');
    }
  };
  const schedule = (): void => {
    if (stopped) return;
    // One pass at a time: the next is scheduled when this one ends.
    timer = setTimeout(() => {
      pass = run().then(schedule);
    }, options.everyMs);
  };
  schedule();

  return {
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      await pass;
    },
  };
}
