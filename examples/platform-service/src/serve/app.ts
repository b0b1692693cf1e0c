/**
 * The fleet's HTTP routes (fixed: checks outside the repository call them)
 * on Fastify: JSON schemas reject bad input with a 400 before anything is
 * written, `close()` drains requests in flight, and logs are pino's JSON
 * lines.
 */

import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Stored } from '@bytelyst/datastore';
import { JobSpecError, parseJobSpec, specFieldsOf, specFromFields } from '../modules/fleet/job-spec.js';
import type { FleetJob, FleetRun, HoldResult, JobSpec, LeaseHandle } from '../modules/fleet/types.js';
import { errorBody, HttpError, toErrorAnswer } from './errors.js';
import type { FleetService } from './fleet-service.js';
import type { StoreCallCounts } from './store-calls.js';
import { claimBody, completeBody, enqueueJsonBody, enqueueQuery, heartbeatBody, jobParams } from './schemas.js';

type JsonSpec = {
  engine: string;
  cwd: string;
  yolo?: boolean;
  lock?: string | null;
  timeout?: string | number;
  prompt: string;
};
interface HoldBody {
  agentId: string;
  epoch: number;
}

export interface AppOptions {
  logger: FastifyServerOptions['logger'];
  /** What the store was asked, for `GET /fleet/stats`. */
  storeCalls?: StoreCallCounts;
  /** Largest accepted body (a spec's prompt can be long); default 1 MiB. */
  bodyLimit?: number;
}

const MARKDOWN_TYPES = ['text/markdown', 'text/x-markdown', 'text/plain'];

