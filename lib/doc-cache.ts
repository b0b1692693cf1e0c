/**
 * The Memory provider's cache of parsed documents, with copy-on-read.
 *
 * Parsing a document's JSON costs in proportion to its size (a 64 KB
 * prompt is scanned character by character), while copying a parsed JSON
 * tree costs in proportion to its members: strings are immutable and are
 * shared, not copied. So the last versions this provider read or wrote are
 * kept parsed, and the native store is asked, under its lock, whether the
 * version held is still the current one (by etag, unique in the process for
 * every version of every document). The native store stays the only
 * authority: a version written by another provider or thread is never
 * answered from here.
 *
 * Held documents are never handed out: callers get copies, so they may
 * mutate what they receive. The cache is bounded (entries and characters),
 * so documents stay off the V8 heap but for a few recent ones; of a
 * write's answers it holds parsed those of at least `MIN_CHARS` and the
 * flat ones (every member a JSON primitive) of any size.
 *
 * A flat document is copied with one object spread (its members are
 * immutable primitives, so a shallow copy is a deep one), and a write that
 * landed on the flat version held, changing only members it already has,
 * is applied to it in place: the answer is that copy, with no parse of the
 * whole document and no merge.
 *
 * Beside each version (of any size) it keeps the native write count
 * (`memoryWriteCount`) at a moment that version was current. Every change
 * to any Memory store in the process moves that count inside its lock
 * section, so while it reads the same the version is still current, and
 * a `get` or a stale claim is answered without crossing into the native
 * layer. A version whose *stamp* is known (the change count of the one
 * shard of the store that holds the document, given by the read or write
 * that answered it) is checked by that instead, with one small native call
 * (`memoryStampHolds`): other threads' and providers' writes to other
 * documents then leave it current. A moved count or stamp only sends the
 * call to the native store, as before.
 *
 * A store that is not `shared` is written only by its one provider, on
 * this thread: that provider tells its cache of every write (`wrote`), and
 * a version held since the last one is current with no native call at all.
 */

import { memoryWriteCount } from '../index.js';
import { setMember } from './codec.js';
import type { Stored } from './types.js';

/** A parsed document, as JSON.parse makes it. */
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const MAX_ENTRIES = 256;
/** Entries dropped beyond the one that broke `MAX_ENTRIES` (see `#evict`). */
const EVICT_BATCH = 32;
/**
 * A write's answer shorter than this (JSON characters) is not held parsed
 * unless it is flat, only its version: V8 parses a small text faster than
 * a nested tree is merged and copied member by member. A read's answer is
 * held at any size: while the write count stands still, the next read of
 * it is a copy, with no native call.
 */
export const MIN_CHARS = 1024;
/** JSON characters held at most (about twice that in bytes on the heap). */
const MAX_CHARS = 4 * 1024 * 1024;
/**
 * A created document this long (JSON characters, about) is held only until
 * the next one is created, unless a read or write has held it since. V8
 * copies every young object still referenced at each young-generation
 * collection: holding 64 created 64 KB documents (the character bound)
 * made such creates ~30 % slower (perf: most of it the scavenger and its
 * page faults), while the one case it speeds up (a job's first claim just
 * after its create) needs only the newest.
 */
export const LONG_CREATED = 8 * 1024;

interface Held {
  etag: string;
  rev: unknown;
  /**
   * `memoryWriteCount()` at a moment this version was current; NaN when
   * unknown; `AFTER_WRITE` for a version a write answered, until it is
   * first needed (then the count that write left, from its etag).
   */
  count: number;
  /**
   * The stamp of the shard holding this version when it was current
   * (`memoryGetFreshAt`, `memoryUpdateIfMatchAt`); NaN when unknown.
   */
  stamp: number;
  /** The cache's `#epoch` when this version was current (NaN for a shared store's cache). */
  epoch: number;
  /** The parsed version, for documents of `MIN_CHARS` or more and flat ones. */
  doc: Obj | undefined;
  /** Every member of `doc` is a JSON primitive: copied by a spread, written in place. */
  flat: boolean;
  chars: number;
}

