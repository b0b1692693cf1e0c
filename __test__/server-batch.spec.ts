/**
 * The Cosmos test server's transactional batches (patched
 * @vercel/cosmosdb-server: see patches/ and docs/cosmos-test-server.md),
 * driven with @azure/cosmos and, where the SDK refuses to send a request
 * (over 100 operations, over 2 MB), over raw HTTPS.
 *
 * Real Cosmos DB semantics: every operation in one logical partition; all
 * applied or none; on failure HTTP 207 with the failing operation's own status
 * and 424 (Failed Dependency) for every other one; on success 200 with each
 * operation's status, eTag and resourceBody (none for a delete).
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:https';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BulkOperationType, CosmosClient } from '@azure/cosmos';
import type { Container, OperationInput, OperationResponse, PatchOperation } from '@azure/cosmos';
import { EMULATOR_KEY } from '../testing/cosmos-server.mjs';

const endpoint = inject('cosmosEndpoint');
const DATABASE = 'server-batch';

interface Doc {
  id: string;
  pk: string;
  n?: number;
  tags?: string[];
  note?: string;
  [key: string]: unknown;
}

interface Stored extends Doc {
  _etag: string;
  _rid: string;
  _ts: number;
}

let client: CosmosClient;

beforeAll(async () => {
  client = new CosmosClient({
    endpoint,
    key: EMULATOR_KEY,
    agent: new Agent({ keepAlive: true, rejectUnauthorized: false }),
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  await client.databases.createIfNotExists({ id: DATABASE });
});

afterAll(() => {
  client?.dispose();
});

async function freshContainer(): Promise<Container> {
  const { container } = await client
    .database(DATABASE)
    .containers.createIfNotExists({ id: `c-${randomUUID()}`, partitionKey: { paths: ['/pk'] } });
  return container;
}

/** Writes a document outside any batch and returns what the server stored. */
async function seed(container: Container, doc: Doc): Promise<Stored> {
  const { resource } = await container.items.create<Doc>(doc);
  return resource as unknown as Stored;
}

/** The document as the server has it now, or undefined. */
async function current(container: Container, id: string, pk: string): Promise<Stored | undefined> {
  const { resource } = await container.item(id, pk).read<Stored>();
  return resource;
}

async function allIds(container: Container): Promise<string[]> {
  const { resources } = await container.items.query<{ id: string }>('SELECT c.id FROM c').fetchAll();
  return resources.map((r) => r.id).sort();
}

const statuses = (results: OperationResponse[]): number[] => results.map((r) => r.statusCode);

/** A transactional batch over raw HTTPS: the wire status and body as the server sent them. */
async function rawBatch(
  container: Container,
  body: unknown,
  partitionKeyHeader: string,
): Promise<{ status: number; body: unknown; text: string }> {
  const url = new URL(`dbs/${DATABASE}/colls/${container.id}/docs`, endpoint);
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        rejectUnauthorized: false,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          'x-ms-cosmos-is-batch-request': 'True',
          'x-ms-cosmos-batch-atomic': 'True',
          'x-ms-cosmos-batch-continue-on-error': 'False',
          'x-ms-documentdb-partitionkey': partitionKeyHeader,
          'x-ms-version': '2020-07-15',
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * What `azure_data_cosmos` 1.1.0-beta.1 (`TransactionalBatchResponse`) accepts:
 * a bare JSON array of objects with `statusCode` (u16), and optionally
 * `resourceBody` (any JSON), `eTag` (string), `requestCharge` (f64),
 * `retryAfterMilliseconds` (u64) and `substatusCode` (u32); unknown fields
 * are ignored (no `deny_unknown_fields`). Returns the problems found.
 */
function rustBatchResponseProblems(body: unknown): string[] {
  if (!Array.isArray(body)) return ['the body is not a JSON array'];
  const problems: string[] = [];
  const isUInt = (v: unknown, max: number) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
  body.forEach((r: unknown, i) => {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) {
      problems.push(`[${i}] is not an object`);
      return;
    }
    const o = r as Record<string, unknown>;
    if (!isUInt(o['statusCode'], 65535)) problems.push(`[${i}].statusCode is not a u16`);
    if (o['eTag'] !== undefined && o['eTag'] !== null && typeof o['eTag'] !== 'string') problems.push(`[${i}].eTag is not a string`);
    if (o['requestCharge'] !== undefined && o['requestCharge'] !== null && typeof o['requestCharge'] !== 'number')
      problems.push(`[${i}].requestCharge is not a number`);
    for (const k of ['retryAfterMilliseconds', 'substatusCode', 'subStatusCode']) {
      if (o[k] !== undefined && o[k] !== null && !isUInt(o[k], 2 ** 32 - 1)) problems.push(`[${i}].${k} is not an unsigned integer`);
    }
  });
  return problems;
}

