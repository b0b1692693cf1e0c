/**
 * Lost responses of a conditional write, between a real SDK client and a
 * real server: whatever the provider reports must be what the server holds.
 * A write reported `ok` is in the document exactly once; one reported
 * `conflict` is not in it; when the provider cannot tell, it rejects with
 * `unavailable`/`timeout` saying the outcome is unknown.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CosmosProvider, DatastoreError } from '@bytelyst/datastore';
import type { BatchOp, CallDiagnostics, CosmosProviderOptions } from '@bytelyst/datastore';
import type { IncomingHttpHeaders } from 'node:http';
import { EMULATOR_KEY, startCosmosServer, stopServer } from '../testing/cosmos-server.mjs';
import { conditionalReplace, documentRequest, FaultProxy } from './setup/fault-proxy.js';

interface Job {
  id: string;
  tenantId: string;
  owner: string | null;
  note?: string;
}

const endpoint = inject('cosmosEndpoint');
const upstreamPort = Number(new URL(endpoint).port);

/** Passes a deliberately ill-typed value through the public types. */
const bad = <T>(v: unknown): T => v as T;

/** Settles to the result, or to the DatastoreError it rejected with. */
const outcome = <R>(p: Promise<R>): Promise<R | DatastoreError> =>
  p.then(
    (r) => r,
    (e: unknown) => {
      if (e instanceof DatastoreError) return e;
      throw e;
    },
  );

/** A rejection saying, honestly, that the outcome is unknown. */
const isUnknown = (r: unknown): boolean =>
  r instanceof DatastoreError && ['unavailable', 'timeout'].includes(r.code) && /outcome is unknown/.test(r.message);

/** Options of a provider on `container` of the fault suites' database, at `at` (the server or a proxy). */
function faultOptions(at: string, container: string, extra: Partial<CosmosProviderOptions> = {}): CosmosProviderOptions {
  return {
    endpoint: at,
    key: EMULATOR_KEY,
    database: 'faults',
    container,
    partitionKeyPath: '/tenantId',
    emulator: true,
    createIfNotExists: true,
    ...extra,
  };
}

/** A describe block's two providers on one fresh container: one direct, one (with `extra` options) behind a fault proxy of its own. */
function proxiedPair(
  prefix: string,
  extra: Partial<CosmosProviderOptions> = {},
): { proxy: FaultProxy; direct: CosmosProvider<Job>; viaProxy: CosmosProvider<Job> } {
  const pair = {} as { proxy: FaultProxy; direct: CosmosProvider<Job>; viaProxy: CosmosProvider<Job> };
  beforeAll(async () => {
    pair.proxy = await FaultProxy.start(upstreamPort);
    const container = `${prefix}-${randomUUID()}`;
    pair.direct = await CosmosProvider.connect<Job>(faultOptions(endpoint, container));
    pair.viaProxy = await CosmosProvider.connect<Job>(faultOptions(pair.proxy.endpoint, container, extra));
  });
  afterAll(async () => {
    await pair.proxy.close();
  });
  return pair;
}

