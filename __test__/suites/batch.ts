/**
 * The conformance suite's `batch` section (called from conformance.ts, so it
 * runs on every provider): every operation kind, every failing position
 * with nothing applied, the limits, conditions, and races of overlapping
 * batches under `Promise.all` and across worker threads.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { BatchOp, BatchResult, DatastoreProvider, Stored } from '@bytelyst/datastore';
import { runWorkers } from '../fixtures/workers.mjs';
import { rejection, threadLeg, type ConformanceOptions, type Job, type ProviderFactory } from './conformance.js';

/** Passes a deliberately ill-typed value through the public types. */
const bad = <T>(v: unknown): T => v as T;

/** What one claim batch did, for the all-or-nothing check. */
interface ClaimRace {
  results: BatchResult<Job>[];
  job: Stored<Job> | null;
  lease: Stored<Job> | null;
  runs: Stored<Job>[];
}

/**
 * Every way a claim race can break all-or-nothing: more than one winner, a
 * job, lease and run that disagree, or a loser's run left behind.
 */
export function claimViolations(race: ClaimRace): string[] {
  const out: string[] = [];
  const winners = race.results.filter((r) => r.ok);
  if (winners.length !== 1) out.push(`${winners.length} winners`);
  const owner = race.job?.owner;
  if (race.lease?.owner !== owner) out.push(`lease owner ${String(race.lease?.owner)} is not job owner ${String(owner)}`);
  if (race.runs.length !== 1) out.push(`${race.runs.length} run documents (losers' writes left behind)`);
  for (const r of race.runs) if (r.owner !== owner) out.push(`run ${r.id} of ${String(r.owner)}, job owned by ${String(owner)}`);
  if (race.job?.rev !== 2) out.push(`job rev ${String(race.job?.rev)}`);
  return out;
}