/** An etag as the native store writes it: 16 lowercase hex digits in quotes. Others it may read alike (`"+0…"`, upper case) are left to it. */
const CANONICAL_ETAG = /^"[0-9a-f]{16}"$/;

/**
 * The write count a write of `etag` left (its number plus one): the store
 * takes etags from the counter. NaN when `etag` is not one of the store's
 * or past exact numbers.
 */
function countAfter(etag: unknown): number {
  if (typeof etag !== 'string' || !CANONICAL_ETAG.test(etag)) return Number.NaN;
  const n = Number.parseInt(etag.slice(1, 17), 16) + 1;
  return Number.isSafeInteger(n) ? n : Number.NaN;
}

/** `Held.count` of a version a write answered: the count that write left, worked out when first needed. */
const AFTER_WRITE = -1;

/** The write count at which `h` was current. */
function countOf(h: Held): number {
  if (h.count === AFTER_WRITE) h.count = countAfter(h.etag);
  return h.count;
}

/** A deep copy of a parsed JSON value (what `JSON.parse` of its text would give). */
export function copyJson<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    const n = v.length;
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = copyJson(v[i]);
    return out as T;
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    // JSON.parse makes "__proto__" an own member; an assignment would set the prototype.
    setMember(out, k, copyJson((v as Record<string, unknown>)[k]));
  }
  return out as T;
}

/** Whether every member of `o` is a JSON primitive (a shallow copy of it is a deep one). */
function isFlat(o: Obj): boolean {
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (typeof v === 'object' && v !== null) return false;
  }
  return true;
}

/** A copy of a parsed document (`flat`: see `isFlat`), as `JSON.parse` of its text would give it. */
function copyDoc(doc: Obj, flat: boolean): Obj {
  // A spread defines own members (an own "__proto__" stays a member), as JSON.parse does.
  return flat ? { ...doc } : copyJson(doc);
}

/** A version's system fields, as a write answers them, and the stamp of its shard (NaN: unknown). */
export interface Fields {
  rev: number;
  _etag: string;
  _ts: number;
  stamp: number;
}

/**
 * The system fields and stamp of a write's answer
 * `+"<16 hex>"<rev>,<ts>,<stamp>` (see `memoryUpdateIfMatchAt`): taken
 * apart by position in one pass, digits summed by hand, not parsed as
 * JSON nor sliced for `Number()` (each slice and conversion cost more than
 * the native write's own bookkeeping, perf).
 */
export function writtenFields(out: string): Fields {
  let i = 19;
  let rev = 0;
  // Digits only: charCodeAt past the end is NaN, which is none, so a short answer cannot loop.
  for (let c = out.charCodeAt(i); c >= 48 && c <= 57; c = out.charCodeAt(++i)) rev = rev * 10 + (c - 48);
  let ts = 0;
  for (let c = out.charCodeAt(++i); c >= 48 && c <= 57; c = out.charCodeAt(++i)) ts = ts * 10 + (c - 48);
  let stamp = 0;
  for (let c = out.charCodeAt(++i); c >= 48 && c <= 57; c = out.charCodeAt(++i)) stamp = stamp * 10 + (c - 48);
  // Two slices of 9, joined: V8 makes a slice of 13 or more characters a view into `out`, and comparing
  // such a view with another etag goes to the runtime (~60 ns against ~7); short slices are copies, and the
  // pair is made flat at its first comparison. The claims that lose a race each compare two etags.
  return { _etag: out.slice(1, 10) + out.slice(10, 19), rev, _ts: ts, stamp };
}

/**
 * Applies a write of `patch` (members as the caller wrote them, all JSON
 * primitives) and its new system `fields` to the flat document `doc` in
 * place, when that keeps its member order: every member written is one
 * `doc` already has (an assignment keeps its place; a new one would land
 * after the system fields, where the store does not put it). `false`, and
 * `doc` untouched, otherwise.
 */