describe('CosmosProvider: conditional writes whose response is lost', () => {
  const pair = proxiedPair('faults');

  async function fresh(): Promise<{ id: string; etag: string }> {
    const id = `job-${randomUUID()}`;
    const d = await pair.direct.create({ id, tenantId: 't', owner: null });
    // Read through the proxy too, as a claimer would.
    const seen = await pair.viaProxy.get(id, 't');
    expect(seen?._etag).toBe(d._etag);
    return { id, etag: d._etag };
  }

  it('response dropped after the server applied it: reported ok, applied once', async () => {
    const { id, etag } = await fresh();
    const firedBefore = pair.proxy.fired.length;
    pair.proxy.arm({ match: conditionalReplace(id), fault: 'drop-response', times: 1 });
    const r = await pair.viaProxy.updateIfMatch(id, 't', { etag }, { owner: 'me' });
    expect(pair.proxy.fired.length, 'the fault fired').toBeGreaterThan(firedBefore);
    const held = await pair.direct.get(id, 't');
    expect(r.ok).toBe(true);
    expect(held).toMatchObject({ owner: 'me', rev: 2 });
    if (r.ok) expect(r.doc._etag).toBe(held?._etag);
  });

  it('every response dropped (retries meet their own write as a 412): reported ok, applied once', async () => {
    const { id, etag } = await fresh();
    const firedBefore = pair.proxy.fired.length;
    pair.proxy.arm({ match: conditionalReplace(id), fault: 'drop-response', times: 1_000 });
    const r = await pair.viaProxy.updateIfMatch(id, 't', { etag }, { owner: 'me' });
    pair.proxy.disarm();
    expect(pair.proxy.fired.length, 'the fault fired').toBeGreaterThan(firedBefore);
    const held = await pair.direct.get(id, 't');
    expect(r.ok).toBe(true);
    expect(held).toMatchObject({ owner: 'me', rev: 2 });
  });

  it('request lost before the server saw it: the resend lands once', async () => {
    const { id, etag } = await fresh();
    const firedBefore = pair.proxy.fired.length;
    pair.proxy.arm({ match: conditionalReplace(id), fault: 'reset', times: 1 });
    const r = await pair.viaProxy.updateIfMatch(id, 't', { etag }, { owner: 'me' });
    expect(pair.proxy.fired.length, 'the fault fired').toBeGreaterThan(firedBefore);
    const held = await pair.direct.get(id, 't');
    expect(r.ok).toBe(true);
    expect(held).toMatchObject({ owner: 'me', rev: 2 });
  });

  it('a stale claim whose 412 is lost is a conflict, and writes nothing', async () => {
    const { id, etag } = await fresh();
    await pair.direct.updateIfMatch(id, 't', { etag }, { owner: 'rival' });
    const firedBefore = pair.proxy.fired.length;
    pair.proxy.arm({ match: conditionalReplace(id), fault: 'drop-response', times: 1 });
    const r = await pair.viaProxy.updateIfMatch(id, 't', { etag }, { owner: 'me' });
    expect(pair.proxy.fired.length, 'the fault fired').toBeGreaterThan(firedBefore);
    const held = await pair.direct.get(id, 't');
    expect(r).toEqual({ ok: false, reason: 'conflict' });
    expect(held).toMatchObject({ owner: 'rival', rev: 2 });
  });

  it('when no attempt can reach the server, the outcome is reported unknown, not guessed', async () => {
    const { id, etag } = await fresh();
    const firedBefore = pair.proxy.fired.length;
    pair.proxy.arm({ match: conditionalReplace(id), fault: 'reset', times: 1_000 });
    const err: unknown = await pair.viaProxy.updateIfMatch(id, 't', { etag }, { owner: 'me' }).then(
      (r) => r,
      (e: unknown) => e,
    );
    pair.proxy.disarm();
    // The first attempt and MAX_RESENDS (2) identical resends: never an endless or a longer resend loop.
    expect(pair.proxy.fired.length - firedBefore, 'conditional replaces sent').toBe(3);
    const held = await pair.direct.get(id, 't');
    expect(held).toMatchObject({ owner: null, rev: 1 });
    expect(err).toBeInstanceOf(DatastoreError);
    expect(['unavailable', 'timeout']).toContain((err as DatastoreError).code);
    expect((err as DatastoreError).message).toMatch(/outcome is unknown/);
  });

  it('a delete none of whose attempts reaches the server is reported unknown after its resends, and deletes nothing', async () => {
    const { id } = await fresh();
    const firedBefore = pair.proxy.fired.length;
    pair.proxy.arm({ match: documentRequest('DELETE', id), fault: 'reset', times: 1_000 });
    const r = await outcome(pair.viaProxy.delete(id, 't'));
    pair.proxy.disarm();
    // The first attempt and MAX_RESENDS (2) resends.
    expect(pair.proxy.fired.length - firedBefore, 'deletes sent').toBe(3);
    expect(isUnknown(r), String(r)).toBe(true);
    expect(await pair.direct.get(id, 't')).not.toBeNull();
  });

  it('a delete whose response is lost is never reported "nothing to delete"', async () => {
    const { id } = await fresh();
    const firedBefore = pair.proxy.fired.length;
    pair.proxy.arm({ match: documentRequest('DELETE', id), fault: 'drop-response', times: 1 });
    const r = await outcome(pair.viaProxy.delete(id, 't'));
    expect(pair.proxy.fired.length, 'the fault fired').toBeGreaterThan(firedBefore);
    expect(await pair.direct.get(id, 't')).toBeNull();
    // It did delete: true, or an honest "unknown" — never false.
    expect(r === true || isUnknown(r), `answered ${String(r)}`).toBe(true);
  });

  it('a deleteIfMatch whose response is lost is never reported not_found', async () => {
    const { id, etag } = await fresh();
    pair.proxy.arm({ match: documentRequest('DELETE', id), fault: 'drop-response', times: 1 });
    const r = await outcome(pair.viaProxy.deleteIfMatch(id, 't', { etag }));
    expect(await pair.direct.get(id, 't')).toBeNull();
    expect((r instanceof DatastoreError ? isUnknown(r) : r.ok), JSON.stringify(r)).toBe(true);
  });

  // A 409 answers a create ("it exists"), not a delete: the delete re-reads, finds its version still there, resends.
  it('a delete answered 409 is not a conflict: re-read, resent, deleted', async () => {
    const { id } = await fresh();
    pair.proxy.arm({ match: documentRequest('DELETE', id), fault: 'respond', times: 1, respond: { status: 409 } });
    expect(await pair.viaProxy.delete(id, 't')).toBe(true);
    expect(await pair.direct.get(id, 't')).toBeNull();
    const again = await fresh();
    pair.proxy.arm({ match: documentRequest('DELETE', again.id), fault: 'respond', times: 1, respond: { status: 409 } });
    expect(await pair.viaProxy.deleteIfMatch(again.id, 't', { etag: again.etag })).toMatchObject({ ok: true });
    expect(await pair.direct.get(again.id, 't')).toBeNull();
  });

  // A blank If-Match is ignored by the service (an unconditional delete): a blank etag is compared after a read.
  it('deleteIfMatch with a blank etag is a conflict and deletes nothing', async () => {
    const { id } = await fresh();
    expect(await pair.viaProxy.deleteIfMatch(id, 't', { etag: '' })).toEqual({ ok: false, reason: 'conflict' });
    expect(await pair.direct.get(id, 't')).not.toBeNull();
  });

  // Between the lost answer and the re-read, the document is deleted and created again (and written up to
  // the same rev): a version at our rev without our token is then no proof that another write beat ours.
  it('a write whose answer is lost, while the document is deleted and created again up to the same rev, is not a conflict', async () => {
    for (const by of ['etag', 'rev'] as const) {
      const { id, etag } = await fresh();
      pair.proxy.arm({
        match: conditionalReplace(id),
        fault: 'drop-response',
        times: 1,
        meanwhile: async () => {
          await pair.direct.delete(id, 't');
          await pair.direct.create({ id, tenantId: 't', owner: 'reborn' });
          await pair.direct.update(id, 't', { note: 'reborn at rev 2' });
        },
      });
      const r = await outcome(pair.viaProxy.updateIfMatch(id, 't', by === 'etag' ? { etag } : { rev: 1 }, { owner: 'me' }));
      pair.proxy.disarm();
      // Ours landed (and was deleted): ok, or an honest "unknown"; never conflict.
      expect(r instanceof DatastoreError ? isUnknown(r) : r.ok, `by ${by}: ${r instanceof DatastoreError ? r.message : JSON.stringify(r)}`).toBe(true);
      expect(await pair.direct.get(id, 't')).toMatchObject({ owner: 'reborn', rev: 2 });
    }
  });

  it('a deleteIfMatch whose answer is lost, while the document is created again, neither answers conflict nor deletes the new one', async () => {
    for (const by of ['etag', 'rev'] as const) {
      for (const rev of [1, 2]) {
        const { id, etag } = await fresh();
        pair.proxy.arm({
          match: documentRequest('DELETE', id),
          fault: 'drop-response',
          times: 1,
          meanwhile: async () => {
            await pair.direct.create({ id, tenantId: 't', owner: 'reborn' });
            if (rev === 2) await pair.direct.update(id, 't', { note: 'reborn at rev 2' });
          },
        });
        const r = await outcome(pair.viaProxy.deleteIfMatch(id, 't', by === 'etag' ? { etag } : { rev: 1 }));
        pair.proxy.disarm();
        const what = `by ${by}, created again up to rev ${rev}: ${r instanceof DatastoreError ? r.message : JSON.stringify(r)}`;
        expect(r instanceof DatastoreError ? isUnknown(r) : r.ok, what).toBe(true);
        expect(await pair.direct.get(id, 't'), `${what}: the new document stands`).toMatchObject({ owner: 'reborn', rev });
      }
    }
  });

  it('a delete whose answer is lost, while the document is created again, does not delete the new one', async () => {
    // fresh() reads through the proxy: the provider knows the version it deletes.
    const { id } = await fresh();
    pair.proxy.arm({
      match: documentRequest('DELETE', id),
      fault: 'drop-response',
      times: 1,
      meanwhile: async () => {
        await pair.direct.create({ id, tenantId: 't', owner: 'reborn' });
      },
    });
    const r = await outcome(pair.viaProxy.delete(id, 't'));
    pair.proxy.disarm();
    expect(r === true || isUnknown(r), r instanceof DatastoreError ? r.message : String(r)).toBe(true);
    expect(await pair.direct.get(id, 't'), 'the new document stands').toMatchObject({ owner: 'reborn', rev: 1 });
  });

  it('a deleteIfMatch whose answer is lost after another client rewrote the document is a conflict', async () => {
    const { id, etag } = await fresh();
    await pair.direct.update(id, 't', { owner: 'rival' });
    pair.proxy.arm({ match: documentRequest('DELETE', id), fault: 'drop-response', times: 1 });
    const r = await outcome(pair.viaProxy.deleteIfMatch(id, 't', { etag }));
    pair.proxy.disarm();
    expect(r).toEqual({ ok: false, reason: 'conflict' });
    expect(await pair.direct.get(id, 't')).toMatchObject({ owner: 'rival', rev: 2 });
  });

  it('a create whose 201 is lost, then deleted and created again by another client, is not a conflict', async () => {
    for (const via of ['create', 'batch'] as const) {
      const id = `job-${randomUUID()}`;
      pair.proxy.arm({
        match: (req) => req.method === 'POST' && req.url.endsWith('/docs'),
        fault: 'drop-response',
        times: 1,
        meanwhile: async () => {
          expect(await pair.direct.delete(id, 't')).toBe(true);
          await pair.direct.create({ id, tenantId: 't', owner: 'reborn' });
        },
      });
      const doc = { id, tenantId: 't', owner: null };
      const sent: Promise<unknown> = via === 'create' ? pair.viaProxy.create(doc) : pair.viaProxy.batch('t', [{ op: 'create', doc }]);
      const r = await outcome(sent);
      pair.proxy.disarm();
      // Ours landed (and was deleted): ok, or an honest "unknown"; never "it already existed".
      const what = `${via}: ${r instanceof DatastoreError ? r.message : JSON.stringify(r)}`;
      expect(r instanceof DatastoreError ? isUnknown(r) : via === 'create' || (r as { ok: boolean }).ok, what).toBe(true);
      expect(await pair.direct.get(id, 't')).toMatchObject({ owner: 'reborn', rev: 1 });
    }
  });

  it('a create whose 201 is lost, then deleted by another client, is not created a second time', async () => {
    const id = `job-${randomUUID()}`;
    pair.proxy.arm({
      match: documentRequest('POST', id),
      fault: 'drop-response',
      times: 1,
      meanwhile: async () => {
        expect(await pair.direct.delete(id, 't')).toBe(true);
      },
    });
    const r = await outcome(pair.viaProxy.create({ id, tenantId: 't', owner: null }));
    pair.proxy.disarm();
    // The other client's delete stands: the document must not come back.
    expect(await pair.direct.get(id, 't')).toBeNull();
    expect(r instanceof DatastoreError ? isUnknown(r) : r.rev === 1, String(r)).toBe(true);
  });

  it('a write whose response is lost answers with its own version, not a later writer\'s', async () => {
    const { id, etag } = await fresh();
    pair.proxy.arm({
      match: conditionalReplace(id),
      fault: 'drop-response',
      times: 1,
      meanwhile: async () => {
        await pair.direct.update(id, 't', { note: 'later writer' });
      },
    });
    const r = await pair.viaProxy.updateIfMatch(id, 't', { etag }, { owner: 'me' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.doc).toMatchObject({ owner: 'me', rev: 2 });
    expect(r.doc).not.toHaveProperty('note');
    expect(await pair.direct.get(id, 't')).toMatchObject({ owner: 'me', note: 'later writer', rev: 3 });
    // Its etag names a superseded version: a compare on it is a conflict.
    expect(await pair.viaProxy.updateIfMatch(id, 't', { etag: r.doc._etag }, { owner: 'again' })).toEqual({ ok: false, reason: 'conflict' });
  });
});

describe('CosmosProvider: round trips of a write the server can decide', () => {
  const pair = proxiedPair('trips');

  /** The document requests `run` sends through the proxy, as `METHOD` strings. */
  async function sent(id: string, run: () => Promise<unknown>): Promise<string[]> {
    const from = pair.proxy.requests.length;
    await run();
    return pair.proxy.requests.slice(from).filter((r) => r.url.includes(`/docs/${id}`)).map((r) => r.method);
  }

  it('a rev-only updateIfMatch on the version this process read is one request', async () => {
    const id = `job-${randomUUID()}`;
    await pair.direct.create({ id, tenantId: 't', owner: null });
    const seen = await pair.viaProxy.get(id, 't');
    expect(seen?.rev).toBe(1);
    let r: Awaited<ReturnType<typeof pair.viaProxy.updateIfMatch>> | undefined;
    expect(await sent(id, async () => (r = await pair.viaProxy.updateIfMatch(id, 't', { rev: 1 }, { owner: 'me' })))).toEqual(['PUT']);
    expect(r).toMatchObject({ ok: true, doc: { owner: 'me', rev: 2 } });
    // And again on the version it wrote.
    expect(await sent(id, () => pair.viaProxy.updateIfMatch(id, 't', { rev: 2 }, { owner: 'me2' }))).toEqual(['PUT']);
  });

  it('a rev-only updateIfMatch on a stale cached version meets the 412 and decides on a fresh read', async () => {
    const id = `job-${randomUUID()}`;
    await pair.direct.create({ id, tenantId: 't', owner: null });
    await pair.viaProxy.get(id, 't'); // caches rev 1
    await pair.direct.update(id, 't', { owner: 'other' }); // rev 2, unseen by viaProxy
    let r: Awaited<ReturnType<typeof pair.viaProxy.updateIfMatch>> | undefined;
    expect(await sent(id, async () => (r = await pair.viaProxy.updateIfMatch(id, 't', { rev: 1 }, { owner: 'me' })))).toEqual(['PUT', 'GET']);
    expect(r).toEqual({ ok: false, reason: 'conflict' });
    expect(await pair.direct.get(id, 't')).toMatchObject({ owner: 'other', rev: 2 });
  });

  it('a rev-only updateIfMatch whose cached version was replaced by another at the same rev still wins on the fresh read', async () => {
    const id = `job-${randomUUID()}`;
    await pair.direct.create({ id, tenantId: 't', owner: null });
    await pair.viaProxy.get(id, 't'); // caches rev 1, etag E1
    // Deleted and created again: rev 1 again, another etag.
    expect(await pair.direct.delete(id, 't')).toBe(true);
    await pair.direct.create({ id, tenantId: 't', owner: 'reborn' });
    let r: Awaited<ReturnType<typeof pair.viaProxy.updateIfMatch>> | undefined;
    expect(await sent(id, async () => (r = await pair.viaProxy.updateIfMatch(id, 't', { rev: 1 }, { note: 'x' })))).toEqual(['PUT', 'GET', 'PUT']);
    expect(r).toMatchObject({ ok: true, doc: { owner: 'reborn', note: 'x', rev: 2 } });
  });

  // A replace on the remembered version answered 404: the document was deleted since. An update ends there (one
  // request, the 404's answer); an upsert goes on to create it.
  it('an update of a remembered document another client deleted is not_found in one request; an upsert creates it', async () => {
    const id = `job-${randomUUID()}`;
    await pair.direct.create({ id, tenantId: 't', owner: null });
    await pair.viaProxy.get(id, 't'); // remembers rev 1
    expect(await pair.direct.delete(id, 't')).toBe(true);
    let err: unknown;
    expect(
      await sent(id, async () => {
        err = await pair.viaProxy.update(id, 't', { owner: 'me' }).then(
          () => undefined,
          (e: unknown) => e,
        );
      }),
    ).toEqual(['PUT']);
    expect(err).toBeInstanceOf(DatastoreError);
    expect((err as DatastoreError).code).toBe('not_found');
    expect(await pair.direct.get(id, 't')).toBeNull();

    await pair.direct.create({ id, tenantId: 't', owner: null });
    await pair.viaProxy.get(id, 't');
    expect(await pair.direct.delete(id, 't')).toBe(true);
    const up = await pair.viaProxy.upsert({ id, tenantId: 't', owner: 'me' });
    expect(up).toMatchObject({ owner: 'me', rev: 1 });
    expect(await pair.direct.get(id, 't')).toMatchObject({ owner: 'me', rev: 1 });
  });

  it('concurrent unconditional updates from one provider take turns: every one lands, in one request each', async () => {
    const id = `job-${randomUUID()}`;
    await pair.direct.create({ id, tenantId: 't', owner: null });
    await pair.viaProxy.get(id, 't');
    const n = 100;
    const methods = await sent(id, () => Promise.all(Array.from({ length: n }, (_, i) => pair.viaProxy.update(id, 't', { note: String(i) }))));
    expect(await pair.direct.get(id, 't')).toMatchObject({ rev: n + 1 });
    // No 412 retries: each update is one conditional replace on the version the previous one wrote.
    expect(methods.filter((m) => m === 'PUT')).toHaveLength(n);
    expect(methods.filter((m) => m === 'GET')).toHaveLength(0);
  });
});

describe('CosmosProvider: answers the server decides, through a proxy', () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await FaultProxy.start(upstreamPort);
  });
  afterAll(async () => {
    await proxy.close();
  });
  const opts = (container: string, extra: Partial<CosmosProviderOptions> = {}): CosmosProviderOptions => ({
    endpoint: proxy.endpoint,
    key: EMULATOR_KEY,
    database: 'faults',
    container,
    partitionKeyPath: '/tenantId',
    emulator: true,
    ...extra,
  });

  it('429 is `throttled`, with the retry-after, status and activity id the server sent, and nothing written', async () => {
    const container = `throttle-${randomUUID()}`;
    const p = await CosmosProvider.connect<Job>(opts(container, { createIfNotExists: true }));
    const id = `job-${randomUUID()}`;
    const requestsBefore = proxy.requests.length;
    proxy.arm({
      match: documentRequest('POST', id),
      fault: 'respond',
      times: 1_000,
      respond: {
        status: 429,
        headers: { 'x-ms-retry-after-ms': '7', 'x-ms-substatus': '3200', 'x-ms-activity-id': 'a1b2c3d4-0000-0000-0000-000000000429' },
        body: { code: 'TooManyRequests', message: 'Request rate is large' },
      },
    });
    const err = await p.create({ id, tenantId: 't', owner: null }).then(
      () => undefined,
      (e: unknown) => e,
    );
    proxy.disarm();
    expect(err).toBeInstanceOf(DatastoreError);
    const e = err as DatastoreError;
    // A 429 (after the SDK's own retries) to the first attempt is a definite "not applied":
    // neither re-read nor resent, and not reported unknown.
    expect(e.message).not.toMatch(/outcome is unknown/);
    const reads = proxy.requests.slice(requestsBefore).filter((r) => r.method === 'GET' && r.url.endsWith(`/docs/${id}`));
    expect(reads, 'the create re-read the document').toHaveLength(0);
    expect(e.code).toBe('throttled');
    expect(e.status).toBe(429);
    expect(e.subStatus).toBe(3200);
    expect(e.retryAfterMs).toBe(7);
    expect(e.activityId).toBe('a1b2c3d4-0000-0000-0000-000000000429');
    expect(await p.get(id, 't')).toBeNull();
  });

  it('createIfNotExists is off by default: a missing container is not_found and is not created', async () => {
    const container = `absent-${randomUUID()}`;
    const before = proxy.requests.length;
    const err = await CosmosProvider.connect<Job>(opts(container)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as DatastoreError).code).toBe('not_found');
    expect(proxy.requests.slice(before).filter((r) => r.method === 'POST'), 'nothing was created').toEqual([]);
    // And it is still missing.
    const again = await CosmosProvider.connect<Job>(opts(container)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((again as DatastoreError).code).toBe('not_found');
  });

  it('one client per account: a second provider on the same account does not read the account again', async () => {
    const a = `one-${randomUUID()}`;
    const b = `two-${randomUUID()}`;
    // A proxy of its own is a new endpoint, so a new account: the first provider reads it.
    const own = await FaultProxy.start(upstreamPort);
    try {
      const at = { endpoint: own.endpoint, createIfNotExists: true };
      await (await CosmosProvider.connect<Job>(opts(a, at))).get('x', 't');
      const first = own.requests.filter((r) => r.method === 'GET' && r.url === '/');
      expect(first.length, 'the first provider read the account').toBeGreaterThan(0);
      const before = own.requests.length;
      const second = await CosmosProvider.connect<Job>(opts(b, at));
      await second.get('x', 't');
      const accountReads = own.requests.slice(before).filter((r) => r.method === 'GET' && r.url === '/');
      expect(accountReads, 'the account metadata came from the shared client').toEqual([]);
    } finally {
      await own.close();
    }
  });
});