describe('transactional batch: success', () => {
  it('answers 200 with every operation status, eTag and resourceBody (none for a delete), and applies them all', async () => {
    const c = await freshContainer();
    const toReplace = await seed(c, { id: 'r', pk: 'p', n: 1 });
    const toUpsert = await seed(c, { id: 'u', pk: 'p', n: 1 });
    const toPatch = await seed(c, { id: 'pa', pk: 'p', n: 1, tags: ['a'] });
    const toDelete = await seed(c, { id: 'd', pk: 'p' });
    const toRead = await seed(c, { id: 'rd', pk: 'p', note: 'read me' });

    const ops: OperationInput[] = [
      { operationType: BulkOperationType.Create, resourceBody: { id: 'new', pk: 'p', n: 7 } },
      { operationType: BulkOperationType.Upsert, resourceBody: { id: 'u2', pk: 'p', n: 1 } },
      { operationType: BulkOperationType.Upsert, resourceBody: { id: 'u', pk: 'p', n: 2 }, ifMatch: toUpsert._etag },
      { operationType: BulkOperationType.Replace, id: 'r', resourceBody: { id: 'r', pk: 'p', n: 2 }, ifMatch: toReplace._etag },
      { operationType: BulkOperationType.Read, id: 'rd' },
      { operationType: BulkOperationType.Patch, id: 'pa', resourceBody: { operations: [{ op: 'incr', path: '/n', value: 5 }] }, ifMatch: toPatch._etag },
      // @azure/cosmos's DeleteOperationInput type has no ifMatch, but the SDK sends it as given
      // (and azure_data_cosmos sends ifMatch on deletes).
      { operationType: BulkOperationType.Delete, id: 'd', ifMatch: toDelete._etag } as OperationInput,
    ];
    const res = await c.items.batch(ops, 'p');
    expect(res.code).toBe(200);
    const results = res.result ?? [];
    expect(statuses(results)).toEqual([201, 201, 200, 200, 200, 200, 204]);

    // Writes and the read carry the document and its etag; the delete carries neither.
    for (const r of results.slice(0, 6)) {
      expect(typeof r.eTag).toBe('string');
      expect(r.resourceBody?.['_etag']).toBe(r.eTag);
      expect(typeof r.requestCharge).toBe('number');
    }
    expect(results[6]?.eTag).toBeUndefined();
    expect(results[6]?.resourceBody).toBeUndefined();
    expect(results[0]?.resourceBody).toMatchObject({ id: 'new', pk: 'p', n: 7 });
    expect(results[3]?.resourceBody).toMatchObject({ id: 'r', n: 2 });
    expect(results[4]?.resourceBody).toMatchObject({ id: 'rd', note: 'read me' });
    expect(results[4]?.eTag).toBe(toRead._etag); // a read changes nothing
    expect(results[5]?.resourceBody).toMatchObject({ id: 'pa', n: 6, tags: ['a'] });

    // Each applied write got a fresh etag (and keeps its _rid), as single writes do.
    expect(results[2]?.eTag).not.toBe(toUpsert._etag);
    expect(results[3]?.eTag).not.toBe(toReplace._etag);
    expect(results[3]?.resourceBody?.['_rid']).toBe(toReplace._rid);
    expect(results[5]?.eTag).not.toBe(toPatch._etag);
    expect(new Set(results.slice(0, 6).map((r) => r.eTag)).size).toBe(6);

    // And the server holds exactly what the batch answered.
    for (const [i, id] of [[0, 'new'], [1, 'u2'], [2, 'u'], [3, 'r'], [5, 'pa']] as const) {
      expect((await current(c, id, 'p'))?._etag).toBe(results[i]?.eTag);
    }
    expect(await current(c, 'd', 'p')).toBeUndefined();
    expect(await allIds(c)).toEqual(['new', 'pa', 'r', 'rd', 'u', 'u2']);
  });

  it('runs operations in order: a later operation sees an earlier one', async () => {
    const c = await freshContainer();
    const res = await c.items.batch(
      [
        { operationType: BulkOperationType.Create, resourceBody: { id: 'a', pk: 'p', n: 1 } },
        { operationType: BulkOperationType.Patch, id: 'a', resourceBody: [{ op: 'incr', path: '/n', value: 1 }] },
        { operationType: BulkOperationType.Read, id: 'a' },
        { operationType: BulkOperationType.Delete, id: 'a' },
        { operationType: BulkOperationType.Create, resourceBody: { id: 'a', pk: 'p', n: 10 } },
      ],
      'p',
    );
    expect(res.code).toBe(200);
    expect(statuses(res.result ?? [])).toEqual([201, 200, 200, 204, 201]);
    expect(res.result?.[2]?.resourceBody).toMatchObject({ n: 2 });
    expect((await current(c, 'a', 'p'))?.n).toBe(10);
  });
});

