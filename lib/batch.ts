/**
 * How a `batch` crosses into the native layer: its operations checked one
 * by one (each document and patch through the same JSON checks as single
 * writes, errors naming `ops[i]`) and encoded as one JSON array; the native
 * answer is the `BatchResult` as JSON text.
 */

import { checkExpected, checkName, decode, encodeObject, reading } from './codec.js';
import { DatastoreError, invalidArgument } from './errors.js';
import type { BatchResult } from './types.js';

/** The fields each operation takes besides `op`. */
const FIELDS: Record<string, readonly string[]> = {
  create: ['doc'],
  upsert: ['doc'],
  replace: ['doc', 'expected'],
  update: ['id', 'patch', 'expected'],
  delete: ['id', 'expected'],
  read: ['id'],
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `f()`, its `invalid_argument` naming the operation. */
function withContext<R>(at: string, f: () => R): R {
  try {
    return f();
  } catch (e) {
    if (e instanceof DatastoreError) throw invalidArgument(`${at}: ${e.message}`);
    throw e;
  }
}

/** One operation as JSON text. */
function encodeOp(op: unknown, i: number): string {
  const at = `ops[${i}]`;
  if (!isObject(op)) throw invalidArgument(`${at} must be an object like { op: 'create', doc }`);
  const kind = op['op'];
  const fields = typeof kind === 'string' && Object.hasOwn(FIELDS, kind) ? FIELDS[kind] : undefined;
  if (fields === undefined) {
    throw invalidArgument(`${at}.op must be one of ${Object.keys(FIELDS).join(', ')}, got ${JSON.stringify(kind) ?? String(kind)}`);
  }
  for (const key of Object.keys(op)) {
    if (key !== 'op' && !fields.includes(key) && op[key] !== undefined) {
      throw invalidArgument(`${at}: ${JSON.stringify(kind)} takes no ${JSON.stringify(key)} (it takes ${fields.join(', ')})`);
    }
  }
  const parts = [`"op":${JSON.stringify(kind)}`];
  if (fields.includes('doc')) parts.push(`"doc":${encodeObject(op['doc'], `${at}.doc`)}`);
  if (fields.includes('id')) parts.push(`"id":${JSON.stringify(checkName(op['id'], `${at}.id`))}`);
  if (fields.includes('patch')) parts.push(`"patch":${encodeObject(op['patch'], `${at}.patch`)}`);
  if (op['expected'] !== undefined) {
    const { etag, rev } = withContext(at, () => checkExpected(op['expected']));
    if (etag !== undefined) parts.push(`"etag":${JSON.stringify(etag)}`);
    if (rev !== undefined) parts.push(`"rev":${rev}`);
  }
  return `{${parts.join(',')}}`;
}

/** The operations of a batch as one JSON array (count, partition and sizes are checked natively). */
export function encodeBatch(ops: unknown): string {
  return reading('batch operations', () => {
    if (!Array.isArray(ops)) throw invalidArgument('batch operations must be an array of operations');
    return `[${ops.map((op: unknown, i) => reading(`ops[${i}]`, () => encodeOp(op, i))).join(',')}]`;
  });
}

/** The native answer: a `BatchResult` as JSON text. */
export function decodeBatch<T>(json: string): BatchResult<T> {
  return decode<BatchResult<T>>(json);
}