describe('CosmosProvider: a batch whose request or response is lost', () => {
  const pair = proxiedPair('batch-faults');

  const batchRequest = (req: { method: string; headers: IncomingHttpHeaders }): boolean =>
    req.method === 'POST' && String(req.headers['x-ms-cosmos-is-batch-request']).toLowerCase() === 'true';

  /** A fresh job, read through the proxy, and the claim batch of it (job, run, lease). */
  async function claim(): Promise<{ id: string; ops: BatchOp<Job>[] }> {
    const id = `job-${randomUUID()}`;
    const d = await pair.direct.create({ id, tenantId: 't', owner: null });
    expect((await pair.viaProxy.get(id, 't'))?._etag).toBe(d._etag);
    return {
      id,
      ops: [
        { op: 'update', id, patch: { owner: 'me' }, expected: { etag: d._etag } },
        { op: 'create', doc: { id: `${id}-run`, tenantId: 't', owner: 'me' } },
        { op: 'create', doc: { id: `${id}-lease`, tenantId: 't', owner: 'me' } },
      ],
    };
  }

  /** What the server holds of a claim: job rev and owner, and whether run and lease exist. */
  async function held(id: string): Promise<[number | undefined, string | null | undefined, boolean, boolean]> {
    const job = await pair.direct.get(id, 't');
    return [job?.rev, job?.owner, (await pair.direct.get(`${id}-run`, 't')) !== null, (await pair.direct.get(`${id}-lease`, 't')) !== null];
  }

  it('response dropped after the server applied it: reported ok exactly once, applied once', async () => {
    const { id, ops } = await claim();
    const firedBefore = pair.proxy.fired.length;
    pair.proxy.arm({ match: batchRequest, fault: 'drop-response', times: 1 });
    const r = await outcome(pair.viaProxy.batch('t', ops));
    pair.proxy.disarm();
    expect(pair.proxy.fired.length, 'the fault fired').toBeGreaterThan(firedBefore);
    expect(await held(id)).toEqual([2, 'me', true, true]);
    expect(r instanceof DatastoreError ? isUnknown(r) : r.ok, String(r)).toBe(true);
    if (!(r instanceof DatastoreError) && r.ok) {
      expect(r.results.map((d) => d?.rev)).toEqual([2, 1, 1]);
      expect(r.results[0]?._etag).toBe((await pair.direct.get(id, 't'))?._etag);
    }
  });

  it('every response dropped (resends meet their own batch): reported ok, applied once', async () => {
    const { id, ops } = await claim();
    pair.proxy.arm({ match: batchRequest, fault: 'drop-response', times: 1_000 });
    const r = await outcome(pair.viaProxy.batch('t', ops));
    pair.proxy.disarm();
    expect(await held(id)).toEqual([2, 'me', true, true]);
    expect(r instanceof DatastoreError ? String(r) : r.ok).toBe(true);
  });

  it('request lost before the server saw it: resent once, lands once', async () => {
    const { id, ops } = await claim();
    const from = pair.proxy.requests.length;
    pair.proxy.arm({ match: batchRequest, fault: 'reset', times: 1 });
    const r = await outcome(pair.viaProxy.batch('t', ops));
    pair.proxy.disarm();
    expect(r instanceof DatastoreError ? String(r) : r.ok).toBe(true);
    expect(await held(id)).toEqual([2, 'me', true, true]);
    const batches = pair.proxy.requests.slice(from).filter((q) => q.method === 'POST' && q.url.endsWith('/docs'));
    expect(batches.length, 'the lost request and one resend').toBe(2);
  });

  it('when no attempt reaches the server, the outcome is reported unknown and nothing is applied', async () => {
    const { id, ops } = await claim();
    pair.proxy.arm({ match: batchRequest, fault: 'reset', times: 1_000 });
    const r = await outcome(pair.viaProxy.batch('t', ops));
    pair.proxy.disarm();
    expect(await held(id)).toEqual([1, null, false, false]);
    expect(isUnknown(r), String(r)).toBe(true);
  });

  it('a stale claim batch whose answer is lost is a conflict, with nothing applied', async () => {
    const { id, ops } = await claim();
    await pair.direct.update(id, 't', { owner: 'rival' });
    await pair.viaProxy.get(id, 't');
    // The caller's etag is stale: decided on the read (etags never repeat), nothing sent.
    const r = await outcome(pair.viaProxy.batch('t', ops));
    expect(r).toEqual({ ok: false, index: 0, reason: 'conflict' });
    expect(await held(id)).toEqual([2, 'rival', false, false]);
  });

  it('the answer is lost and the job is deleted and created again up to the same rev meanwhile: not a conflict', async () => {
    const id = `job-${randomUUID()}`;
    await pair.direct.create({ id, tenantId: 't', owner: null });
    expect((await pair.viaProxy.get(id, 't'))?.rev).toBe(1);
    pair.proxy.arm({
      match: batchRequest,
      fault: 'drop-response',
      times: 1,
      meanwhile: async () => {
        await pair.direct.delete(id, 't');
        await pair.direct.create({ id, tenantId: 't', owner: 'reborn' });
        await pair.direct.update(id, 't', { note: 'reborn at rev 2' });
      },
    });
    const r = await outcome(pair.viaProxy.batch('t', [{ op: 'update', id, patch: { owner: 'me' }, expected: { rev: 1 } }]));
    pair.proxy.disarm();
    expect(r instanceof DatastoreError ? isUnknown(r) : r.ok, r instanceof DatastoreError ? r.message : JSON.stringify(r)).toBe(true);
    expect(await pair.direct.get(id, 't')).toMatchObject({ owner: 'reborn', rev: 2 });
  });

  it('the answer is lost and another client writes the job meanwhile: ok with this batch\'s own versions', async () => {
    const { id, ops } = await claim();
    pair.proxy.arm({
      match: batchRequest,
      fault: 'drop-response',
      times: 1,
      meanwhile: async () => {
        await pair.direct.update(id, 't', { note: 'later writer' });
      },
    });
    const r = await outcome(pair.viaProxy.batch('t', ops));
    pair.proxy.disarm();
    expect(await held(id)).toEqual([3, 'me', true, true]);
    expect(r instanceof DatastoreError ? String(r) : r.ok).toBe(true);
    if (!(r instanceof DatastoreError) && r.ok) {
      expect(r.results[0]).toMatchObject({ owner: 'me', rev: 2 });
      expect(r.results[0]).not.toHaveProperty('note');
    }
  });

  it('a claim batch on the version this process saw is one request', async () => {
    const { ops } = await claim();
    const from = pair.proxy.requests.length;
    const r = await pair.viaProxy.batch('t', ops);
    expect(r.ok).toBe(true);
    expect(pair.proxy.requests.slice(from).map((q) => q.method)).toEqual(['POST']);
  });
});