describe('transactional batch: all or nothing', () => {
  // The negative control: against the unpatched batch handler (which applies
  // operations one by one and keeps them when a later one fails) this test
  // fails on the first assertion, `a` having been created. Every operation names
  // its partition key, so that the unpatched handler can run them at all.
  it('a batch whose 3rd operation fails leaves the first two unapplied: 207, 424 for the others', async () => {
    const c = await freshContainer();
    const b = await seed(c, { id: 'b', pk: 'p', n: 1 });
    const dup = await seed(c, { id: 'dup', pk: 'p', n: 1 });

    const res = await c.items.batch(
      [
        { operationType: BulkOperationType.Create, partitionKey: 'p', resourceBody: { id: 'a', pk: 'p', n: 1 } },
        { operationType: BulkOperationType.Replace, partitionKey: 'p', id: 'b', resourceBody: { id: 'b', pk: 'p', n: 2 } },
        { operationType: BulkOperationType.Create, partitionKey: 'p', resourceBody: { id: 'dup', pk: 'p', n: 2 } },
        { operationType: BulkOperationType.Create, partitionKey: 'p', resourceBody: { id: 'z', pk: 'p' } },
      ],
      'p',
    );
    // Nothing applied...
    expect(await current(c, 'a', 'p'), 'the 1st operation (create a) was rolled back').toBeUndefined();
    expect(await current(c, 'b', 'p'), 'the 2nd operation (replace b) was rolled back').toEqual(b); // value, etag, _rid, _ts
    expect(await current(c, 'dup', 'p')).toEqual(dup);
    expect(await current(c, 'z', 'p')).toBeUndefined();
    expect(await allIds(c)).toEqual(['b', 'dup']);
    // ...and said so: 207, the failing operation's own status, 424 for the others.
    expect(res.code).toBe(207);
    expect(statuses(res.result ?? [])).toEqual([424, 424, 409, 424]);
    for (const r of res.result ?? []) {
      expect(r.resourceBody).toBeUndefined();
      expect(r.eTag).toBeUndefined();
    }
  });

  // Every kind of failing operation, at every position: the same answer, nothing applied.
  const failures: { name: string; status: number; op: (s: { x: Stored }) => OperationInput }[] = [
    { name: 'create of an existing id', status: 409, op: () => ({ operationType: 'Create', resourceBody: { id: 'x', pk: 'p' } }) },
    { name: 'replace with a stale ifMatch', status: 412, op: () => ({ operationType: 'Replace', id: 'x', resourceBody: { id: 'x', pk: 'p', n: 9 }, ifMatch: 'stale' }) },
    { name: 'upsert with a stale ifMatch', status: 412, op: () => ({ operationType: 'Upsert', resourceBody: { id: 'x', pk: 'p', n: 9 }, ifMatch: 'stale' }) },
    { name: 'delete with a stale ifMatch', status: 412, op: () => ({ operationType: 'Delete', id: 'x', ifMatch: 'stale' }) },
    { name: 'patch with a stale ifMatch', status: 412, op: () => ({ operationType: 'Patch', id: 'x', resourceBody: [{ op: 'set', path: '/n', value: 9 }], ifMatch: 'stale' }) },
    { name: 'patch whose filter predicate is false', status: 412, op: () => ({ operationType: 'Patch', id: 'x', resourceBody: { condition: 'from c where c.n = 99', operations: [{ op: 'set', path: '/n', value: 9 }] } }) },
    { name: 'read with a stale ifMatch', status: 412, op: () => ({ operationType: 'Read', id: 'x', ifMatch: 'stale' }) },
    { name: 'replace of a missing id', status: 404, op: () => ({ operationType: 'Replace', id: 'missing', resourceBody: { id: 'missing', pk: 'p' } }) },
    { name: 'delete of a missing id', status: 404, op: () => ({ operationType: 'Delete', id: 'missing' }) },
    { name: 'read of a missing id', status: 404, op: () => ({ operationType: 'Read', id: 'missing' }) },
    { name: 'patch of a missing id', status: 404, op: () => ({ operationType: 'Patch', id: 'missing', resourceBody: [{ op: 'set', path: '/n', value: 9 }] }) },
    { name: 'patch of a system property', status: 400, op: () => ({ operationType: 'Patch', id: 'x', resourceBody: [{ op: 'set', path: '/_etag', value: 'e' }] }) },
  ];

  it.each(failures)('$name fails the batch at any position ($status), nothing applied', async ({ status, op }) => {
    const c = await freshContainer();
    const x = await seed(c, { id: 'x', pk: 'p', n: 1 });
    const y = await seed(c, { id: 'y', pk: 'p', n: 1, tags: ['t'] });
    const w = await seed(c, { id: 'w', pk: 'p', n: 1 });
    const good: OperationInput[] = [
      { operationType: 'Create', resourceBody: { id: 'new1', pk: 'p' } },
      { operationType: 'Patch', id: 'y', resourceBody: [{ op: 'incr', path: '/n', value: 1 }, { op: 'add', path: '/tags/-', value: 'u' }] },
      { operationType: 'Delete', id: 'w' },
      { operationType: 'Upsert', resourceBody: { id: 'new2', pk: 'p' } },
    ];
    for (let at = 0; at <= good.length; at += 1) {
      const ops = [...good.slice(0, at), op({ x }), ...good.slice(at)];
      const res = await c.items.batch(ops, 'p');
      expect(res.code, `failing op at ${at}`).toBe(207);
      expect(statuses(res.result ?? [])).toEqual(ops.map((_, i) => (i === at ? status : 424)));
      expect(await current(c, 'x', 'p')).toEqual(x);
      expect(await current(c, 'y', 'p')).toEqual(y);
      expect(await current(c, 'w', 'p')).toEqual(w);
      expect(await allIds(c)).toEqual(['w', 'x', 'y']);
    }
    // The same container still takes a good batch afterwards (the rollback left it consistent).
    const ok = await c.items.batch(good, 'p');
    expect(ok.code).toBe(200);
    expect(await allIds(c)).toEqual(['new1', 'new2', 'x', 'y']);
    expect((await current(c, 'y', 'p'))?.tags).toEqual(['t', 'u']);
  });

  it('a rolled-back create frees its id and a rolled-back delete keeps the document queryable', async () => {
    const c = await freshContainer();
    const keep = await seed(c, { id: 'keep', pk: 'p', n: 3 });
    const res = await c.items.batch(
      [
        { operationType: 'Create', resourceBody: { id: 'fresh', pk: 'p', n: 1 } },
        { operationType: 'Delete', id: 'keep' },
        { operationType: 'Read', id: 'nope' },
      ],
      'p',
    );
    expect(statuses(res.result ?? [])).toEqual([424, 424, 404]);
    const { resources } = await c.items
      .query<Stored>({ query: 'SELECT * FROM c WHERE c.pk = @pk', parameters: [{ name: '@pk', value: 'p' }] })
      .fetchAll();
    expect(resources).toEqual([keep]);
    // The id of the rolled-back create is free again.
    const created = await c.items.create({ id: 'fresh', pk: 'p', n: 2 });
    expect(created.statusCode).toBe(201);
  });
});

