// Loads @bytelyst/datastore as an installed package and exercises the
// Memory provider's conditional write: run by scripts/cross-check.sh on a
// cross-built binary (arm64 under qemu-user, musl in an Alpine-like root).
//
//   node cross-exercise.mjs <napi platform, e.g. linux-arm64-gnu>
//
// Checks: the loader picked the binary of that platform package; a claim race
// of N concurrent updateIfMatch calls on one etag has exactly one winner,
// under ESM and CommonJS; a stale etag or rev is a conflict that writes
// nothing; a missing document is not_found; deleteIfMatch compares too; and
// claimers on two worker threads over one shared store still make exactly
// one winner.
import { createRequire } from 'node:module';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { MemoryProvider } from '@bytelyst/datastore';

const require = createRequire(import.meta.url);

if (!isMainThread) {
  // A worker: claim the shared document with the etag the main thread read.
  const jobs = new MemoryProvider({ partitionKeyPath: '/tenantId', shared: workerData.store });
  const results = await Promise.all(
    Array.from({ length: workerData.claimers }, (_, i) =>
      jobs.updateIfMatch('job-w', 't1', { etag: workerData.etag }, { assignedTo: `${workerData.name}-${i}` }),
    ),
  );
  parentPort.postMessage(results.map((r) => (r.ok ? 'ok' : r.reason)));
} else {
  const platform = process.argv[2];
  const claimers = Number(process.env.CLAIMERS ?? 32);
  const check = (cond, what) => {
    if (!cond) throw new Error(`${platform}: ${what}`);
    console.log(`  ok  ${what}`);
  };

  const cjs = require('@bytelyst/datastore');
  check(cjs.MemoryProvider === MemoryProvider, 'ESM and CJS entries give the same MemoryProvider');
  const loaded = Object.keys(require.cache).filter((k) => k.endsWith('.node'));
  check(
    loaded.length === 1 && loaded[0].includes(`datastore-${platform}`) && loaded[0].endsWith(`datastore.${platform}.node`),
    `the loader picked @bytelyst/datastore-${platform} (${loaded.join(', ')}) on ${process.platform}-${process.arch}, Node ${process.version}`,
  );

  const race = async (Provider, label) => {
    const jobs = new Provider({ partitionKeyPath: '/tenantId' });
    const job = await jobs.create({ id: 'job-1', tenantId: 't1', status: 'queued', assignedTo: null });
    const results = await Promise.all(
      Array.from({ length: claimers }, (_, i) =>
        jobs.updateIfMatch('job-1', 't1', { etag: job._etag }, { status: 'assigned', assignedTo: `agent-${i}` }),
      ),
    );
    const winners = results.filter((r) => r.ok);
    const conflicts = results.filter((r) => !r.ok && r.reason === 'conflict').length;
    check(winners.length === 1 && conflicts === claimers - 1, `${label}: ${claimers} claimers, 1 winner, ${conflicts} conflicts`);
    const after = await jobs.get('job-1', 't1');
    check(after.rev === 2 && after.assignedTo === winners[0].doc.assignedTo, `${label}: the store holds the winner's write at rev 2`);
    return { jobs, job, after };
  };

  await race(cjs.MemoryProvider, 'CJS race');
  const { jobs, job, after } = await race(MemoryProvider, 'ESM race');

  const stale = await jobs.updateIfMatch('job-1', 't1', { etag: job._etag }, { assignedTo: 'late' });
  const staleRev = await jobs.updateIfMatch('job-1', 't1', { rev: 1 }, { assignedTo: 'late' });
  const unchanged = await jobs.get('job-1', 't1');
  check(
    !stale.ok && stale.reason === 'conflict' && !staleRev.ok && staleRev.reason === 'conflict' && unchanged._etag === after._etag,
    'a stale etag and a stale rev are conflicts and write nothing',
  );
  const missing = await jobs.updateIfMatch('nope', 't1', { rev: 1 }, { assignedTo: 'x' });
  check(!missing.ok && missing.reason === 'not_found', 'a missing document is not_found');
  const del = await jobs.deleteIfMatch('job-1', 't1', { etag: job._etag });
  const delOk = await jobs.deleteIfMatch('job-1', 't1', { etag: after._etag, rev: 2 });
  check(!del.ok && del.reason === 'conflict' && delOk.ok && (await jobs.get('job-1', 't1')) === null, 'deleteIfMatch compares, then deletes');
  await jobs.close();

  const store = `cross-${process.pid}`;
  const shared = new MemoryProvider({ partitionKeyPath: '/tenantId', shared: store });
  const doc = await shared.create({ id: 'job-w', tenantId: 't1', assignedTo: null });
  const perWorker = Math.max(4, claimers / 2);
  const outcomes = await Promise.all(
    ['w1', 'w2'].map(
      (name) =>
        new Promise((resolve, reject) => {
          const w = new Worker(new URL(import.meta.url), { workerData: { store, etag: doc._etag, claimers: perWorker, name } });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  const all = outcomes.flat();
  const final = await shared.get('job-w', 't1');
  check(
    all.filter((r) => r === 'ok').length === 1 && all.filter((r) => r === 'conflict').length === all.length - 1 && final.rev === 2,
    `2 worker threads x ${perWorker} claimers on one shared store: 1 winner (${final.assignedTo})`,
  );
  await shared.close();
  MemoryProvider.dropShared(store);
  console.log(`${platform}: all checks passed`);
}