describe('CosmosProvider: deadlines (timeoutMs)', () => {
  const pair = proxiedPair('deadline', { timeoutMs: 400 });

  it('a write whose answer comes after the deadline is resolved by a re-read: ok, applied once', async () => {
    const id = `job-${randomUUID()}`;
    const d = await pair.direct.create({ id, tenantId: 't', owner: null });
    await pair.viaProxy.get(id, 't');
    const fired = pair.proxy.fired.length;
    pair.proxy.arm({ match: conditionalReplace(id), fault: 'delay', delayMs: 2_000, times: 1 });
    const started = Date.now();
    const r = await pair.viaProxy.updateIfMatch(id, 't', { etag: d._etag }, { owner: 'me' });
    expect(pair.proxy.fired.slice(fired)).toContain('delay');
    expect(Date.now() - started, 'it did not wait for the late answer').toBeLessThan(1_900);
    expect(r).toMatchObject({ ok: true, doc: { owner: 'me', rev: 2 } });
    expect(await pair.direct.get(id, 't')).toMatchObject({ owner: 'me', rev: 2 });
  });

  it('a read that misses the deadline rejects with `timeout`, without waiting for the answer', async () => {
    const id = `job-${randomUUID()}`;
    await pair.direct.create({ id, tenantId: 't', owner: null });
    pair.proxy.arm({ match: documentRequest('GET', id), fault: 'delay', delayMs: 3_000, times: 100 });
    const started = Date.now();
    const err = await pair.viaProxy.get(id, 't').catch((e: unknown) => e);
    pair.proxy.disarm();
    expect(err).toBeInstanceOf(DatastoreError);
    expect((err as DatastoreError).code).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(2_900);
  });

  it('timeoutMs must be a whole number of milliseconds ≥ 1', async () => {
    for (const timeoutMs of [0, -1, 1.5, Number.NaN, 2 ** 31, '100']) {
      const err = await CosmosProvider.connect(faultOptions(endpoint, `deadline-${randomUUID()}`, { timeoutMs: timeoutMs as number })).catch((e: unknown) => e);
      expect((err as DatastoreError).code, String(timeoutMs)).toBe('invalid_argument');
      expect((err as DatastoreError).message).toMatch(/timeoutMs/);
    }
  });
});

