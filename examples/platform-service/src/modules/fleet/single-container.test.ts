/**
 * The single layout's views, as providers of their own: every method maps
 * a kind's documents in and out of the one container (tag and id prefix)
 * and nothing leaks between kinds. Written against StrykerJS survivors in
 * single-container.ts (scripts/mutants.sh fleet; docs/testing.md). Memory
 * provider: the mapping is the fleet's code, the same on every provider.
 */
import { describe, expect, it } from 'vitest';
import { MemoryProvider, type Patch } from '@bytelyst/datastore';
import { FleetContainer, type FleetEntity } from './single-container.js';
import { FLEET_PARTITION_KEY_PATH, type FleetLease, type FleetLock, type FleetRun } from './types.js';

const F = 'fleet-1';

function open(): { container: FleetContainer; raw: MemoryProvider<FleetEntity> } {
  const raw = new MemoryProvider<FleetEntity>({ partitionKeyPath: FLEET_PARTITION_KEY_PATH });
  return { container: new FleetContainer(raw), raw };
}

const lock = (id: string, over: Partial<FleetLock> = {}): FleetLock => ({
  id,
  fleetId: F,
  holderJobId: null,
  holderEpoch: null,
  expiresAt: null,
  ...over,
});

const lease = (id: string, over: Partial<FleetLease> = {}): FleetLease => ({
  id,
  fleetId: F,
  jobId: 'j',
  agentId: 'a',
  epoch: 1,
  acquiredAt: 0,
  expiresAt: 10,
  renewals: 0,
  ...over,
});

const run = (id: string): FleetRun => ({
  id,
  fleetId: F,
  jobId: 'j',
  agentId: 'a',
  leaseEpoch: 1,
  lock: null,
  startedAt: 0,
  endedAt: null,
  outcome: 'running',
  detail: null,
});

/** A stored document's caller fields (system fields dropped). */
function fields<T extends object>(doc: T | null): Partial<T> | null {
  if (doc === null) return null;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) if (!k.startsWith('_') && k !== 'rev') out[k] = v;
  return out as Partial<T>;
}

