/**
 * The fleet end to end: service process(es) already running at `urls`;
 * this enqueues jobs, starts agent processes, SIGKILLs some mid-job, waits
 * until every job is done, replays the killed agents' stale writes, then
 * checks what happened, from the agents' own event logs and from the store
 * (through the service). Returns the problems found and the figures.
 */

import { FleetClient } from '../../src/agent/client.js';
import type { AgentEvent } from '../../src/agent/work-loop.js';
import type { InvariantReport } from '../../src/modules/fleet/invariants.js';
import { runAgentCommand, startAgent, type AgentProcess } from './processes.js';

export interface ScenarioOptions {
  urls: readonly string[];
  agents: number;
  jobs: number;
  kills: number;
  /** How long to wait for every job to finish. */
  deadlineMs: number;
}

export interface ScenarioReport {
  problems: string[];
  figures: Record<string, number | string>;
}

interface Handle {
  agentId: string;
  jobId: string;
  epoch: number;
}
type Claimed = Extract<AgentEvent, { event: 'claimed' }>;
interface JobView {
  jobId: string;
  status: string;
  epoch: number;
  spec: { lock: string | null };
}
interface RunView {
  jobId: string;
  agentId: string;
  epoch: number;
  lock: string | null;
  startedAt: number;
  endedAt: number | null;
  outcome: string;
}
interface ServiceStats {
  counters: { claimsWon: number; claimAttempts: number; claimRequests: number; reaped: number; fencedWrites: number };
}

const LEASE_TIMEOUT = '2s';
const AGENT_FLAGS = ['--heartbeat-ms', '400', '--poll-ms', '150'];
const WORK_MS = '200-700';
/** Agents that will be killed work long, so the kill surely lands mid-job, however slow the machine. */
const DOOMED_WORK_MS = '10000';

/** Job i: one in ten under lock L1, one in ten under L2, the rest free. */
const lockOf = (i: number): string | null => (i % 10 === 0 ? 'L1' : i % 10 === 1 ? 'L2' : null);