describe('CosmosProvider: a rev-only condition whose document was deleted and created again at that rev', () => {
  const pair = proxiedPair('reborn');

  /** Creates a document at rev 1 and has the proxied provider read it. */
  async function fresh(): Promise<string> {
    const id = `job-${randomUUID()}`;
    await pair.direct.create({ id, tenantId: 't', owner: null });
    await pair.viaProxy.get(id, 't');
    return id;
  }
  const reborn = (id: string) => async (): Promise<void> => {
    expect(await pair.direct.delete(id, 't')).toBe(true);
    await pair.direct.create({ id, tenantId: 't', owner: 'reborn' });
  };

  it('deleteIfMatch({ rev }) between whose read and delete the document came back at that rev: deletes it, not conflict', async () => {
    const id = await fresh();
    const fired = pair.proxy.fired.length;
    pair.proxy.arm({ match: documentRequest('DELETE', id), fault: 'hold', times: 1, meanwhile: reborn(id) });
    const r = await pair.viaProxy.deleteIfMatch(id, 't', { rev: 1 });
    expect(pair.proxy.fired.slice(fired)).toContain('hold');
    // At every moment of the call the document was at rev 1 (or absent): `conflict` would be wrong.
    expect(r).toEqual({ ok: true });
    expect(await pair.direct.get(id, 't')).toBeNull();
  });

  it('updateIfMatch({ rev }) between whose read and write the document came back at that rev: writes it, not conflict', async () => {
    const id = await fresh();
    const fired = pair.proxy.fired.length;
    pair.proxy.arm({ match: conditionalReplace(id), fault: 'hold', times: 1, meanwhile: reborn(id) });
    const r = await pair.viaProxy.updateIfMatch(id, 't', { rev: 1 }, { note: 'mine' });
    expect(pair.proxy.fired.slice(fired)).toContain('hold');
    expect(r).toMatchObject({ ok: true, doc: { owner: 'reborn', note: 'mine', rev: 2 } });
    expect(await pair.direct.get(id, 't')).toMatchObject({ owner: 'reborn', note: 'mine', rev: 2 });
  });

  it('with an etag, the same 412 is the truth: conflict, nothing written', async () => {
    const id = await fresh();
    const seen = await pair.viaProxy.get(id, 't');
    pair.proxy.arm({ match: conditionalReplace(id), fault: 'hold', times: 1, meanwhile: reborn(id) });
    const r = await pair.viaProxy.updateIfMatch(id, 't', { etag: seen?._etag ?? '' }, { note: 'mine' });
    expect(r).toEqual({ ok: false, reason: 'conflict' });
    expect(await pair.direct.get(id, 't')).toMatchObject({ owner: 'reborn', rev: 1 });
  });
});