function writeInPlace(doc: Obj, patch: Record<string, unknown>, fields: Fields): boolean {
  const keys = Object.keys(patch);
  for (const k of keys) {
    if (k === '__proto__' || !Object.hasOwn(doc, k)) return false;
  }
  for (const k of keys) {
    const v = patch[k];
    if (v === undefined) continue; // JSON leaves it out: the member keeps its value
    doc[k] = v === 0 ? 0 : (v as Json); // JSON writes -0 as 0
  }
  // Own members of every stored version: assigned, never a setter on the prototype.
  doc['rev'] = fields.rev;
  doc['_etag'] = fields._etag;
  doc['_ts'] = fields._ts;
  return true;
}

/** `base` shallow-merged with `patch`, then the system fields: as the native merge writes it. */
function merged(base: Obj, patch: Obj, fields: Fields): Obj {
  const out: Obj = {};
  for (const k of Object.keys(base)) if (k !== 'rev' && k !== '_etag' && k !== '_ts') setMember(out, k, base[k]);
  for (const k of Object.keys(patch)) setMember(out, k, patch[k]);
  setMember(out, 'rev', fields.rev);
  setMember(out, '_etag', fields._etag);
  setMember(out, '_ts', fields._ts);
  return out;
}

/** The members a store drops from a document it is given (it sets its own). */
const SYSTEM = new Set(['rev', '_rid', '_self', '_etag', '_attachments', '_ts', '_lsn']);

/**
 * The document a store answers to a write of `flat` (members that are all
 * JSON primitives, as written), given its new system fields: what
 * `JSON.parse` of the stored text gives, built without writing or parsing
 * that text. Strings are shared (immutable); the object is new.
 */
function storedFromFlat(flat: Record<string, unknown>, fields: Fields): Obj {
  const out: Obj = {};
  for (const k of Object.keys(flat)) {
    const v = flat[k];
    if (v === undefined || SYSTEM.has(k)) continue; // JSON leaves undefined out; the store drops its own fields
    setMember(out, k, v === 0 ? 0 : (v as Json)); // JSON writes -0 as 0
  }
  setMember(out, 'rev', fields.rev);
  setMember(out, '_etag', fields._etag);
  setMember(out, '_ts', fields._ts);
  return out;
}

let lastKeyPk = '';
let lastKeyId = '';
let lastKey = '\n';

export class DocCache {
  readonly #held = new Map<string, Held>();
  #chars = 0;
  /** The key held last (the last in `#held`'s order), unless dropped since. */
  #newest: string | undefined;
  /** The long document held from its create (`LONG_CREATED`), and the etag it was created with. */
  #longCreated: { key: string; etag: string } | undefined;
  /** Whether no document of the shard a stamp names has changed since it was given (`memoryStampHolds` on the store). */
  readonly #stampHolds: (stamp: number) => boolean;

  /**
   * For the cache of a store only its one provider writes (not `shared`):
   * moved after each of that provider's writes (`wrote`), so a version held
   * at the epoch that stands is current with no native call. NaN for a
   * store others write too: it never equals anything.
   */
  #epoch: number;

  /** `local`: the store is written only through the provider that owns this cache, on this thread. */
  constructor(stampHolds: (stamp: number) => boolean = () => false, local = false) {
    this.#stampHolds = stampHolds;
    this.#epoch = local ? 0 : Number.NaN;
  }

  /**
   * Notes that the store may have changed: to be called after every native
   * call that may write a document whose entry here the answer does not
   * replace (`fromCreate`, `fromWrite`, `fromJson`), and after any caller
   * code it ran (a getter may have read, and held, a version the write then
   * replaced).
   */
  wrote(): void {
    this.#epoch++;
  }

  /**
   * Whether the version `h` is still the current one: no write since it
   * was held (`#epoch`, a store only this provider writes), or its shard
   * has not changed since its stamp, or, without a stamp, the write count
   * has not moved since it was. The epoch costs no native call (a call
   * with the store as argument is ~150 ns, napi-rs's per-call bookkeeping;
   * 999 of them were a third of a 1,000-claimer race). The stamp is asked
   * before the count: with other threads
   * writing, the process-wide count has nearly always moved, and reading it
   * costs a cache line the writers keep taking (two threads: ~8 % more
   * throughput, 4 runs of 1M).
   */
  #current(h: Held): boolean {
    if (h.epoch === this.#epoch) return true;
    if (!Number.isNaN(h.stamp)) return this.#stampHolds(h.stamp);
    return countOf(h) === memoryWriteCount();
  }

