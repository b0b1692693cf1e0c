/** The demo's job specs: generated ones, some sharing a lock, plus the seed spec from specs/. */

import { fileURLToPath } from 'node:url';
import { loadJobSpec } from '../modules/fleet/job-spec.js';
import type { JobSpec } from '../modules/fleet/types.js';
import type { Random } from './random.js';

const SEED_SPEC = fileURLToPath(new URL('../../specs/seed-atomic-claim.md', import.meta.url));
const ENGINES = ['devin', 'codex', 'claude'] as const;
const LOCKS = ['common-plat', 'common-plat', 'agent-queue', null, null, null] as const;
const MINUTE = 60_000;
/**
 * Jobs per lock family. Half the jobs take a lock; at the default 36 jobs
 * they share the two locks above. A bigger fleet gets more families
 * (`common-plat-2`, `agent-queue-2`, ...), as a fleet over more repositories
 * would, so a lock queue stays as long as at the default size instead of
 * serialising half of the workload behind two names.
 */
const JOBS_PER_LOCK_FAMILY = 36;

export interface DemoSpec {
  jobId: string;
  spec: JobSpec;
}

export async function demoSpecs(count: number, random: Random): Promise<DemoSpec[]> {
  const families = Math.max(1, Math.round(count / JOBS_PER_LOCK_FAMILY));
  // Family 1 keeps the plain names, so the seed spec's `common-plat` races as before.
  const lockOf = (base: string | null): string | null => {
    if (base === null || families === 1) return base;
    const family = random.int(1, families);
    return family === 1 ? base : `${base}-${family}`;
  };
  const specs: DemoSpec[] = [];
  for (let i = 1; i < count; i += 1) {
    const name = `task-${String(i).padStart(2, '0')}`;
    specs.push({
      jobId: name,
      spec: {
        name,
        engine: random.pick(ENGINES),
        cwd: `/repos/service-${random.int(1, 6)}`,
        yolo: random.chance(0.5),
        lock: lockOf(random.pick(LOCKS)),
        timeoutMs: random.pick([5, 10, 15]) * MINUTE,
        prompt: `Generated task ${i}: fix, test, commit.`,
      },
    });
  }
  const { spec } = await loadJobSpec(SEED_SPEC);
  // Among the others, not first: it races for `common-plat` like any job.
  specs.splice(Math.floor(specs.length / 3), 0, { jobId: 'seed-atomic-claim', spec });
  return specs;
}