describe('single container: a kind view', () => {
  it('stores a document tagged and prefixed, and gives it back as it was', async () => {
    const { container, raw } = open();
    const locks = container.view('lock');
    expect(locks.kind).toBe('memory');
    expect(locks.partitionKeyPath).toBe(FLEET_PARTITION_KEY_PATH);
    const created = await locks.create(lock('L'));
    expect(fields(created)).toEqual(lock('L'));
    expect(created.rev).toBe(1);
    expect(fields(await raw.get('lock:L', F))).toEqual({ ...lock('L'), id: 'lock:L', kind: 'lock' });
    expect(fields(await locks.get('L', F))).toEqual(lock('L'));
    expect(await locks.get('nope', F)).toBeNull();
  });

  it('keeps kinds apart: the same id in two kinds is two documents', async () => {
    const { container } = open();
    const locks = container.view('lock');
    const leases = container.view('lease');
    await locks.create(lock('x'));
    await leases.create(lease('x'));
    expect(fields(await locks.get('x', F))).toEqual(lock('x'));
    expect(fields(await leases.get('x', F))).toEqual(lease('x'));
    expect((await locks.query({ partitionKey: F })).map((d) => d.id)).toEqual(['x']);
    expect(await leases.delete('x', F)).toBe(true);
    expect(await locks.get('x', F)).not.toBeNull();
  });

  it('refuses to read a document of another kind as its own', async () => {
    const { container, raw } = open();
    await raw.create({ id: 'lock:odd', fleetId: F, kind: 'lease' });
    await expect(container.view('lock').get('odd', F)).rejects.toThrow(/lock:odd is a lease, not a lock/);
    // Tagged a lock but not prefixed as one: a query of locks meets it.
    const { container: c2, raw: raw2 } = open();
    await raw2.create({ id: 'lease:odd2', fleetId: F, kind: 'lock' });
    await expect(c2.view('lock').query()).rejects.toThrow(/lease:odd2 is a lock, not a lock/);
  });

  it('upsert, replace and update map ids and patches', async () => {
    const { container, raw } = open();
    const locks = container.view('lock');
    expect(fields(await locks.upsert(lock('L')))).toEqual(lock('L'));
    expect(fields(await locks.replace(lock('L', { holderJobId: 'j' })))).toEqual(lock('L', { holderJobId: 'j' }));
    const updated = await locks.update('L', F, { id: 'L', holderEpoch: 3, expiresAt: undefined });
    expect(fields(updated)).toEqual(lock('L', { holderJobId: 'j', holderEpoch: 3 }));
    expect((await raw.get('lock:L', F))?.['holderEpoch']).toBe(3);
    await expect(locks.update('L', F, { id: 'other' })).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  it('updateIfMatch and deleteIfMatch compare on the container document', async () => {
    const { container } = open();
    const locks = container.view('lock');
    const v1 = await locks.create(lock('L'));
    const won = await locks.updateIfMatch('L', F, { etag: v1._etag, rev: v1.rev }, { holderJobId: 'j' });
    expect(won.ok && fields(won.doc)).toEqual(lock('L', { holderJobId: 'j' }));
    expect(await locks.updateIfMatch('L', F, { rev: v1.rev }, { holderJobId: 'k' })).toEqual({ ok: false, reason: 'conflict' });
    expect(await locks.updateIfMatch('M', F, { rev: 1 }, { holderJobId: 'k' })).toEqual({ ok: false, reason: 'not_found' });
    expect(await locks.deleteIfMatch('L', F, { rev: v1.rev })).toEqual({ ok: false, reason: 'conflict' });
    expect(await locks.deleteIfMatch('L', F, { rev: v1.rev + 1 })).toEqual({ ok: true });
    expect(await locks.get('L', F)).toBeNull();
  });

  it('query: where (an id too), order, direction, limit and partition pass through, this kind only', async () => {
    const { container } = open();
    const leases = container.view('lease');
    const locks = container.view('lock');
    for (const [id, epoch] of [['a', 3], ['b', 1], ['c', 2]] as const) await leases.create(lease(id, { epoch }));
    await leases.create({ ...lease('d', { epoch: 9 }), fleetId: 'other-fleet' });
    await locks.create(lock('a'));
    const ids = (docs: { id: string }[]): string[] => docs.map((d) => d.id);
    expect(ids(await leases.query({ partitionKey: F, orderBy: { field: 'epoch' } }))).toEqual(['b', 'c', 'a']);
    expect(ids(await leases.query({ partitionKey: F, orderBy: { field: 'epoch', direction: 'desc' } }))).toEqual(['a', 'c', 'b']);
    expect(ids(await leases.query({ partitionKey: F, orderBy: { field: 'epoch', direction: 'asc' }, limit: 2 }))).toEqual(['b', 'c']);
    expect(ids(await leases.query({ where: { id: 'a' } }))).toEqual(['a']);
    expect(ids(await leases.query({ where: { epoch: 2 } }))).toEqual(['c']);
    expect(ids(await leases.query({ orderBy: { field: 'epoch' } }))).toEqual(['b', 'c', 'a', 'd']);
    expect(ids(await leases.query())).toHaveLength(4);
    expect(ids(await locks.query())).toEqual(['a']);
  });

  it('batch within a view maps every op kind, with and without expectations', async () => {
    const { container } = open();
    const locks = container.view('lock');
    const seed = await locks.create(lock('r'));
    await locks.create(lock('d'));
    await locks.create(lock('u'));
    const out = await locks.batch(F, [
      { op: 'create', doc: lock('c') },
      { op: 'upsert', doc: lock('s') },
      { op: 'replace', doc: lock('r', { holderJobId: 'j' }), expected: { rev: seed.rev } },
      { op: 'update', id: 'u', patch: { holderEpoch: 2 } },
      { op: 'read', id: 'u' },
      { op: 'delete', id: 'd' },
      { op: 'replace', doc: lock('r', { holderJobId: 'k' }) },
      { op: 'update', id: 'u', patch: { holderEpoch: 3 }, expected: { rev: 2 } },
      { op: 'delete', id: 's', expected: { rev: 1 } },
    ]);
    if (!out.ok) throw new Error(`batch failed at ${out.index}: ${out.reason}`);
    expect(out.results.map(fields)).toEqual([
      lock('c'),
      lock('s'),
      lock('r', { holderJobId: 'j' }),
      lock('u', { holderEpoch: 2 }),
      lock('u', { holderEpoch: 2 }),
      null,
      lock('r', { holderJobId: 'k' }),
      lock('u', { holderEpoch: 3 }),
      null,
    ]);
    // A stale expectation on each conditional op kind fails the batch at it.
    expect(await locks.batch(F, [{ op: 'delete', id: 'c', expected: { rev: 7 } }])).toEqual({ ok: false, index: 0, reason: 'conflict' });
    expect(await locks.batch(F, [{ op: 'read', id: 'c' }, { op: 'replace', doc: lock('c'), expected: { rev: 7 } }])).toEqual({ ok: false, index: 1, reason: 'conflict' });
    expect(await locks.batch(F, [{ op: 'update', id: 'c', patch: { holderEpoch: 1 }, expected: { rev: 7 } }])).toEqual({ ok: false, index: 0, reason: 'conflict' });
    expect(await locks.batch(F, [{ op: 'read', id: 'c' }, { op: 'update', id: 'zz', patch: {} }])).toEqual({ ok: false, index: 1, reason: 'not_found' });
  });

  it('closes the container once, whichever view asks', async () => {
    const { container } = open();
    const locks = container.view('lock');
    const leases = container.view('lease');
    await locks[Symbol.asyncDispose]();
    await leases.close();
    await expect(locks.get('x', F)).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  it('a view disposed of closes the container', async () => {
    const { container } = open();
    await container.view('lock')[Symbol.asyncDispose]();
    await expect(container.view('lease').get('x', F)).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  it('prefixes only a string id in a patch: a number is not taken for the id', async () => {
    const { container } = open();
    const locks = container.view('lock');
    await locks.create(lock('5'));
    const patch = { id: 5, holderEpoch: 1 } as unknown as Patch<FleetLock>;
    await expect(locks.update('5', F, patch)).rejects.toMatchObject({ code: 'invalid_argument' });
    expect((await locks.get('5', F))?.holderEpoch).toBeNull();
  });
});

describe('single container: a cross-kind batch', () => {
  it('writes documents of several kinds at once and answers each in its kind', async () => {
    const { container, raw } = open();
    await container.view('lock').create(lock('L'));
    const out = await container.batch(F, [
      { kind: 'lock', op: { op: 'update', id: 'L', patch: { holderJobId: 'j' } } },
      { kind: 'lease', op: { op: 'create', doc: lease('j:1') } },
      { kind: 'lease', op: { op: 'delete', id: 'j:1' } },
      { kind: 'lock', op: { op: 'read', id: 'L' } },
    ]);
    if (!out.ok) throw new Error('batch failed');
    expect(out.results.map((r) => [r.kind, fields(r.doc)])).toEqual([
      ['lock', lock('L', { holderJobId: 'j' })],
      ['lease', lease('j:1')],
      ['lease', null],
      ['lock', lock('L', { holderJobId: 'j' })],
    ]);
    expect(await raw.get('lease:j:1', F)).toBeNull();
  });

  it('answers a run in its kind, and a delete of every kind as null', async () => {
    const { container, raw } = open();
    await raw.create({ id: 'job:J', fleetId: F, kind: 'job', status: 'queued' });
    await container.view('lock').create(lock('L'));
    await container.view('lease').create(lease('E'));
    const out = await container.batch(F, [
      { kind: 'run', op: { op: 'create', doc: run('R') } },
      { kind: 'run', op: { op: 'read', id: 'R' } },
      { kind: 'job', op: { op: 'delete', id: 'J' } },
      { kind: 'run', op: { op: 'delete', id: 'R' } },
      { kind: 'lease', op: { op: 'delete', id: 'E' } },
      { kind: 'lock', op: { op: 'delete', id: 'L' } },
    ]);
    if (!out.ok) throw new Error(`batch failed at ${out.index}: ${out.reason}`);
    expect(out.results.map((r) => [r.kind, fields(r.doc)])).toEqual([
      ['run', run('R')],
      ['run', run('R')],
      ['job', null],
      ['run', null],
      ['lease', null],
      ['lock', null],
    ]);
    expect(await raw.query({ partitionKey: F })).toEqual([]);
  });

  it('passes a failure through with its index, nothing applied', async () => {
    const { container } = open();
    const out = await container.batch(F, [
      { kind: 'lease', op: { op: 'create', doc: lease('x') } },
      { kind: 'lock', op: { op: 'update', id: 'missing', patch: { holderJobId: 'j' } } },
    ]);
    expect(out).toEqual({ ok: false, index: 1, reason: 'not_found' });
    expect(await container.view('lease').get('x', F)).toBeNull();
  });
});