  /** The key of a document: its partition key's JSON and its id. */
  static key(pkJson: string, id: string): string {
    // The last key is kept: a caller repeating a call on one document looks it up without building a string.
    if (pkJson === lastKeyPk && id === lastKeyId) return lastKey;
    lastKeyPk = pkJson;
    lastKeyId = id;
    lastKey = `${pkJson}\n${id}`;
    return lastKey;
  }

  /** The etag of the parsed version held for `key`, if any. */
  etagOf(key: string): string | undefined {
    const h = this.#held.get(key);
    return h?.doc === undefined ? undefined : h.etag;
  }

  /** A copy of the parsed version held for `key` when it is still current (its stamp holds, or the write count has not moved); else undefined. */
  current<T>(key: string): Stored<T> | undefined {
    const h = this.#held.get(key);
    if (h?.doc === undefined || !this.#current(h)) return undefined;
    return copyDoc(h.doc, h.flat) as unknown as Stored<T>;
  }

  /**
   * Whether a claim expecting `etag` and/or `rev` is certain to lose: the
   * version held for `key` is still current (its stamp holds, or the write
   * count has not moved) and is not the one expected. `false` when in doubt.
   */
  stale(key: string, etag: string | undefined, rev: number | undefined): boolean {
    const h = this.#held.get(key);
    if (h === undefined) return false;
    const other = (rev !== undefined && rev !== h.rev) || (etag !== undefined && etag !== h.etag && this.#canonical(etag));
    return other && this.#current(h);
  }

  #lastCanonical: string | undefined;

  #canonical(etag: string): boolean {
    if (etag === this.#lastCanonical) return true;
    if (!CANONICAL_ETAG.test(etag)) return false;
    this.#lastCanonical = etag;
    return true;
  }

  /**
   * A copy of the version held for `key` (the caller checked it is
   * current), which was current at write count `count` (NaN: unknown)
   * and had the shard stamp `stamp` (NaN: unknown).
   */
  copyOf<T>(key: string, count = Number.NaN, stamp = Number.NaN): Stored<T> {
    const h = this.#held.get(key);
    if (h?.doc === undefined) throw new Error(`no document held for ${key}`);
    h.count = count;
    h.stamp = stamp;
    h.epoch = this.#epoch;
    return copyDoc(h.doc, h.flat) as unknown as Stored<T>;
  }

  /**
   * Parses `json`; holds it for `key` and returns a copy, or returns it when
   * it is too small to hold (noting only its version). `count` is a write
   * count read before the native call that answered `json` (NaN: unknown);
   * a write's answer carries its own (`written`).
   */
  fromJson<T>(key: string, json: string, count = Number.NaN, written = false): Stored<T> {
    const doc = JSON.parse(json) as Obj;
    const flat = isFlat(doc);
    if (written && !flat && json.length < MIN_CHARS) {
      this.#version(key, doc['_etag'], doc['rev']);
      return doc as unknown as Stored<T>;
    }
    this.#hold(key, doc, flat, json.length, written ? AFTER_WRITE : count);
    return copyDoc(doc, flat) as unknown as Stored<T>;
  }

  /**
   * The version a write made on the one held for `key`: the held document
   * merged with `patchJson`, with the new system `fields`. `patch`, when
   * given, is the patch's members as written (all JSON primitives): with
   * it, a flat held document is written in place.
   */
  fromWrite<T>(key: string, patchJson: string, fields: Fields, patch?: Record<string, unknown>): Stored<T> {
    const h = this.#held.get(key);
    if (h?.doc === undefined) throw new Error(`no document held for ${key}`);
    const inPlace = h.flat && patch !== undefined && writeInPlace(h.doc, patch, fields);
    const doc = inPlace ? h.doc : merged(h.doc, JSON.parse(patchJson) as Obj, fields);
    const flat = inPlace || (h.flat && isFlat(doc));
    // Held again (the most recently used is the last evicted); the size is an upper bound.
    this.#hold(key, doc, flat, h.chars + patchJson.length, AFTER_WRITE, fields.stamp);
    return copyDoc(doc, flat) as unknown as Stored<T>;
  }

  /**
   * The document a create of `flat` made (see `storedFromFlat`), given
   * the answer's system `fields` and stamp: held for `key` (`chars` long
   * as JSON, about) as the version current when that stamp was given, so
   * the first write onto it (a job's first claim) is answered with its
   * system fields, not the whole document to parse.
   */
  fromCreate<T>(key: string, flat: Record<string, unknown>, fields: Fields, chars: number): Stored<T> {
    const doc = storedFromFlat(flat, fields);
    if (chars >= LONG_CREATED) this.#heldLongCreated(key, fields._etag);
    this.#hold(key, doc, true, chars, AFTER_WRITE, fields.stamp);
    return copyDoc(doc, true) as unknown as Stored<T>;
  }

  /**
   * Notes `key`, created with `etag`, as the long created document held
   * (`LONG_CREATED`), and forgets the one before it unless its version
   * has changed since (a write has held a newer one; a read holds the same
   * etag and is forgotten with it: a later read asks the store again).
   */
  #heldLongCreated(key: string, etag: string): void {
    const last = this.#longCreated;
    if (last !== undefined && this.#held.get(last.key)?.etag === last.etag) this.drop(last.key);
    this.#longCreated = { key, etag };
  }

  /** Forgets every version held (the provider is closed). */
  clear(): void {
    this.#held.clear();
    this.#chars = 0;
    this.#newest = undefined;
    this.#longCreated = undefined;
  }

  /** Forgets `key` (the document is gone, or its version is unknown). */
  drop(key: string): void {
    const h = this.#held.get(key);
    if (h === undefined) return;
    if (key === this.#newest) this.#newest = undefined;
    this.#held.delete(key);
    this.#chars -= h.chars;
  }

  /** Notes the version a write answered, not held parsed: its etag and rev. */
  #version(key: string, etag: Json | undefined, rev: Json | undefined): void {
    this.drop(key);
    if (typeof etag !== 'string') return;
    this.#held.set(key, { etag, rev, count: AFTER_WRITE, stamp: Number.NaN, epoch: this.#epoch, doc: undefined, flat: false, chars: 0 });
    this.#newest = key;
    this.#evict();
  }

  #hold(key: string, doc: Obj, flat: boolean, chars: number, count = Number.NaN, stamp = Number.NaN): void {
    const newest = key === this.#newest ? this.#held.get(key) : undefined;
    if (newest !== undefined && chars <= MAX_CHARS) {
      // Already last in eviction order: brought up to date where it stands, not deleted and
      // inserted again (~2 % of a 300 B claim, which holds the same document write after write).
      this.#chars += chars - newest.chars;
      newest.etag = doc['_etag'] as string;
      newest.rev = doc['rev'];
      newest.count = count;
      newest.stamp = stamp;
      newest.epoch = this.#epoch;
      newest.doc = doc;
      newest.flat = flat;
      newest.chars = chars;
      this.#evict();
      return;
    }
    this.drop(key);
    if (chars > MAX_CHARS) return;
    this.#held.set(key, { etag: doc['_etag'] as string, rev: doc['rev'], count, stamp, epoch: this.#epoch, doc, flat, chars });
    this.#newest = key;
    this.#chars += chars;
    this.#evict();
  }

  #evict(): void {
    if (this.#held.size <= MAX_ENTRIES && this.#chars <= MAX_CHARS) return;
    // Past the entry bound, EVICT_BATCH more go at once: each pass walks from the Map's start over the
    // slots its earlier deletes left, so one pass per insert made creates ~6 % slower once every
    // created document was held (A/B, 300 B).
    const entries = this.#held.size > MAX_ENTRIES ? MAX_ENTRIES - EVICT_BATCH : MAX_ENTRIES;
    // Oldest first, by insertion order.
    for (const [k, h] of this.#held) {
      if (this.#held.size <= entries && this.#chars <= MAX_CHARS) break;
      if (k === this.#newest) this.#newest = undefined;
      this.#held.delete(k);
      this.#chars -= h.chars;
    }
  }
}