export function buildApp(service: FleetService, options: AppOptions): FastifyInstance {
  const app = Fastify({
    logger: options.logger,
    bodyLimit: options.bodyLimit ?? 1_048_576,
    // One line per request from the onResponse hook below, not two.
    logController: new LogController({ disableRequestLogging: true }),
    // Refuse rather than repair: no silent stripping of unknown keys, no "3" → 3.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false, allowUnionTypes: true } },
  });

  app.addContentTypeParser(MARKDOWN_TYPES, { parseAs: 'string' }, (_request, body, done) => done(null, body));

  app.setErrorHandler((error, request, reply) => {
    const answer = toErrorAnswer(error);
    if (answer.log) request.log.error({ err: error }, 'request failed');
    return reply.code(answer.status).send(answer.body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody('not_found', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`)),
  );
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      { method: request.method, route: request.routeOptions.url ?? 'unknown', status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 },
      'request',
    );
  });

  app.get('/healthz', async (request, reply) => {
    try {
      await service.ping();
    } catch (e) {
      request.log.warn({ err: e }, 'health check: store unreachable');
      return reply.code(503).send(errorBody('unavailable', 'the store is not reachable'));
    }
    return { status: 'ok', fleetId: service.fleetId, provider: service.stores.jobs.kind };
  });

  app.post<{ Body: string | { id?: string; spec: JsonSpec }; Querystring: { id?: string } }>(
    '/fleet/jobs',
    {
      schema: {
        querystring: enqueueQuery,
        body: {
          content: {
            'application/json': { schema: enqueueJsonBody },
            'text/markdown': { schema: { type: 'string', minLength: 1 } },
          },
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const explicitId = typeof body === 'string' ? request.query.id : body.id;
      const jobId = explicitId ?? `job-${randomUUID()}`;
      let spec: JobSpec;
      try {
        spec = typeof body === 'string' ? parseJobSpec(body, jobId).spec : specFromFields(body.spec, body.spec.prompt, jobId);
      } catch (e) {
        if (e instanceof JobSpecError) throw new HttpError(400, 'invalid_spec', e.message);
        throw e;
      }
      const job = await service.enqueue(spec, jobId);
      if (job === null) throw new HttpError(409, 'exists', `job ${jobId} exists already`);
      request.log.info({ event: 'enqueued', jobId, lock: spec.lock }, 'job enqueued');
      return reply.code(201).send({ jobId });
    },
  );

  app.post<{ Body: { agentId: string } }>('/fleet/claims', { schema: { body: claimBody } }, async (request, reply) => {
    const { agentId } = request.body;
    const picked = await service.claim(agentId);
    if (!picked.ok) return reply.code(204).send();
    request.log.info(
      { event: 'claimed', jobId: picked.job.id, epoch: picked.handle.epoch, agentId, attempts: picked.attempts },
      'job claimed',
    );
    return {
      jobId: picked.job.id,
      epoch: picked.handle.epoch,
      leaseExpiresAt: picked.expiresAt,
      spec: specFieldsOf(picked.job),
    };
  });

  app.post<{ Params: { id: string }; Body: HoldBody }>(
    '/fleet/jobs/:id/heartbeat',
    { schema: { params: jobParams, body: heartbeatBody } },
    async (request) => {
      const handle = handleOf(service, request.params.id, request.body);
      const held = answerHold(await service.heartbeat(handle), handle, 'heartbeat');
      return { leaseExpiresAt: held.expiresAt };
    },
  );

  app.post<{ Params: { id: string }; Body: HoldBody & { outcome: 'succeeded' | 'failed' } }>(
    '/fleet/jobs/:id/complete',
    { schema: { params: jobParams, body: completeBody } },
    async (request) => {
      const handle = handleOf(service, request.params.id, request.body);
      const done = answerHold(await service.complete(handle, request.body.outcome), handle, 'complete');
      request.log.info({ event: 'completed', jobId: handle.jobId, epoch: handle.epoch, outcome: request.body.outcome }, 'job completed');
      return { jobId: handle.jobId, epoch: handle.epoch, status: request.body.outcome, finishedAt: done.expiresAt };
    },
  );

  app.get<{ Params: { id: string } }>('/fleet/jobs/:id', { schema: { params: jobParams } }, async (request) => {
    const job = await service.getJob(request.params.id);
    if (job === null) throw new HttpError(404, 'not_found', `no job ${request.params.id}`);
    return jobView(job);
  });

  // Beyond the fixed routes: for operators, the e2e tests and the bench.
  app.get<{ Params: { id: string } }>('/fleet/jobs/:id/runs', { schema: { params: jobParams } }, async (request) => {
    const runs = await service.runsOf(request.params.id);
    return { runs: runs.map(runView) };
  });
  app.get('/fleet/invariants', async () => service.invariants());
  app.get('/fleet/stats', async () => ({ counters: service.counters, storeCalls: options.storeCalls ?? {} }));

  return app;
}

function handleOf(service: FleetService, jobId: string, body: HoldBody): LeaseHandle {
  return { fleetId: service.fleetId, jobId, agentId: body.agentId, epoch: body.epoch };
}

/** A hold result as the route answers it: fenced → 409, gone → 404, still racing → 503 (retry). */
function answerHold(result: HoldResult, handle: LeaseHandle, what: string): { expiresAt: number } {
  if (result.ok) return result;
  switch (result.reason) {
    case 'fenced':
      throw new HttpError(
        409,
        'fenced',
        `${what} refused: job ${handle.jobId} epoch ${handle.epoch} is no longer held by ${handle.agentId} (reaped, expired, completed or claimed again)`,
      );
    case 'not_found':
      throw new HttpError(404, 'not_found', `no job ${handle.jobId}`);
    case 'conflict':
      throw new HttpError(503, 'busy', `${what} of job ${handle.jobId} kept losing to concurrent writes; retry`);
  }
}

function jobView(job: Stored<FleetJob>): Record<string, unknown> {
  return {
    jobId: job.id,
    name: job.specName,
    status: job.status,
    assignedTo: job.assignedTo,
    epoch: job.leaseEpoch,
    leaseExpiresAt: job.leaseExpiresAt,
    spec: specFieldsOf(job),
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    finishedAt: job.finishedAt,
  };
}

function runView(run: Stored<FleetRun>): Record<string, unknown> {
  const { jobId, agentId, leaseEpoch, lock, startedAt, endedAt, outcome, detail } = run;
  return { jobId, agentId, epoch: leaseEpoch, lock, startedAt, endedAt, outcome, detail };
}
