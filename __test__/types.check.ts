/**
 * Type-level checks of the public surface, compiled by `pnpm typecheck`
 * (never run): the generics carry the caller's document type through, and
 * the types refuse what the runtime would refuse.
 */
import { MemoryProvider, createProvider } from '@bytelyst/datastore';
import type { CallDiagnostics, CallOptions, CosmosProviderOptions, DatastoreProvider, QueryPage, Stored, UpdateIfMatchResult } from '@bytelyst/datastore';

interface FleetJob {
  id: string;
  tenantId: string;
  status: 'queued' | 'assigned' | 'succeeded' | 'failed';
  assignedTo: string | null;
  leaseEpoch: number;
}

export async function typeChecks(): Promise<void> {
  const jobs = new MemoryProvider<FleetJob>({ partitionKeyPath: '/tenantId' });
  const asInterface: DatastoreProvider<FleetJob> = jobs;
  void asInterface;

  const job = await jobs.get('job-1', 'tenant-1');
  if (job !== null) {
    const status: FleetJob['status'] = job.status;
    const rev: number = job.rev;
    const etag: string = job._etag;
    void [status, rev, etag];

    const r: UpdateIfMatchResult<FleetJob> = await jobs.updateIfMatch('job-1', 'tenant-1', { etag: job._etag }, {
      status: 'assigned',
      assignedTo: 'agent-1',
      leaseEpoch: job.leaseEpoch + 1,
    });
    if (r.ok) {
      const epoch: number = r.doc.leaseEpoch;
      void epoch;
    } else {
      const reason: 'conflict' | 'not_found' = r.reason;
      void reason;
    }
    // A document read back can be written back.
    const again: Stored<FleetJob> = await jobs.replace({ ...job, status: 'succeeded' });
    void again;
  }

  // @ts-expect-error rev is owned by the datastore, not a patch
  await jobs.updateIfMatch('job-1', 'tenant-1', { rev: 1 }, { rev: 2 });
  // @ts-expect-error system fields cannot be patched
  await jobs.update('job-1', 'tenant-1', { _etag: 'x' });
  // @ts-expect-error expected needs an etag or a rev
  await jobs.updateIfMatch('job-1', 'tenant-1', {}, { status: 'assigned' });
  // @ts-expect-error a status the document type does not allow
  await jobs.update('job-1', 'tenant-1', { status: 'lost' });
  // @ts-expect-error query fields come from the document type
  await jobs.query({ where: { nope: 1 } });
  // @ts-expect-error orderBy fields come from the document type too
  await jobs.query({ orderBy: { field: 'nope' } });
  // @ts-expect-error partition keys are scalars
  await jobs.get('job-1', { tenant: 1 });

  const viaConfig: DatastoreProvider<FleetJob> = await createProvider<FleetJob>({ kind: 'memory', partitionKeyPath: '/tenantId' });
  const found: Array<Stored<FleetJob>> = await viaConfig.query({ where: { status: 'queued' }, orderBy: { field: 'leaseEpoch', direction: 'desc' }, limit: 5 });
  void found;
  // @ts-expect-error cosmos needs database, container and partitionKeyPath
  await createProvider<FleetJob>({ kind: 'cosmos', endpoint: 'https://localhost:8081/' });

  // Call options, paging and the Cosmos production options.
  const opts: CallOptions = { signal: new AbortController().signal, timeoutMs: 500 };
  await jobs.get('job-1', 'tenant-1', opts);
  // @ts-expect-error signal must be an AbortSignal
  await jobs.get('job-1', 'tenant-1', { signal: 'abort' });
  const paged = await createProvider<FleetJob>({ kind: 'memory', partitionKeyPath: '/tenantId' });
  const page: QueryPage<FleetJob> = await paged.queryPage({ where: { status: 'queued' } }, { maxItems: 10, continuation: null });
  for await (const d of paged.queryIter({ partitionKey: 'tenant-1' }, { pageSize: 50 })) {
    const epoch: number = d.leaseEpoch;
    void epoch;
  }
  void page.continuation;
  const cosmos: CosmosProviderOptions = {
    endpoint: 'https://localhost:8081/',
    key: 'k',
    database: 'd',
    container: 'c',
    partitionKeyPath: '/tenantId',
    preferredRegions: ['West US 2'],
    consistencyLevel: 'Session',
    onDiagnostics: (d: CallDiagnostics) => void d.requestCharge,
  };
  // @ts-expect-error consistency levels are @azure/cosmos's names
  const badLevel: CosmosProviderOptions = { ...cosmos, consistencyLevel: 'session' };
  void [cosmos, badLevel];
}