describe('CosmosProvider: a call stopped by its signal or its own timeoutMs', () => {
  const pair = proxiedPair('abort');

  /** A fresh job at rev 1 that the proxied provider has read. */
  async function fresh(): Promise<{ id: string; etag: string }> {
    const id = `job-${randomUUID()}`;
    const d = await pair.direct.create({ id, tenantId: 't', owner: null });
    await pair.viaProxy.get(id, 't');
    return { id, etag: d._etag };
  }

  /**
   * Starts `run` and tells whether its promise settled while the proxy held
   * an answer: `hold()` (a delay rule's `meanwhile`) keeps the answer until
   * the call settles, or 5 s at most, so a call that waits for the answer
   * (ignoring its signal or deadline) still ends, and is caught.
   */
  function heldCall<R>(): { start: (run: () => Promise<R>) => Promise<R>; hold: () => Promise<void>; settledWhileHeld: () => boolean } {
    let call: Promise<R> | undefined;
    let settled = false;
    let whileHeld = false;
    return {
      start: (run) => {
        call = run();
        call.then(
          () => (settled = true),
          () => (settled = true),
        );
        return call;
      },
      hold: async () => {
        const end = Date.now() + 5_000;
        while (!settled && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
        whileHeld = settled;
      },
      settledWhileHeld: () => whileHeld,
    };
  }

  /** Resolves once `ok` holds, polling, or after `ms` at most. */
  async function until(ok: () => boolean, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  }

  it('aborted after the server applied the write, while its answer is held: ok (by the re-read), applied once, without waiting for the answer', async () => {
    const { id, etag } = await fresh();
    const c = new AbortController();
    const h = heldCall<Awaited<ReturnType<typeof pair.viaProxy.updateIfMatch>>>();
    pair.proxy.arm({
      match: conditionalReplace(id),
      fault: 'delay',
      times: 1,
      meanwhile: () => {
        c.abort(new Error('caller gave up'));
        return h.hold();
      },
    });
    const r = await h.start(() => pair.viaProxy.updateIfMatch(id, 't', { etag }, { owner: 'me' }, { signal: c.signal }));
    await until(() => pair.proxy.inFlight === 0, 6_000);
    expect(h.settledWhileHeld(), 'it answered while the server\'s answer was still held').toBe(true);
    const held = await pair.direct.get(id, 't');
    expect(held).toMatchObject({ owner: 'me', rev: 2 });
    expect(r).toMatchObject({ ok: true, doc: { owner: 'me', rev: 2, _etag: held?._etag } });
  });

  it('aborted while the request is held before the server: the re-read cannot tell, so the outcome is unknown (timeout), and the late request does land', async () => {
    const { id, etag } = await fresh();
    const c = new AbortController();
    const reason = new Error('caller gave up');
    const from = pair.proxy.requests.length;
    pair.proxy.arm({
      match: conditionalReplace(id),
      fault: 'hold',
      times: 1,
      meanwhile: async () => {
        c.abort(reason);
        // Forward the abandoned request only once the provider's re-read has been answered.
        await until(() => pair.proxy.requests.slice(from).some((q) => q.method === 'GET') && pair.proxy.inFlight === 1, 5_000);
      },
    });
    const r = await outcome(pair.viaProxy.updateIfMatch(id, 't', { etag }, { owner: 'me' }, { signal: c.signal }));
    await until(() => pair.proxy.inFlight === 0, 5_000);
    expect(isUnknown(r), String(r)).toBe(true);
    expect((r as DatastoreError).code).toBe('timeout');
    expect((r as DatastoreError).message).toMatch(/aborted/);
    expect((r as DatastoreError).cause).toBe(reason);
    // "Not applied" would have been wrong: the abandoned request landed after the answer.
    expect(await pair.direct.get(id, 't')).toMatchObject({ owner: 'me', rev: 2 });
  });

  it('an update aborted while it waits for its turn is not sent and not applied', async () => {
    const { id } = await fresh();
    const c = new AbortController();
    let release = (): void => undefined;
    const released = new Promise<void>((r) => (release = r));
    pair.proxy.arm({ match: conditionalReplace(id), fault: 'hold', times: 1, meanwhile: () => Promise.race([released, new Promise<void>((r) => setTimeout(r, 5_000))]) });
    const from = pair.proxy.requests.length;
    const first = pair.viaProxy.update(id, 't', { note: 'first' });
    await until(() => pair.proxy.fired.includes('hold') && pair.proxy.requests.length > from, 5_000);
    const second = outcome(pair.viaProxy.update(id, 't', { note: 'second' }, { signal: c.signal }));
    c.abort();
    const r = await second;
    release();
    expect(await first).toMatchObject({ note: 'first', rev: 2 });
    expect(r).toBeInstanceOf(DatastoreError);
    expect((r as DatastoreError).code).toBe('timeout');
    expect((r as DatastoreError).message).toMatch(/aborted .*before it was sent; nothing was written/);
    expect(await pair.direct.get(id, 't')).toMatchObject({ note: 'first', rev: 2 });
    const puts = pair.proxy.requests.slice(from).filter((q) => q.method === 'PUT');
    expect(puts, 'only the first update was sent').toHaveLength(1);
  });

  it('a read aborted in flight rejects with timeout ("aborted", the reason as cause) while the answer is held', async () => {
    const { id } = await fresh();
    const c = new AbortController();
    const reason = new Error('caller gave up');
    const h = heldCall<unknown>();
    pair.proxy.arm({
      match: documentRequest('GET', id),
      fault: 'delay',
      times: 1,
      meanwhile: () => {
        c.abort(reason);
        return h.hold();
      },
    });
    const err = await h.start(() => pair.viaProxy.get(id, 't', { signal: c.signal })).then(
      () => undefined,
      (e: unknown) => e,
    );
    await until(() => pair.proxy.inFlight === 0, 6_000);
    expect(h.settledWhileHeld(), 'it rejected while the answer was still held').toBe(true);
    expect(err).toBeInstanceOf(DatastoreError);
    expect((err as DatastoreError).code).toBe('timeout');
    expect((err as DatastoreError).message).toMatch(/aborted/);
    expect((err as DatastoreError).cause).toBe(reason);
  });

  it('a call\'s own timeoutMs (the provider has none): a write whose answer is late is resolved by a re-read, ok and applied once', async () => {
    const { id, etag } = await fresh();
    const h = heldCall<Awaited<ReturnType<typeof pair.viaProxy.updateIfMatch>>>();
    pair.proxy.arm({ match: conditionalReplace(id), fault: 'delay', times: 1, meanwhile: h.hold });
    const r = await h.start(() => pair.viaProxy.updateIfMatch(id, 't', { etag }, { owner: 'me' }, { timeoutMs: 300 }));
    await until(() => pair.proxy.inFlight === 0, 6_000);
    expect(h.settledWhileHeld(), 'it answered before the held answer came').toBe(true);
    expect(r).toMatchObject({ ok: true, doc: { owner: 'me', rev: 2 } });
    expect(await pair.direct.get(id, 't')).toMatchObject({ owner: 'me', rev: 2 });
  });

  it('a query aborted in flight rejects with timeout', async () => {
    await fresh();
    const c = new AbortController();
    const h = heldCall<unknown>();
    pair.proxy.arm({
      match: (q) => q.method === 'POST' && String(q.headers['x-ms-documentdb-isquery']).toLowerCase() === 'true',
      fault: 'delay',
      times: 1,
      meanwhile: () => {
        c.abort();
        return h.hold();
      },
    });
    const err = await h.start(() => pair.viaProxy.query({ partitionKey: 't' }, { signal: c.signal })).then(
      () => undefined,
      (e: unknown) => e,
    );
    pair.proxy.disarm();
    await until(() => pair.proxy.inFlight === 0, 6_000);
    expect(h.settledWhileHeld(), 'it rejected while the answer was still held').toBe(true);
    expect((err as DatastoreError).code).toBe('timeout');
    expect((err as DatastoreError).message).toMatch(/query: aborted/);
  });
});

describe('CosmosProvider: onDiagnostics, once per call, with the request units of every request summed', () => {
  const seen: CallDiagnostics[] = [];
  const pair = proxiedPair('ru', { onDiagnostics: (d) => void seen.push(d) });
  const charge: Record<string, string> = { GET: '2.5', PUT: '10.25', DELETE: '5', POST: '7' };
  let n = 0;
  beforeAll(() => {
    // The test server reports no request charge: the proxy adds one per method, and an activity id per answer.
    pair.proxy.injectHeaders = (req) =>
      req.url.includes('/docs') ? { 'x-ms-request-charge': charge[req.method] ?? '0', 'x-ms-activity-id': `00000000-0000-0000-0000-${String(++n).padStart(12, '0')}` } : undefined;
  });

  /** The diagnostics `run` reported (it must report exactly once). */
  async function reported(run: () => Promise<unknown>): Promise<CallDiagnostics> {
    const from = seen.length;
    await run().catch(() => undefined);
    expect(seen.length - from, 'one report per call').toBe(1);
    return seen[from] as CallDiagnostics;
  }

  it('a claim that reads and then replaces: both requests\' charges summed, the replace\'s status and activity id', async () => {
    const id = `job-${randomUUID()}`;
    await pair.direct.create({ id, tenantId: 't', owner: null }); // not seen by viaProxy: the claim reads first
    const d = await reported(() => pair.viaProxy.updateIfMatch(id, 't', { rev: 1 }, { owner: 'me' }));
    expect(d).toMatchObject({ operation: 'updateIfMatch', requests: 2, requestCharge: 12.75, status: 200, ok: true });
    expect(d.activityId).toBe(`00000000-0000-0000-0000-${String(n).padStart(12, '0')}`);
    expect(d.durationMs).toBeGreaterThanOrEqual(0);
    // The same claim on the version this provider just wrote is one request.
    expect(await reported(() => pair.viaProxy.updateIfMatch(id, 't', { rev: 2 }, { owner: 'me2' }))).toMatchObject({ requests: 1, requestCharge: 10.25 });
  });

  it('answers that are not 2xx count too: a missing document, a conflict, a rejected call', async () => {
    const id = `job-${randomUUID()}`;
    expect(await reported(() => pair.viaProxy.get(id, 't'))).toMatchObject({ operation: 'get', requests: 1, requestCharge: 2.5, status: 404, ok: true });
    const made = await pair.viaProxy.create({ id, tenantId: 't', owner: null });
    const conflict = await reported(() => pair.viaProxy.create({ id, tenantId: 't', owner: null }));
    expect(conflict).toMatchObject({ operation: 'create', requests: 1, requestCharge: 7, status: 409, ok: false });
    // A stale etag this provider has not seen is decided on its read; one it last saw, by the server's 412.
    expect(await reported(() => pair.viaProxy.updateIfMatch(id, 't', { etag: '"stale"' }, { owner: 'x' }))).toMatchObject({ requests: 1, requestCharge: 2.5, status: 200 });
    await pair.direct.update(id, 't', { note: 'moved on' });
    expect(await reported(() => pair.viaProxy.updateIfMatch(id, 't', { etag: made._etag }, { owner: 'x' }))).toMatchObject({ requests: 1, requestCharge: 10.25, status: 412, ok: true });
    const now = await pair.viaProxy.get(id, 't');
    expect(await reported(() => pair.viaProxy.deleteIfMatch(id, 't', { etag: now?._etag ?? '' }))).toMatchObject({ operation: 'deleteIfMatch', requests: 1, requestCharge: 5, status: 204 });
    // Refused before anything is sent: reported, with nothing heard.
    expect(await reported(() => pair.viaProxy.get('', 't'))).toEqual(expect.objectContaining({ operation: 'get', requests: 0, requestCharge: 0, ok: false }));
  });

  it('a query\'s pages and a batch\'s request are metered', async () => {
    const id = `job-${randomUUID()}`;
    await pair.viaProxy.create({ id, tenantId: 'q', owner: null });
    const q = await reported(() => pair.viaProxy.query({ partitionKey: 'q' }));
    expect(q).toMatchObject({ operation: 'query', ok: true, status: 200 });
    expect(q.requests).toBeGreaterThanOrEqual(1);
    const b = await reported(() => pair.viaProxy.batch('q', [{ op: 'read', id }]));
    // The read of the document the batch pins, then the batch request.
    expect(b).toMatchObject({ operation: 'batch', requests: 2, requestCharge: 9.5, ok: true });
  });

  it('a hook that throws does not change the call\'s answer', async () => {
    const container = `ru-throw-${randomUUID()}`;
    const p = await CosmosProvider.connect<Job>(
      faultOptions(endpoint, container, {
        onDiagnostics: () => {
          throw new Error('hook bug');
        },
      }),
    );
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const d = await p.create({ id: 'a', tenantId: 't', owner: null });
      expect(d.rev).toBe(1);
      expect(await p.get('a', 't')).toMatchObject({ rev: 1 });
      await new Promise((r) => setImmediate(r));
      expect(warnings.some((w) => w.includes('hook bug'))).toBe(true);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('onDiagnostics must be a function', async () => {
    const err = await CosmosProvider.connect(faultOptions(endpoint, `ru-${randomUUID()}`, { onDiagnostics: bad('yes') })).catch((e: unknown) => e);
    expect((err as DatastoreError).code).toBe('invalid_argument');
    expect((err as DatastoreError).message).toMatch(/onDiagnostics/);
  });
});

describe('CosmosProvider: consistencyLevel and preferredRegions', () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await FaultProxy.start(upstreamPort);
  });
  afterAll(async () => {
    await proxy.close();
  });
  const container = `consistency-${randomUUID()}`;

  /** The read-consistency header of each document request `run` sends, by method. */
  async function consistencySent(p: CosmosProvider<Job>, run: (p: CosmosProvider<Job>) => Promise<unknown>): Promise<Array<[string, unknown, unknown]>> {
    const from = proxy.requests.length;
    await run(p);
    return proxy.requests
      .slice(from)
      .filter((q) => q.url.includes('/docs'))
      .map((q) => [q.method, q.headers['x-ms-cosmos-read-consistency-strategy'], q.headers['x-ms-consistency-level']]);
  }

  it('Eventual: every read asks for it (the pinned SDK\'s read-consistency header), writes do not', async () => {
    const p = await CosmosProvider.connect<Job>(faultOptions(proxy.endpoint, container, { consistencyLevel: 'Eventual' }));
    const id = `job-${randomUUID()}`;
    expect(await consistencySent(p, (q) => q.create({ id, tenantId: 't', owner: null }))).toEqual([['POST', undefined, undefined]]);
    expect(await consistencySent(p, (q) => q.get(id, 't'))).toEqual([['GET', 'Eventual', undefined]]);
    const sent = await consistencySent(p, (q) => q.query({ partitionKey: 't' }));
    expect(sent.length).toBeGreaterThan(0);
    for (const [, rcs] of sent) expect(rcs).toBe('Eventual');
  });

  it('unset: reads carry no consistency header (the account default)', async () => {
    const p = await CosmosProvider.connect<Job>(faultOptions(proxy.endpoint, container));
    expect(await consistencySent(p, (q) => q.get('nope', 't'))).toEqual([['GET', undefined, undefined]]);
  });

  it('Session is sent as Session', async () => {
    const p = await CosmosProvider.connect<Job>(faultOptions(proxy.endpoint, container, { consistencyLevel: 'Session' }));
    expect(await consistencySent(p, (q) => q.get('nope', 't'))).toEqual([['GET', 'Session', undefined]]);
  });

  it('Strong on an account whose default is weaker is refused when connecting, saying why (as the service refuses it to @azure/cosmos)', async () => {
    const err = await CosmosProvider.connect(faultOptions(endpoint, container, { consistencyLevel: 'Strong' })).catch((e: unknown) => e);
    expect((err as DatastoreError).code).toBe('invalid_argument');
    expect((err as DatastoreError).message).toMatch(/only valid against accounts whose default consistency level is Strong/);
  });

  it.each([
    ['BoundedStaleness', /pinned azure_data_cosmos SDK/],
    ['ConsistentPrefix', /pinned azure_data_cosmos SDK/],
    ['strong', /must be one of/],
    [7, /consistencyLevel must be a string/],
  ])('consistencyLevel %s is invalid_argument', async (level, message) => {
    const err = await CosmosProvider.connect(faultOptions(endpoint, container, { consistencyLevel: bad(level) })).catch((e: unknown) => e);
    expect((err as DatastoreError).code).toBe('invalid_argument');
    expect((err as DatastoreError).message).toMatch(message);
  });

  it.each([
    ['a string', 'eastus'],
    ['an empty name', ['']],
    ['a name with punctuation', ['east-us;']],
    ['a name given twice', ['East US', 'eastus']],
    ['a number', [1]],
  ])('preferredRegions as %s is invalid_argument', async (_what, regions) => {
    const err = await CosmosProvider.connect(faultOptions(endpoint, container, { preferredRegions: bad(regions) })).catch((e: unknown) => e);
    expect((err as DatastoreError).code).toBe('invalid_argument');
    expect((err as DatastoreError).message).toMatch(/preferredRegions/);
  });

  it('preferredRegions connect and work (routing needs a live multi-region account), on a client of their own', async () => {
    const own = await FaultProxy.start(upstreamPort);
    try {
      const at = (extra: Partial<CosmosProviderOptions>): CosmosProviderOptions => faultOptions(own.endpoint, container, extra);
      await (await CosmosProvider.connect<Job>(at({}))).get('x', 't');
      const before = own.requests.length;
      const p = await CosmosProvider.connect<Job>(at({ preferredRegions: ['West US 2', 'East US'] }));
      const id = `job-${randomUUID()}`;
      expect((await p.create({ id, tenantId: 't', owner: null })).rev).toBe(1);
      expect(await p.get(id, 't')).toMatchObject({ rev: 1 });
      const accountReads = own.requests.slice(before).filter((r) => r.method === 'GET' && r.url === '/');
      expect(accountReads.length, 'other preferred regions: another client, which reads the account').toBeGreaterThan(0);
    } finally {
      await own.close();
    }
  });
});

