/**
 * Secret hygiene of every error the Cosmos provider can raise: neither the
 * account key, nor the connection string, nor any recognizable part of them
 * (the key's base64 body, its first 16 characters, any 16-character run of
 * it, its URL-encoded, base64url or hex forms) may appear in an error's
 * `message`, `stack`, `cause` chain, any other property (walked
 * recursively), or `util.inspect(err, { depth: 10, showHidden: true })`.
 *
 * The key is a fresh random 64-byte base64 string per run (never the
 * emulator's published key, which appears in test files), used for the
 * successful connects too (the test server accepts any key), so any hit is
 * unambiguous. The detector itself is checked first (negative controls).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CosmosProvider, DatastoreError, ERROR_CODES, createProvider } from '@bytelyst/datastore';
import type { CosmosProviderOptions, ErrorCode } from '@bytelyst/datastore';
import { startCosmosServer, stopServer } from '../testing/cosmos-server.mjs';
import { FaultProxy, type Answer, type ProxiedRequest } from './setup/fault-proxy.js';

// ---------------------------------------------------------------------------
// The detector
// ---------------------------------------------------------------------------

interface Secret {
  label: string;
  value: string;
}

type Place = 'message' | 'stack' | 'cause' | 'property' | 'inspect';

interface Finding {
  place: Place;
  /** Where in the error, e.g. `err.cause.cause.message`. */
  path: string;
  /** Which secret (the most specific form found). */
  secret: string;
  /** The text around the hit, with the secret itself replaced by its label. */
  excerpt: string;
}

/** Every recognizable form of a base64 account key, most specific first. */
function keyForms(key: string, label: string): Secret[] {
  const body = key.replace(/=+$/, '');
  const bytes = Buffer.from(key, 'base64');
  const forms: Secret[] = [
    { label, value: key },
    { label: `${label} (base64 body)`, value: body },
    { label: `${label} (URL-encoded)`, value: encodeURIComponent(key) },
    { label: `${label} (base64url)`, value: bytes.toString('base64url') },
    { label: `${label} (hex)`, value: bytes.toString('hex').slice(0, 32) },
    { label: `${label} (first 16 characters)`, value: key.slice(0, 16) },
    { label: `${label} (last 16 characters of the body)`, value: body.slice(-16) },
  ];
  for (let i = 1; i + 16 < body.length; i++) {
    forms.push({ label: `${label} (16 characters at offset ${i})`, value: body.slice(i, i + 16) });
  }
  return forms;
}

/** The most specific secret in `text` (compared case-insensitively), if any. */
function firstSecret(text: string, secrets: readonly Secret[]): Secret | undefined {
  const folded = text.toLowerCase();
  return secrets.find((s) => s.value.length > 0 && folded.includes(s.value.toLowerCase()));
}

/** The text around the first hit of `secret`, every secret in it masked with its label. */
function excerpt(text: string, secret: Secret, secrets: readonly Secret[]): string {
  const at = text.toLowerCase().indexOf(secret.value.toLowerCase());
  const from = Math.max(0, at - 80);
  const to = Math.min(text.length, at + secret.value.length + 40);
  return `${from > 0 ? '…' : ''}${mask(text.slice(from, to), secrets)}${to < text.length ? '…' : ''}`;
}

/** Masks every secret in `text` with its label. */
function mask(text: string, secrets: readonly Secret[]): string {
  let out = text;
  for (let s = firstSecret(out, secrets); s !== undefined; s = firstSecret(out, secrets)) {
    const at = out.toLowerCase().indexOf(s.value.toLowerCase());
    out = `${out.slice(0, at)}<<${s.label}>>${out.slice(at + s.value.length)}`;
  }
  return out;
}

/**
 * Visits every string reachable from `value` through own properties (any
 * enumerability; property names too), Map and Set entries, with `inCause`
 * set below a `cause`.
 */
function walkStrings(
  value: unknown,
  path: string,
  inCause: boolean,
  seen: Set<object>,
  visit: (path: string, text: string, inCause: boolean) => void,
  depth = 0,
): void {
  if (typeof value === 'string') {
    visit(path, value, inCause);
    return;
  }
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return;
  if (seen.has(value) || depth > 25) return;
  seen.add(value);
  if (value instanceof Map) {
    for (const [k, v] of value) {
      walkStrings(k, `${path}<map key>`, inCause, seen, visit, depth + 1);
      walkStrings(v, `${path}<map value>`, inCause, seen, visit, depth + 1);
    }
  } else if (value instanceof Set) {
    for (const v of value) walkStrings(v, `${path}<set entry>`, inCause, seen, visit, depth + 1);
  }
  for (const name of Object.getOwnPropertyNames(value)) {
    if (typeof value === 'function' && (name === 'prototype' || name === 'name' || name === 'length')) continue;
    visit(`${path}<property name>`, name, inCause);
    const descriptor = Object.getOwnPropertyDescriptor(value, name);
    let v: unknown;
    try {
      v = descriptor !== undefined && 'value' in descriptor ? descriptor.value : Reflect.get(value, name);
    } catch {
      continue;
    }
    walkStrings(v, `${path}.${name}`, inCause || name === 'cause', seen, visit, depth + 1);
  }
}

