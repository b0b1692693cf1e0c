/**
 * The fleet simulation: agents claim, heartbeat, complete, crash and come
 * back as zombies with stale epochs, on a simulated clock (one tick = one
 * minute), while a reaper requeues expired leases. Every tick the store is
 * checked against the invariants.
 */

import type { Stored } from '@bytelyst/datastore';
import { ManualClock } from '../modules/fleet/clock.js';
import { FleetCoordinator } from '../modules/fleet/coordinator.js';
import { checkFleetInvariants, violations, type InvariantReport } from '../modules/fleet/invariants.js';
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
const MAX_TICKS = 2_000;

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
}

class SimulatedCrash extends Error {}

const agentId = (agent: Agent): string => (agent.incarnation === 1 ? agent.base : `${agent.base}.${agent.incarnation}`);

export interface SimulationOptions {
  stores: FleetStores;
  fleetId: string;
  specs: readonly DemoSpec[];
  agents: number;
  random: Random;
  /** Called after every tick with the running totals. */
  onTick: (stats: Readonly<SimStats>, report: InvariantReport) => Promise<void> | void;
}

export interface SimulationResult {
  stats: SimStats;
  final: InvariantReport;
  simulatedMs: number;
  allDone: boolean;
}

export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const { stores, fleetId, random } = options;
  const clock = new ManualClock(Date.UTC(2025, 0, 6, 9, 0, 0));
  const start = clock.now();
  const coordinator = new FleetCoordinator({ stores, fleetId, now: clock.now });
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
  };
  for (const { jobId, spec } of options.specs) await coordinator.enqueue(spec, jobId);
  const agents: Agent[] = Array.from({ length: options.agents }, (_, i) => ({
    base: `agent-${String(i + 1).padStart(2, '0')}`,
    incarnation: 1,
    state: { kind: 'idle' },
  }));

  const restart = (agent: Agent): void => {
    agent.incarnation += 1;
    agent.state = { kind: 'idle' };
  };

  const claim = async (agent: Agent, queued: readonly Stored<FleetJob>[]): Promise<void> => {
    if (queued.length === 0) return;
    // Agents favour the head of the queue, so several go for the same job.
    const job = random.pick(queued.slice(0, 4));
    stats.claimsTried += 1;
    const dies = random.chance(CLAIM_CRASH_CHANCE);
    try {
      const result = await (dies ? crashingClaims : coordinator).tryClaimJob(job, agentId(agent));
      if (result.ok) {
        stats.claimsWon += 1;
        agent.state = { kind: 'working', handle: result.handle, remaining: random.int(2, 9) };
      } else if (result.reason === 'locked') {
        stats.locked += 1;
      } else {
        stats.conflicts += 1;
      }
    } catch (e) {
      if (!(e instanceof SimulatedCrash)) throw e;
      stats.claimsWon += 1;
      stats.claimCrashes += 1;
      agent.state = { kind: 'down', until: clock.now() + 3 * TICK_MS };
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

  let report = await checkFleetInvariants(stores, fleetId, clock.now());
  let allDone = false;
  while (stats.ticks < MAX_TICKS) {
    clock.advance(TICK_MS);
    stats.ticks += 1;
    const reap = await coordinator.reapExpired();
    stats.reaped += reap.reaped;
    stats.repaired += reap.repaired;

    const queued = await coordinator.listQueued();
    await Promise.all(
      agents.map(async (agent) => {
        const state = agent.state;
        switch (state.kind) {
          case 'idle':
            return claim(agent, queued);
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

    const jobs = await stores.jobs.query({ partitionKey: fleetId });
    stats.queued = jobs.filter((job) => job.status === 'queued').length;
    stats.assigned = jobs.filter((job) => job.status === 'assigned').length;
    stats.succeeded = jobs.filter((job) => job.status === 'succeeded').length;
    stats.failed = jobs.filter((job) => job.status === 'failed').length;
    report = await checkFleetInvariants(stores, fleetId, clock.now());
    stats.violationsSeen += violations(report);
    await options.onTick(stats, report);

    const zombies = agents.some((agent) => agent.state.kind === 'zombie');
    if (stats.queued === 0 && stats.assigned === 0 && !zombies) {
      allDone = true;
      break;
    }
  }
  return { stats, final: report, simulatedMs: clock.now() - start, allDone };
}
