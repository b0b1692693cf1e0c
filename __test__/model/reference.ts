/**
 * A plain TypeScript reference model of the `@bytelyst/datastore` contract
 * (the README's "The contract, briefly", plus the validation rules the differential suite
 * pins down). It is deliberately naive: a Map keyed by (partition key JSON,
 * id), synchronous, no native code, no shared code with the providers, so
 * that a disagreement between it and a provider means one of them reads the
 * contract differently.
 *
 * Every method takes exactly the (possibly ill-typed) arguments a caller
 * passes to a provider and answers the set of outcomes the contract allows.
 * Nearly always that set has one element; where the contract leaves a
 * choice open (see `accept`), it has more, and every alternative leaves the
 * same state behind. Input is validated completely before state is looked
 * at, so a rejected call never changes anything.
 *
 * Etags are opaque: the model issues its own (`"model:N"`, unique for the
 * model's lifetime) and never compares them with a provider's. The
 * differential runner resolves "the etag returned by step k" separately
 * for each backend.
 */

/** A JSON value as the model stores it. Objects have a null prototype, so `__proto__` is an ordinary key. */
export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

/** The error codes the model can decide. */
export type ModelCode = 'invalid_argument' | 'conflict' | 'not_found' | 'too_large';

/** One allowed outcome: a value, or a rejection with `code`. */
export type Answer<T> = { ok: true; value: T } | { ok: false; code: ModelCode; why: string };

/** The outcomes the contract allows for one call (nearly always exactly one). */
export interface Outcome<T> {
  accept: Array<Answer<T>>;
}

export type ConditionalUpdate = { ok: true; doc: JsonObject } | { ok: false; reason: 'conflict' | 'not_found' };
export type ConditionalDelete = { ok: true } | { ok: false; reason: 'conflict' | 'not_found' };

/**
 * What a query must answer: `groups` are the matching documents, in order;
 * documents inside one group tie (no `orderBy`: one group, any order). The
 * answer is the first `min(limit, total)` documents of the concatenation,
 * in any order inside a group.
 */
export interface QueryExpectation {
  groups: JsonObject[][];
  limit: number | undefined;
}

/** 2 MiB − 1 KiB: the largest caller document (compact JSON, UTF-8 bytes). */
export const MAX_DOCUMENT_BYTES = 2 * 1024 * 1024 - 1024;
/** Longest id, in code points. */
export const MAX_ID_CODE_POINTS = 255;
/** Longest string partition key, in UTF-8 bytes. */
export const MAX_PK_BYTES = 2048;
/** Deepest nesting of a document or patch; the document object itself is level 1. */
export const MAX_DEPTH = 128;
/** Largest query `limit`. */
export const MAX_LIMIT = 2 ** 31 - 1;
/** Fields a caller may send on a whole document; they are dropped (the datastore sets its own). */
export const SYSTEM_FIELDS: ReadonlySet<string> = new Set(['_etag', '_ts', '_rid', '_self', '_attachments', '_lsn', 'rev']);
/** Fields the model adds to every stored document it returns. */
export const RETURNED_SYSTEM_FIELDS = ['_etag', '_ts'] as const;

class Reject extends Error {
  constructor(
    readonly code: ModelCode,
    readonly why: string,
  ) {
    super(`${code}: ${why}`);
  }
}

const invalid = (why: string): Reject => new Reject('invalid_argument', why);

function one<T>(f: () => T): Outcome<T> {
  try {
    return { accept: [{ ok: true, value: f() }] };
  } catch (e) {
    if (e instanceof Reject) return { accept: [{ ok: false, code: e.code, why: e.why }] };
    throw e;
  }
}

/** Sets an own, enumerable key (safe for `__proto__`). */
function put(o: JsonObject, key: string, value: Json): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function newObject(): JsonObject {
  return Object.create(null) as JsonObject;
}

function tagOf(v: object): string {
  return Object.prototype.toString.call(v);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** `String.prototype.isWellFormed`, spelled out (the ES2022 lib does not declare it). */
export function isWellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
      return false;
    }
    if (c >= 0xdc00 && c <= 0xdfff) return false;
  }
  return true;
}

