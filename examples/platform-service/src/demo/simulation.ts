/**
 * The fleet simulation: agents claim, heartbeat, complete, crash and come
 * back as zombies with stale epochs, on a simulated clock (one tick = one
 * minute), while a reaper requeues expired leases. Every tick the store is
 * checked against the invariants.
 *
 * A tick: the reaper runs; agents holding a job work (heartbeat, complete,
 * crash); zombies wake; then every agent that was idle asks for a job
 * through the picking claim (`JobPicker`), the one `POST /fleet/claims`
 * uses; with `replicas` > 1 the agents are spread over that many pickers,
 * as over service replicas sharing one store.
 */

import type { FleetRepository } from '../modules/fleet/repository.js';
import type { Stored } from '@bytelyst/datastore';
import { ManualClock } from '../modules/fleet/clock.js';
import { FleetCoordinator } from '../modules/fleet/coordinator.js';
import { checkFleetInvariants, violations, type InvariantReport } from '../modules/fleet/invariants.js';
import { lockIsFree, lockNameOf } from '../modules/fleet/locks.js';
import { JobPicker, type TryClaim } from '../modules/fleet/picker.js';
import type { FleetStores } from '../modules/fleet/stores.js';
import type { FleetJob, LeaseHandle } from '../modules/fleet/types.js';
import type { Random } from './random.js';
import type { DemoSpec } from './specs.js';

export const TICK_MS = 60_000;
/** Per working tick: the agent process dies (stops heartbeating). */
const CRASH_CHANCE = 0.035;
/** Per claim: the process dies right after the job write (the crash window). */
const CLAIM_CRASH_CHANCE = 0.02;
const FAIL_CHANCE = 0.1;
/** A job takes 2..9 ticks of work. */
const MIN_WORK_TICKS = 2;
const MAX_WORK_TICKS = 9;
/** The smallest time budget, whatever the workload. */
const MIN_TICKS = 2_000;

/**
 * The simulated time budget follows the workload: jobs under one lock run
 * one after another, so the longest lock queue, not the agent count, sets
 * the pace (at 2,000 jobs a third share two locks). Per job: its longest
 * work, plus, for the share that crash while holding it, the lease timeout
 * before the reaper frees it; twice that, for bad luck.
 */
export function tickBudget(specs: readonly DemoSpec[], agents: number): number {
  const crashShare = 1 - (1 - CRASH_CHANCE) ** MAX_WORK_TICKS + CLAIM_CRASH_CHANCE;
  const holdTicks = ({ spec }: DemoSpec): number => MAX_WORK_TICKS + 1 + crashShare * (spec.timeoutMs / TICK_MS + 1);
  const perLock = new Map<string, number>();
  let all = 0;
  for (const demo of specs) {
    const hold = holdTicks(demo);
    all += hold;
    if (demo.spec.lock !== null) perLock.set(demo.spec.lock, (perLock.get(demo.spec.lock) ?? 0) + hold);
  }
  const serial = Math.max(0, ...perLock.values());
  return Math.max(MIN_TICKS, Math.ceil(2 * Math.max(serial, all / Math.max(1, agents))));
}

export interface SimStats {
  ticks: number;
  claimsTried: number;
  claimsWon: number;
  conflicts: number;
  locked: number;
  renewals: number;
  crashes: number;
  claimCrashes: number;
  reaped: number;
  repaired: number;
  fencedStaleWrites: number;
  succeeded: number;
  failed: number;
  queued: number;
  assigned: number;
  violationsSeen: number;
  /** Agent-ticks spent holding a job. */
  busyAgentTicks: number;
  /** Agent-ticks an agent asked for a job, got none, while one was claimable. */
  idleWhileClaimable: number;
}

type AgentState =
  | { kind: 'idle' }
  | { kind: 'working'; handle: LeaseHandle; remaining: number }
  /** Dead while holding a lease; wakes up later believing it still holds it. */
  | { kind: 'zombie'; handle: LeaseHandle; wakeAt: number }
  | { kind: 'down'; until: number };

interface Agent {
  base: string;
  incarnation: number;
  state: AgentState;
  /** The service replica this agent talks to. */
  picker: JobPicker;
}

class SimulatedCrash extends Error {}

const agentId = (agent: Agent): string => (agent.incarnation === 1 ? agent.base : `${agent.base}.${agent.incarnation}`);

