/**
 * The lock rules of locks.ts, one decision at a time (the coordinator's
 * suites reach them only through whole claims). Written against StrykerJS
 * survivors in locks.ts (scripts/mutants.sh fleet; docs/testing.md).
 * Memory provider: the code under test is the fleet's, the same on every
 * provider.
 */
import { describe, expect, it } from 'vitest';
import type { Patch, Stored, UpdateIfMatchResult } from '@bytelyst/datastore';
import { extendLock, lockId, lockIsFree, lockNameOf, planLock, readLock, releaseLock, takeLock } from './locks.js';
import { createFleetRepository, type FleetRepository, type Revision } from './repository.js';
import { openFleetStores, type FleetStores } from './stores.js';
import { freshFleetId } from './__fixtures__/fleet-stores.js';
import type { FleetJob, FleetLock } from './types.js';

const NOW = 1_000_000;

function job(over: Partial<FleetJob>): FleetJob {
  return {
    id: 'j',
    fleetId: 'f',
    status: 'assigned',
    assignedTo: 'agent',
    leaseEpoch: 2,
    leaseExpiresAt: NOW + 1000,
    specName: 's',
    engine: 'e',
    cwd: '/',
    yolo: false,
    lock: 'L',
    timeoutMs: 1000,
    prompt: 'p',
    createdAt: 0,
    updatedAt: 0,
    finishedAt: null,
    ...over,
  };
}

const held = (over: Partial<FleetLock> = {}): FleetLock => ({
  id: lockId('L'),
  fleetId: 'f',
  holderJobId: 'j',
  holderEpoch: 2,
  expiresAt: NOW + 1000,
  ...over,
});

interface Setup {
  stores: FleetStores;
  fleetId: string;
  repo: FleetRepository;
}

async function setup(): Promise<Setup> {
  const stores = await openFleetStores({ provider: 'memory' });
  return { stores, fleetId: freshFleetId(), repo: createFleetRepository(stores) };
}

async function putJob(s: Setup, over: Partial<FleetJob>): Promise<void> {
  await s.stores.jobs.upsert(job({ ...over, fleetId: s.fleetId }));
}

async function putLock(s: Setup, over: Partial<FleetLock>): Promise<Stored<FleetLock>> {
  return s.stores.locks.upsert(held({ ...over, fleetId: s.fleetId }));
}

const lockOf = async (s: Setup): Promise<Stored<FleetLock> | null> => s.stores.locks.get(lockId('L'), s.fleetId);

/** A repository whose lock writes first let `before` run (another writer), then write as usual; counts the calls. */
function interfering(s: Setup, before: () => Promise<void>): FleetRepository & { lockWrites: number } {
  const inner = createFleetRepository(s.stores);
  const repo = {
    ...inner,
    lockWrites: 0,
    async revUpdateLock(current: Revision, patch: Patch<FleetLock>): Promise<UpdateIfMatchResult<FleetLock>> {
      repo.lockWrites += 1;
      await before();
      return inner.revUpdateLock(current, patch);
    },
  };
  return repo;
}

describe('lockIsFree', () => {
  const cases: Array<[string, FleetLock, FleetJob | null, boolean]> = [
    ['nobody holds it', held({ holderJobId: null, holderEpoch: null, expiresAt: null }), null, true],
    ['a holder job but no epoch', held({ holderEpoch: null }), job({}), true],
    ['a holder epoch but no job', held({ holderJobId: null }), job({}), true],
    ['held, no expiry', held({ expiresAt: null }), job({}), true],
    ['held, expired exactly now', held({ expiresAt: NOW }), job({}), true],
    ['held, expires in 1 ms, holder live', held({ expiresAt: NOW + 1 }), job({}), false],
    ['held, holder job gone', held(), null, true],
    ['held, holder moved to a later epoch', held(), job({ leaseEpoch: 3 }), true],
    ['held, holder still at that epoch and assigned', held(), job({}), false],
    ['held, holder at that epoch but completed', held(), job({ status: 'succeeded' }), true],
    ['held, holder at that epoch but reaped to queued', held(), job({ status: 'queued' }), true],
    ['held, holder at an earlier epoch (a claim in flight)', held(), job({ leaseEpoch: 1, status: 'queued' }), false],
  ];
  for (const [name, lock, holder, free] of cases) {
    it(`${name}: ${free ? 'free' : 'taken'}`, () => {
      expect(lockIsFree(lock, holder, NOW)).toBe(free);
    });
  }
});