/** Every place of `err` where one of `secrets` shows. */
function scan(err: unknown, secrets: readonly Secret[]): Finding[] {
  const findings: Finding[] = [];
  const check = (place: Place, path: string, text: string): void => {
    const s = firstSecret(text, secrets);
    if (s !== undefined) findings.push({ place, path, secret: s.label, excerpt: excerpt(text, s, secrets) });
  };
  if (err instanceof Error) {
    check('message', 'err.message', err.message);
    check('stack', 'err.stack', err.stack ?? '');
  } else {
    check('message', 'String(err)', String(err));
  }
  walkStrings(err, 'err', false, new Set(), (path, text, inCause) => {
    if (path === 'err.message' || path === 'err.stack') return; // checked above
    check(inCause ? 'cause' : 'property', path, text);
  });
  check('inspect', 'inspect(err)', inspect(err, { depth: 10, showHidden: true }));
  return findings;
}

const placesOf = (findings: readonly Finding[]): Place[] => [...new Set(findings.map((f) => f.place))].sort();

// ---------------------------------------------------------------------------
// Secrets of this run
// ---------------------------------------------------------------------------

/** A realistic account key: base64 of 64 random bytes (88 characters, `==` padded). */
const KEY = randomBytes(64).toString('base64');
const endpoint = inject('cosmosEndpoint');
const cs = (at: string, key = KEY): string => `AccountEndpoint=${at};AccountKey=${key};`;
const CONNECTION_STRING = cs(endpoint);

