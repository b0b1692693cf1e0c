/**
 * `fleet-agent work`: one agent process. Claims a job, "works" on it for a
 * random while, heartbeating, then completes it; stops claiming on SIGTERM
 * and exits after the job in hand. Each event is one JSON line, with the
 * service's timestamps, so a test can rebuild who held what and when.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { parseDurationMs } from '../modules/fleet/duration.js';
import type { FleetClient } from './client.js';

export interface WorkOptions {
  /** Work takes a uniform random time in [min, max] ms. */
  workMs: readonly [number, number];
  heartbeatMs: number;
  /** Pause after "nothing claimable" (with jitter), so idle agents do not spin. */
  pollMs: number;
  failRate: number;
}

export type AgentEvent =
  | { event: 'claimed'; agentId: string; jobId: string; epoch: number; lock: string | null; timeoutMs: number; leaseExpiresAt: number }
  | { event: 'heartbeat'; agentId: string; jobId: string; epoch: number; leaseExpiresAt: number }
  | { event: 'completed'; agentId: string; jobId: string; epoch: number; outcome: 'succeeded' | 'failed'; finishedAt: number }
  | { event: 'fenced'; agentId: string; jobId: string; epoch: number; op: 'heartbeat' | 'complete' }
  | { event: 'error'; agentId: string; op: string; message: string }
  | { event: 'stopped'; agentId: string };

export async function agentLoop(
  client: FleetClient,
  agentId: string,
  options: WorkOptions,
  emit: (event: AgentEvent) => void,
): Promise<void> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  // An idle pause ends early on SIGTERM; a pause while working does not.
  const idle = async (ms: number): Promise<void> => {
    try {
      await sleep(ms, undefined, { signal: stop.signal });
    } catch {
      // aborted: the loop condition ends it
    }
  };
  const failed = (op: string, e: unknown): void =>
    emit({ event: 'error', agentId, op, message: e instanceof Error ? e.message : String(e) });

  while (!stop.signal.aborted) {
    let claim;
    try {
      claim = await client.claim(agentId);
    } catch (e) {
      failed('claim', e);
      await idle(options.pollMs);
      continue;
    }
    if (claim === null) {
      await idle(options.pollMs * (0.5 + Math.random()));
      continue;
    }
    const { jobId, epoch } = claim;
    emit({
      event: 'claimed',
      agentId,
      jobId,
      epoch,
      lock: claim.spec.lock,
      timeoutMs: parseDurationMs(claim.spec.timeout),
      leaseExpiresAt: claim.leaseExpiresAt,
    });
    const [min, max] = options.workMs;
    const done = Date.now() + min + Math.random() * (max - min);
    let fenced = false;
    while (!fenced && Date.now() < done) {
      await sleep(Math.max(0, Math.min(options.heartbeatMs, done - Date.now())));
      if (Date.now() >= done) break;
      try {
        const renewed = await client.heartbeat(agentId, jobId, epoch);
        if (renewed.ok) emit({ event: 'heartbeat', agentId, jobId, epoch, leaseExpiresAt: renewed.leaseExpiresAt });
        else {
          fenced = true;
          emit({ event: 'fenced', agentId, jobId, epoch, op: 'heartbeat' });
        }
      } catch (e) {
        failed('heartbeat', e); // the lease may still hold; try again next beat
      }
    }
    if (fenced) continue;
    const outcome = Math.random() < options.failRate ? 'failed' : 'succeeded';
    try {
      const completed = await client.complete(agentId, jobId, epoch, outcome);
      emit(
        completed.ok
          ? { event: 'completed', agentId, jobId, epoch, outcome, finishedAt: completed.finishedAt }
          : { event: 'fenced', agentId, jobId, epoch, op: 'complete' },
      );
    } catch (e) {
      failed('complete', e);
    }
  }
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  emit({ event: 'stopped', agentId });
}
