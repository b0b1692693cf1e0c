/** A small HTTP client of the fleet's routes, for agents (and the tests and bench that play them). */

export interface Claim {
  jobId: string;
  epoch: number;
  leaseExpiresAt: number;
  spec: { engine: string; cwd: string; yolo: boolean; lock: string | null; timeout: string; prompt: string };
}

export type HoldAnswer = { ok: true; leaseExpiresAt: number } | { ok: false; reason: 'fenced' | 'not_found' };
export type CompleteAnswer = { ok: true; finishedAt: number } | { ok: false; reason: 'fenced' | 'not_found' };

/** An answer the client did not expect: the status and the service's `{ error: { code, message } }`. */
export class FleetHttpError extends Error {
  override readonly name = 'FleetHttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${status} ${code}: ${message}`);
  }
}

export class FleetClient {
  /** HTTP requests sent, for the bench's "requests per completed job". */
  requests = 0;

  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs = 30_000,
  ) {}

  /** `null`: nothing claimable now (204). */
  async claim(agentId: string): Promise<Claim | null> {
    const res = await this.post('/fleet/claims', { agentId });
    if (res.status === 204) return null;
    return (await this.expect(res, 200)) as Claim;
  }

  async heartbeat(agentId: string, jobId: string, epoch: number): Promise<HoldAnswer> {
    const res = await this.post(`/fleet/jobs/${encodeURIComponent(jobId)}/heartbeat`, { agentId, epoch });
    const refused = await refusal(res);
    if (refused !== null) return { ok: false, reason: refused };
    const body = (await this.expect(res, 200)) as { leaseExpiresAt: number };
    return { ok: true, leaseExpiresAt: body.leaseExpiresAt };
  }

  async complete(agentId: string, jobId: string, epoch: number, outcome: 'succeeded' | 'failed'): Promise<CompleteAnswer> {
    const res = await this.post(`/fleet/jobs/${encodeURIComponent(jobId)}/complete`, { agentId, epoch, outcome });
    const refused = await refusal(res);
    if (refused !== null) return { ok: false, reason: refused };
    const body = (await this.expect(res, 200)) as { finishedAt: number };
    return { ok: true, finishedAt: body.finishedAt };
  }

  /** A spec as Markdown (`text/markdown`) or JSON fields; answers the job id. */
  async enqueue(spec: string | Record<string, unknown>, id?: string): Promise<string> {
    const res =
      typeof spec === 'string'
        ? await this.send('POST', `/fleet/jobs${id === undefined ? '' : `?id=${encodeURIComponent(id)}`}`, spec, 'text/markdown')
        : await this.post('/fleet/jobs', id === undefined ? { spec } : { id, spec });
    return ((await this.expect(res, 201)) as { jobId: string }).jobId;
  }

  async get<T>(path: string): Promise<T> {
    return (await this.expect(await this.send('GET', path), 200)) as T;
  }

  private post(path: string, body: unknown): Promise<Response> {
    return this.send('POST', path, JSON.stringify(body), 'application/json');
  }

  private async send(method: string, path: string, body?: string, contentType?: string): Promise<Response> {
    this.requests += 1;
    return fetch(new URL(path, this.baseUrl), {
      method,
      ...(body === undefined ? {} : { body }),
      headers: contentType === undefined ? {} : { 'content-type': contentType },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
  }

  private async expect(res: Response, status: number): Promise<unknown> {
    if (res.status === status) return res.json();
    throw await httpError(res);
  }
}

/** 409 is a fenced write, 404 a job that does not exist; anything else is not a refusal. */
async function refusal(res: Response): Promise<'fenced' | 'not_found' | null> {
  if (res.status === 409) {
    await res.body?.cancel();
    return 'fenced';
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return 'not_found';
  }
  return null;
}

async function httpError(res: Response): Promise<FleetHttpError> {
  const text = await res.text();
  try {
    const { error } = JSON.parse(text) as { error: { code: string; message: string } };
    return new FleetHttpError(res.status, error.code, error.message);
  } catch {
    return new FleetHttpError(res.status, 'unexpected', text.slice(0, 200));
  }
}
