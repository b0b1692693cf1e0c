/**
 * How values cross into the native layer: as JSON text, checked as it is
 * written.
 *
 * `JSON.stringify` silently turns `NaN` into `null`, drops functions and
 * `Map` contents, and throws on `BigInt` and cycles without saying where.
 * A stored document must be exactly what the caller meant, so everything
 * JSON cannot hold is refused with `invalid_argument` naming its path,
 * before anything is written.
 *
 * The check runs inside `JSON.stringify` (as its replacer), so it sees the
 * very values that are written: a getter or `toJSON` read once, never a
 * second time that could answer differently.
 */

import { types } from 'node:util';
import { MISS_CONFLICT, MISS_NOT_FOUND } from '../index.js';
import { DatastoreError, invalidArgument } from './errors.js';
import type { DeleteIfMatchResult, Expected, PartitionKey, QueryFilter, Stored, UpdateIfMatchResult } from './types.js';

/** Deepest nesting a document may have (the root object is depth 0). */
export const MAX_DEPTH = 128;

/** Node 20 has `String.prototype.isWellFormed`; ES2022's typings do not. */
const isWellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed();

function appendPath(base: string, part: string | number): string {
  if (typeof part === 'number') return `${base}[${part}]`;
  if (/^[A-Za-z_$][\w$]*$/.test(part)) return `${base}.${part}`;
  return `${base}[${JSON.stringify(part)}]`;
}

/**
 * Sets member `k` of an object this package made, as `JSON.parse` would: an
 * own data member, even when `Object.prototype` has one of that name
 * (`__proto__`, `toString`, or an accessor other code in the process added,
 * whose setter an assignment would call instead: the member would be lost).
 */
export function setMember(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k in Object.prototype) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

/**
 * The objects `encodeFlat` copies members into. Their prototype chain does
 * not reach `Object.prototype`, so an assignment always makes an own data
 * member, whatever other code has added there: no per-member `in` check as
 * `setMember` needs (7 % of a 1,000-claimer race).
 */
class Members {
  [k: string]: unknown;
}
Object.setPrototypeOf(Members.prototype, null);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  try {
    if (Array.isArray(v)) return 'an array';
    if (typeof v === 'object') return `a ${(v as object).constructor?.name ?? 'object'}`;
  } catch {
    return 'an object that cannot be read (a revoked proxy, or a trap or getter that throws)';
  }
  return typeof v;
}

/**
 * `check()`, whose reads of a caller's value (`what`) may throw: a revoked
 * proxy, a proxy trap or a getter that throws. Such a throw is the
 * caller's `invalid_argument`, never `internal`.
 */
export function reading<R>(what: string, check: () => R): R {
  try {
    return check();
  } catch (e) {
    throw unreadable(e, what);
  }
}

/** What `reading` throws for `e`, thrown while reading `what` (hot paths inline the try). */
function unreadable(e: unknown, what: string): DatastoreError {
  if (e instanceof DatastoreError) return e;
  const why = e instanceof Error ? e.message : String(e);
  return new DatastoreError('invalid_argument', `${what} could not be read: ${why}`, undefined, { cause: e });
}

/**
 * Where a visited object sits: the object holding it, under which key, and
 * how deep. Its path is spelled out only for an error message, so a valid
 * document pays for no path strings.
 */
interface Frame {
  parent: object | undefined;
  key: string;
  depth: number;
}

/** The path of `key` in `holder`, e.g. `document.meta.list[1]`. */
function pathOf(frames: WeakMap<object, Frame>, root: string, holder: object | undefined, key: string): string {
  const parts: Array<string | number> = [];
  let h = holder;
  let k = key;
  while (h !== undefined) {
    parts.push(Array.isArray(h) ? Number(k) : k);
    const f = frames.get(h);
    if (f === undefined) break;
    h = f.parent;
    k = f.key;
  }
  return parts.reverse().reduce<string>((base, part) => appendPath(base, part), root);
}

/**
 * The replacer's check of one value at `path`. Returns what to write: the
 * value itself, or a boxed primitive's primitive (read through the
 * intrinsic `valueOf`, which a caller cannot override).
 */