export async function runFleetScenario(options: ScenarioOptions): Promise<ScenarioReport> {
  const problems: string[] = [];
  const started = performance.now();
  const client = new FleetClient(options.urls[0] ?? '');
  const jobIds = Array.from({ length: options.jobs }, (_, i) => `e2e-${String(i).padStart(4, '0')}`);
  await Promise.all(
    jobIds.map((id, i) =>
      client.enqueue({ engine: 'devin', cwd: '/repo', lock: lockOf(i), timeout: LEASE_TIMEOUT, prompt: `job ${i}` }, id),
    ),
  );

  // Agents spread over the replicas; every (agents / kills)-th one dies mid-job.
  const killEvery = options.kills === 0 ? Number.POSITIVE_INFINITY : Math.max(1, Math.floor(options.agents / options.kills));
  const killed: Handle[] = [];
  const agents: AgentProcess[] = [];
  let armedKills = 0;
  const replays: Array<Promise<string[]>> = [];
  for (let i = 0; i < options.agents; i += 1) {
    const doomed = i % killEvery === 0 && armedKills < options.kills;
    const url = options.urls[i % options.urls.length] ?? '';
    const agent = startAgent(url, `agent-${String(i).padStart(2, '0')}`, [...AGENT_FLAGS, '--work-ms', doomed ? DOOMED_WORK_MS : WORK_MS]);
    if (doomed) {
      armedKills += 1;
      let armed = true;
      agent.onEvent((event) => {
        if (!armed || event.event !== 'claimed') return;
        armed = false;
        setTimeout(() => {
          agent.child.kill('SIGKILL');
          const handle = { agentId: event.agentId, jobId: event.jobId, epoch: event.epoch };
          killed.push(handle);
          replays.push(replayWhenReclaimed(client, handle, options.deadlineMs));
        }, 100 + Math.random() * 100);
      });
    }
    agents.push(agent);
  }

  const jobs = await waitUntilDone(client, jobIds, options.deadlineMs);
  const doneMs = performance.now() - started;
  const open = [...jobs.values()].filter((job) => job.status !== 'succeeded' && job.status !== 'failed');
  if (open.length > 0) problems.push(`${open.length} jobs still open after ${options.deadlineMs} ms: ${open.map((j) => `${j.jobId}=${j.status}`).join(', ')}`);
  if (killed.length !== options.kills) problems.push(`${killed.length} agents killed mid-job, ${options.kills} planned`);

  // While another agent held the job at a later epoch, the killed agent's writes were refused...
  let fencedWrites = 0;
  let staleWrites = 0;
  for (const answers of await Promise.all(replays)) {
    for (const answer of answers) {
      staleWrites += 1;
      if (answer === 'fenced') fencedWrites += 1;
      else problems.push(`a killed agent's stale write, while the job was held again, answered ${answer}, not fenced`);
    }
  }
  // ...and so are they once every job is done.
  for (const [index, handle] of killed.entries()) {
    const base = ['--server', options.urls[index % options.urls.length] ?? '', '--agent', handle.agentId, '--job', handle.jobId, '--epoch', String(handle.epoch)];
    const answers =
      index === 0
        ? // Once through the CLI a runner would use: exit code 4 means fenced.
          (await Promise.all([runAgentCommand(['heartbeat', ...base]), runAgentCommand(['complete', ...base, '--outcome', 'succeeded'])])).map(
            ({ code }) => (code === 4 ? 'fenced' : `exit ${code}`),
          )
        : await Promise.all([
            client.heartbeat(handle.agentId, handle.jobId, handle.epoch).then((a) => (a.ok ? 'accepted' : a.reason)),
            client.complete(handle.agentId, handle.jobId, handle.epoch, 'succeeded').then((a) => (a.ok ? 'accepted' : a.reason)),
          ]);
    for (const answer of answers) {
      staleWrites += 1;
      if (answer === 'fenced') fencedWrites += 1;
      else problems.push(`stale write of ${handle.agentId} on ${handle.jobId} epoch ${handle.epoch} answered ${answer}, not fenced`);
    }
  }

  for (const agent of agents) if (agent.child.exitCode === null && agent.child.signalCode === null) agent.child.kill('SIGTERM');
  const exits = await Promise.all(agents.map((agent) => agent.exited()));
  exits.forEach((code, i) => {
    const agent = agents[i];
    if (agent === undefined || killed.some((k) => k.agentId === agent.agentId)) return;
    if (code !== 0) problems.push(`${agent.agentId} exited ${code}: ${agent.stderr.slice(-3).join(' | ')}`);
  });

  const events = agents.flatMap((agent) => agent.events);
  const runs = new Map(await Promise.all(jobIds.map(async (id) => [id, (await client.get<{ runs: RunView[] }>(`/fleet/jobs/${id}/runs`)).runs] as const)));
  problems.push(...checkRuns(jobs, runs, events, killed), ...checkLockHolds(events));
  for (const url of options.urls) {
    const report = await new FleetClient(url).get<InvariantReport>('/fleet/invariants');
    if (report.details.length > 0) problems.push(`store invariants (${url}): ${report.details.join('; ')}`);
  }

  const stats = await Promise.all(options.urls.map((url) => new FleetClient(url).get<ServiceStats>('/fleet/stats')));
  const sum = (pick: (s: ServiceStats['counters']) => number): number => stats.reduce((n, s) => n + pick(s.counters), 0);
  const won = sum((c) => c.claimsWon);
  const attempts = sum((c) => c.claimAttempts);
  if (attempts > 3 * won) problems.push(`${attempts} claim attempts for ${won} claims won: more than 3 per claim`);
  return {
    problems,
    figures: {
      replicas: options.urls.length,
      agents: options.agents,
      jobs: options.jobs,
      'killed mid-job': killed.length,
      'claims won': won,
      'claim attempts per claim won': won === 0 ? '-' : (attempts / won).toFixed(2),
      'claim requests (incl. 204)': sum((c) => c.claimRequests),
      'leases reaped': sum((c) => c.reaped),
      'stale writes refused': `${fencedWrites}/${staleWrites}`,
      'agent errors (retried)': events.filter((e) => e.event === 'error').length,
      'ms until every job was done': Math.round(doneMs),
    },
  };
}

/**
 * As soon as the reaper has requeued the killed agent's job and someone
 * claimed it again, the dead agent "wakes up" and heartbeats, then
 * completes, with its old epoch: both must be fenced.
 */
async function replayWhenReclaimed(client: FleetClient, handle: Handle, deadlineMs: number): Promise<string[]> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    const job = await client.get<JobView>(`/fleet/jobs/${handle.jobId}`);
    if (job.epoch > handle.epoch) {
      const heartbeat = await client.heartbeat(handle.agentId, handle.jobId, handle.epoch);
      const complete = await client.complete(handle.agentId, handle.jobId, handle.epoch, 'succeeded');
      return [heartbeat, complete].map((a) => (a.ok ? 'accepted' : a.reason));
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return ['never re-claimed'];
}

async function waitUntilDone(client: FleetClient, jobIds: readonly string[], deadlineMs: number): Promise<Map<string, JobView>> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const jobs = new Map(await Promise.all(jobIds.map(async (id) => [id, await client.get<JobView>(`/fleet/jobs/${id}`)] as const)));
    const finished = [...jobs.values()].every((job) => job.status === 'succeeded' || job.status === 'failed');
    if (finished || Date.now() > deadline) return jobs;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/**
 * Each job ran exactly once per epoch: runs for epochs 1..E, one each, held
 * by the agent that was told it won that claim; the last one ended the job,
 * the earlier ones were reaped. Every claim an agent saw has its run.
 */
