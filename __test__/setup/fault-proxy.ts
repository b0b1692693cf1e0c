/**
 * A loopback TLS proxy between a provider and the test server that can
 * lose a chosen request or its response — the faults that leave a
 * conditional write's outcome unknown to the client.
 *
 * It terminates TLS (with the test server's own self-signed certificate)
 * so it can see which request is a conditional replace; a byte-level TCP
 * proxy cannot, since TLS hides the method and headers. The server's
 * account metadata names its own port as the region endpoint, and the SDK
 * follows it, so the proxy rewrites that one response to name itself.
 */
import { readFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { trackConnections } from '../../testing/cosmos-server.mjs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** `drop-response`: forward, let the server apply it, then reset instead of answering. `reset`: reset without forwarding. */
export type Fault = 'drop-response' | 'reset' | 'respond' | 'delay' | 'hold';

/** A request as the proxy received it. */
export interface ProxiedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** What the proxy answers instead of forwarding. A string body goes as is, anything else as JSON. */
export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface FaultRule {
  /** Which requests to hit. */
  match: (req: ProxiedRequest) => boolean;
  fault: Fault;
  /** How many matching requests to hit (then the rule is spent). */
  times: number;
  /**
   * For `drop-response`: runs after the server applied the request and
   * before the client's connection is reset, so another client's write
   * lands exactly between the lost response and the client's next step.
   * For `hold`: runs before the request is forwarded (which then goes on
   * as usual), so another client's write lands between the provider's read
   * and its write.
   * For `delay`: runs after the server applied the request, and its answer
   * is held until it resolves (instead of `delayMs`).
   */
  meanwhile?: () => Promise<void>;
  /** For `respond`: the answer given instead of forwarding (the server never sees the request). */
  respond?: Answer | ((req: ProxiedRequest) => Answer);
  /** For `delay`: how long the server's answer (to a request it has applied) is held back. */
  delayMs?: number;
}

/** Any request with this method on one document (by its URL), or a create (POST to the feed) of it. */
export const documentRequest = (method: string, id: string) => (req: { method: string; url: string; headers: IncomingHttpHeaders }) =>
  req.method === method &&
  (method === 'POST' ? req.url.endsWith('/docs') || req.url.endsWith('/docs/') : req.url.endsWith(`/docs/${encodeURIComponent(id)}`));

/** A replace of one document carrying If-Match: the conditional write. */
export const conditionalReplace = (id: string) => (req: { method: string; url: string; headers: IncomingHttpHeaders }) =>
  req.method === 'PUT' && req.url.endsWith(`/docs/${encodeURIComponent(id)}`) && req.headers['if-match'] !== undefined;

// Resolved from the repository root (where vitest and the bench run), so this file stays module-format neutral.
const certDir = dirname(createRequire(join(process.cwd(), 'package.json')).resolve('@vercel/cosmosdb-server/package.json'));

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export class FaultProxy {
  readonly endpoint: string;
  /** Faults fired so far, in order. */
  readonly fired: Fault[] = [];
  /** Requests being handled now, and the most at once so far. */
  inFlight = 0;
  maxInFlight = 0;
  /** Every request forwarded or faulted, in arrival order. */
  readonly requests: { method: string; url: string; authorization?: string; headers: IncomingHttpHeaders }[] = [];
  /** Headers added to (or replacing those of) each forwarded answer: what the test server does not send, such as `x-ms-request-charge`. */
  injectHeaders: ((req: ProxiedRequest) => Record<string, string> | undefined) | undefined;
  #rules: FaultRule[] = [];
  /** Every TCP connection accepted, from before its TLS handshake (`trackConnections`). */
  readonly #sockets: Set<Socket>;
  readonly #server: Server;
  readonly #agent: Agent;

  private constructor(server: Server, agent: Agent, port: number, sockets: Set<Socket>) {
    this.#sockets = sockets;
    this.#server = server;
    this.#agent = agent;
    this.endpoint = `https://127.0.0.1:${port}/`;
  }

  static async start(upstreamPort: number): Promise<FaultProxy> {
    const agent = new Agent({ keepAlive: true, rejectUnauthorized: false });
    let proxy: FaultProxy | undefined;
    const server = createServer(
      { cert: readFileSync(join(certDir, 'cert.pem')), key: readFileSync(join(certDir, 'key.pem')) },
      (req, res) => {
        if (proxy) void proxy.#handle(req, res, upstreamPort);
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    proxy = new FaultProxy(server, agent, (server.address() as AddressInfo).port, trackConnections(server));
    return proxy;
  }

  /** Adds a rule; the first matching, unspent rule decides a request's fate. */
  arm(rule: FaultRule): void {
    this.#rules.push({ ...rule });
  }

  disarm(): void {
    this.#rules = [];
  }

  /** Connections open to the proxy now, including any still in their TLS handshake. */
  get openConnections(): number {
    return this.#sockets.size;
  }

  /** Ends every connection, including those still in their TLS handshake (see `trackConnections`), and stops listening. */
  async close(): Promise<void> {
    this.#server.closeAllConnections();
    for (const socket of this.#sockets) socket.destroy();
    this.#agent.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse, upstreamPort: number): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await this.#forward(req, res, upstreamPort);
    } finally {
      this.inFlight--;
    }
  }

  async #forward(req: IncomingMessage, res: ServerResponse, upstreamPort: number): Promise<void> {
    const body = await readBody(req);
    const info: ProxiedRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body };
    const authorization = req.headers.authorization;
    this.requests.push({ method: info.method, url: info.url, headers: req.headers, ...(typeof authorization === 'string' ? { authorization } : {}) });
    const rule = this.#rules.find((r) => r.times > 0 && r.match(info));
    if (rule) rule.times--;
    if (rule?.fault === 'reset') {
      this.fired.push('reset');
      req.socket.destroy();
      return;
    }
    if (rule?.fault === 'hold') {
      this.fired.push('hold');
      await rule.meanwhile?.();
    }
    if (rule?.fault === 'respond' && rule.respond) {
      this.fired.push('respond');
      const answer = typeof rule.respond === 'function' ? rule.respond(info) : rule.respond;
      const content = answer.body ?? { code: 'Injected', message: `status ${answer.status}` };
      const payload = Buffer.from(typeof content === 'string' ? content : JSON.stringify(content));
      res.writeHead(answer.status, {
        'content-type': 'application/json',
        'content-length': String(payload.length),
        ...answer.headers,
      });
      res.end(payload);
      return;
    }
    const upstream = await new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const out = request(
        {
          host: '127.0.0.1',
          port: upstreamPort,
          method: info.method,
          path: info.url,
          headers: { ...req.headers, host: `127.0.0.1:${upstreamPort}` },
          agent: this.#agent,
        },
        (r) => {
          readBody(r).then((b) => resolve({ status: r.statusCode ?? 502, headers: r.headers, body: b }), reject);
        },
      );
      out.on('error', reject);
      out.end(body);
    }).catch(() => null);
    if (upstream === null) {
      req.socket.destroy();
      return;
    }
    if (rule?.fault === 'delay') {
      this.fired.push('delay');
      if (rule.meanwhile) await rule.meanwhile();
      else await new Promise((resolve) => setTimeout(resolve, rule.delayMs ?? 1_000));
    }
    if (rule?.fault === 'drop-response') {
      // The server has applied the request; the client never hears so.
      this.fired.push('drop-response');
      await rule.meanwhile?.();
      req.socket.destroy();
      return;
    }
    let payload = upstream.body;
    if (info.method === 'GET' && info.url === '/') {
      const port = (this.#server.address() as AddressInfo).port;
      payload = Buffer.from(payload.toString('utf8').replaceAll(`:${upstreamPort}/`, `:${port}/`));
    }
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(upstream.headers)) {
      if (v !== undefined && k !== 'content-length' && k !== 'transfer-encoding' && k !== 'connection') headers[k] = v;
    }
    Object.assign(headers, this.injectHeaders?.(info));
    headers['content-length'] = String(payload.length);
    res.writeHead(upstream.status, headers);
    res.end(payload);
  }
}
