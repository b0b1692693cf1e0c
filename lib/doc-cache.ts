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
 * so documents stay off the V8 heap but for a few recent ones, and holds
 * only documents of at least `MIN_CHARS`.
 */

import type { Stored } from './types.js';

/** A parsed document, as JSON.parse makes it. */
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const MAX_ENTRIES = 256;
/**
 * Documents shorter than this (JSON characters) are not held: V8 parses a
 * small text faster than a tree is copied member by member.
 */
export const MIN_CHARS = 1024;
/** JSON characters held at most (about twice that in bytes on the heap). */
const MAX_CHARS = 4 * 1024 * 1024;

interface Held {
  etag: string;
  doc: Obj;
  chars: number;
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
    const x = copyJson((v as Record<string, unknown>)[k]);
    // JSON.parse makes "__proto__" an own member; an assignment would set the prototype.
    if (k === '__proto__') Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
    else out[k] = x;
  }
  return out as T;
}

/** `base` shallow-merged with `patch`, then the system fields: as the native merge writes it. */
function merged(base: Obj, patch: Obj, fields: Obj): Obj {
  const out: Obj = {};
  const put = (k: string, x: Json): void => {
    if (k === '__proto__') Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
    else out[k] = x;
  };
  for (const k of Object.keys(base)) if (k !== 'rev' && k !== '_etag' && k !== '_ts') put(k, base[k] as Json);
  for (const k of Object.keys(patch)) put(k, patch[k] as Json);
  for (const k of Object.keys(fields)) put(k, fields[k] as Json);
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
export function storedFromFlat<T>(flat: Record<string, unknown>, fieldsJson: string): Stored<T> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(flat)) {
    const v = flat[k];
    if (v === undefined || SYSTEM.has(k)) continue; // JSON leaves undefined out; the store drops its own fields
    out[k] = v === 0 ? 0 : v; // JSON writes -0 as 0
  }
  const fields = JSON.parse(fieldsJson) as Record<string, unknown>;
  out['rev'] = fields['rev'];
  out['_etag'] = fields['_etag'];
  out['_ts'] = fields['_ts'];
  return out as Stored<T>;
}

export class DocCache {
  readonly #held = new Map<string, Held>();
  #chars = 0;

  /** The key of a document: its partition key's JSON and its id. */
  static key(pkJson: string, id: string): string {
    return `${pkJson}\n${id}`;
  }

  /** The etag of the version held for `key`, if any. */
  etagOf(key: string): string | undefined {
    return this.#held.get(key)?.etag;
  }

  /** Whether nothing is held (then a caller need not build a key). */
  get empty(): boolean {
    return this.#held.size === 0;
  }

  /** A copy of the version held for `key` (the caller checked it is current). */
  copyOf<T>(key: string): Stored<T> {
    const h = this.#held.get(key);
    if (h === undefined) throw new Error(`no document held for ${key}`);
    return copyJson(h.doc) as unknown as Stored<T>;
  }

  /** Parses `json`; holds it for `key` and returns a copy, or returns it when it is too small to hold. */
  fromJson<T>(key: string, json: string): Stored<T> {
    const doc = JSON.parse(json) as Obj;
    if (json.length < MIN_CHARS) {
      this.drop(key);
      return doc as unknown as Stored<T>;
    }
    this.#hold(key, doc, json.length);
    return copyJson(doc) as unknown as Stored<T>;
  }

  /**
   * The version a write made on the one held for `key`: the held document
   * merged with `patchJson`, with the new system fields (`fieldsJson`).
   */
  fromWrite<T>(key: string, patchJson: string, fieldsJson: string): Stored<T> {
    const h = this.#held.get(key);
    if (h === undefined) throw new Error(`no document held for ${key}`);
    const doc = merged(h.doc, JSON.parse(patchJson) as Obj, JSON.parse(fieldsJson) as Obj);
    this.#hold(key, doc, h.chars + patchJson.length);
    return copyJson(doc) as unknown as Stored<T>;
  }

  /** Forgets `key` (the document is gone, or its version is unknown). */
  drop(key: string): void {
    const h = this.#held.get(key);
    if (h === undefined) return;
    this.#held.delete(key);
    this.#chars -= h.chars;
  }

  #hold(key: string, doc: Obj, chars: number): void {
    this.drop(key);
    if (chars > MAX_CHARS) return;
    this.#held.set(key, { etag: doc['_etag'] as string, doc, chars });
    this.#chars += chars;
    // Oldest first, by insertion order.
    for (const [k, h] of this.#held) {
      if (this.#held.size <= MAX_ENTRIES && this.#chars <= MAX_CHARS) break;
      this.#held.delete(k);
      this.#chars -= h.chars;
    }
  }
}