function checkRuns(jobs: Map<string, JobView>, runs: Map<string, RunView[]>, events: AgentEvent[], killed: Handle[]): string[] {
  const problems: string[] = [];
  const claimedBy = new Map<string, string[]>();
  for (const e of events) {
    if (e.event !== 'claimed') continue;
    const key = `${e.jobId}@${e.epoch}`;
    claimedBy.set(key, [...(claimedBy.get(key) ?? []), e.agentId]);
  }
  for (const [key, holders] of claimedBy) {
    if (holders.length > 1) problems.push(`double assignment: ${key} claimed by ${holders.join(', ')}`);
  }
  for (const [jobId, job] of jobs) {
    const jobRuns = runs.get(jobId) ?? [];
    const epochs = jobRuns.map((run) => run.epoch).sort((a, b) => a - b);
    const expected = Array.from({ length: job.epoch }, (_, i) => i + 1);
    if (epochs.join() !== expected.join()) problems.push(`${jobId} at epoch ${job.epoch} has runs for epochs [${epochs.join()}]`);
    for (const run of jobRuns) {
      const key = `${jobId}@${run.epoch}`;
      const holders = claimedBy.get(key) ?? [];
      if (holders.length !== 1 || holders[0] !== run.agentId) problems.push(`run ${key} of ${run.agentId}, but agents saw ${holders.join(', ') || 'no claim'}`);
      const last = run.epoch === job.epoch;
      const outcomeOk = last ? run.outcome === job.status : run.outcome === 'lease_expired' || run.outcome === 'abandoned';
      if (!outcomeOk) problems.push(`run ${key} ended ${run.outcome}; job is ${job.status} at epoch ${job.epoch}`);
    }
    for (const e of events) {
      if (e.event === 'completed' && e.jobId === jobId && e.epoch !== job.epoch) {
        problems.push(`${e.agentId} completed ${jobId} at epoch ${e.epoch}, but the job ended at epoch ${job.epoch}`);
      }
    }
  }
  for (const key of claimedBy.keys()) {
    const [jobId, epoch] = key.split('@');
    if (!(runs.get(jobId ?? '') ?? []).some((run) => String(run.epoch) === epoch)) problems.push(`claim ${key} left no run`);
  }
  for (const handle of killed) {
    const job = jobs.get(handle.jobId);
    if (job !== undefined && job.epoch <= handle.epoch) problems.push(`${handle.jobId}, held by killed ${handle.agentId}, was never claimed again`);
  }
  return problems;
}

/**
 * No two holders of a lock overlapped, on the service's clock as the agents
 * were told it: a hold starts at claim time (lease end minus timeout) and
 * ends at completion, or for an agent that died or was fenced, at the last
 * lease end it was given.
 */
function checkLockHolds(events: AgentEvent[]): string[] {
  const holds = new Map<string, { lock: string; start: number; end: number }>();
  const claims = events.filter((e): e is Claimed => e.event === 'claimed' && e.lock !== null);
  for (const c of claims) {
    holds.set(`${c.jobId}@${c.epoch}`, { lock: c.lock ?? '', start: c.leaseExpiresAt - c.timeoutMs, end: c.leaseExpiresAt });
  }
  for (const e of events) {
    const hold = e.event === 'heartbeat' || e.event === 'completed' ? holds.get(`${e.jobId}@${e.epoch}`) : undefined;
    if (hold === undefined) continue;
    if (e.event === 'heartbeat') hold.end = Math.max(hold.end, e.leaseExpiresAt);
    if (e.event === 'completed') hold.end = e.finishedAt;
  }
  const problems: string[] = [];
  const byLock = new Map<string, Array<[string, { start: number; end: number }]>>();
  for (const [key, hold] of holds) byLock.set(hold.lock, [...(byLock.get(hold.lock) ?? []), [key, hold]]);
  for (const [lock, list] of byLock) {
    list.sort(([, a], [, b]) => a.start - b.start);
    // Against the latest end so far, not only the previous hold's.
    let holder = '';
    let heldUntil = Number.NEGATIVE_INFINITY;
    for (const [key, hold] of list) {
      if (hold.start < heldUntil) problems.push(`lock ${lock}: ${key} started at ${hold.start} while ${holder} held it until ${heldUntil}`);
      if (hold.end > heldUntil) {
        heldUntil = hold.end;
        holder = key;
      }
    }
  }
  return problems;
}
