/**
 * Process survival: worker threads that are ended (terminate() from the main
 * thread, process.exit() inside the worker, or a script that just ends) while
 * CosmosProvider and MemoryProvider calls are in flight must not crash or
 * hang the process, nor tear a write in a shared Memory store.
 *
 * The scenario runs in a child process (fixtures/survival-main.mjs): a
 * SIGSEGV or a glibc abort there fails this test instead of killing vitest.
 * Nothing of it runs in the vitest worker itself.
 *
 * SURVIVAL_ROUNDS (default 100) and SURVIVAL_SEED pass through to the child;
 * the child's per-round progress (stderr) is shown when the test fails.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';

const script = fileURLToPath(new URL('./fixtures/survival-main.mjs', import.meta.url));
const packageRoot = fileURLToPath(new URL('..', import.meta.url));

/**
 * The child must have exited by then; a hang is killed and reported. 100
 * rounds take well under this on a 2-core machine (SURVIVAL_DEADLINE_MS
 * overrides it, e.g. for many more rounds).
 */
const CHILD_DEADLINE_MS = Number(process.env.SURVIVAL_DEADLINE_MS ?? 60_000);

interface Summary {
  summary: 'survival';
  ok: boolean;
  rounds: number;
  completedRounds: number;
  seed: number;
  modes: Record<string, number>;
  workerErrors: { round: number; mode: string; error: string }[];
  hangs: { round: number; mode: string }[];
  mainCosmosErrors: number;
  memoryDocs: number;
  counterIncrements: number;
  inconsistent: { id?: string; why: string }[];
  cosmosRoundTrip: boolean;
  elapsedMs: number;
  fatal?: string;
}

interface ChildOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  elapsedMs: number;
  stdout: string;
  stderr: string;
}

function runChild(env: NodeJS.ProcessEnv, deadlineMs: number): Promise<ChildOutcome> {
  const started = Date.now();
  const child = spawn(process.execPath, [script], {
    cwd: packageRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, deadlineMs);
  return new Promise((resolve, reject) => {
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut, elapsedMs: Date.now() - started, stdout, stderr });
    });
  });
}

function parseSummary(stdout: string): Summary | undefined {
  for (const line of stdout.split('\n').reverse()) {
    if (!line.startsWith('{')) continue;
    try {
      const parsed = JSON.parse(line) as Partial<Summary>;
      if (parsed.summary === 'survival') return parsed as Summary;
    } catch {
      // not the summary line
    }
  }
  return undefined;
}

/** What went wrong, for the assertion message: how the child ended, and the tails of its output. */
function describeOutcome(o: ChildOutcome): string {
  const how = o.timedOut
    ? `hung: killed after ${o.elapsedMs} ms`
    : o.signal !== null
      ? `killed by ${o.signal} after ${o.elapsedMs} ms`
      : `exited ${o.code} after ${o.elapsedMs} ms`;
  const tail = (s: string): string => (s.trim() === '' ? '(empty)' : s.slice(-2000).trimEnd());
  return `${how}\n--- child stderr (tail) ---\n${tail(o.stderr)}\n--- child stdout (tail) ---\n${tail(o.stdout)}\n---`;
}

/** Runs the scenario in a child process and asserts it survived, consistent, and printed its summary. */
async function expectSurvival(env: NodeJS.ProcessEnv): Promise<Summary | undefined> {
  const rounds = env.SURVIVAL_ROUNDS ?? '100';
  const outcome = await runChild(
    {
      SURVIVAL_ENDPOINT: inject('cosmosEndpoint'),
      // The test server accepts any key; a fresh one per run.
      SURVIVAL_KEY: randomBytes(64).toString('base64'),
      SURVIVAL_VERBOSE: '1',
      ...env,
      SURVIVAL_ROUNDS: rounds,
    },
    CHILD_DEADLINE_MS,
  );
  const what = describeOutcome(outcome);
  expect(outcome.timedOut, what).toBe(false);
  expect(outcome.signal, what).toBeNull();
  expect(outcome.code, what).toBe(0);

  const summary = parseSummary(outcome.stdout);
  expect(summary, `no summary line\n${what}`).toBeDefined();
  if (summary === undefined) return undefined;
  expect(summary.fatal, what).toBeUndefined();
  expect(summary.hangs, what).toEqual([]);
  expect(summary.workerErrors, what).toEqual([]);
  expect(summary.inconsistent, what).toEqual([]);
  expect(summary.mainCosmosErrors, what).toBe(0);
  expect(summary.completedRounds, what).toBe(Number(rounds));
  expect(summary.memoryDocs, what).toBeGreaterThan(0);
  expect(summary.cosmosRoundTrip, what).toBe(true);
  expect(summary.ok, what).toBe(true);
  return summary;
}

describe('process survival: workers ended with native calls in flight', () => {
  it(
    'the process neither crashes nor hangs, the shared Memory store stays consistent, and the main thread keeps working',
    async () => {
      const summary = await expectSurvival({ SURVIVAL_ROUNDS: process.env.SURVIVAL_ROUNDS ?? '100' });
      // Every way of ending a worker was exercised (unless SURVIVAL_MODES narrowed it down).
      if (process.env.SURVIVAL_MODES === undefined) {
        expect(Object.keys(summary?.modes ?? {}).sort()).toEqual(['abandon-exit', 'abandon-return', 'abandon-terminate', 'exit', 'terminate']);
      }
    },
    CHILD_DEADLINE_MS + 30_000,
  );

  it(
    'harness control: workers that end only after their pending calls settle (abandon-return) pass the same checks',
    async () => {
      // Not the defect: if this fails too, the harness or the server is at fault, not worker teardown.
      await expectSurvival({ SURVIVAL_ROUNDS: '20', SURVIVAL_MODES: 'abandon-return' });
    },
    CHILD_DEADLINE_MS + 30_000,
  );
});