/** The key in all its forms, and the given connection strings. */
function secretsOf(...connectionStrings: string[]): Secret[] {
  return [
    ...connectionStrings.map((value, i) => ({ label: `connection string${connectionStrings.length > 1 ? ` #${i + 1}` : ''}`, value })),
    ...keyForms(KEY, 'key'),
  ];
}

const SECRETS = secretsOf(CONNECTION_STRING);

// ---------------------------------------------------------------------------
// Negative controls: the detector finds the key wherever it hides
// ---------------------------------------------------------------------------

describe('the leak detector (negative controls)', () => {
  it('finds nothing in a clean error with a clean cause chain', () => {
    const err = new DatastoreError('unavailable', `connecting to ${endpoint}: connection refused`, undefined, {
      cause: new Error('inner', { cause: { detail: 'AccountKey=<redacted>', endpoint } }),
    });
    expect(scan(err, SECRETS)).toEqual([]);
  });

  it('flags the key in `message` (and only there among message, stack and cause)', () => {
    const err = new DatastoreError('invalid_argument', 'endpoint is not a valid URL');
    expect(err.stack).toContain('not a valid URL'); // V8 formats the stack lazily: fix it before the message changes
    err.message = `endpoint "${KEY}" is not a valid URL`;
    const places = placesOf(scan(err, SECRETS));
    expect(places).toContain('message');
    expect(places).not.toContain('stack');
    expect(places).not.toContain('cause');
  });

  it('flags the key in `stack` (and only there among message, stack and cause)', () => {
    const err = new Error('clean');
    err.stack = `Error: clean\n    at connect (AccountKey=${KEY.slice(0, 16)})`;
    const places = placesOf(scan(err, SECRETS));
    expect(places).toContain('stack');
    expect(places).not.toContain('message');
    expect(places).not.toContain('cause');
  });

  it('flags the key deep in the `cause` chain (and not in message or stack)', () => {
    const body = KEY.replace(/=+$/, '');
    const err = new Error('clean', { cause: new Error('also clean', { cause: { response: { body: `sig over ${body.slice(20, 40)}` } } }) });
    const findings = scan(err, SECRETS);
    expect(placesOf(findings)).toContain('cause');
    expect(placesOf(findings)).not.toContain('message');
    expect(placesOf(findings)).not.toContain('stack');
    expect(findings.find((f) => f.place === 'cause')?.path).toBe('err.cause.cause.response.body');
  });

  it('flags the key where only util.inspect shows it (a hidden symbol-keyed property)', () => {
    const err = new Error('clean');
    Object.defineProperty(err, Symbol('request'), { value: { headers: { auth: CONNECTION_STRING } }, enumerable: false });
    expect(placesOf(scan(err, SECRETS))).toEqual(['inspect']);
  });

  it('flags the key in any other property, enumerable or not', () => {
    const enumerable = Object.assign(new Error('clean'), { headers: { authorization: KEY } });
    expect(placesOf(scan(enumerable, SECRETS))).toContain('property');
    const hidden = new Error('clean');
    Object.defineProperty(hidden, 'options', { value: { key: KEY }, enumerable: false });
    expect(placesOf(scan(hidden, SECRETS))).toContain('property');
  });

  it("recognizes the key's parts and encodings, not only the whole key", () => {
    const body = KEY.replace(/=+$/, '');
    const bytes = Buffer.from(KEY, 'base64');
    for (const form of [
      body,
      KEY.slice(0, 16),
      encodeURIComponent(KEY),
      bytes.toString('base64url'),
      bytes.toString('hex'),
      body.slice(30, 46),
      KEY.toLowerCase(),
    ]) {
      expect(placesOf(scan(new Error(`x ${form} y`), SECRETS)), form).toContain('message');
    }
    expect(scan(new Error(`x ${bytes.toString('hex')} y`), SECRETS)[0]?.secret).toBe('key (hex)');
    expect(scan(new Error(`x ${KEY.slice(0, 16)} y`), SECRETS)[0]?.secret).toBe('key (first 16 characters)');
    expect(scan(new Error(`x ${CONNECTION_STRING} y`), SECRETS)[0]?.secret).toBe('connection string');
  });
});

// ---------------------------------------------------------------------------
// Servers and ports the cases need
// ---------------------------------------------------------------------------

function listen<S extends NetServer>(server: S): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: NetServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A loopback port that was just free: listened on, then closed. */
async function freshlyClosedPort(): Promise<number> {
  const server = createNetServer();
  const port = await listen(server);
  await close(server);
  return port;
}

/** Statuses the echo proxy answers for a document whose id is `echo-<status>`. */
const ECHO_STATUSES = [400, 401, 403, 404, 409, 412, 413, 429, 500, 503] as const;

/** The status to echo for a request about a document `echo-<status>` (by URL, or by the id in a create's body). */
function echoStatus(url: string, body: Buffer): number | undefined {
  let id = /\/docs\/([^/?]+)/.exec(url)?.[1];
  if (id === undefined && body.length > 0) {
    try {
      const parsed: unknown = JSON.parse(body.toString('utf8'));
      if (typeof parsed === 'object' && parsed !== null && 'id' in parsed && typeof parsed.id === 'string') id = parsed.id;
    } catch {
      // not a document
    }
  }
  const m = /^echo-(\d{3})/.exec(id === undefined ? '' : decodeURIComponent(id));
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** A Cosmos-style error echoing the request's headers, `authorization` included, as a misbehaving gateway might. */
function echo(req: ProxiedRequest, status: number): Answer {
  const dump = Object.entries(req.headers)
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join('\r\n');
  return {
    status,
    headers: { 'x-ms-activity-id': randomUUID(), 'x-ms-retry-after-ms': '1', 'x-ms-substatus': '0' },
    body: {
      code: status === 401 ? 'Unauthorized' : 'Echo',
      message: `Request ${req.method} ${req.url} was refused. Headers: ${JSON.stringify(req.headers)}\r\n${dump}\r\nActivityId: ${randomUUID()}`,
    },
  };
}

/**
 * A fault proxy in front of the test server that answers every request
 * about a document `echo-<status>` with that status and an echo of its
 * headers; with `everything`, it answers every request so with 401
 * (connect fails).
 */
async function echoProxy(upstreamPort: number, everything: boolean): Promise<FaultProxy> {
  const proxy = await FaultProxy.start(upstreamPort);
  proxy.arm({
    match: (req) => everything || echoStatus(req.url, req.body) !== undefined,
    fault: 'respond',
    times: Number.POSITIVE_INFINITY,
    respond: (req) => echo(req, everything ? 401 : (echoStatus(req.url, req.body) ?? 500)),
  });
  return proxy;
}

/** The authorization headers a proxy saw, raw and decoded, and their signatures, as secrets. */
function authorizationSecrets(proxy: FaultProxy | undefined): Secret[] {
  const out: Secret[] = [];
  for (const a of new Set((proxy?.requests ?? []).flatMap((r) => (r.authorization === undefined ? [] : [r.authorization])))) {
    out.push({ label: 'authorization header', value: a });
    const decoded = decodeURIComponent(a);
    out.push({ label: 'authorization header (decoded)', value: decoded });
    const sig = /sig=(.+)$/.exec(decoded)?.[1];
    if (sig !== undefined && sig.length >= 16) out.push({ label: 'authorization signature', value: sig });
  }
  return out;
}

// ---------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------

interface Doc {
  id: string;
  t: string;
  n?: number;
  blob?: string;
}

/** What a case's error must be: a `DatastoreError` with one of these codes (any contract code when omitted). */
type Codes = ErrorCode | readonly ErrorCode[];

/**
 * With SECRETS_REPORT=<file>, appends one JSON line per case (its code,
 * status and message, secrets masked) to that file: what each case hit.
 */
function report(name: string, error: unknown, secrets: readonly Secret[]): void {
  const file = process.env.SECRETS_REPORT;
  if (file === undefined || file === '') return;
  const e = error as { code?: unknown; status?: unknown; message?: unknown };
  const line = { case: name, code: e.code, status: e.status, message: mask(String(e.message ?? error), secrets) };
  appendFileSync(file, `${JSON.stringify(line)}\n`);
}

/** Settles `p`; the rejection, or `undefined` when it resolved. */
async function rejectionOf(p: () => Promise<unknown>): Promise<{ resolved: boolean; error: unknown }> {
  try {
    await p();
    return { resolved: true, error: undefined };
  } catch (e) {
    return { resolved: false, error: e };
  }
}

/** Runs one case: it must reject with a `DatastoreError` and show none of `secrets`. */
async function expectCleanRejection(
  name: string,
  run: () => Promise<unknown>,
  secrets: () => readonly Secret[],
  codes?: Codes,
  opts: { mayResolve?: boolean } = {},
): Promise<void> {
  const { resolved, error } = await rejectionOf(run);
  if (resolved && opts.mayResolve === true) return;
  expect(resolved, `${name}: expected a rejection`).toBe(false);
  const all = secrets();
  const findings = scan(error, all);
  report(name, error, all);
  // One line per hit: where, which secret, and the text around it (secrets masked, so the output shows none).
  expect(findings.map((f) => `${f.place} (${f.path}): ${f.secret}: ${f.excerpt}`).join('\n'), `${name}: the error shows a secret`).toBe('');
  const message = mask(String((error as { message?: unknown }).message ?? error), all);
  expect.soft(error instanceof DatastoreError, `${name}: not a DatastoreError: ${message}`).toBe(true);
  const code = (error as { code?: unknown }).code;
  expect.soft(ERROR_CODES as readonly unknown[], `${name}: code ${String(code)}`).toContain(code);
  if (codes !== undefined) {
    expect.soft(typeof codes === 'string' ? [codes] : codes, `${name}: code ${String(code)} (${message})`).toContain(code);
  }
}

const base = { database: 'secrets', container: 'c', partitionKeyPath: '/t' } as const;
const local = (over: Partial<CosmosProviderOptions>): CosmosProviderOptions => ({ ...base, emulator: true, ...over });

let closedPort = 0;
let httpPort = 0;
let httpServer: ReturnType<typeof createHttpServer> | undefined;
let echoAll: FaultProxy | undefined;
let echoSome: FaultProxy | undefined;

beforeAll(async () => {
  closedPort = await freshlyClosedPort();
  httpServer = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('hello, this is not Cosmos DB');
  });
  httpPort = await listen(httpServer);
  const upstreamPort = Number(new URL(endpoint).port);
  echoAll = await echoProxy(upstreamPort, true);
  echoSome = await echoProxy(upstreamPort, false);
});

afterAll(async () => {
  if (httpServer !== undefined) {
    httpServer.closeAllConnections();
    await close(httpServer);
  }
  await echoAll?.close();
  await echoSome?.close();
});

interface ConnectCase {
  name: string;
  options: () => CosmosProviderOptions;
  codes?: Codes;
  /** Connection strings of this case (secrets besides the run's own). */
  connectionStrings?: () => string[];
  extraSecrets?: () => Secret[];
}

const unreachable = (): string => `https://127.0.0.1:${closedPort}/`;

const connectCases: ConnectCase[] = [
  // The connection string where the endpoint goes.
  { name: 'connection string passed as endpoint, with key', options: () => local({ endpoint: CONNECTION_STRING, key: KEY }), codes: 'invalid_argument' },
  { name: 'connection string passed as endpoint, without key', options: () => local({ endpoint: CONNECTION_STRING }), codes: 'invalid_argument' },
  { name: 'connection string passed as endpoint, not emulator', options: () => ({ ...base, endpoint: CONNECTION_STRING, key: KEY }), codes: 'invalid_argument' },
  { name: 'connection string passed as key', options: () => local({ endpoint: unreachable(), key: CONNECTION_STRING }) },
  // Endpoint and key swapped.
  { name: 'endpoint and key swapped', options: () => local({ endpoint: KEY, key: endpoint }), codes: 'invalid_argument' },
  { name: 'endpoint and key swapped, not emulator', options: () => ({ ...base, endpoint: KEY, key: endpoint }), codes: 'invalid_argument' },
  {
    name: 'endpoint and key swapped inside a connection string',
    options: () => local({ connectionString: `AccountEndpoint=${KEY};AccountKey=${endpoint};` }),
    connectionStrings: () => [`AccountEndpoint=${KEY};AccountKey=${endpoint};`],
    codes: 'invalid_argument',
  },
  // Malformed connection strings.
  ...(
    [
      ['missing AccountKey', () => `AccountEndpoint=${endpoint};`],
      ['empty AccountKey', () => `AccountEndpoint=${endpoint};AccountKey=;`],
      ['missing AccountEndpoint', () => `AccountKey=${KEY};`],
      ['empty AccountEndpoint', () => `AccountEndpoint=;AccountKey=${KEY};`],
      ['garbage: the bare key', () => KEY],
      ['garbage: a part without "="', () => `AccountEndpoint=${endpoint};AccountKey ${KEY};`],
      ['garbage: no separator between the parts', () => `AccountEndpoint=${endpoint}AccountKey=${KEY}`],
      ['garbage: JSON instead', () => JSON.stringify({ AccountEndpoint: endpoint, AccountKey: KEY })],
      ['garbage: a URL with the key in its query', () => `${endpoint}?AccountKey=${KEY}`],
      ['endpoint not https', () => cs(`http://127.0.0.1:${httpPort}/`)],
      ['endpoint not a URL', () => cs('not a url')],
      ['endpoint without a scheme', () => cs(`127.0.0.1:${closedPort}`)],
      ['endpoint is the key', () => cs(KEY)],
    ] as const
  ).map(
    ([what, text]): ConnectCase => ({
      name: `malformed connection string: ${what}`,
      options: () => local({ connectionString: text() }),
      connectionStrings: () => [text()],
      codes: 'invalid_argument',
    }),
  ),
  { name: 'endpoint not https', options: () => local({ endpoint: `http://127.0.0.1:${httpPort}/`, key: KEY }), codes: 'invalid_argument' },
  { name: 'endpoint not a URL', options: () => local({ endpoint: 'not a url', key: KEY }), codes: 'invalid_argument' },
  { name: 'empty key', options: () => local({ endpoint, key: '   ' }), codes: 'invalid_argument' },
  // Keys the SDK cannot use (it decodes the key when it signs a request).
  { name: 'key that is not valid base64', options: () => local({ endpoint, key: `${KEY.slice(0, 40)}!${KEY.slice(41)}`, createIfNotExists: true }) },
  { name: 'key with surrounding whitespace and a newline', options: () => local({ endpoint: unreachable(), key: ` ${KEY}\n` }) },
  { name: 'key that is not a string', options: () => local({ endpoint, key: Buffer.from(KEY) as never }), codes: 'invalid_argument' },
  { name: 'connection string that is not a string', options: () => local({ connectionString: { toString: () => CONNECTION_STRING } as never }), codes: 'invalid_argument' },
  // Both ways at once.
  { name: 'both connectionString and endpoint + key', options: () => local({ connectionString: CONNECTION_STRING, endpoint, key: KEY }), codes: 'invalid_argument' },
  { name: 'both connectionString and key', options: () => local({ connectionString: CONNECTION_STRING, key: KEY }), codes: 'invalid_argument' },
  { name: 'both connectionString and endpoint', options: () => local({ connectionString: CONNECTION_STRING, endpoint }), codes: 'invalid_argument' },
  // Nobody there, or the wrong kind of server.
  {
    name: 'unreachable endpoint (a freshly closed loopback port)',
    options: () => local({ endpoint: unreachable(), key: KEY, createIfNotExists: true }),
    codes: ['unavailable', 'timeout'],
  },
  {
    name: 'unreachable endpoint, by connection string',
    options: () => local({ connectionString: cs(unreachable()), createIfNotExists: true }),
    connectionStrings: () => [cs(unreachable())],
    codes: ['unavailable', 'timeout'],
  },
  {
    name: 'wrong-protocol server (plain HTTP on loopback, spoken to over https)',
    options: () => local({ endpoint: `https://127.0.0.1:${httpPort}/`, key: KEY, createIfNotExists: true }),
    codes: ['unavailable', 'timeout'],
  },
  {
    name: 'wrong-protocol server, by connection string',
    options: () => local({ connectionString: cs(`https://127.0.0.1:${httpPort}/`) }),
    connectionStrings: () => [cs(`https://127.0.0.1:${httpPort}/`)],
    codes: ['unavailable', 'timeout'],
  },
  {
    name: 'a server that refuses everything with 401 and echoes the request headers',
    options: () => local({ endpoint: echoAll?.endpoint ?? '', key: KEY, createIfNotExists: true }),
    extraSecrets: () => authorizationSecrets(echoAll),
    codes: 'invalid_argument',
  },
  // emulator: true off loopback.
  ...['https://example.documents.azure.com:443/', 'https://10.0.0.1/', 'https://localhost.evil.com/'].flatMap((host): ConnectCase[] => [
    { name: `emulator: true with non-loopback ${host}`, options: () => local({ endpoint: host, key: KEY }), codes: 'invalid_argument' },
    {
      name: `emulator: true with non-loopback ${host}, by connection string`,
      options: () => local({ connectionString: cs(host) }),
      connectionStrings: () => [cs(host)],
      codes: 'invalid_argument',
    },
  ]),
  // Names.
  ...(
    [
      ['database with "/"', { database: 'bad/db' }],
      ['database empty', { database: '' }],
      ['database ending in a space', { database: 'db ' }],
      ['container with "?"', { container: 'bad?c' }],
      ['container with "#"', { container: 'c#1' }],
      ['container of 300 characters', { container: 'c'.repeat(300) }],
      ['partitionKeyPath without "/"', { partitionKeyPath: 't' }],
      ['nested partitionKeyPath', { partitionKeyPath: '/a/b' }],
    ] as const
  ).flatMap(([what, over]): ConnectCase[] => [
    {
      name: `bad name with createIfNotExists: ${what}`,
      options: () => local({ endpoint, key: KEY, createIfNotExists: true, ...over }),
      codes: 'invalid_argument',
    },
    {
      name: `bad name with createIfNotExists: ${what}, by connection string`,
      options: () => local({ connectionString: CONNECTION_STRING, createIfNotExists: true, ...over }),
      codes: 'invalid_argument',
    },
  ]),
  {
    name: 'container that does not exist, without createIfNotExists',
    options: () => local({ endpoint, key: KEY, container: `absent-${randomUUID()}` }),
    codes: 'not_found',
  },
  {
    name: 'container that does not exist, without createIfNotExists, by connection string',
    options: () => local({ connectionString: CONNECTION_STRING, container: `absent-${randomUUID()}` }),
    codes: 'not_found',
  },
  {
    name: 'database that does not exist, without createIfNotExists',
    options: () => local({ endpoint, key: KEY, database: `absent-${randomUUID()}` }),
    codes: 'not_found',
  },
  // Extra: the key (which the provider knows) inside the endpoint text.
  { name: 'extra: key appended to the endpoint path', options: () => local({ endpoint: `${unreachable()}${KEY}`, key: KEY }), codes: ['unavailable', 'timeout', 'invalid_argument'] },
  {
    name: 'extra: key as the password in the endpoint URL',
    options: () => local({ endpoint: `https://account:${encodeURIComponent(KEY)}@127.0.0.1:${closedPort}/`, key: KEY }),
    codes: ['unavailable', 'timeout', 'invalid_argument'],
  },
];

describe('CosmosProvider.connect errors carry no secret', () => {
  for (const c of connectCases) {
    it(c.name, async () => {
      await expectCleanRejection(
        c.name,
        () => CosmosProvider.connect<Doc>(c.options()),
        () => [...secretsOf(CONNECTION_STRING, ...(c.connectionStrings?.() ?? [])), ...(c.extraSecrets?.() ?? [])],
        c.codes,
      );
    });
  }

  it('createProvider({ kind: "cosmos" }) with the connection string as endpoint', async () => {
    await expectCleanRejection(
      'createProvider',
      () => createProvider<Doc>({ kind: 'cosmos', ...local({ endpoint: CONNECTION_STRING, key: KEY }) }),
      () => SECRETS,
      'invalid_argument',
    );
  });

  it('options that are not an object', async () => {
    await expectCleanRejection('connect(null)', () => CosmosProvider.connect(null as never), () => SECRETS, 'invalid_argument');
    await expectCleanRejection('connect(string)', () => CosmosProvider.connect(CONNECTION_STRING as never), () => SECRETS, 'invalid_argument');
  });
});

// ---------------------------------------------------------------------------
// Method errors on connected providers
// ---------------------------------------------------------------------------

type MethodCase = [name: string, run: (p: CosmosProvider<Doc>) => Promise<unknown>, codes?: Codes, mayResolve?: boolean];

const BIG = 'x'.repeat(2 * 1024 * 1024 + 16);

const methodCases: MethodCase[] = [
  ['get: empty id', (p) => p.get('', 'x'), 'invalid_argument'],
  ['get: id with "/"', (p) => p.get('a/b', 'x'), 'invalid_argument'],
  ['get: id not a string', (p) => p.get(123 as never, 'x'), 'invalid_argument'],
  ['get: id of 300 characters', (p) => p.get('i'.repeat(300), 'x'), 'invalid_argument'],
  ['get: partition key an object', (p) => p.get('a', {} as never), 'invalid_argument'],
  ['get: partition key NaN', (p) => p.get('a', Number.NaN), 'invalid_argument'],
  ['get: partition key undefined', (p) => p.get('a', undefined as never), 'invalid_argument'],
  ['create: conflict', (p) => p.create({ id: 'exists', t: 'x' }), 'conflict'],
  ['create: too_large', (p) => p.create({ id: 'big', t: 'x', blob: BIG }), 'too_large'],
  ['create: no id', (p) => p.create({ t: 'x' } as never), 'invalid_argument'],
  ['create: no partition key', (p) => p.create({ id: 'a' } as never), 'invalid_argument'],
  ['create: partition key an object', (p) => p.create({ id: 'a', t: { k: 1 } } as never), 'invalid_argument'],
  ['create: id with "/"', (p) => p.create({ id: 'a/b', t: 'x' }), 'invalid_argument'],
  ['create: a BigInt value', (p) => p.create({ id: 'a', t: 'x', n: 1n } as never), 'invalid_argument'],
  ['create: not an object', (p) => p.create(null as never), 'invalid_argument'],
  ['upsert: too_large', (p) => p.upsert({ id: 'big', t: 'x', blob: BIG }), 'too_large'],
  ['upsert: NaN value', (p) => p.upsert({ id: 'a', t: 'x', n: Number.NaN }), 'invalid_argument'],
  ['replace: not_found', (p) => p.replace({ id: `missing-${randomUUID()}`, t: 'x' }), 'not_found'],
  ['replace: too_large', (p) => p.replace({ id: 'exists', t: 'x', blob: BIG }), 'too_large'],
  ['update: not_found', (p) => p.update(`missing-${randomUUID()}`, 'x', { n: 1 }), 'not_found'],
  ['update: patch changes id', (p) => p.update('exists', 'x', { id: 'other' }), 'invalid_argument'],
  ['update: patch changes the partition key', (p) => p.update('exists', 'x', { t: 'y' }), 'invalid_argument'],
  ['update: patch sets _etag', (p) => p.update('exists', 'x', { _etag: 'e' } as never), 'invalid_argument'],
  ['update: patch sets rev', (p) => p.update('exists', 'x', { rev: 9 } as never), 'invalid_argument'],
  ['update: too_large', (p) => p.update('exists', 'x', { blob: BIG }), 'too_large'],
  ['delete: empty id', (p) => p.delete('', 'x'), 'invalid_argument'],
  ['delete: partition key an array', (p) => p.delete('a', [] as never), 'invalid_argument'],
  ['query: where value an object', (p) => p.query({ where: { t: { $ne: 1 } } } as never), 'invalid_argument'],
  ['query: orderBy direction unknown', (p) => p.query({ orderBy: { field: 'id', direction: 'sideways' } } as never), 'invalid_argument'],
  ['query: limit 0', (p) => p.query({ limit: 0 }), 'invalid_argument'],
  ['query: limit -1', (p) => p.query({ limit: -1 }), 'invalid_argument'],
  ['query: limit 1.5', (p) => p.query({ limit: 1.5 }), 'invalid_argument'],
  ['query: unknown filter key', (p) => p.query({ nope: 1 } as never), 'invalid_argument'],
  ['query: partitionKey an object', (p) => p.query({ partitionKey: {} as never }), 'invalid_argument'],
  ['query: not an object', (p) => p.query('SELECT * FROM c' as never), 'invalid_argument'],
  ['query: field name with SQL in it', (p) => p.query({ where: { 'x"] OR 1=1 --': 1 } } as never), 'invalid_argument'],
  ['updateIfMatch: expected empty', (p) => p.updateIfMatch('exists', 'x', {} as never, { n: 1 }), 'invalid_argument'],
  ['updateIfMatch: etag a number', (p) => p.updateIfMatch('exists', 'x', { etag: 5 } as never, { n: 1 }), 'invalid_argument'],
  ['updateIfMatch: rev -1', (p) => p.updateIfMatch('exists', 'x', { rev: -1 }, { n: 1 }), 'invalid_argument'],
  ['updateIfMatch: rev 1.5', (p) => p.updateIfMatch('exists', 'x', { rev: 1.5 }, { n: 1 }), 'invalid_argument'],
  ['updateIfMatch: patch changes id', (p) => p.updateIfMatch('exists', 'x', { rev: 1 }, { id: 'other' }), 'invalid_argument'],
  ['updateIfMatch: patch sets _ts', (p) => p.updateIfMatch('exists', 'x', { rev: 1 }, { _ts: 1 } as never), 'invalid_argument'],
  ['updateIfMatch: empty id', (p) => p.updateIfMatch('', 'x', { rev: 1 }, { n: 1 }), 'invalid_argument'],
  ['updateIfMatch: too_large', (p) => p.updateIfMatch('exists', 'x', { rev: 1 }, { blob: BIG }), 'too_large'],
];

/** Every method against a server that answered with an error status (through the echo proxy). */
const echoCases = (status: number): MethodCase[] => {
  const id = `echo-${status}`;
  return [
    [`get → ${status}`, (p) => p.get(id, 'x')],
    [`create → ${status}`, (p) => p.create({ id, t: 'x' })],
    [`upsert → ${status}`, (p) => p.upsert({ id, t: 'x' })],
    [`replace → ${status}`, (p) => p.replace({ id, t: 'x' })],
    [`update → ${status}`, (p) => p.update(id, 'x', { n: 1 })],
    [`delete → ${status}`, (p) => p.delete(id, 'x')],
    [`updateIfMatch by etag → ${status}`, (p) => p.updateIfMatch(id, 'x', { etag: '"e"' }, { n: 1 })],
    [`updateIfMatch by rev → ${status}`, (p) => p.updateIfMatch(id, 'x', { rev: 1 }, { n: 1 })],
  ];
};

/** Every method against a server that has gone away. */
const goneCases: MethodCase[] = (
  [
    ['get', (p) => p.get('exists', 'x')],
    ['create', (p) => p.create({ id: `n-${randomUUID()}`, t: 'x' })],
    ['upsert', (p) => p.upsert({ id: 'exists', t: 'x' })],
    ['replace', (p) => p.replace({ id: 'exists', t: 'x' })],
    ['update', (p) => p.update('exists', 'x', { n: 2 })],
    ['delete', (p) => p.delete('exists', 'x')],
    ['query', (p) => p.query({ where: { t: 'x' } })],
    ['updateIfMatch by etag', (p) => p.updateIfMatch('exists', 'x', { etag: '"e"' }, { n: 3 })],
    ['updateIfMatch by rev', (p) => p.updateIfMatch('exists', 'x', { rev: 1 }, { n: 3 })],
  ] satisfies [string, MethodCase[1]][]
).map(([name, run]): MethodCase => [`server gone: ${name}`, run, ['unavailable', 'timeout']]);

describe('errors of a connected provider carry no secret', () => {
  const container = `s-${randomUUID()}`;
  const providers: { how: string; p?: CosmosProvider<Doc> }[] = [{ how: 'endpoint + key' }, { how: 'connection string' }];

  beforeAll(async () => {
    const [byKey, byCs] = providers;
    if (byKey === undefined || byCs === undefined) return;
    byKey.p = await CosmosProvider.connect<Doc>(local({ endpoint, key: KEY, container, createIfNotExists: true }));
    byCs.p = await CosmosProvider.connect<Doc>(local({ connectionString: CONNECTION_STRING, container }));
    await byKey.p.create({ id: 'exists', t: 'x' });
  });

  for (const { how } of providers) {
    describe(`connected by ${how}`, () => {
      for (const [name, run, codes, mayResolve] of methodCases) {
        it(name, async () => {
          const p = providers.find((x) => x.how === how)?.p;
          expect(p, 'provider connected').toBeDefined();
          if (p === undefined) return;
          await expectCleanRejection(`${how}: ${name}`, () => run(p), () => SECRETS, codes, { mayResolve: mayResolve === true });
        });
      }
    });
  }

  describe('server answering errors that echo the request headers', () => {
    let p: CosmosProvider<Doc> | undefined;
    beforeAll(async () => {
      // Documents other than echo-* pass through to the real server.
      p = await CosmosProvider.connect<Doc>(local({ endpoint: echoSome?.endpoint ?? '', key: KEY, container, createIfNotExists: true }));
    });
    it('the proxy saw authorization headers, and the detector recognizes them', () => {
      const seen = [...new Set((echoSome?.requests ?? []).flatMap((r) => (r.authorization === undefined ? [] : [r.authorization])))];
      expect(seen.length).toBeGreaterThan(0);
      const secrets = authorizationSecrets(echoSome);
      const raw = seen[0] ?? '';
      const sig = /sig=(.+)$/.exec(decodeURIComponent(raw))?.[1] ?? '';
      expect(scan(new Error(`authorization: ${raw}`), secrets).map((f) => f.secret)).toContain('authorization header');
      expect(scan(new Error(`signed ${sig}`), secrets).map((f) => f.secret)).toContain('authorization signature');
    });
    for (const status of ECHO_STATUSES) {
      for (const [name, run] of echoCases(status)) {
        it(name, async () => {
          expect(p, 'provider connected through the echo proxy').toBeDefined();
          if (p === undefined) return;
          const provider = p;
          // A 404 on get is `null` and on delete `false`, not an error; updateIfMatch 404/412 is a result.
          const mayResolve = status === 404 || status === 412 || status === 409;
          await expectCleanRejection(name, () => run(provider), () => [...SECRETS, ...(authorizationSecrets(echoSome))], undefined, { mayResolve });
        });
      }
    }
  });

  describe('server gone', () => {
    let gone: CosmosProvider<Doc> | undefined;
    let goneConnectionString = '';
    beforeAll(async () => {
      const { server, endpoint: at } = await startCosmosServer();
      goneConnectionString = cs(at);
      gone = await CosmosProvider.connect<Doc>(local({ connectionString: goneConnectionString, container, createIfNotExists: true }));
      await gone.create({ id: 'exists', t: 'x' });
      await stopServer(server);
    });
    for (const [name, run, codes] of goneCases) {
      it(name, async () => {
        expect(gone, 'provider connected').toBeDefined();
        if (gone === undefined) return;
        const provider = gone;
        await expectCleanRejection(name, () => run(provider), () => secretsOf(CONNECTION_STRING, goneConnectionString), codes);
      });
    }
  });
});