describe('the test servers themselves', () => {
  // A connection the SDK's pool had half-opened when a test ended kept the
  // proxy's close() waiting until the pool reaped it as idle (up to 180 s),
  // which read as a 180 s stall in the 10,000-get hardening case.

  /** Holds a TCP connection to `port` that never starts TLS, then requires `close()` to end it rather than wait for it. */
  async function endsHalfOpenConnection(port: number, accepted: () => Promise<boolean>, close: () => Promise<void>): Promise<void> {
    const raw = connect(port, '127.0.0.1');
    raw.on('error', () => {});
    await once(raw, 'connect');
    while (!(await accepted())) await new Promise((resolve) => setImmediate(resolve));
    const ended = once(raw, 'close').then(() => 'ended');
    // Node's own TLS handshake timeout is 120 s; 10 s is only this check's patience.
    const patience = new Promise<string>((resolve) => setTimeout(() => resolve('still open'), 10_000).unref());
    const closed = close();
    expect(await Promise.race([ended, patience])).toBe('ended');
    await closed;
  }

  it('close() ends a connection still in its TLS handshake instead of waiting for it', async () => {
    const proxy = await FaultProxy.start(upstreamPort);
    await endsHalfOpenConnection(
      Number(new URL(proxy.endpoint).port),
      async () => proxy.openConnections > 0,
      () => proxy.close(),
    );
    expect(proxy.openConnections).toBe(0);
  });

  it('stopServer() ends a connection still in its TLS handshake instead of waiting for it', async () => {
    const { server, port } = await startCosmosServer();
    await endsHalfOpenConnection(
      port,
      () => new Promise<boolean>((resolve) => server.getConnections((_, n) => resolve(n > 0))),
      () => stopServer(server),
    );
  });
});