function checkValue(v: unknown, at: () => string): unknown {
  switch (typeof v) {
    case 'string':
      if (!isWellFormed(v)) throw invalidArgument(`${at()} is a string with a lone surrogate (not well-formed UTF-16)`);
      return v;
    case 'number':
      if (!Number.isFinite(v)) throw invalidArgument(`${at()} is ${v}, which JSON cannot hold`);
      return v;
    case 'boolean':
    case 'undefined': // dropped from objects, null in arrays: as JSON.stringify does
      return v;
    case 'bigint':
      throw invalidArgument(`${at()} is a BigInt, which JSON cannot hold`);
    case 'function':
    case 'symbol':
      throw invalidArgument(`${at()} is a ${typeof v}, which JSON cannot hold`);
    default:
      if (v === null) return v;
      if (v instanceof Number) return checkValue(Number.prototype.valueOf.call(v), at);
      if (v instanceof String) return checkValue(String.prototype.valueOf.call(v), at);
      if (v instanceof Boolean) return Boolean.prototype.valueOf.call(v);
      if (v instanceof BigInt) throw invalidArgument(`${at()} is a boxed BigInt, which JSON cannot hold`);
      if (v instanceof Symbol) throw invalidArgument(`${at()} is a boxed symbol, which JSON cannot hold`);
      if (v instanceof Map || v instanceof Set || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
        throw invalidArgument(`${at()} is ${describe(v)}, which JSON would not store faithfully`);
      }
      return v;
  }
}

/**
 * What `encodeObject` tells its caller beside the text: `flat`, the members
 * as read and written, when every one was a JSON primitive. With `lazy`,
 * such an object is not written: `encodeObject` returns '' and the caller
 * writes `flat` with `JSON.stringify` (which cannot fail on it) if it needs
 * the text. With `lazyFrom`, only an object with a string member of at
 * least that many characters is left unwritten.
 */
export interface Encoded {
  flat?: Record<string, unknown>;
  lazy?: boolean;
  /** As `lazy`, but only when a string member is this long or longer. */
  lazyFrom?: number;
}

/**
 * A plain object as JSON text; `what` names it in errors (`document`,
 * `ops[2].patch`). See `Encoded` for `out`.
 */
export function encodeObject(value: unknown, what: string, out?: Encoded): string {
  let general: boolean;
  try {
    if (!isPlainObject(value)) throw invalidArgument(`${what} must be a plain object, got ${describe(value)}`);
    // A proxy, or a root with a toJSON: the general path, exactly as JSON.stringify reads them.
    general = types.isProxy(value) || 'toJSON' in value;
  } catch (e) {
    throw unreadable(e, what);
  }
  return general ? stringifyChecked(value as object, what, undefined) : encodeFlat(value as Record<string, unknown>, what, out);
}

/**
 * The fast path, for the common document or patch whose members are all
 * JSON primitives: each member is read once, in `JSON.stringify`'s order,
 * checked as the replacer would check it (same errors, same order), and
 * copied to a fresh object (a `Members`) that `JSON.stringify` then writes without a
 * replacer (V8's fast serializer).
 *
 * At the first member that is an object, the rest is handed to the general
 * path over the copy, whose members not yet read become getters reading the
 * caller's object: every member is still read once, in order, and errors
 * arise in the same order as before.
 */
function encodeFlat(value: Record<string, unknown>, what: string, out?: Encoded): string {
  const keys = Object.keys(value);
  const copy: Record<string, unknown> = new Members();
  const n = keys.length;
  const lazyFrom = out?.lazyFrom ?? Number.POSITIVE_INFINITY;
  let long = false;
  let i = 0;
  try {
    for (; i < n; i++) {
      const k = keys[i] as string;
      if (k === '__proto__') break; // a plain object cannot hold it as a member: the general path
      const v = value[k]; // read before the key is checked, as JSON.stringify calls its replacer
      if (!isWellFormed(k)) {
        throw invalidArgument(`${appendPath(what, k)} has a key with a lone surrogate (not well-formed UTF-16)`);
      }
      if (typeof v === 'string' ? isWellFormed(v) : typeof v === 'number' ? Number.isFinite(v) : typeof v === 'boolean' || v === null || v === undefined) {
        copy[k] = v;
        if (typeof v === 'string' && v.length >= lazyFrom) long = true;
      } else if (typeof v === 'object') {
        copy[k] = v;
        break;
      } else {
        copy[k] = checkValue(v, () => appendPath(what, k)); // throws: a value JSON cannot hold
      }
    }
  } catch (e) {
    throw readError(e, what);
  }
  // A getter may have given Object.prototype a toJSON meanwhile: the root's was looked up before any member was read.
  if ('toJSON' in copy) Object.setPrototypeOf(copy, null);
  else if (i === n && out !== undefined) {
    out.flat = copy;
    if (out.lazy === true || long) return '';
  }
  if (i === n) return JSON.stringify(copy);
  // From the first member not yet read (`__proto__`) or the one after the object that stopped the loop.
  for (let j = keys[i] === '__proto__' ? i : i + 1; j < n; j++) {
    const k = keys[j] as string;
    Object.defineProperty(copy, k, { get: () => value[k], enumerable: true, configurable: true });
  }
  return stringifyChecked(copy, what, value);
}