describe('transactional batch: patch operations', () => {
  it('applies set, incr, add, remove, replace and move; with ifMatch and a filter predicate', async () => {
    const c = await freshContainer();
    const d = await seed(c, { id: 'd', pk: 'p', n: 1, tags: ['a', 'b'], note: 'old', gone: true, from: 'moved' });
    const operations: PatchOperation[] = [
      { op: 'set', path: '/note', value: 'new' },
      { op: 'incr', path: '/n', value: 41 },
      { op: 'add', path: '/tags/1', value: 'x' },
      { op: 'remove', path: '/gone' },
      { op: 'replace', path: '/tags/0', value: 'A' },
      // Not in @azure/cosmos 4.9.3's PatchOperation type; the server's single PATCH has it.
      { op: 'move', from: '/from', path: '/to' } as unknown as PatchOperation,
    ];
    const res = await c.items.batch(
      [
        { operationType: 'Patch', id: 'd', ifMatch: d._etag, resourceBody: { condition: 'from c where c.n = 1', operations } },
        { operationType: 'Patch', id: 'd', resourceBody: [{ op: 'set', path: '/nested', value: { k: 1 } }] },
      ],
      'p',
    );
    expect(res.code).toBe(200);
    expect(statuses(res.result ?? [])).toEqual([200, 200]);
    const after = await current(c, 'd', 'p');
    expect(after).toMatchObject({ id: 'd', pk: 'p', n: 42, tags: ['A', 'x', 'b'], note: 'new', to: 'moved', nested: { k: 1 } });
    expect(after).not.toHaveProperty('gone');
    expect(after).not.toHaveProperty('from');
    expect(after?._etag).toBe(res.result?.[1]?.eTag);
    expect(res.result?.[0]?.eTag).not.toBe(d._etag);
    expect(res.result?.[0]?.eTag).not.toBe(res.result?.[1]?.eTag);
    expect(after?._rid).toBe(d._rid);
  });

  it('a patch that fails after another patch of the same document undoes both', async () => {
    const c = await freshContainer();
    const d = await seed(c, { id: 'd', pk: 'p', n: 1 });
    const res = await c.items.batch(
      [
        { operationType: 'Patch', id: 'd', resourceBody: [{ op: 'incr', path: '/n', value: 1 }] },
        // The document's etag changed with the first patch: the original one is now stale.
        { operationType: 'Patch', id: 'd', ifMatch: d._etag, resourceBody: [{ op: 'incr', path: '/n', value: 1 }] },
      ],
      'p',
    );
    expect(res.code).toBe(207);
    expect(statuses(res.result ?? [])).toEqual([424, 412]);
    expect(await current(c, 'd', 'p')).toEqual(d);
  });
});

