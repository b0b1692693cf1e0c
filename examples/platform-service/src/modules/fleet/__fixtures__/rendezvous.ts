/**
 * Forcing the interleaving a race test is about. In one process the racers'
 * reads all land before any write; against a networked provider responses
 * arrive spread out, and one racer may read, write and finish before the
 * other has read — a sequence, not a race. These gaps make every racer
 * reach its write having read the same state, on every run, on every provider.
 */

import type { FleetRepository } from '../repository.js';

/** Something awaited between a racer's read and its write. */
export type Gap = () => Promise<void>;

/**
 * Holds each caller until `parties` callers are waiting (or `maxWaitMs`
 * passed, so a run never hangs), then releases them together. With
 * `firstGroupOnly`, callers after the first released group pass at once.
 */
export function rendezvous(parties: number, options: { maxWaitMs?: number; firstGroupOnly?: boolean } = {}): Gap {
  const { maxWaitMs = 5_000, firstGroupOnly = false } = options;
  let waiting: Array<() => void> = [];
  let timer: NodeJS.Timeout | undefined;
  let released = false;
  const releaseAll = (): void => {
    // One timer per group: a stale one must not cut a later group short.
    clearTimeout(timer);
    timer = undefined;
    released = true;
    const release = waiting;
    waiting = [];
    for (const r of release) r();
  };
  return () =>
    new Promise<void>((resolve) => {
      if (firstGroupOnly && released) return resolve();
      waiting.push(resolve);
      if (waiting.length >= parties) releaseAll();
      else timer ??= setTimeout(releaseAll, maxWaitMs).unref();
    });
}

/** The repository, with `gap` awaited before each conditional write it sends. */
export function withGap(repo: FleetRepository, gap: Gap): FleetRepository {
  return {
    revUpdateJob: async (current, patch) => {
      await gap();
      return repo.revUpdateJob(current, patch);
    },
    revUpdateLease: async (current, patch) => {
      await gap();
      return repo.revUpdateLease(current, patch);
    },
    revUpdateLock: async (current, patch) => {
      await gap();
      return repo.revUpdateLock(current, patch);
    },
  };
}