/** A caller's value that threw while read (a getter, a toJSON, a revoked proxy), as the error to throw. */
function readError(e: unknown, what: string): DatastoreError {
  if (e instanceof DatastoreError) return e;
  const why = e instanceof Error ? e.message : String(e);
  return new DatastoreError('invalid_argument', `${what} could not be read as JSON: ${why}`, undefined, { cause: e });
}

/**
 * `value` as JSON text, every value checked by the replacer. `alias`, when
 * given, is the caller's object `value` stands for (a copy of its root):
 * meeting it again inside is a cycle.
 */
function stringifyChecked(value: object, what: string, alias: object | undefined): string {
  const frames = new WeakMap<object, Frame>();
  let atRoot = true;
  function replacer(this: unknown, key: string, v: unknown): unknown {
    let depth = 0;
    let holder: object | undefined;
    if (atRoot) {
      atRoot = false;
    } else {
      holder = this as object;
      if (!isWellFormed(key)) {
        throw invalidArgument(`${pathOf(frames, what, holder, key)} has a key with a lone surrogate (not well-formed UTF-16)`);
      }
      // The common valid values, without building anything.
      if (typeof v === 'string' ? isWellFormed(v) : typeof v === 'number' ? Number.isFinite(v) : typeof v === 'boolean' || v === null) {
        return v;
      }
      depth = (frames.get(holder)?.depth ?? 0) + 1;
    }
    const at = (): string => (holder === undefined ? what : pathOf(frames, what, holder, key));
    const out = checkValue(v, at);
    if (typeof out === 'object' && out !== null) {
      if (depth >= MAX_DEPTH) throw invalidArgument(`${at()} is nested deeper than ${MAX_DEPTH} levels`);
      if (out === alias) throw invalidArgument(`${at()} refers back to an enclosing object (a cycle)`);
      for (let h = holder; h !== undefined; h = frames.get(h)?.parent) {
        if (h === out) throw invalidArgument(`${at()} refers back to an enclosing object (a cycle)`);
      }
      frames.set(out, { parent: holder, key, depth });
    }
    return out;
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(value, replacer);
  } catch (e) {
    // A getter or toJSON that threw, a revoked proxy: the caller's value could not be read.
    throw readError(e, what);
  }
  if (typeof json !== 'string') throw invalidArgument(`${what} did not serialize to a JSON object`);
  return json;
}

/** A whole document, as JSON text. */
export function encodeDocument(doc: unknown): string {
  return encodeObject(doc, 'document');
}

/** A patch, as JSON text. */
export function encodePatch(patch: unknown): string {
  return encodeObject(patch, 'patch');
}

/**
 * An id or a name: a string, well-formed (a lone surrogate would reach the
 * native layer as U+FFFD and address another document).
 */
export function checkName(v: unknown, what: string): string {
  if (typeof v !== 'string') throw invalidArgument(`${what} must be a string, got ${describe(v)}`);
  if (!isWellFormed(v)) throw invalidArgument(`${what} ${JSON.stringify(v)} has a lone surrogate (not well-formed UTF-16)`);
  return v;
}

export function checkId(id: unknown): string {
  return checkName(id, 'id');
}

/** The last string partition key `encodePartitionKey` encoded, and its JSON text. */
let lastPk: string | undefined;
let lastPkJson = '';

/** A partition key argument, as JSON text (the native store keys by it). */
export function encodePartitionKey(pk: unknown, what = 'partitionKey'): string {
  if (typeof pk === 'string') {
    // Callers use a handful of partition keys: the last one's text is kept (strings are immutable).
    if (pk === lastPk) return lastPkJson;
    const json = JSON.stringify(checkName(pk, what) satisfies PartitionKey);
    lastPk = pk;
    lastPkJson = json;
    return json;
  }
  if (typeof pk === 'boolean' || (typeof pk === 'number' && Number.isFinite(pk))) {
    return JSON.stringify(pk satisfies PartitionKey);
  }
  throw invalidArgument(`${what} must be a string, a finite number or a boolean, got ${describe(pk)}`);
}