describe('a worker that ends with writes queued', () => {
  // Nobody is left to hear their answers: what it had not sent is not sent,
  // so nothing lands seconds after the thread that asked is gone.
  for (const withCallOptions of [false, true]) {
    it(`sends none of them afterwards${withCallOptions ? ' (calls with their own options)' : ''}`, async () => {
      const proxy = await FaultProxy.start(upstreamPort);
      try {
        const container = `orphans-${randomUUID()}`;
        const direct = await CosmosProvider.connect<Job>(faultOptions(endpoint, container));
        await direct.create({ id: 'j', tenantId: 't', owner: null });
        const writes = 300;
        const worker = new Worker(new URL('./fixtures/orphan-writes-worker.mjs', import.meta.url), {
          workerData: { options: faultOptions(proxy.endpoint, container), id: 'j', pk: 't', writes, withCallOptions },
        });
        await once(worker, 'message');
        await worker.terminate();
        const atEnd = proxy.requests.length;
        // Long enough for dozens of the queued writes to land if they were still sent.
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        const afterwards = proxy.requests.slice(atEnd).map((r) => r.method);
        // At most the write that was in flight, resolved by a re-read (and a resend of it).
        expect(afterwards.length, `sent after the worker ended: ${afterwards.slice(0, 8).join(' ')}`).toBeLessThanOrEqual(3);
        const doc = await direct.get('j', 't');
        expect(doc?.rev).toBeLessThan(writes / 2);
      } finally {
        await proxy.close();
      }
    });
  }
});