describe('transactional batch: limits and partition', () => {
  it('takes 100 operations, refuses 101 (400) and an empty batch (400), with nothing applied', async () => {
    const c = await freshContainer();
    const creates = (n: number, prefix: string) =>
      Array.from({ length: n }, (_, i) => ({ operationType: 'Create', id: `${prefix}${i}`, resourceBody: { id: `${prefix}${i}`, pk: 'p' } }));

    const hundred = await c.items.batch(creates(100, 'ok') as OperationInput[], 'p');
    expect(hundred.code).toBe(200);
    expect(hundred.result).toHaveLength(100);
    expect((hundred.result ?? []).every((r) => r.statusCode === 201)).toBe(true);

    // @azure/cosmos refuses to send 101; the server must refuse them too.
    const over = await rawBatch(c, creates(101, 'no'), '["p"]');
    expect(over.status).toBe(400);
    expect(over.body).toMatchObject({ code: 'BadRequest' });
    const empty = await rawBatch(c, [], '["p"]');
    expect(empty.status).toBe(400);
    expect((await allIds(c)).filter((id) => id.startsWith('no'))).toEqual([]);
    expect(await allIds(c)).toHaveLength(100);
  });

  it('refuses a request over 2 MB with 413, nothing applied', async () => {
    const c = await freshContainer();
    const big = 'x'.repeat(800 * 1024);
    const ops = [0, 1, 2].map((i) => ({ operationType: 'Create', resourceBody: { id: `big${i}`, pk: 'p', big } }));
    const res = await rawBatch(c, ops, '["p"]');
    expect(res.status).toBe(413);
    expect(await allIds(c)).toEqual([]);
    // Just under the limit is fine.
    const under = await rawBatch(c, ops.slice(0, 2), '["p"]');
    expect(under.status).toBe(200);
  });

  it('an operation outside the batch partition fails the batch (400 at that operation, 424 elsewhere)', async () => {
    const c = await freshContainer();
    const res = await c.items.batch(
      [
        { operationType: 'Create', resourceBody: { id: 'a', pk: 'p' } },
        { operationType: 'Create', resourceBody: { id: 'b', pk: 'other' } },
      ],
      'p',
    );
    expect(res.code).toBe(207);
    expect(statuses(res.result ?? [])).toEqual([424, 400]);
    const own = await c.items.batch(
      [
        { operationType: 'Create', resourceBody: { id: 'a', pk: 'p' } },
        { operationType: 'Read', id: 'a', partitionKey: 'other' },
      ],
      'p',
    );
    expect(statuses(own.result ?? [])).toEqual([424, 400]);
    expect(await allIds(c)).toEqual([]);
  });

  it('reads and writes only the batch partition: the same id in another partition is another document', async () => {
    const c = await freshContainer();
    const elsewhere = await seed(c, { id: 'same', pk: 'q', n: 1 });
    const res = await c.items.batch(
      [
        { operationType: 'Create', resourceBody: { id: 'same', pk: 'p', n: 2 } },
        { operationType: 'Delete', id: 'same' },
      ],
      'p',
    );
    expect(statuses(res.result ?? [])).toEqual([201, 204]);
    expect(await current(c, 'same', 'q')).toEqual(elsewhere);
    const missing = await c.items.batch([{ operationType: 'Read', id: 'same' }], 'p');
    expect(statuses(missing.result ?? [])).toEqual([404]);
  });
});