export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Compact JSON size in UTF-8 bytes. */
export function jsonBytes(v: Json): number {
  return utf8Bytes(JSON.stringify(v));
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ids with control characters are what it finds
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Why `id` is not a valid id, or `undefined` when it is one. */
export function idProblem(id: unknown): string | undefined {
  if (typeof id !== 'string') return `id must be a string, got ${typeof id}`;
  if (id.length === 0) return 'id is empty';
  if (!isWellFormed(id)) return 'id is not well-formed UTF-16';
  if ([...id].length > MAX_ID_CODE_POINTS) return 'id is longer than 255 code points';
  if (/[/\\?#]/.test(id)) return 'id contains / \\ ? or #';
  if (CONTROL.test(id)) return 'id contains a control character';
  if (id === '.' || id === '..') return 'id is . or ..';
  if (id.endsWith(' ')) return 'id ends with a space';
  return undefined;
}

/** Why `pk` is not a valid partition key value, or `undefined` when it is one. */
export function pkProblem(pk: unknown): string | undefined {
  switch (typeof pk) {
    case 'string':
      if (!isWellFormed(pk)) return 'partition key is not well-formed UTF-16';
      if (utf8Bytes(pk) > MAX_PK_BYTES) return 'partition key is longer than 2048 UTF-8 bytes';
      return undefined;
    case 'number':
      return Number.isFinite(pk) ? undefined : `partition key is ${pk}`;
    case 'boolean':
      return undefined;
    default:
      return `partition key must be a string, a finite number or a boolean, got ${pk === null ? 'null' : typeof pk}`;
  }
}

function checkId(id: unknown): string {
  const why = idProblem(id);
  if (why !== undefined) throw invalid(why);
  return id as string;
}

/** The partition key's JSON text (the model's key): `-0` and `0` are one key, `1` and `"1"` two. */
function checkPk(pk: unknown): string {
  const why = pkProblem(pk);
  if (why !== undefined) throw invalid(why);
  return JSON.stringify(pk);
}

/**
 * Converts a caller's value to JSON the way the contract says: JSON only;
 * `undefined` members dropped (`null` inside arrays, as JSON.stringify
 * writes them); Dates as their ISO string; boxed String/Number/Boolean as
 * their primitive; everything else JSON cannot hold faithfully refused.
 * `depth` is the nesting level a container found here would have.
 */
function toJson(v: unknown, path: string, depth: number, ancestors: object[]): Json | undefined {
  switch (typeof v) {
    case 'undefined':
      return undefined;
    case 'string':
      if (!isWellFormed(v)) throw invalid(`${path} is not well-formed UTF-16`);
      return v;
    case 'number':
      if (!Number.isFinite(v)) throw invalid(`${path} is ${v}`);
      return v === 0 ? 0 : v;
    case 'boolean':
      return v;
    case 'bigint':
    case 'function':
    case 'symbol':
      throw invalid(`${path} is a ${typeof v}`);
    case 'object': {
      if (v === null) return null;
      const tag = tagOf(v);
      switch (tag) {
        case '[object Number]': {
          const n = Number.prototype.valueOf.call(v);
          if (!Number.isFinite(n)) throw invalid(`${path} is a boxed ${n}`);
          return n === 0 ? 0 : n;
        }
        case '[object String]': {
          const s = String.prototype.valueOf.call(v);
          if (!isWellFormed(s)) throw invalid(`${path} is not well-formed UTF-16`);
          return s;
        }
        case '[object Boolean]':
          return Boolean.prototype.valueOf.call(v);
        case '[object Date]': {
          const t = Date.prototype.getTime.call(v);
          if (!Number.isFinite(t)) throw invalid(`${path} is an invalid Date`);
          return Date.prototype.toISOString.call(v);
        }
        case '[object BigInt]':
        case '[object Symbol]':
        case '[object Map]':
        case '[object Set]':
        case '[object WeakMap]':
        case '[object WeakSet]':
        case '[object ArrayBuffer]':
        case '[object Function]':
          throw invalid(`${path} is ${tag}`);
        default:
          break;
      }
      if (ArrayBuffer.isView(v)) throw invalid(`${path} is a typed array`);
      if (ancestors.includes(v)) throw invalid(`${path} is a cycle`);
      if (depth > MAX_DEPTH) throw invalid(`${path} is nested deeper than ${MAX_DEPTH} levels`);
      ancestors.push(v);
      try {
        if (Array.isArray(v)) {
          const out: Json[] = [];
          for (let i = 0; i < v.length; i++) {
            const item: unknown = v[i];
            out.push(toJson(item, `${path}[${i}]`, depth + 1, ancestors) ?? null);
          }
          return out;
        }
        const out = newObject();
        for (const key of Object.keys(v)) {
          if (!isWellFormed(key)) throw invalid(`${path} has a key that is not well-formed UTF-16`);
          const item = toJson((v as Record<string, unknown>)[key], `${path}.${key}`, depth + 1, ancestors);
          if (item !== undefined) put(out, key, item);
        }
        return out;
      } finally {
        ancestors.pop();
      }
    }
  }
  throw invalid(`${path} has an unsupported type`);
}

/** A whole document or a patch: a plain object, converted to JSON (top level is depth 1). */
function toJsonObject(v: unknown, what: string): JsonObject {
  if (!isPlainObject(v)) throw invalid(`${what} must be a plain object`);
  const out = toJson(v, what, 1, []);
  if (out === null || out === undefined || typeof out !== 'object' || Array.isArray(out)) {
    throw invalid(`${what} must be a plain object`);
  }
  return out;
}

interface Entry {
  id: string;
  pkJson: string;
  /** The caller's fields, `id` and the partition key included; no system fields. */
  doc: JsonObject;
  rev: number;
  etag: string;
}

interface CheckedDoc {
  id: string;
  pkJson: string;
  doc: JsonObject;
  key: string;
}

type Expected = { etag: string | undefined; rev: number | undefined };

function copy(o: JsonObject): JsonObject {
  const out = newObject();
  for (const k of Object.keys(o)) put(out, k, o[k] as Json);
  return out;
}

/** Cosmos DB's ORDER BY rank: missing < null < false/true < numbers < strings < arrays < objects. */
function rank(v: Json | undefined): number {
  if (v === undefined) return 0;
  if (v === null) return 1;
  if (typeof v === 'boolean') return 2;
  if (typeof v === 'number') return 3;
  if (typeof v === 'string') return 4;
  if (Array.isArray(v)) return 5;
  return 6;
}

/** Strings compare by code point (UTF-8 byte order), not UTF-16 code unit. */
export function compareCodePoints(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i]?.codePointAt(0) ?? 0) - (y[i]?.codePointAt(0) ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
}

/** Order of two field values; arrays and objects tie with their own kind (the contract does not order them). */
export function compareValues(a: Json | undefined, b: Json | undefined): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  if (typeof a === 'boolean' && typeof b === 'boolean') return a === b ? 0 : a ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a === b ? 0 : a < b ? -1 : 1;
  if (typeof a === 'string' && typeof b === 'string') return compareCodePoints(a, b);
  return 0;
}

const FIELD_NAME = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const FILTER_KEYS: ReadonlySet<string> = new Set(['partitionKey', 'where', 'orderBy', 'limit']);

export interface ReferenceOptions {
  /** The partition key field, e.g. `t` for `/t`. */
  partitionKeyField: string;
}

export class ReferenceModel {
  readonly #field: string;
  readonly #docs = new Map<string, Entry>();
  #etags = 0;

  constructor(options: ReferenceOptions) {
    this.#field = options.partitionKeyField;
  }

  static key(id: string, pkJson: string): string {
    return JSON.stringify([pkJson, id]);
  }

  /** The stored entry (caller fields and rev), or undefined; no validation. For the runner's bookkeeping. */
  peek(id: unknown, pk: unknown): { doc: JsonObject; rev: number } | undefined {
    if (idProblem(id) !== undefined || pkProblem(pk) !== undefined) return undefined;
    const e = this.#docs.get(ReferenceModel.key(id as string, JSON.stringify(pk)));
    return e === undefined ? undefined : { doc: copy(e.doc), rev: e.rev };
  }

  /** The (id, partition key) of every stored document, oldest first. For the runner, to aim operations at live keys. */
  liveKeys(): Array<{ id: string; pk: string | number | boolean }> {
    return [...this.#docs.values()].map((e) => ({ id: e.id, pk: JSON.parse(e.pkJson) as string | number | boolean }));
  }

  /** Every stored document, as `get` would return it. */
  all(): JsonObject[] {
    return [...this.#docs.values()].map((e) => this.#stored(e));
  }

  // ---- the provider surface -------------------------------------------------

  get(id: unknown, pk: unknown): Outcome<JsonObject | null> {
    return one(() => {
      const key = ReferenceModel.key(checkId(id), checkPk(pk));
      const e = this.#docs.get(key);
      return e === undefined ? null : this.#stored(e);
    });
  }

  create(doc: unknown): Outcome<JsonObject> {
    return one(() => {
      const d = this.#checkDoc(doc);
      if (this.#docs.has(d.key)) throw new Reject('conflict', `document ${JSON.stringify(d.id)} already exists`);
      return this.#write(d, 1);
    });
  }

  upsert(doc: unknown): Outcome<JsonObject> {
    return one(() => {
      const d = this.#checkDoc(doc);
      const cur = this.#docs.get(d.key);
      return this.#write(d, cur === undefined ? 1 : cur.rev + 1);
    });
  }

  replace(doc: unknown): Outcome<JsonObject> {
    return one(() => {
      const d = this.#checkDoc(doc);
      const cur = this.#docs.get(d.key);
      if (cur === undefined) throw new Reject('not_found', `document ${JSON.stringify(d.id)} does not exist`);
      return this.#write(d, cur.rev + 1);
    });
  }

  update(id: unknown, pk: unknown, patch: unknown): Outcome<JsonObject> {
    let patchTooLarge = false;
    const main = one(() => {
      const sid = checkId(id);
      const pkJson = checkPk(pk);
      const p = this.#checkPatch(patch, sid, pkJson);
      patchTooLarge = jsonBytes(p) > MAX_DOCUMENT_BYTES;
      const cur = this.#docs.get(ReferenceModel.key(sid, pkJson));
      if (cur === undefined) throw new Reject('not_found', `document ${JSON.stringify(sid)} does not exist`);
      return this.#merge(cur, p);
    });
    return this.#orTooLarge(main, patchTooLarge);
  }

  delete(id: unknown, pk: unknown): Outcome<boolean> {
    return one(() => this.#docs.delete(ReferenceModel.key(checkId(id), checkPk(pk))));
  }

  updateIfMatch(id: unknown, pk: unknown, expected: unknown, patch: unknown): Outcome<ConditionalUpdate> {
    let patchTooLarge = false;
    const main = one((): ConditionalUpdate => {
      const sid = checkId(id);
      const pkJson = checkPk(pk);
      const exp = checkExpected(expected);
      const p = this.#checkPatch(patch, sid, pkJson);
      patchTooLarge = jsonBytes(p) > MAX_DOCUMENT_BYTES;
      const cur = this.#docs.get(ReferenceModel.key(sid, pkJson));
      if (cur === undefined) return { ok: false, reason: 'not_found' };
      if (!matches(cur, exp)) return { ok: false, reason: 'conflict' };
      return { ok: true, doc: this.#merge(cur, p) };
    });
    return this.#orTooLarge(main, patchTooLarge);
  }

  deleteIfMatch(id: unknown, pk: unknown, expected: unknown): Outcome<ConditionalDelete> {
    return one((): ConditionalDelete => {
      const sid = checkId(id);
      const pkJson = checkPk(pk);
      const exp = checkExpected(expected);
      const key = ReferenceModel.key(sid, pkJson);
      const cur = this.#docs.get(key);
      if (cur === undefined) return { ok: false, reason: 'not_found' };
      if (!matches(cur, exp)) return { ok: false, reason: 'conflict' };
      this.#docs.delete(key);
      return { ok: true };
    });
  }

  /** `filter === undefined` is `query()` with no argument. */
  query(filter?: unknown): Outcome<QueryExpectation> {
    return one((): QueryExpectation => {
      const f = checkFilter(filter);
      let rows = [...this.#docs.values()];
      if (f.pkJson !== undefined) rows = rows.filter((e) => e.pkJson === f.pkJson);
      rows = rows.filter((e) =>
        f.where.every(([field, want]) => {
          const have = this.#field_(e, field);
          return have !== undefined && valuesEqual(have, want);
        }),
      );
      const docs = rows.map((e) => ({ e, stored: this.#stored(e) }));
      if (f.orderBy === undefined) return { groups: docs.length === 0 ? [] : [docs.map((d) => d.stored)], limit: f.limit };
      const { field, desc } = f.orderBy;
      const sign = desc ? -1 : 1;
      docs.sort((a, b) => sign * compareValues(this.#field_(a.e, field), this.#field_(b.e, field)));
      const groups: JsonObject[][] = [];
      let prev: Json | undefined;
      for (const [i, d] of docs.entries()) {
        const v = this.#field_(d.e, field);
        const last = groups[groups.length - 1];
        if (i > 0 && last !== undefined && compareValues(prev, v) === 0) last.push(d.stored);
        else groups.push([d.stored]);
        prev = v;
      }
      return { groups, limit: f.limit };
    });
  }

  // ---- internals -------------------------------------------------------------

  #field_(e: Entry, field: string): Json | undefined {
    if (field === 'rev') return e.rev;
    if (field === '_etag') return e.etag;
    if (field === '_ts') return 0;
    return  Object.hasOwn(e.doc, field) ? e.doc[field] : undefined;
  }

  #stored(e: Entry): JsonObject {
    const out = copy(e.doc);
    put(out, 'rev', e.rev);
    put(out, '_etag', e.etag);
    put(out, '_ts', 0);
    return out;
  }

  #write(d: CheckedDoc, rev: number): JsonObject {
    const e: Entry = { id: d.id, pkJson: d.pkJson, doc: d.doc, rev, etag: `"model:${++this.#etags}"` };
    this.#docs.set(d.key, e);
    return this.#stored(e);
  }

  /** The shallow merge of `update`/`updateIfMatch`: the merged caller document counts for the size limit. */
  #merge(cur: Entry, patch: JsonObject): JsonObject {
    const merged = copy(cur.doc);
    for (const k of Object.keys(patch)) put(merged, k, patch[k] as Json);
    const size = jsonBytes(merged);
    if (size > MAX_DOCUMENT_BYTES) {
      throw new Reject('too_large', `merged document ${JSON.stringify(cur.id)} is ${size} bytes`);
    }
    return this.#write({ id: cur.id, pkJson: cur.pkJson, doc: merged, key: ReferenceModel.key(cur.id, cur.pkJson) }, cur.rev + 1);
  }

  /**
   * A patch that alone is over the size limit can only ever produce a
   * too-large document; a provider may refuse it up front with `too_large`
   * instead of first finding the document missing or stale. Both are allowed
   * (and leave the same state: nothing written).
   */
  #orTooLarge<T>(main: Outcome<T>, patchTooLarge: boolean): Outcome<T> {
    const first = main.accept[0];
    if (!patchTooLarge || first === undefined || (!first.ok && first.code === 'too_large')) return main;
    if (!first.ok && first.code === 'invalid_argument') return main;
    return { accept: [first, { ok: false, code: 'too_large', why: 'the patch alone is over the size limit' }] };
  }

  #checkDoc(doc: unknown): CheckedDoc {
    const json = toJsonObject(doc, 'document');
    const out = newObject();
    for (const k of Object.keys(json)) {
      if (SYSTEM_FIELDS.has(k)) continue; // accepted and dropped: the datastore sets its own
      if (k.startsWith('_')) throw invalid(`document field ${JSON.stringify(k)} starts with '_'`);
      put(out, k, json[k] as Json);
    }
    if (!Object.hasOwn(out, 'id')) throw invalid("document has no 'id'");
    const id = checkId(out['id']);
    if (!Object.hasOwn(out, this.#field)) throw invalid(`document has no partition key field ${this.#field}`);
    const pkJson = checkPk(out[this.#field]);
    const size = jsonBytes(out);
    if (size > MAX_DOCUMENT_BYTES) throw new Reject('too_large', `document ${JSON.stringify(id)} is ${size} bytes`);
    return { id, pkJson, doc: out, key: ReferenceModel.key(id, pkJson) };
  }

  #checkPatch(patch: unknown, id: string, pkJson: string): JsonObject {
    const p = toJsonObject(patch, 'patch');
    for (const k of Object.keys(p)) {
      const v = p[k] as Json;
      if (k === 'rev' || k.startsWith('_')) throw invalid(`patch may not set ${JSON.stringify(k)}`);
      if (k === 'id' && v !== id) throw invalid('patch may not change id');
      if (k === this.#field && JSON.stringify(v) !== pkJson) throw invalid('patch may not change the partition key');
    }
    return p;
  }
}

function checkExpected(expected: unknown): Expected {
  if (!isPlainObject(expected)) throw invalid('expected must be an object');
  const etag: unknown = expected['etag'];
  const rev: unknown = expected['rev'];
  if (etag !== undefined && typeof etag !== 'string') throw invalid('expected.etag must be a string');
  if (rev !== undefined && (typeof rev !== 'number' || !Number.isInteger(rev) || rev < 0 || rev > Number.MAX_SAFE_INTEGER)) {
    throw invalid('expected.rev must be a whole number 0..2^53-1');
  }
  if (etag === undefined && rev === undefined) throw invalid('expected needs etag or rev');
  return { etag, rev };
}

function matches(e: Entry, exp: Expected): boolean {
  return (exp.etag === undefined || exp.etag === e.etag) && (exp.rev === undefined || exp.rev === e.rev);
}

function valuesEqual(have: Json, want: Json): boolean {
  if (typeof have === 'number' && typeof want === 'number') return have === want;
  if (typeof have === 'object' && have !== null) return false;
  return have === want;
}

interface CheckedFilter {
  pkJson: string | undefined;
  where: Array<[string, Json]>;
  orderBy: { field: string; desc: boolean } | undefined;
  limit: number | undefined;
}

function checkFilter(filter: unknown): CheckedFilter {
  const out: CheckedFilter = { pkJson: undefined, where: [], orderBy: undefined, limit: undefined };
  if (filter === undefined) return out;
  if (!isPlainObject(filter)) throw invalid('query filter must be a plain object');
  for (const k of Object.keys(filter)) {
    if (!FILTER_KEYS.has(k)) throw invalid(`query filter has an unknown key ${JSON.stringify(k)}`);
  }
  // Present (even as undefined or null) means "this partition": never "all partitions".
  if (Object.hasOwn(filter, 'partitionKey')) out.pkJson = checkPk(filter['partitionKey']);
  const where = filter['where'];
  if (where !== undefined) {
    if (!isPlainObject(where)) throw invalid('where must be an object');
    for (const field of Object.keys(where)) {
      if (!FIELD_NAME.test(field)) throw invalid(`where field ${JSON.stringify(field)} is not a top-level name`);
      const v: unknown = where[field];
      // `undefined` would silently drop the clause (and widen the query), so it is refused;
      // boxed primitives and Dates mean what they mean in a document.
      const j = v === undefined ? undefined : toJson(v, `where.${field}`, 1, []);
      if (j === undefined || (typeof j === 'object' && j !== null)) {
        throw invalid(`where.${field} must be a string, a finite number, a boolean or null`);
      }
      out.where.push([field, j]);
    }
  }
  const orderBy = filter['orderBy'];
  if (orderBy !== undefined) {
    if (!isPlainObject(orderBy)) throw invalid('orderBy must be an object');
    for (const k of Object.keys(orderBy)) {
      if (k !== 'field' && k !== 'direction') throw invalid(`orderBy has an unknown key ${JSON.stringify(k)}`);
    }
    const field: unknown = orderBy['field'];
    if (typeof field !== 'string' || !FIELD_NAME.test(field)) throw invalid('orderBy.field must be a top-level name');
    const direction: unknown = orderBy['direction'];
    if (direction !== undefined && direction !== 'asc' && direction !== 'desc') throw invalid("orderBy.direction must be 'asc' or 'desc'");
    out.orderBy = { field, desc: direction === 'desc' };
  }
  const limit = filter['limit'];
  if (limit !== undefined) {
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      throw invalid(`limit must be a whole number 1..${MAX_LIMIT}`);
    }
    out.limit = limit;
  }
  return out;
}