export function batchConformance(makeProvider: ProviderFactory, options: ConformanceOptions): void {
  const claimers = Math.min(options.claimers ?? 1000, 200);

  describe('batch', () => {
    let p: DatastoreProvider<Job>;
    beforeEach(async () => {
      p = await makeProvider<Job>({ partitionKeyPath: '/tenantId' });
    });
    const job = (id: string, extra: Partial<Job> = {}): Job => ({ id, tenantId: 't1', status: 'queued', owner: null, ...extra });
    const all = async (): Promise<Stored<Job>[]> => (await p.query({ orderBy: { field: 'id' } })).map((d) => d);

    it('every operation kind, in order, each seeing the earlier ones', async () => {
      const old = await p.create(job('old', { n: 0 }));
      await p.create(job('gone'));
      const r = await p.batch('t1', [
        { op: 'create', doc: job('a', { n: 1 }) },
        { op: 'update', id: 'a', patch: { n: 2 } },
        { op: 'read', id: 'a' },
        { op: 'upsert', doc: job('b', { n: 3 }) },
        { op: 'upsert', doc: job('old', { n: 4 }) },
        { op: 'replace', doc: job('old', { n: 5 }), expected: { rev: 2 } },
        { op: 'delete', id: 'gone' },
        { op: 'read', id: 'old' },
      ]);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.results.map((d) => (d === null ? null : [d.id, d.rev, d.n]))).toEqual([
        ['a', 1, 1],
        ['a', 2, 2],
        ['a', 2, 2],
        ['b', 1, 3],
        ['old', 2, 4],
        ['old', 3, 5],
        null,
        ['old', 3, 5],
      ]);
      for (const d of r.results) if (d !== null) expect(typeof d._etag).toBe('string');
      expect(r.results[5]?._etag).not.toBe(old._etag);
      expect(await p.get('a', 't1')).toEqual(r.results[1]);
      expect(await p.get('old', 't1')).toEqual(r.results[5]);
      expect(await p.get('gone', 't1')).toBeNull();
      expect((await all()).map((d) => d.id)).toEqual(['a', 'b', 'old']);
    });

    it('a create then an update of the same id in one batch', async () => {
      const r = await p.batch('t1', [
        { op: 'create', doc: job('x', { n: 1 }) },
        { op: 'update', id: 'x', patch: { n: 2 }, expected: { rev: 1 } },
      ]);
      expect(r.ok && r.results.map((d) => d?.rev)).toEqual([1, 2]);
      expect(await p.get('x', 't1')).toMatchObject({ n: 2, rev: 2 });
    });

    const failing: [string, (e: Stored<Job>) => BatchOp<Job>, 'conflict' | 'not_found'][] = [
      ['a create of an existing id', () => ({ op: 'create', doc: job('e') }), 'conflict'],
      ['a stale etag', () => ({ op: 'update', id: 'e', patch: { n: 9 }, expected: { etag: '"stale"' } }), 'conflict'],
      ['a stale rev', () => ({ op: 'replace', doc: job('e', { n: 9 }), expected: { rev: 7 } }), 'conflict'],
      ['a stale etag with the current rev', (e) => ({ op: 'delete', id: 'e', expected: { etag: '"stale"', rev: e.rev } }), 'conflict'],
      ['a read of a missing id', () => ({ op: 'read', id: 'missing' }), 'not_found'],
      ['a replace of a missing id', () => ({ op: 'replace', doc: job('missing') }), 'not_found'],
      ['an update of a missing id', () => ({ op: 'update', id: 'missing', patch: { n: 1 } }), 'not_found'],
      ['a delete of a missing id', () => ({ op: 'delete', id: 'missing' }), 'not_found'],
    ];
    for (const [what, op, reason] of failing) {
      it(`${what} fails the batch at its index (first, middle, last) with nothing applied`, async () => {
        for (const pos of [0, 2, 4]) {
          for (const d of await p.query()) await p.delete(d.id, 't1');
          const e = await p.create(job('e', { n: 0 }));
          const k = await p.create(job('k', { n: 0 }));
          const good: BatchOp<Job>[] = [
            { op: 'update', id: 'k', patch: { n: 1 } },
            { op: 'create', doc: job('new1') },
            { op: 'upsert', doc: job('new2') },
            { op: 'delete', id: 'k', expected: { rev: 2 } },
          ];
          const ops = [...good.slice(0, pos), op(e), ...good.slice(pos)];
          expect(await p.batch('t1', ops), `${what} at ${pos}`).toEqual({ ok: false, index: pos, reason });
          // Read back every document: exactly as before.
          expect(await all()).toEqual([e, k]);
        }
      });
    }

    it('the first failing operation is the one reported', async () => {
      await p.create(job('e'));
      const r = await p.batch('t1', [
        { op: 'update', id: 'e', patch: { n: 1 } },
        { op: 'read', id: 'missing' },
        { op: 'create', doc: job('e') },
      ]);
      expect(r).toEqual({ ok: false, index: 1, reason: 'not_found' });
    });

    it('conditions: by etag, by rev, by both', async () => {
      const a = await p.create(job('a'));
      const b = await p.create(job('b'));
      const c = await p.create(job('c'));
      const r = await p.batch('t1', [
        { op: 'update', id: 'a', patch: { n: 1 }, expected: { etag: a._etag } },
        { op: 'replace', doc: job('b', { n: 1 }), expected: { rev: b.rev } },
        { op: 'delete', id: 'c', expected: { etag: c._etag, rev: c.rev } },
      ]);
      expect(r.ok).toBe(true);
      // The etags they matched are stale now: the same batch conflicts at 0.
      const again = await p.batch('t1', [{ op: 'update', id: 'a', patch: { n: 2 }, expected: { etag: a._etag } }]);
      expect(again).toEqual({ ok: false, index: 0, reason: 'conflict' });
      const cur = await p.get('a', 't1');
      expect(
        await p.batch('t1', [{ op: 'update', id: 'a', patch: { n: 3 }, expected: { etag: a._etag, rev: cur?.rev ?? 0 } }]),
        'a stale etag with the current rev',
      ).toEqual({ ok: false, index: 0, reason: 'conflict' });
      expect(
        await p.batch('t1', [{ op: 'update', id: 'a', patch: { n: 3 }, expected: { etag: cur?._etag ?? '', rev: 1 } }]),
        'the current etag with a stale rev',
      ).toEqual({ ok: false, index: 0, reason: 'conflict' });
      expect(await p.get('a', 't1')).toEqual(cur);
      expect(cur).toMatchObject({ n: 1, rev: 2 });
    });

    it('an etag produced earlier in the same batch cannot be named: a later condition compares the in-batch version', async () => {
      const a = await p.create(job('a'));
      const r = await p.batch('t1', [
        { op: 'update', id: 'a', patch: { n: 1 }, expected: { etag: a._etag } },
        { op: 'update', id: 'a', patch: { n: 2 }, expected: { rev: 2 } },
      ]);
      expect(r.ok && r.results.map((d) => d?.rev)).toEqual([2, 3]);
      const stale = await p.batch('t1', [
        { op: 'update', id: 'a', patch: { n: 3 }, expected: { rev: 3 } },
        { op: 'update', id: 'a', patch: { n: 4 }, expected: { rev: 3 } },
      ]);
      expect(stale).toEqual({ ok: false, index: 1, reason: 'conflict' });
      expect(await p.get('a', 't1')).toMatchObject({ n: 2, rev: 3 });
    });

    it('a document nested as deep as a single write takes it is taken by every batch operation', async () => {
      // `meta` sits at depth 1: 126 more levels reach depth 127, the deepest a document may hold.
      const nest = (levels: number): { [k: string]: unknown } => {
        let v: { [k: string]: unknown } = {};
        for (let i = 0; i < levels; i++) v = { v };
        return v;
      };
      const deep = nest(126);
      await p.create(job('single', { meta: deep }));
      const r = await p.batch('t1', [
        { op: 'create', doc: job('a', { meta: deep }) },
        { op: 'upsert', doc: job('b', { meta: deep }) },
        { op: 'replace', doc: job('a', { meta: deep, n: 1 }) },
        { op: 'update', id: 'b', patch: { meta: nest(126), n: 2 } },
      ]);
      expect(r.ok).toBe(true);
      expect(await p.get('a', 't1')).toMatchObject({ meta: deep, n: 1, rev: 2 });
      expect(await p.get('b', 't1')).toMatchObject({ meta: deep, n: 2, rev: 2 });
    });

    describe('limits and bad input: rejected before anything is applied', () => {
      it('100 operations are fine, 101 are refused', async () => {
        const ops = (n: number): BatchOp<Job>[] => Array.from({ length: n }, (_, i) => ({ op: 'create', doc: job(`d${i}`) }));
        const r = await p.batch('t1', ops(100));
        expect(r.ok && r.results).toHaveLength(100);
        for (const d of await p.query()) await p.delete(d.id, 't1');
        const err = await rejection(p.batch('t1', ops(101)), 'invalid_argument');
        expect(err.message).toMatch(/100/);
        expect(await all()).toEqual([]);
      });

      it('documents over 2 MB together are too_large', async () => {
        const blob = 'x'.repeat(700 * 1024);
        const ops: BatchOp<Job>[] = ['a', 'b', 'c'].map((id) => ({ op: 'create', doc: job(id, { blob }) }));
        await rejection(p.batch('t1', ops), 'too_large');
        expect(await all()).toEqual([]);
        // Two fit; a third added by an update's merge does not.
        expect((await p.batch('t1', ops.slice(0, 2))).ok).toBe(true);
        await p.create(job('c'));
        await rejection(
          p.batch('t1', [
            { op: 'update', id: 'a', patch: { n: 1 } },
            { op: 'update', id: 'b', patch: { n: 1 } },
            { op: 'update', id: 'c', patch: { blob } },
          ]),
          'too_large',
        );
        expect((await all()).map((d) => d.rev)).toEqual([1, 1, 1]);
      });

      it.each([
        ['an empty batch', []],
        ['not an array', { op: 'read', id: 'a' }],
        ['a document of another partition', [{ op: 'create', doc: { id: 'x', tenantId: 't1' } }, { op: 'create', doc: { id: 'y', tenantId: 't2' } }]],
        ['a document without the partition key', [{ op: 'upsert', doc: { id: 'x' } }]],
        ['an unknown operation', [{ op: 'create', doc: { id: 'x', tenantId: 't1' } }, { op: 'patch', id: 'x' }]],
        ['a bad id', [{ op: 'create', doc: { id: 'x', tenantId: 't1' } }, { op: 'delete', id: 'a/b' }]],
        ['a non-string id', [{ op: 'read', id: 7 }]],
        ['a patch of rev', [{ op: 'create', doc: { id: 'x', tenantId: 't1' } }, { op: 'update', id: 'x', patch: { rev: 5 } }]],
        ['a patch moving the partition key', [{ op: 'update', id: 'x', patch: { tenantId: 't2' } }]],
        ['NaN in a document', [{ op: 'create', doc: { id: 'x', tenantId: 't1', n: NaN } }]],
        ['an empty expected', [{ op: 'delete', id: 'x', expected: {} }]],
        ['a misspelt member in expected', [{ op: 'delete', id: 'x', expected: { rev: 1, eTag: '"x"' } }]],
        ['a field the operation does not take', [{ op: 'create', doc: { id: 'x', tenantId: 't1' }, expected: { rev: 1 } }]],
        ['an operation that is not an object', [null]],
      ])('%s', async (_what, ops) => {
        await p.create(job('x'));
        const before = await all();
        await rejection(p.batch('t1', bad(ops)), 'invalid_argument');
        expect(await all()).toEqual(before);
      });

      it('names the operation at fault', async () => {
        const err = await rejection(p.batch('t1', [{ op: 'read', id: 'a' }, { op: 'create', doc: job('b', { n: NaN }) }]), 'invalid_argument');
        expect(err.message).toContain('ops[1]');
        const other = await rejection(p.batch('t1', [{ op: 'read', id: 'a' }, { op: 'upsert', doc: job('b', { tenantId: 't9' }) }]), 'invalid_argument');
        expect(other.message).toMatch(/ops\[1\].*partition key/);
      });

      it('a partition key argument that is not a scalar', async () => {
        await rejection(p.batch(bad({}), [{ op: 'read', id: 'a' }]), 'invalid_argument');
      });
    });

    /** Fires `n` claims at once of one job, each also creating the lease and its own run. */
    async function claimRace(n: number, claim: (ops: BatchOp<Job>[]) => Promise<BatchResult<Job>>): Promise<ClaimRace> {
      const read = await p.create(job('job'));
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          claim([
            // The run first: a claim applied op by op leaves a loser's run behind.
            { op: 'create', doc: job(`run-${i}`, { owner: `agent-${i}` }) },
            { op: 'update', id: 'job', patch: { status: 'assigned', owner: `agent-${i}` }, expected: { etag: read._etag } },
            { op: 'create', doc: job('lease', { owner: `agent-${i}` }) },
          ]),
        ),
      );
      const docs = await p.query();
      return {
        results,
        job: await p.get('job', 't1'),
        lease: await p.get('lease', 't1'),
        runs: docs.filter((d) => d.id.startsWith('run-')),
      };
    }

    it(`${claimers} concurrent claim batches (job + lease + run): exactly one wins, no loser leaves a write`, async () => {
      const race = await claimRace(claimers, (ops) => p.batch('t1', ops));
      expect(claimViolations(race)).toEqual([]);
      for (const r of race.results) if (!r.ok) expect(r).toEqual({ ok: false, index: 1, reason: 'conflict' });
    });

    it('negative control: the same claim as sequential single writes fails the all-or-nothing check', async () => {
      // A "batch" applied one write at a time, stopping at the first failure.
      const sequential = async (ops: BatchOp<Job>[]): Promise<BatchResult<Job>> => {
        const results: (Stored<Job> | null)[] = [];
        for (const [index, op] of ops.entries()) {
          if (op.op === 'create') {
            const made = await p.create(op.doc).catch(() => null);
            if (made === null) return { ok: false, index, reason: 'conflict' };
            results.push(made);
          } else if (op.op === 'update' && op.expected) {
            const r = await p.updateIfMatch(op.id, 't1', bad(op.expected), op.patch);
            if (!r.ok) return { ok: false, index, reason: r.reason };
            results.push(r.doc);
          }
        }
        return { ok: true, results };
      };
      const race = await claimRace(Math.min(claimers, 20), sequential);
      expect(claimViolations(race)).not.toEqual([]);
    });

    const threads = options.threads;
    if (threads) {
      const { size, onThreads, common } = threadLeg(threads);

      it(`4 threads × ${size(500)} batches over the same documents in opposite orders, and a reader: no deadlock, no torn batch`, async () => {
        const { t, where } = await onThreads();
        for (let i = 0; i < 4; i++) await t.create(job(`pair-${i}`, { n: 0 }));
        const attempts = size(500);
        const results = await runWorkers({ ...where, ...common, threads: 4, docId: 'pair', attempts, mode: 'batch-swap' });
        // Workers 0 and 2 swap in one order, 1 and 3 in the other; each batch writes two documents.
        expect(results.reduce((s, r) => s + r.ok, 0)).toBe(4 * attempts);
        expect(results.reduce((s, r) => s + r.conflicts, 0), 'torn views seen by the reader batches').toBe(0);
        const docs = await t.query();
        expect(docs.reduce((s, d) => s + d.rev - 1, 0)).toBe(2 * 4 * attempts);
      });

      it(`4 threads claiming the same ${size(500)} jobs by batch (job + lease): one winner each, lease and job agree`, async () => {
        const { t, where } = await onThreads();
        const docs = size(500);
        for (let i = 0; i < docs; i++) await t.create(job(`job-${i}`));
        const results = await runWorkers({ ...where, ...common, threads: 4, docId: 'job', attempts: docs, mode: 'batch-claim' });
        expect(results.reduce((s, r) => s + r.ok, 0)).toBe(docs);
        expect(results.reduce((s, r) => s + r.conflicts, 0)).toBe(3 * docs);
        for (let i = 0; i < docs; i++) {
          const [j, l] = [await t.get(`job-${i}`, 't1'), await t.get(`lease-${i}`, 't1')];
          expect([j?.rev, l?.owner]).toEqual([2, j?.owner]);
        }
      });
    }
  });
}