describe('lock ids', () => {
  it('escape what Cosmos refuses in ids and round-trip', () => {
    for (const name of ['plain', 'a/b', 'a\\b', 'q?x', 'h#1', '100%', 'ü ß']) {
      const id = lockId(name);
      expect(id.startsWith('lock-')).toBe(true);
      expect(id.slice('lock-'.length)).not.toMatch(/[/\\?#]/);
      expect(lockNameOf(id)).toBe(name);
    }
    expect(lockId('a/b')).toBe('lock-a%2Fb');
  });
});

describe('readLock', () => {
  it('creates the lock free on first use, once, whoever races to it', async () => {
    const s = await setup();
    const locks = await Promise.all(Array.from({ length: 8 }, () => readLock(s.stores, s.fleetId, 'L')));
    for (const l of locks) {
      expect(l).toMatchObject({ id: lockId('L'), fleetId: s.fleetId, holderJobId: null, holderEpoch: null, expiresAt: null, rev: 1 });
    }
    expect((await lockOf(s))?.rev).toBe(1);
  });

  it('rethrows the conflict of its create when the lock it lost to is gone again', async () => {
    const s = await setup();
    await putLock(s, {});
    // Every read misses: as if the lock were deleted around the create that met it.
    const locks: Pick<FleetStores['locks'], 'get' | 'create'> = { get: async () => null, create: (doc) => s.stores.locks.create(doc) };
    const stores = { ...s.stores, locks } as unknown as FleetStores;
    await expect(readLock(stores, s.fleetId, 'L')).rejects.toMatchObject({ code: 'conflict' });
  });

  it('returns an existing lock as it is', async () => {
    const s = await setup();
    await putLock(s, {});
    expect(await readLock(s.stores, s.fleetId, 'L')).toMatchObject({ holderJobId: 'j', holderEpoch: 2 });
  });
});

describe('takeLock', () => {
  const args = (s: Setup, over: Partial<{ jobId: string; epoch: number; expiresAt: number }> = {}) => ({
    fleetId: s.fleetId,
    name: 'L',
    jobId: 'k',
    epoch: 1,
    expiresAt: NOW + 5000,
    now: NOW,
    ...over,
  });

  it('takes a lock nobody holds, and says it took it free', async () => {
    const s = await setup();
    const taken = await takeLock(s.stores, s.repo, args(s));
    expect(taken).toMatchObject({ ok: true, tookFree: true, lock: { holderJobId: 'k', holderEpoch: 1, expiresAt: NOW + 5000 } });
  });

  it('is `locked` while another job holds it live, and writes nothing', async () => {
    const s = await setup();
    await putJob(s, {});
    const before = await putLock(s, {});
    expect(await takeLock(s.stores, s.repo, args(s))).toEqual({ ok: false, reason: 'locked' });
    expect((await lockOf(s))?.rev).toBe(before.rev);
  });

  it('is `conflict` when its own job at another epoch holds it live', async () => {
    const s = await setup();
    await putJob(s, { id: 'k', leaseEpoch: 2 });
    await putLock(s, { holderJobId: 'k', holderEpoch: 2 });
    expect(await takeLock(s.stores, s.repo, args(s, { epoch: 3 }))).toEqual({ ok: false, reason: 'conflict' });
  });

  it('takes a lock whose holder epoch is over: free by the rules, so taken free', async () => {
    const s = await setup();
    await putJob(s, { leaseEpoch: 3 });
    await putLock(s, {});
    expect(await takeLock(s.stores, s.repo, args(s))).toMatchObject({ ok: true, tookFree: true, lock: { holderJobId: 'k' } });
  });

  it('shares the lock with a claimer of the same job epoch, keeping the later expiry, not as taken free', async () => {
    const s = await setup();
    await putLock(s, { holderJobId: 'k', holderEpoch: 1, expiresAt: NOW + 9000 });
    const later = await takeLock(s.stores, s.repo, args(s, { expiresAt: NOW + 5000 }));
    expect(later).toMatchObject({ ok: true, tookFree: false, lock: { holderJobId: 'k', holderEpoch: 1, expiresAt: NOW + 9000 } });
    const extended = await takeLock(s.stores, s.repo, args(s, { expiresAt: NOW + 12_000 }));
    expect(extended).toMatchObject({ ok: true, tookFree: false, lock: { expiresAt: NOW + 12_000 } });
  });

  it('is `conflict` when its write loses to another', async () => {
    const s = await setup();
    const repo = interfering(s, async () => {
      const l = await lockOf(s);
      if (l !== null) await s.stores.locks.update(l.id, l.fleetId, { expiresAt: 1 });
    });
    expect(await takeLock(s.stores, repo, args(s))).toEqual({ ok: false, reason: 'conflict' });
  });
});

describe('planLock', () => {
  const args = (s: Setup) => ({ fleetId: s.fleetId, name: 'L', jobId: 'k', epoch: 1, expiresAt: NOW + 5000, now: NOW });

  it('plans a create, held, for a lock never used', async () => {
    const s = await setup();
    expect(await planLock(s.stores, args(s))).toEqual({
      ok: true,
      op: { op: 'create', doc: { id: lockId('L'), fleetId: s.fleetId, holderJobId: 'k', holderEpoch: 1, expiresAt: NOW + 5000 } },
    });
    expect(await lockOf(s)).toBeNull();
  });

  it('plans an update conditional on the version read, and refuses a live lock', async () => {
    const s = await setup();
    const lock = await putLock(s, { holderJobId: null, holderEpoch: null, expiresAt: null });
    expect(await planLock(s.stores, args(s))).toEqual({
      ok: true,
      op: { op: 'update', id: lockId('L'), patch: { holderJobId: 'k', holderEpoch: 1, expiresAt: NOW + 5000 }, expected: { etag: lock._etag, rev: lock.rev } },
    });
    await putJob(s, {});
    await putLock(s, {});
    expect(await planLock(s.stores, args(s))).toEqual({ ok: false, reason: 'locked' });
  });
});

describe('extendLock', () => {
  const args = (s: Setup, over: Partial<{ epoch: number; expiresAt: number; now: number }> = {}) => ({
    fleetId: s.fleetId,
    name: 'L',
    jobId: 'j',
    epoch: 2,
    expiresAt: NOW + 5000,
    now: NOW,
    ...over,
  });

  it('extends a live hold, never shortening it', async () => {
    const s = await setup();
    await putLock(s, {});
    expect(await extendLock(s.stores, s.repo, args(s))).toBe('ok');
    expect((await lockOf(s))?.expiresAt).toBe(NOW + 5000);
    expect(await extendLock(s.stores, s.repo, args(s, { expiresAt: NOW + 2000 }))).toBe('ok');
    expect((await lockOf(s))?.expiresAt).toBe(NOW + 5000);
  });

  it('fences a missing lock, another holder, another epoch, no expiry, and an expired hold; writes nothing', async () => {
    const s = await setup();
    expect(await extendLock(s.stores, s.repo, args(s))).toBe('fenced');
    for (const over of [{ holderJobId: 'x' }, { holderEpoch: 1 }, { expiresAt: null }, { expiresAt: NOW }] satisfies Partial<FleetLock>[]) {
      const before = await putLock(s, over);
      expect(await extendLock(s.stores, s.repo, args(s))).toBe('fenced');
      expect((await lockOf(s))?.rev).toBe(before.rev);
    }
  });

  it('after a lost write: `conflict` when the hold is still there, `fenced` when it is gone', async () => {
    const s = await setup();
    await putLock(s, {});
    const bump = interfering(s, async () => {
      const l = await lockOf(s);
      if (l !== null && l.rev < 3) await s.stores.locks.update(l.id, l.fleetId, { expiresAt: NOW + 3000 });
    });
    expect(await extendLock(s.stores, bump, args(s))).toBe('conflict');
    const s2 = await setup();
    await putLock(s2, {});
    const reap = interfering(s2, async () => {
      const l = await lockOf(s2);
      if (l !== null) await s2.stores.locks.update(l.id, l.fleetId, { holderJobId: null, holderEpoch: null, expiresAt: null });
    });
    expect(await extendLock(s2.stores, reap, args(s2))).toBe('fenced');
  });
});

describe('releaseLock', () => {
  const args = (s: Setup, over: Partial<{ jobId: string; epoch: number; expectedRev: number }> = {}) => ({
    fleetId: s.fleetId,
    name: 'L',
    jobId: 'j',
    epoch: 2,
    ...over,
  });

  it('frees a lock its (job, epoch) holds', async () => {
    const s = await setup();
    await putLock(s, {});
    expect(await releaseLock(s.stores, s.repo, args(s))).toBe(true);
    expect(await lockOf(s)).toMatchObject({ holderJobId: null, holderEpoch: null, expiresAt: null });
  });

  it('leaves a missing lock, another job or epoch, and another revision alone', async () => {
    const s = await setup();
    expect(await releaseLock(s.stores, s.repo, args(s))).toBe(false);
    const lock = await putLock(s, {});
    expect(await releaseLock(s.stores, s.repo, args(s, { jobId: 'x' }))).toBe(false);
    expect(await releaseLock(s.stores, s.repo, args(s, { epoch: 3 }))).toBe(false);
    expect(await releaseLock(s.stores, s.repo, args(s, { expectedRev: lock.rev + 1 }))).toBe(false);
    expect((await lockOf(s))?.rev).toBe(lock.rev);
    expect(await releaseLock(s.stores, s.repo, args(s, { expectedRev: lock.rev }))).toBe(true);
  });

  it('retries a lost write three times in all, unless bound to one revision', async () => {
    const s = await setup();
    await putLock(s, {});
    const always = interfering(s, async () => {
      const l = await lockOf(s);
      if (l !== null) await s.stores.locks.update(l.id, l.fleetId, { expiresAt: (l.expiresAt ?? 0) + 1 });
    });
    expect(await releaseLock(s.stores, always, args(s))).toBe(false);
    expect(always.lockWrites).toBe(3);
    const bound = interfering(s, async () => {
      const l = await lockOf(s);
      if (l !== null) await s.stores.locks.update(l.id, l.fleetId, { expiresAt: (l.expiresAt ?? 0) + 1 });
    });
    const current = await lockOf(s);
    expect(await releaseLock(s.stores, bound, args(s, { expectedRev: current?.rev ?? 0 }))).toBe(false);
    expect(bound.lockWrites).toBe(1);
    let once = true;
    const flaky = interfering(s, async () => {
      const l = await lockOf(s);
      if (once && l !== null) await s.stores.locks.update(l.id, l.fleetId, { expiresAt: (l.expiresAt ?? 0) + 1 });
      once = false;
    });
    expect(await releaseLock(s.stores, flaky, args(s))).toBe(true);
    expect(flaky.lockWrites).toBe(2);
  });
});