describe('transactional batch: concurrency', () => {
  it('of two conditional batches on the same etag, exactly one wins, whole', async () => {
    const c = await freshContainer();
    for (let round = 0; round < 20; round += 1) {
      const job = await c.items.upsert<Doc>({ id: 'job', pk: 'p', note: `free ${round}` });
      const etag = (job.resource as unknown as Stored)._etag;
      const claim = (who: string) =>
        c.items.batch(
          [
            // The condition last: the loser's first two writes must be undone.
            { operationType: 'Create', resourceBody: { id: `run-${round}-${who}`, pk: 'p' } },
            { operationType: 'Upsert', resourceBody: { id: `lease-${round}`, pk: 'p', note: who } },
            { operationType: 'Replace', id: 'job', resourceBody: { id: 'job', pk: 'p', note: who }, ifMatch: etag },
          ],
          'p',
        );
      const [a, b] = await Promise.all([claim('A'), claim('B')]);
      const codes = [a.code, b.code].sort();
      expect(codes).toEqual([200, 207]);
      const winner = a.code === 200 ? 'A' : 'B';
      const loser = winner === 'A' ? b : a;
      expect(statuses(loser.result ?? [])).toEqual([424, 424, 412]);
      expect((await current(c, 'job', 'p'))?.note).toBe(winner);
      expect((await current(c, `lease-${round}`, 'p'))?.note).toBe(winner);
      expect(await current(c, `run-${round}-${winner}`, 'p')).toBeDefined();
      expect(await current(c, `run-${round}-${winner === 'A' ? 'B' : 'A'}`, 'p')).toBeUndefined();
    }
  });

  it('two batches touching the same documents in opposite orders both finish, one after the other', async () => {
    const c = await freshContainer();
    await seed(c, { id: 'x', pk: 'p', n: 0 });
    await seed(c, { id: 'y', pk: 'p', n: 0 });
    const incr = (id: string): OperationInput => ({ operationType: 'Patch', id, resourceBody: [{ op: 'incr', path: '/n', value: 1 }] });
    const runs = await Promise.all(
      Array.from({ length: 10 }, (_, i) => c.items.batch(i % 2 ? [incr('x'), incr('y')] : [incr('y'), incr('x')], 'p')),
    );
    expect(runs.every((r) => r.code === 200)).toBe(true);
    expect((await current(c, 'x', 'p'))?.n).toBe(10);
    expect((await current(c, 'y', 'p'))?.n).toBe(10);
  });
});