export interface SimulationOptions {
  stores: FleetStores;
  fleetId: string;
  specs: readonly DemoSpec[];
  agents: number;
  random: Random;
  /** Pickers the agents are spread over, as over service replicas (default 1). */
  replicas?: number;
  /** The claims' repository; the atomic one by default (the demo's --broken-claims swaps in the replaced one). */
  repository?: FleetRepository;
  /** Called after every tick with the running totals. */
  onTick: (stats: Readonly<SimStats>, report: InvariantReport) => Promise<void> | void;
}

export interface SimulationResult {
  stats: SimStats;
  final: InvariantReport;
  simulatedMs: number;
  allDone: boolean;
  tickBudget: number;
}

export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const { stores, fleetId, random } = options;
  const clock = new ManualClock(Date.UTC(2025, 0, 6, 9, 0, 0));
  const start = clock.now();
  const coordinator = new FleetCoordinator({
    stores,
    fleetId,
    now: clock.now,
    ...(options.repository ? { repository: options.repository } : {}),
  });
  const crashingClaims = new FleetCoordinator({
    stores,
    fleetId,
    now: clock.now,
    onClaimStep: (step) => {
      if (step === 'job-assigned') throw new SimulatedCrash('died between the job write and the run write');
    },
  });
  const stats: SimStats = {
    ticks: 0,
    claimsTried: 0,
    claimsWon: 0,
    conflicts: 0,
    locked: 0,
    renewals: 0,
    crashes: 0,
    claimCrashes: 0,
    reaped: 0,
    repaired: 0,
    fencedStaleWrites: 0,
    succeeded: 0,
    failed: 0,
    queued: 0,
    assigned: 0,
    violationsSeen: 0,
    busyAgentTicks: 0,
    idleWhileClaimable: 0,
  };
  const pickers = Array.from(
    { length: Math.max(1, options.replicas ?? 1) },
    () =>
      new JobPicker({
        coordinator,
        stores,
        fleetId,
        now: clock.now,
        random: () => random.next(),
        // One read of the queue per tick: the picker is told when it changed.
        maxSnapshotAgeMs: Number.POSITIVE_INFINITY,
        maxAttempts: 64,
      }),
  );
  for (const { jobId, spec } of options.specs) await coordinator.enqueue(spec, jobId);
  const pickerFor = (i: number): JobPicker => {
    const picker = pickers[i % pickers.length];
    // `pickers` has at least one entry, so this never throws.
    if (picker === undefined) throw new Error(`no picker for agent ${i}`);
    return picker;
  };
  const agents: Agent[] = Array.from({ length: options.agents }, (_, i) => ({
    base: `agent-${String(i + 1).padStart(2, '0')}`,
    incarnation: 1,
    state: { kind: 'idle' },
    picker: pickerFor(i),
  }));

  const restart = (agent: Agent): void => {
    agent.incarnation += 1;
    agent.state = { kind: 'idle' };
  };

  /** One claim attempt of a job the picker chose; counts why it missed. */
  const attempt =
    (dies: boolean): TryClaim =>
    async (job, agent) => {
      stats.claimsTried += 1;
      const result = await (dies ? crashingClaims : coordinator).tryClaimJob(job, agent);
      if (result.ok) stats.claimsWon += 1;
      else if (result.reason === 'locked') stats.locked += 1;
      else stats.conflicts += 1;
      return result;
    };

  /** Whether the agent got a job. */
  const claim = async (agent: Agent): Promise<boolean> => {
    const dies = random.chance(CLAIM_CRASH_CHANCE);
    try {
      const picked = await agent.picker.claimNext(agentId(agent), attempt(dies));
      if (!picked.ok) return false;
      agent.state = { kind: 'working', handle: picked.handle, remaining: random.int(MIN_WORK_TICKS, MAX_WORK_TICKS) };
      return true;
    } catch (e) {
      if (!(e instanceof SimulatedCrash)) throw e;
      stats.claimsWon += 1;
      stats.claimCrashes += 1;
      agent.state = { kind: 'down', until: clock.now() + 3 * TICK_MS };
      return true;
    }
  };

  const work = async (agent: Agent, state: Extract<AgentState, { kind: 'working' }>): Promise<void> => {
    if (random.chance(CRASH_CHANCE)) {
      stats.crashes += 1;
      const job = await coordinator.getJob(state.handle.jobId);
      const timeout = job?.timeoutMs ?? 0;
      agent.state = { kind: 'zombie', handle: state.handle, wakeAt: clock.now() + timeout + random.int(1, 4) * TICK_MS };
      return;
    }
    state.remaining -= 1;
    if (state.remaining > 0) {
      const renewed = await coordinator.renewLease(state.handle);
      if (renewed.ok) stats.renewals += 1;
      else if (renewed.reason === 'fenced') restart(agent);
      return;
    }
    const outcome = random.chance(FAIL_CHANCE) ? 'failed' : 'succeeded';
    const done = await coordinator.completeRun(state.handle, outcome);
    if (!done.ok) throw new Error(`a live holder could not complete: ${done.reason}`);
    agent.picker.released(state.handle.jobId);
    agent.state = { kind: 'idle' };
  };

  const wake = async (agent: Agent, state: Extract<AgentState, { kind: 'zombie' }>): Promise<void> => {
    if (clock.now() < state.wakeAt) return;
    // Back from the dead with its old epoch: the write must be fenced.
    const stale = await coordinator.completeRun(state.handle, 'succeeded', 'zombie completion');
    if (!stale.ok && stale.reason === 'fenced') stats.fencedStaleWrites += 1;
    else throw new Error(`a reaped holder's completion was not fenced: ${JSON.stringify(stale)}`);
    restart(agent);
  };

  const budget = tickBudget(options.specs, options.agents);
  let report = await checkFleetInvariants(stores, fleetId, clock.now());
  let allDone = false;
  while (stats.ticks < budget) {
    clock.advance(TICK_MS);
    stats.ticks += 1;
    const reap = await coordinator.reapExpired();
    stats.reaped += reap.reaped;
    stats.repaired += reap.repaired;
    // Time moved and the reaper ran: every replica reads the queue afresh.
    for (const picker of pickers) picker.invalidate();

    const idle = agents.filter((agent) => agent.state.kind === 'idle');
    await Promise.all(
      agents.map(async (agent) => {
        const state = agent.state;
        switch (state.kind) {
          case 'idle':
            return undefined;
          case 'working':
            return work(agent, state);
          case 'zombie':
            return wake(agent, state);
          case 'down':
            if (clock.now() >= state.until) restart(agent);
            return undefined;
        }
      }),
    );
    const gotNothing = (await Promise.all(idle.map(claim))).filter((got) => !got).length;

    const jobs = await stores.jobs.query({ partitionKey: fleetId });
    stats.queued = jobs.filter((job) => job.status === 'queued').length;
    stats.assigned = jobs.filter((job) => job.status === 'assigned').length;
    stats.succeeded = jobs.filter((job) => job.status === 'succeeded').length;
    stats.failed = jobs.filter((job) => job.status === 'failed').length;
    stats.busyAgentTicks += agents.filter((agent) => agent.state.kind === 'working').length;
    if (gotNothing > 0) stats.idleWhileClaimable += Math.min(gotNothing, await claimableNow(stores, fleetId, jobs, clock.now()));
    report = await checkFleetInvariants(stores, fleetId, clock.now());
    stats.violationsSeen += violations(report);
    await options.onTick(stats, report);

    const zombies = agents.some((agent) => agent.state.kind === 'zombie');
    if (stats.queued === 0 && stats.assigned === 0 && !zombies) {
      allDone = true;
      break;
    }
  }
  return { stats, final: report, simulatedMs: clock.now() - start, allDone, tickBudget: budget };
}

/**
 * How many agents could get a job right now: queued jobs without a lock,
 * plus one per free lock some queued job waits on. Read from the store,
 * independently of the picker.
 */
async function claimableNow(stores: FleetStores, fleetId: string, jobs: readonly Stored<FleetJob>[], now: number): Promise<number> {
  const byId = new Map(jobs.map((job) => [job.id, job]));
  const held = new Set<string>();
  for (const lock of await stores.locks.query({ partitionKey: fleetId })) {
    const holder = lock.holderJobId === null ? null : (byId.get(lock.holderJobId) ?? null);
    if (!lockIsFree(lock, holder, now)) held.add(lockNameOf(lock.id));
  }
  const freeLocks = new Set<string>();
  let unlocked = 0;
  for (const job of jobs) {
    if (job.status !== 'queued') continue;
    if (job.lock === null) unlocked += 1;
    else if (!held.has(job.lock)) freeLocks.add(job.lock);
  }
  return unlocked + freeLocks.size;
}
