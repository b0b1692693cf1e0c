/**
 * How values cross into the native layer: as JSON text, checked first.
 *
 * `JSON.stringify` silently turns `NaN` into `null`, drops functions and
 * `Map` contents, and throws on `BigInt` and cycles without saying where.
 * A stored document must be exactly what the caller meant, so everything
 * JSON cannot hold is refused here with `invalid_argument` naming its path,
 * before anything is written.
 */

import { invalidArgument } from './errors.js';
import type { Expected, PartitionKey, QueryFilter, Stored, UpdateIfMatchResult } from './types.js';

type PathPart = string | number;

function formatPath(root: string, parts: readonly PathPart[]): string {
  let out = root;
  for (const p of parts) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(p)) out += `.${p}`;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return `a ${(v as object).constructor?.name ?? 'object'}`;
  return typeof v;
}

/** Walks `value` and throws on anything JSON cannot hold faithfully. */
function checkJson(value: unknown, root: string, parts: PathPart[], ancestors: object[]): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined': // dropped from objects, null in arrays: as JSON.stringify does
      return;
    case 'number':
      if (!Number.isFinite(value)) {
        throw invalidArgument(`${formatPath(root, parts)} is ${value}, which JSON cannot hold`);
      }
      return;
    case 'bigint':
      throw invalidArgument(`${formatPath(root, parts)} is a BigInt, which JSON cannot hold`);
    case 'function':
    case 'symbol':
      throw invalidArgument(`${formatPath(root, parts)} is a ${typeof value}, which JSON cannot hold`);
    case 'object': {
      if (value === null) return;
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') {
        // Dates and the like: store what JSON.stringify would write.
        const key = parts.length === 0 ? '' : String(parts[parts.length - 1]);
        checkJson(toJSON.call(value, key), root, parts, ancestors);
        return;
      }
      if (ancestors.includes(value)) {
        throw invalidArgument(`${formatPath(root, parts)} refers back to an enclosing object (a cycle)`);
      }
      if (value instanceof Map || value instanceof Set || ArrayBuffer.isView(value)) {
        throw invalidArgument(`${formatPath(root, parts)} is ${describe(value)}, which JSON would not store faithfully`);
      }
      ancestors.push(value);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          parts.push(i);
          checkJson(value[i], root, parts, ancestors);
          parts.pop();
        }
      } else {
        const obj = value as Record<string, unknown>;
        for (const k of Object.keys(obj)) {
          parts.push(k);
          checkJson(obj[k], root, parts, ancestors);
          parts.pop();
        }
      }
      ancestors.pop();
      return;
    }
  }
}

function encodeObject(value: unknown, what: string): string {
  if (!isPlainObject(value)) {
    throw invalidArgument(`${what} must be a plain object, got ${describe(value)}`);
  }
  checkJson(value, what, [], []);
  return JSON.stringify(value);
}

/** A whole document, as JSON text. */
export function encodeDocument(doc: unknown): string {
  return encodeObject(doc, 'document');
}

/** A patch, as JSON text. */
export function encodePatch(patch: unknown): string {
  return encodeObject(patch, 'patch');
}

export function checkId(id: unknown): string {
  if (typeof id !== 'string') throw invalidArgument(`id must be a string, got ${describe(id)}`);
  return id;
}

/** A partition key argument, as JSON text (the native store keys by it). */
export function encodePartitionKey(pk: unknown): string {
  if (typeof pk === 'string' || typeof pk === 'boolean' || (typeof pk === 'number' && Number.isFinite(pk))) {
    return JSON.stringify(pk satisfies PartitionKey);
  }
  throw invalidArgument(`partitionKey must be a string, a finite number or a boolean, got ${describe(pk)}`);
}

/** `expected` of `updateIfMatch`: at least one of `etag` (string) and `rev` (number). */
export function checkExpected(expected: unknown): { etag: string | undefined; rev: number | undefined } {
  if (!isPlainObject(expected)) {
    throw invalidArgument(`expected must be an object like { etag } or { rev }, got ${describe(expected)}`);
  }
  const { etag, rev } = expected as Partial<Record<keyof Expected, unknown>>;
  if (etag !== undefined && typeof etag !== 'string') {
    throw invalidArgument(`expected.etag must be a string, got ${describe(etag)}`);
  }
  if (rev !== undefined && typeof rev !== 'number') {
    throw invalidArgument(`expected.rev must be a number, got ${describe(rev)}`);
  }
  if (etag === undefined && rev === undefined) {
    throw invalidArgument('expected must give etag, rev, or both');
  }
  return { etag, rev };
}

/** A query filter, as JSON text (checked field by field in Rust). */
export function encodeFilter<T>(filter: QueryFilter<T> | undefined): string | undefined {
  if (filter === undefined) return undefined;
  return encodeObject(filter, 'query filter');
}

/** Parses native JSON text. */
export function decode<R>(json: string): R {
  return JSON.parse(json) as R;
}

/** Native `updateIfMatch` answers the document's JSON, or this number for a stale token (2: not found). */
const MISS_CONFLICT = 1;

/** Turns native `updateIfMatch` output into the result union. */
export function decodeUpdateIfMatch<T>(out: string | number): UpdateIfMatchResult<T> {
  if (typeof out === 'string') return { ok: true, doc: decode<Stored<T>>(out) };
  return { ok: false, reason: out === MISS_CONFLICT ? 'conflict' : 'not_found' };
}