describe('transactional batch: wire shape (what the SDKs parse)', () => {
  it('success: a bare array of { statusCode, requestCharge, eTag, resourceBody }, the Rust crate accepts it', async () => {
    const c = await freshContainer();
    await seed(c, { id: 'gone', pk: 'p' });
    const res = await rawBatch(
      c,
      [
        // As azure_data_cosmos serialises its operations.
        { operationType: 'Create', resourceBody: { id: 'a', pk: 'p', n: 1 } },
        { operationType: 'Replace', id: 'a', resourceBody: { id: 'a', pk: 'p', n: 2 } },
        { operationType: 'Read', id: 'a' },
        { operationType: 'Delete', id: 'gone' },
      ],
      '["p"]',
    );
    expect(res.status).toBe(200);
    expect(rustBatchResponseProblems(res.body)).toEqual([]);
    const body = res.body as Record<string, unknown>[];
    expect(body.map((r) => Object.keys(r).sort())).toEqual([
      ['eTag', 'requestCharge', 'resourceBody', 'statusCode'],
      ['eTag', 'requestCharge', 'resourceBody', 'statusCode'],
      ['eTag', 'requestCharge', 'resourceBody', 'statusCode'],
      ['requestCharge', 'statusCode'],
    ]);
    expect(body.map((r) => r['statusCode'])).toEqual([201, 200, 200, 204]);
    expect((body[1]?.['resourceBody'] as Stored | undefined)?._etag).toBe(body[1]?.['eTag']);
  });

  it('failure: HTTP 207, the failing operation with its status, every other one { statusCode: 424, requestCharge: 0 }', async () => {
    const c = await freshContainer();
    await seed(c, { id: 'dup', pk: 'p' });
    const res = await rawBatch(
      c,
      [
        { operationType: 'Create', resourceBody: { id: 'a', pk: 'p' } },
        { operationType: 'Create', resourceBody: { id: 'dup', pk: 'p' } },
        { operationType: 'Delete', id: 'dup' },
      ],
      '["p"]',
    );
    expect(res.status).toBe(207);
    expect(rustBatchResponseProblems(res.body)).toEqual([]);
    expect(res.body).toEqual([
      { statusCode: 424, requestCharge: 0 },
      { statusCode: 409, requestCharge: 1 },
      { statusCode: 424, requestCharge: 0 },
    ]);
  });

  it('the shape check itself rejects what the Rust crate would not parse', () => {
    expect(rustBatchResponseProblems({ results: [] })).not.toEqual([]);
    expect(rustBatchResponseProblems([{ status: 200 }])).not.toEqual([]);
    expect(rustBatchResponseProblems([{ statusCode: '200' }])).not.toEqual([]);
    expect(rustBatchResponseProblems([{ statusCode: 200, eTag: 1 }])).not.toEqual([]);
    expect(rustBatchResponseProblems([{ statusCode: 424, requestCharge: 0 }])).toEqual([]);
  });
});