/** `expected` of `updateIfMatch`: at least one of `etag` (string) and `rev` (number). */
export function checkExpected(expected: unknown): { etag: string | undefined; rev: number | undefined } {
  try {
    return checkExpectedValue(expected);
  } catch (e) {
    throw unreadable(e, 'expected');
  }
}

function checkExpectedValue(expected: unknown): { etag: string | undefined; rev: number | undefined } {
  if (!isPlainObject(expected)) {
    throw invalidArgument(`expected must be an object like { etag } or { rev }, got ${describe(expected)}`);
  }
  for (const member in expected) {
    // A misspelt `etag` beside a `rev` would silently weaken the compare to the rev alone.
    if (member !== 'etag' && member !== 'rev') {
      throw invalidArgument(`expected has an unknown member ${JSON.stringify(member)} (known: etag, rev)`);
    }
  }
  const { etag, rev } = expected as Partial<Record<keyof Expected, unknown>>;
  if (etag !== undefined && typeof etag !== 'string') {
    throw invalidArgument(`expected.etag must be a string, got ${describe(etag)}`);
  }
  if (rev !== undefined && !(typeof rev === 'number' && Number.isSafeInteger(rev) && rev >= 0)) {
    throw invalidArgument(`expected.rev must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}, got ${typeof rev === 'number' ? rev : describe(rev)}`);
  }
  if (etag === undefined && rev === undefined) {
    throw invalidArgument('expected must give etag, rev, or both');
  }
  return { etag, rev };
}

/** A query filter, as JSON text (checked field by field in Rust). */
export function encodeFilter<T>(filter: QueryFilter<T> | undefined): string | undefined {
  if (filter === undefined) return undefined;
  return reading('query filter', () => encodeFilterValue(filter));
}

function encodeFilterValue<T>(filter: QueryFilter<T>): string {
  if (isPlainObject(filter) && 'partitionKey' in filter) {
    // Present means "this partition": a null or undefined key must never widen to all of them.
    encodePartitionKey(filter.partitionKey, 'query filter: partitionKey');
  }
  const where: unknown = isPlainObject(filter) ? filter.where : undefined;
  if (where !== undefined && where !== null && !Array.isArray(where) && !isPlainObject(where)) {
    // JSON keeps only own members: a class instance's getters would be dropped, and the query widen.
    throw invalidArgument(`query filter: where must be a plain object like { status: 'open' }, got ${describe(where)}`);
  }
  if (isPlainObject(where)) {
    for (const [field, value] of Object.entries(where)) {
      // JSON would drop it, and the clause with it: the query would widen.
      if (value === undefined) throw invalidArgument(`query filter: where.${field} is undefined; give a value, or leave the field out`);
    }
  }
  return encodeObject(filter, 'query filter');
}

/** Parses native JSON text. */
export function decode<R>(json: string): R {
  return JSON.parse(json) as R;
}


/** Why a native conditional write wrote nothing. */
function missReason(code: number): 'conflict' | 'not_found' {
  if (code === MISS_CONFLICT) return 'conflict';
  if (code === MISS_NOT_FOUND) return 'not_found';
  throw new DatastoreError('internal', `the native layer answered an unknown outcome code ${code}`);
}

/** Turns native `deleteIfMatch` output (0: deleted, else a miss) into the result union. */
export function decodeDeleteIfMatch(out: number): DeleteIfMatchResult {
  if (out === 0) return { ok: true };
  return { ok: false, reason: missReason(out) };
}

/** Turns native `updateIfMatch` output into the result union. */
export function decodeUpdateIfMatch<T>(out: string | number): UpdateIfMatchResult<T> {
  if (typeof out === 'string') return { ok: true, doc: decode<Stored<T>>(out) };
  return { ok: false, reason: missReason(out) };
}

/** Refuses option names a caller misspelt: a silently ignored option is a bug waiting. */
export function checkOptionNames(options: object, known: readonly string[], what: string): void {
  for (const name of reading(`the options of ${what}`, () => Object.keys(options))) {
    if (!known.includes(name)) {
      throw invalidArgument(`unknown option ${JSON.stringify(name)} for ${what} (known: ${known.join(', ')})`);
    }
  }
}

/** What a method was called on, when it was not a provider. */
export function misuse(cls: string, method: string, self: unknown): DatastoreError {
  return invalidArgument(
    `${cls}.${method} was called on ${describe(self)}, not on a ${cls}: call it as provider.${method}(...) or bind it`,
  );
}

/** The error of a call on a closed provider. */
export function closed(cls: string, method: string): DatastoreError {
  return invalidArgument(`${cls}.${method}: the provider is closed; open a new one`);
}
