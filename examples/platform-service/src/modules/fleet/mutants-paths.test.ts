/**
 * Tests written to kill mutants StrykerJS found surviving the fleet suite
 * (scripts/mutants.sh fleet; docs/testing.md). Each `it` names the
 * coordinator.ts line and mutation it targets. Memory provider only: the
 * code under test is the coordinator's, the same on every provider.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { FleetCoordinator } from './coordinator.js';
import { lockId } from './locks.js';
import { openFleetStores, type FleetStores } from './stores.js';
import { freshFleetId } from './__fixtures__/fleet-stores.js';
import { MINUTE, testSpec } from './__fixtures__/specs.js';
import type { LeaseHandle } from './types.js';

interface Fleet {
  stores: FleetStores;
  fleetId: string;
  clock: ManualClock;
  coordinator: FleetCoordinator;
}

async function openFleet(): Promise<Fleet> {
  const stores = await openFleetStores({ provider: 'memory' });
  const fleetId = freshFleetId();
  const clock = new ManualClock(1_000_000);
  const coordinator = new FleetCoordinator({ stores, fleetId, now: clock.now });
  return { stores, fleetId, clock, coordinator };
}

/** Enqueues `jobId` and claims it for `agentId`; returns the handle. */
async function claimed(fleet: Fleet, jobId: string, agentId: string, lock: string | null = null): Promise<LeaseHandle> {
  await fleet.coordinator.enqueue(testSpec({ lock }), jobId);
  const job = await fleet.coordinator.getJob(jobId);
  if (job === null) throw new Error('no job');
  const claim = await fleet.coordinator.tryClaimJob(job, agentId);
  if (!claim.ok) throw new Error(`claim failed: ${claim.reason}`);
  return claim.handle;
}

describe('fleet coordinator: mutants of the claim/renew/complete/reap paths', () => {
  it('L136 `status !== queued` → false: a read of an assigned job is not claimable, even while it is current', async () => {
    const fleet = await openFleet();
    await claimed(fleet, 'j', 'agent-a');
    const current = await fleet.coordinator.getJob('j');
    if (current === null) throw new Error('no job');
    expect(await fleet.coordinator.tryClaimJob(current, 'agent-b')).toEqual({ ok: false, reason: 'not_claimable' });
    expect((await fleet.coordinator.getJob('j'))?.assignedTo).toBe('agent-a');
  });

  it('L447–450 `holds` conjuncts → true: another agent, another epoch or a finished job is fenced', async () => {
    const fleet = await openFleet();
    const handle = await claimed(fleet, 'j', 'agent-a');
    expect(await fleet.coordinator.renewLease({ ...handle, agentId: 'agent-b' })).toEqual({ ok: false, reason: 'fenced' });
    expect(await fleet.coordinator.renewLease({ ...handle, epoch: handle.epoch + 1 })).toEqual({ ok: false, reason: 'fenced' });
    expect(await fleet.coordinator.completeRun({ ...handle, agentId: 'agent-b' }, 'succeeded')).toEqual({ ok: false, reason: 'fenced' });
    expect((await fleet.coordinator.getJob('j'))?.status).toBe('assigned');
    expect((await fleet.coordinator.completeRun(handle, 'succeeded')).ok).toBe(true);
    // Same agent, same epoch, lease not expired: only the status says it is over.
    expect(await fleet.coordinator.renewLease(handle)).toEqual({ ok: false, reason: 'fenced' });
    expect(await fleet.coordinator.completeRun(handle, 'failed')).toEqual({ ok: false, reason: 'fenced' });
    expect((await fleet.coordinator.getJob('j'))?.status).toBe('succeeded');
  });

  it('L216/L248 `job === null` → false: renew and complete of a deleted job answer not_found', async () => {
    const fleet = await openFleet();
    const handle = await claimed(fleet, 'j', 'agent-a');
    await fleet.stores.jobs.delete('j', fleet.fleetId);
    expect(await fleet.coordinator.renewLease(handle)).toEqual({ ok: false, reason: 'not_found' });
    expect(await fleet.coordinator.completeRun(handle, 'succeeded')).toEqual({ ok: false, reason: 'not_found' });
  });

  it('L277 expiry check → false: the reaper leaves a live lease alone', async () => {
    const fleet = await openFleet();
    await claimed(fleet, 'j', 'agent-a');
    fleet.clock.advance(5 * MINUTE);
    expect((await fleet.coordinator.reapExpired()).reaped).toBe(0);
    expect((await fleet.coordinator.getJob('j'))?.status).toBe('assigned');
  });

  it('L221 lock branch → false / L331–332: a renew extends the lock and the lease mirror', async () => {
    const fleet = await openFleet();
    const handle = await claimed(fleet, 'j', 'agent-a', 'L');
    fleet.clock.advance(4 * MINUTE);
    const renewed = await fleet.coordinator.renewLease(handle);
    expect(renewed).toEqual({ ok: true, expiresAt: fleet.clock.now() + 10 * MINUTE });
    const lock = await fleet.stores.locks.get(lockId('L'), fleet.fleetId);
    expect(lock?.expiresAt).toBe(fleet.clock.now() + 10 * MINUTE);
    const [lease] = await fleet.stores.leases.query({ partitionKey: fleet.fleetId, where: { jobId: 'j' } });
    expect(lease?.expiresAt).toBe(fleet.clock.now() + 10 * MINUTE);
    expect(lease?.renewals).toBe(1);
  });

  it('L384 lock branch of settleEpoch: completing frees the lock', async () => {
    const fleet = await openFleet();
    const handle = await claimed(fleet, 'j', 'agent-a', 'L');
    expect((await fleet.coordinator.completeRun(handle, 'succeeded')).ok).toBe(true);
    const lock = await fleet.stores.locks.get(lockId('L'), fleet.fleetId);
    expect(lock).toMatchObject({ holderJobId: null, holderEpoch: null, expiresAt: null });
  });
});
