/**
 * The fixed routes in process (Fastify's inject), on Memory: status codes,
 * error shapes, and that refused input writes nothing.
 */

import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFleetStores } from '../modules/fleet/stores.js';
import { buildApp } from './app.js';
import { FleetService } from './fleet-service.js';

const SEED = new URL('../../specs/seed-atomic-claim.md', import.meta.url);
const spec = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  engine: 'devin',
  cwd: '/repo',
  timeout: '30m',
  prompt: 'fix it',
  ...extra,
});

describe('fleet routes', () => {
  let app: FastifyInstance;
  let service: FleetService;

  beforeEach(async () => {
    service = new FleetService(await openFleetStores({ provider: 'memory' }), 'routes');
    app = buildApp(service, { logger: false });
  });
  afterEach(async () => {
    await app.close();
  });

  const post = (url: string, payload: unknown) => app.inject({ method: 'POST', url, payload: payload as object });
  const jobCount = async (): Promise<number> => (await service.stores.jobs.query({ partitionKey: 'routes' })).length;

  it('GET /healthz answers 200 once the store answers', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', provider: 'memory' });
  });

  it('POST /fleet/jobs takes JSON and Markdown, 409 on an existing id', async () => {
    expect((await post('/fleet/jobs', { id: 'job-7', spec: spec({ lock: 'common-plat' }) })).json()).toEqual({ jobId: 'job-7' });
    const dup = await post('/fleet/jobs', { id: 'job-7', spec: spec() });
    expect(dup.statusCode).toBe(409);
    expect(dup.json()).toMatchObject({ error: { code: 'exists' } });
    const md = await app.inject({
      method: 'POST',
      url: '/fleet/jobs?id=seed',
      headers: { 'content-type': 'text/markdown' },
      payload: await readFile(SEED, 'utf8'),
    });
    expect(md.statusCode).toBe(201);
    const seed = await app.inject({ method: 'GET', url: '/fleet/jobs/seed' });
    expect(seed.json()).toMatchObject({ jobId: 'seed', status: 'queued', epoch: 0, spec: { lock: 'common-plat', timeout: '3h' } });
  });

  it.each([
    ['no spec', { id: 'a' }],
    ['a spec without cwd', { spec: { engine: 'devin', prompt: 'p' } }],
    ['an unknown key', { spec: spec({ colour: 'red' }) }],
    ['a bad timeout', { spec: spec({ timeout: 'soon' }) }],
    ['an empty prompt', { spec: spec({ prompt: '  ' }) }],
    ['an id Cosmos refuses', { id: 'a/b', spec: spec() }],
  ])('POST /fleet/jobs refuses %s with a 400 and writes nothing', async (_, body) => {
    const res = await post('/fleet/jobs', body);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
    expect(await jobCount()).toBe(0);
  });

  it('a claim picks a job whose lock is free, 204 when none is; heartbeat and complete fence a stale epoch', async () => {
    await post('/fleet/jobs', { id: 'a', spec: spec({ lock: 'L' }) });
    await post('/fleet/jobs', { id: 'b', spec: spec({ lock: 'L' }) });
    const first = await post('/fleet/claims', { agentId: 'agent-1' });
    expect(first.statusCode).toBe(200);
    const claim = first.json<{ jobId: string; epoch: number; leaseExpiresAt: number }>();
    expect(claim.epoch).toBe(1);
    // The other job waits on the same lock: nothing claimable.
    expect((await post('/fleet/claims', { agentId: 'agent-2' })).statusCode).toBe(204);

    const hb = await post(`/fleet/jobs/${claim.jobId}/heartbeat`, { agentId: 'agent-1', epoch: 1 });
    expect(hb.statusCode).toBe(200);
    expect(hb.json<{ leaseExpiresAt: number }>().leaseExpiresAt).toBeGreaterThanOrEqual(claim.leaseExpiresAt);
    const stale = await post(`/fleet/jobs/${claim.jobId}/heartbeat`, { agentId: 'agent-1', epoch: 2 });
    expect(stale.statusCode).toBe(409);
    expect(stale.json()).toMatchObject({ error: { code: 'fenced' } });
    const stranger = await post(`/fleet/jobs/${claim.jobId}/complete`, { agentId: 'agent-9', epoch: 1, outcome: 'succeeded' });
    expect(stranger.statusCode).toBe(409);

    const done = await post(`/fleet/jobs/${claim.jobId}/complete`, { agentId: 'agent-1', epoch: 1, outcome: 'succeeded' });
    expect(done.statusCode).toBe(200);
    const again = await post(`/fleet/jobs/${claim.jobId}/complete`, { agentId: 'agent-1', epoch: 1, outcome: 'succeeded' });
    expect(again.statusCode).toBe(409);
    // The lock is free again: the other job is claimable at once.
    const second = await post('/fleet/claims', { agentId: 'agent-2' });
    expect(second.statusCode).toBe(200);
    expect(second.json()).toMatchObject({ jobId: claim.jobId === 'a' ? 'b' : 'a', epoch: 1 });
  });

  it.each([
    ['/fleet/claims', {}],
    ['/fleet/claims', { agentId: '' }],
    ['/fleet/jobs/x/heartbeat', { agentId: 'a', epoch: '1' }],
    ['/fleet/jobs/x/heartbeat', { agentId: 'a', epoch: 0 }],
    ['/fleet/jobs/x/complete', { agentId: 'a', epoch: 1, outcome: 'done' }],
  ])('POST %s refuses %j with a 400', async (url, body) => {
    const res = await post(url, body);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'invalid_request' } });
  });

  it('unknown jobs are 404, and so are unknown routes', async () => {
    expect((await app.inject({ method: 'GET', url: '/fleet/jobs/nope' })).statusCode).toBe(404);
    expect((await post('/fleet/jobs/nope/heartbeat', { agentId: 'a', epoch: 1 })).statusCode).toBe(404);
    const res = await app.inject({ method: 'GET', url: '/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: { code: 'not_found' } });
  });
});
