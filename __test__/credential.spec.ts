/**
 * Entra ID (AAD) auth: a `TokenCredential` from JavaScript signs the
 * requests instead of a key. The test server ignores auth, so a proxy in
 * front of it records the `Authorization` header the provider sends, and a
 * local token endpoint (started here) hands out the tokens.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CosmosProvider, DatastoreError } from '@bytelyst/datastore';
import type { CosmosProviderOptions, TokenCredential } from '@bytelyst/datastore';
import { EMULATOR_KEY } from '../testing/cosmos-server.mjs';
import { FaultProxy } from './setup/fault-proxy.js';

const endpoint = inject('cosmosEndpoint');
const upstreamPort = Number(new URL(endpoint).port);

/** A token endpoint: `GET /token?ttl=<ms>` answers a new token each time. */
class TokenEndpoint {
  issued: string[] = [];
  readonly #server: Server;
  constructor(server: Server) {
    this.#server = server;
  }
  static async start(): Promise<TokenEndpoint> {
    let self: TokenEndpoint | undefined;
    const server = createServer((req, res) => {
      const ttl = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ttl') ?? 3_600_000);
      const token = `tok-${randomUUID()}`;
      self?.issued.push(token);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: token, expires_on: Date.now() + ttl }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    self = new TokenEndpoint(server);
    return self;
  }
  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/token`;
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/** A TokenCredential that asks the local endpoint, as DefaultAzureCredential asks Entra ID. */
class LocalCredential implements TokenCredential {
  scopes: string[][] = [];
  constructor(
    private readonly url: string,
    private readonly ttlMs: number,
  ) {}
  async getToken(scopes: string | string[]): Promise<{ token: string; expiresOnTimestamp: number }> {
    this.scopes.push(Array.isArray(scopes) ? scopes : [scopes]);
    const r = (await (await fetch(`${this.url}?ttl=${this.ttlMs}`)).json()) as { access_token: string; expires_on: number };
    return { token: r.access_token, expiresOnTimestamp: r.expires_on };
  }
}

const aad = (authorization: string | undefined): string | undefined =>
  authorization === undefined ? undefined : /^type=aad&ver=1\.0&sig=(.+)$/.exec(decodeURIComponent(authorization))?.[1];

describe('CosmosProvider with a TokenCredential', () => {
  let proxy: FaultProxy;
  let tokens: TokenEndpoint;
  beforeAll(async () => {
    proxy = await FaultProxy.start(upstreamPort);
    tokens = await TokenEndpoint.start();
  });
  afterAll(async () => {
    await proxy.close();
    await tokens.close();
  });
  const options = (credential: TokenCredential, extra: Partial<CosmosProviderOptions> = {}): CosmosProviderOptions => ({
    endpoint: proxy.endpoint,
    credential,
    database: 'credential',
    container: `c-${randomUUID()}`,
    partitionKeyPath: '/t',
    emulator: true,
    createIfNotExists: true,
    ...extra,
  });

  it('signs every request with the credential\'s token (type=aad), never with a key', async () => {
    const credential = new LocalCredential(tokens.url, 3_600_000);
    const from = proxy.requests.length;
    const p = await CosmosProvider.connect<{ id: string; t: string; n?: number }>(options(credential));
    const d = await p.create({ id: 'a', t: 'x' });
    expect((await p.updateIfMatch('a', 'x', { etag: d._etag }, { n: 1 })).ok).toBe(true);
    await p.close();
    const sent = proxy.requests.slice(from);
    expect(sent.length).toBeGreaterThan(3);
    for (const r of sent) expect(tokens.issued, `${r.method} ${r.url}: ${r.authorization ?? 'no Authorization'}`).toContain(aad(r.authorization));
    expect(credential.scopes.length).toBeGreaterThan(0);
    for (const s of credential.scopes) expect(s.every((scope) => scope.endsWith('/.default')), s.join(' ')).toBe(true);
  });

  it('asks again when the token it holds is about to expire, and signs with the new one', async () => {
    const credential = new LocalCredential(tokens.url, 1_000); // expires in a second: always "about to"
    const p = await CosmosProvider.connect<{ id: string; t: string }>(options(credential));
    const before = tokens.issued.length;
    const from = proxy.requests.length;
    for (let i = 0; i < 3; i++) await p.get('missing', 'x');
    await p.close();
    expect(tokens.issued.length - before, 'tokens fetched for the three reads').toBeGreaterThan(1);
    const last = proxy.requests.slice(from).at(-1);
    expect(aad(last?.authorization)).toBe(tokens.issued.at(-1));
  });

  it('refuses a key and a credential together, and a credential without getToken', async () => {
    const credential = new LocalCredential(tokens.url, 3_600_000);
    const both = await CosmosProvider.connect(options(credential, { key: EMULATOR_KEY })).catch((e: unknown) => e);
    expect(both).toBeInstanceOf(DatastoreError);
    expect((both as DatastoreError).code).toBe('invalid_argument');
    expect((both as DatastoreError).message).toMatch(/not both/);
    const bad = await CosmosProvider.connect(options({} as TokenCredential)).catch((e: unknown) => e);
    expect((bad as DatastoreError).code).toBe('invalid_argument');
    expect((bad as DatastoreError).message).toMatch(/getToken/);
  });

  it('a credential that fails is a clear error from connect, not a hang', async () => {
    const failing: TokenCredential = {
      getToken: async () => {
        throw new Error('no identity available here');
      },
    };
    const err = await CosmosProvider.connect(options(failing)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatastoreError);
    expect((err as DatastoreError).message).toMatch(/AAD token|getToken/);
  });

  it('a process whose provider used a credential exits by itself', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const opts = { endpoint, database: 'credential', container: `c-${randomUUID()}`, partitionKeyPath: '/t', emulator: true, createIfNotExists: true };
    const source = `
      import { CosmosProvider } from '@bytelyst/datastore';
      const credential = { getToken: async () => ({ token: 'tok-static', expiresOnTimestamp: Date.now() + 3600000 }) };
      const p = await CosmosProvider.connect({ ...${JSON.stringify(opts)}, credential });
      await p.create({ id: 'a', t: 'x' });
    `;
    const code = await new Promise<number | 'hung' | null>((resolve) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', source], { cwd: root, stdio: 'ignore' });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve('hung');
      }, 20_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(code).toBe(0);
  });
});
