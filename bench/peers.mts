/**
 * The embedded stores the Memory provider is measured against, beside the
 * pure-TypeScript baseline: better-sqlite3 (`:memory:`, a conditional
 * `UPDATE … RETURNING`) and lmdb-js (a tmpfs directory, compare-and-put in
 * `transactionSync`). Same documents, same operations, and results the
 * caller may mutate, as the baseline's.
 *
 * They live in bench/peers with a lockfile of their own, installed here on
 * first use (`npm ci`), not by the project's install: better-sqlite3 has no
 * prebuilt binary this machine may download, so it compiles SQLite from
 * source (minutes on 2 cores), against the running Node's own headers.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Expected, Patch, Stored, UpdateIfMatchResult } from '@bytelyst/datastore';
import type { FleetJob } from './docs.mjs';

const here = join(dirname(fileURLToPath(import.meta.url)), 'peers');
const requirePeer = createRequire(join(here, 'package.json'));

/** Installs bench/peers from its lockfile unless both peers load already. */
export function ensurePeers(): void {
  try {
    requirePeer('better-sqlite3');
    requirePeer('lmdb');
    return;
  } catch {
    // not installed yet
  }
  console.log('Installing the bench peers (better-sqlite3, lmdb) into bench/peers: once, takes minutes…');
  const env: NodeJS.ProcessEnv = { ...process.env, npm_config_build_from_source: 'true' };
  // node-gyp would download Node's headers; the running Node ships them.
  const nodeDir = dirname(dirname(process.execPath));
  if (existsSync(join(nodeDir, 'include', 'node', 'node_api.h'))) env['npm_config_nodedir'] = nodeDir;
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: here, env, stdio: 'inherit' });
}

type Row = { body: string; rev: number; etag: string; ts: number };
interface Statement {
  get(...args: unknown[]): Row | undefined;
}
interface Sqlite {
  exec(sql: string): void;
  prepare(sql: string): Statement;
  close(): void;
}

let nextEtag = 1;
const etag = (): string => `"${nextEtag++}"`;
const now = (): number => Math.floor(Date.now() / 1000);

type Doc = Record<string, unknown>;
const system = new Set(['rev', '_etag', '_ts', '_rid', '_self', '_attachments', '_lsn']);

/** better-sqlite3 on `:memory:`: one row per document, its fields as JSON text. */
export class SqliteStore {
  readonly #db: Sqlite;
  readonly #get: Statement;
  readonly #insert: Statement;
  readonly #update: Statement;
  readonly #exists: Statement;

