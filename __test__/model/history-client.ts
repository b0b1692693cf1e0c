/**
 * One client of a linearizability history: a seeded mix of every provider
 * call on a few documents, each recorded with its call and return time (one
 * clock for every thread of the process) and its answer.
 */
import { performance } from 'node:perf_hooks';
import { DatastoreError } from '@bytelyst/datastore';
import type { BaseDocument, DatastoreProvider } from '@bytelyst/datastore';
import type { Action, DocState, HistoryOp, Outcome } from './linearizability.js';

export interface Reg extends BaseDocument {
  id: string;
  t: string;
  value: string;
}

/** A monotonic clock shared by the worker threads of one process. */
export const now = (): number => performance.timeOrigin + performance.now();

/** mulberry32: a small seeded PRNG, so a failing history can be replayed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const unknownCodes = new Set(['timeout', 'unavailable']);

/** `ok` for a call that resolved; a refusal or `unknown` for one that rejected with a contract code. */
function refusal(e: unknown): Outcome {
  if (e instanceof DatastoreError) {
    if (unknownCodes.has(e.code)) return 'unknown';
    if (e.code === 'conflict') return 'conflict';
    if (e.code === 'not_found') return 'not_found';
  }
  throw e;
}

const state = (d: (Reg & { rev: number }) | null): DocState => (d === null ? null : { rev: d.rev, value: d.value });

/** A conditional write to test: the provider's own, or a replaced implementation (negative control). */
export type IfMatch = (p: DatastoreProvider<Reg>, id: string, expectRev: number, value: string) => Promise<{ out: Outcome; seen?: DocState }>;

export const atomicIfMatch: IfMatch = async (p, id, expectRev, value) => {
  const r = await p.updateIfMatch(id, 'x', { rev: expectRev }, { value });
  return r.ok ? { out: 'ok', seen: state(r.doc) } : { out: r.reason };
};

/** The code the package replaced: read, compare in JS, an await, then an unconditional replace. */
export const legacyIfMatch: IfMatch = async (p, id, expectRev, value) => {
  const cur = await p.get(id, 'x');
  if (cur === null) return { out: 'not_found' };
  if (cur.rev !== expectRev) return { out: 'conflict' };
  await new Promise((resolve) => setImmediate(resolve));
  const d = await p.replace({ ...cur, value });
  return { out: 'ok', seen: state(d) };
};

async function perform(p: DatastoreProvider<Reg>, id: string, a: Action, ifMatch: IfMatch): Promise<{ out: Outcome; seen?: DocState }> {
  const doc = (value: string): Reg => ({ id, t: 'x', value }) as Reg;
  switch (a.kind) {
    case 'read':
      return { out: 'ok', seen: state(await p.get(id, 'x')) };
    case 'create':
      return { out: 'ok', seen: state(await p.create(doc(a.value))) };
    case 'upsert':
      return { out: 'ok', seen: state(await p.upsert(doc(a.value))) };
    case 'replace':
      return { out: 'ok', seen: state(await p.replace(doc(a.value))) };
    case 'update':
      return { out: 'ok', seen: state(await p.update(id, 'x', { value: a.value })) };
    case 'updateIfMatch':
      return ifMatch(p, id, a.expectRev, a.value);
    case 'delete':
      return { out: (await p.delete(id, 'x')) ? 'ok' : 'false' };
    case 'deleteIfMatch': {
      const r = await p.deleteIfMatch(id, 'x', { rev: a.expectRev });
      return { out: r.ok ? 'ok' : r.reason };
    }
  }
}

export interface ClientOptions {
  client: string;
  keys: readonly string[];
  ops: number;
  seed: number;
  /** Only reads and conditional writes (the claim loop), or every call. */
  mix: 'cas' | 'all';
  ifMatch?: IfMatch;
}

/** Runs one client's calls one after another and returns their history. */
export async function runClient(p: DatastoreProvider<Reg>, o: ClientOptions): Promise<HistoryOp[]> {
  const next = rng(o.seed);
  const history: HistoryOp[] = [];
  const lastRev = new Map<string, number>();
  const ifMatch = o.ifMatch ?? atomicIfMatch;
  for (let i = 0; i < o.ops; i++) {
    const key = o.keys[Math.floor(next() * o.keys.length)] ?? 'r';
    const value = `${o.client}-${i}`;
    const expectRev = lastRev.get(key) ?? 1;
    const r = next();
    let action: Action;
    if (o.mix === 'cas') action = i % 2 === 0 ? { kind: 'read' } : { kind: 'updateIfMatch', expectRev, value };
    else if (r < 0.3) action = { kind: 'read' };
    else if (r < 0.55) action = { kind: 'updateIfMatch', expectRev, value };
    else if (r < 0.63) action = { kind: 'update', value };
    else if (r < 0.71) action = { kind: 'create', value };
    else if (r < 0.78) action = { kind: 'upsert', value };
    else if (r < 0.83) action = { kind: 'replace', value };
    else if (r < 0.91) action = { kind: 'delete' };
    else action = { kind: 'deleteIfMatch', expectRev };
    // A turn or two between calls, varied, so clients interleave.
    for (let k = 0; k < Math.floor(next() * 3); k++) await new Promise((resolve) => setImmediate(resolve));
    const call = now();
    let result: { out: Outcome; seen?: DocState };
    try {
      result = await perform(p, key, action, ifMatch);
    } catch (e) {
      result = { out: refusal(e) };
    }
    const ret = now();
    // A read that failed says nothing; it has no effect to account for.
    if (action.kind === 'read' && result.out !== 'ok') continue;
    if (result.seen) lastRev.set(key, result.seen.rev);
    history.push({ key, call, ret, action, out: result.out, ...(result.seen !== undefined ? { seen: result.seen } : {}) });
  }
  return history;
}
