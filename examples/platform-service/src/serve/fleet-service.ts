/**
 * What the HTTP routes call: the coordinator, the picking claim and the
 * counters, for one fleet on one set of stores. Knows nothing of HTTP.
 */

import { isDatastoreError, type Stored } from '@bytelyst/datastore';
import { FleetCoordinator } from '../modules/fleet/coordinator.js';
import { checkFleetInvariants, type InvariantReport } from '../modules/fleet/invariants.js';
import { JobPicker, type PickResult } from '../modules/fleet/picker.js';
import type { FleetStores } from '../modules/fleet/stores.js';
import type { FleetJob, FleetRun, HoldResult, JobSpec, LeaseHandle } from '../modules/fleet/types.js';

/** How often a heartbeat or completion that lost a write to a concurrent one (not fenced) is retried. */
const HOLD_RETRIES = 3;

export interface FleetCounters {
  claimRequests: number;
  claimsWon: number;
  /** `tryClaimJob` calls: what "claim attempts per claim won" counts. */
  claimAttempts: number;
  claimsEmpty: number;
  heartbeats: number;
  completions: number;
  fencedWrites: number;
  reaped: number;
}

export class FleetService {
  readonly coordinator: FleetCoordinator;
  readonly picker: JobPicker;
  readonly counters: FleetCounters = {
    claimRequests: 0,
    claimsWon: 0,
    claimAttempts: 0,
    claimsEmpty: 0,
    heartbeats: 0,
    completions: 0,
    fencedWrites: 0,
    reaped: 0,
  };

  constructor(
    readonly stores: FleetStores,
    readonly fleetId: string,
  ) {
    this.coordinator = new FleetCoordinator({ stores, fleetId });
    this.picker = new JobPicker({ coordinator: this.coordinator, stores, fleetId });
  }

  /** `null` when a job with that id exists already. */
  async enqueue(spec: JobSpec, jobId: string): Promise<Stored<FleetJob> | null> {
    try {
      const job = await this.coordinator.enqueue(spec, jobId);
      this.picker.invalidate();
      return job;
    } catch (e) {
      if (isDatastoreError(e, 'conflict')) return null;
      throw e;
    }
  }

  async claim(agentId: string): Promise<PickResult> {
    this.counters.claimRequests += 1;
    const picked = await this.picker.claimNext(agentId);
    this.counters.claimAttempts += picked.attempts;
    if (picked.ok) this.counters.claimsWon += 1;
    else this.counters.claimsEmpty += 1;
    return picked;
  }

  async heartbeat(handle: LeaseHandle): Promise<HoldResult> {
    const result = await this.retryLostWrites(() => this.coordinator.renewLease(handle));
    if (result.ok) this.counters.heartbeats += 1;
    return result;
  }

  async complete(handle: LeaseHandle, outcome: 'succeeded' | 'failed'): Promise<HoldResult> {
    const result = await this.retryLostWrites(() => this.coordinator.completeRun(handle, outcome));
    if (result.ok) {
      this.counters.completions += 1;
      this.picker.released(handle.jobId);
    }
    return result;
  }

  getJob(jobId: string): Promise<Stored<FleetJob> | null> {
    return this.coordinator.getJob(jobId);
  }

  runsOf(jobId: string): Promise<Stored<FleetRun>[]> {
    return this.stores.runs.query({
      partitionKey: this.fleetId,
      where: { jobId },
      orderBy: { field: 'leaseEpoch', direction: 'asc' },
    });
  }

  invariants(): Promise<InvariantReport> {
    return checkFleetInvariants(this.stores, this.fleetId, Date.now());
  }

  /** Rejects when the store cannot be reached. */
  async ping(): Promise<void> {
    await this.stores.jobs.query({ partitionKey: this.fleetId, limit: 1 });
  }

  noteReaped(reaped: number): void {
    this.counters.reaped += reaped;
    this.picker.invalidate();
  }

  private async retryLostWrites(write: () => Promise<HoldResult>): Promise<HoldResult> {
    let result = await write();
    for (let retry = 0; retry < HOLD_RETRIES && !result.ok && result.reason === 'conflict'; retry += 1) {
      result = await write();
    }
    if (!result.ok && result.reason === 'fenced') this.counters.fencedWrites += 1;
    return result;
  }
}