  constructor(private readonly pkField: string) {
    const Database = requirePeer('better-sqlite3') as new (path: string) => Sqlite;
    this.#db = new Database(':memory:');
    this.#db.exec('CREATE TABLE docs (pk TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, rev INTEGER NOT NULL, etag TEXT NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY (pk, id)) WITHOUT ROWID');
    this.#get = this.#db.prepare('SELECT body, rev, etag, ts FROM docs WHERE pk = ? AND id = ?');
    this.#insert = this.#db.prepare('INSERT INTO docs (pk, id, body, rev, etag, ts) VALUES (?, ?, ?, 1, ?, ?) RETURNING body, rev, etag, ts');
    // The compare and the write in one statement. json_patch merges deeply and drops null members, which is the
    // provider's shallow merge for the bench's patches (flat, no null).
    this.#update = this.#db.prepare(
      'UPDATE docs SET body = json_patch(body, ?), rev = rev + 1, etag = ?, ts = ? WHERE pk = ? AND id = ? AND (? IS NULL OR etag = ?) AND (? IS NULL OR rev = ?) RETURNING body, rev, etag, ts',
    );
    this.#exists = this.#db.prepare('SELECT 1 AS body FROM docs WHERE pk = ? AND id = ?');
  }

  static #doc<T>(r: Row): Stored<T> {
    const d = JSON.parse(r.body) as Doc;
    d['rev'] = r.rev;
    d['_etag'] = r.etag;
    d['_ts'] = r.ts;
    return d as Stored<T>;
  }

  async get(id: string, pk: string): Promise<Stored<FleetJob> | null> {
    const r = this.#get.get(pk, id);
    return r ? SqliteStore.#doc(r) : null;
  }

  async create(doc: FleetJob): Promise<Stored<FleetJob>> {
    const body: Doc = {};
    for (const [k, v] of Object.entries(doc)) if (!system.has(k)) body[k] = v;
    const pk = (doc as unknown as Doc)[this.pkField] as string;
    const r = this.#insert.get(pk, doc.id, JSON.stringify(body), etag(), now()); // throws on a duplicate key
    if (!r) throw new Error('insert returned nothing');
    return SqliteStore.#doc(r);
  }

  async updateIfMatch(id: string, pk: string, expected: Expected, patch: Patch<FleetJob>): Promise<UpdateIfMatchResult<FleetJob>> {
    const e = expected.etag ?? null;
    const rev = expected.rev ?? null;
    const r = this.#update.get(JSON.stringify(patch), etag(), now(), pk, id, e, e, rev, rev);
    if (r) return { ok: true, doc: SqliteStore.#doc(r) };
    return { ok: false, reason: this.#exists.get(pk, id) ? 'conflict' : 'not_found' };
  }

  close(): void {
    this.#db.close();
  }
}

interface Lmdb {
  get(key: string): Doc | undefined;
  putSync(key: string, value: Doc): void;
  transactionSync<R>(f: () => R): R;
  close(): Promise<void>;
}

/** lmdb-js in a fresh directory on tmpfs: documents as msgpack, compare-and-put in one write transaction. */
export class LmdbStore {
  readonly #db: Lmdb;
  readonly #dir: string;

  constructor(private readonly pkField: string) {
    const { open } = requirePeer('lmdb') as { open(options: { path: string }): Lmdb };
    this.#dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'bench-lmdb-'));
    this.#db = open({ path: this.#dir });
  }

  async get(id: string, pk: string): Promise<Stored<FleetJob> | null> {
    return (this.#db.get(`${JSON.stringify(pk)}\n${id}`) as Stored<FleetJob> | undefined) ?? null;
  }

  async create(doc: FleetJob): Promise<Stored<FleetJob>> {
    const pk = (doc as unknown as Doc)[this.pkField] as string;
    const key = `${JSON.stringify(pk)}\n${doc.id}`;
    return this.#db.transactionSync(() => {
      if (this.#db.get(key) !== undefined) throw new Error('conflict');
      const stored: Doc = {};
      for (const [k, v] of Object.entries(doc)) if (!system.has(k)) stored[k] = v;
      stored['rev'] = 1;
      stored['_etag'] = etag();
      stored['_ts'] = now();
      this.#db.putSync(key, stored);
      return stored as unknown as Stored<FleetJob>; // the caller's copy: lmdb keeps its own encoding
    });
  }

  async updateIfMatch(id: string, pk: string, expected: Expected, patch: Patch<FleetJob>): Promise<UpdateIfMatchResult<FleetJob>> {
    const key = `${JSON.stringify(pk)}\n${id}`;
    return this.#db.transactionSync((): UpdateIfMatchResult<FleetJob> => {
      const cur = this.#db.get(key);
      if (cur === undefined) return { ok: false, reason: 'not_found' };
      if ((expected.etag !== undefined && expected.etag !== cur['_etag']) || (expected.rev !== undefined && expected.rev !== cur['rev'])) {
        return { ok: false, reason: 'conflict' };
      }
      const next = { ...cur, ...patch, rev: (cur['rev'] as number) + 1, _etag: etag(), _ts: now() };
      this.#db.putSync(key, next);
      return { ok: true, doc: next as Stored<FleetJob> };
    });
  }

  close(): void {
    void this.#db.close().then(() => rmSync(this.#dir, { recursive: true, force: true }));
  }
}
