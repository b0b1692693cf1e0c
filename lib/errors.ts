/**
 * Errors with the contract's codes. Native errors arrive with `code` set to
 * `"<code>"` or `"<code>@<http status>"`; `toDatastoreError` turns them into
 * `DatastoreError`s.
 */

export const ERROR_CODES = [
  'invalid_argument',
  'conflict',
  'not_found',
  'too_large',
  'throttled',
  'unavailable',
  'timeout',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/** What Cosmos DB said about a failed request, where it said it. */
export interface CosmosDiagnostics {
  /** The HTTP status. */
  status?: number;
  /** Cosmos DB's sub-status (`x-ms-substatus`), e.g. 1003 for a missing container. */
  subStatus?: number;
  /** The request's activity id (`x-ms-activity-id`), for Azure support. */
  activityId?: string;
  /** Request units charged (`x-ms-request-charge`). */
  requestCharge?: number;
  /** How long the server asked to wait, on `throttled` (`x-ms-retry-after-ms`). */
  retryAfterMs?: number;
}

const DIAGNOSTIC_FIELDS = ['status', 'subStatus', 'activityId', 'requestCharge', 'retryAfterMs'] as const;

export class DatastoreError extends Error {
  override readonly name = 'DatastoreError';
  readonly code: ErrorCode;
  /** The HTTP status Cosmos DB answered, when there was one. */
  readonly status?: number;
  readonly subStatus?: number;
  readonly activityId?: string;
  readonly requestCharge?: number;
  readonly retryAfterMs?: number;

  constructor(code: ErrorCode, message: string, status?: number, options?: { cause?: unknown; diagnostics?: CosmosDiagnostics }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (status !== undefined) this.status = status;
    const d = options?.diagnostics;
    if (d?.subStatus !== undefined) this.subStatus = d.subStatus;
    if (d?.activityId !== undefined) this.activityId = d.activityId;
    if (d?.requestCharge !== undefined) this.requestCharge = d.requestCharge;
    if (d?.retryAfterMs !== undefined) this.retryAfterMs = d.retryAfterMs;
  }
}

/** True when `e` is a `DatastoreError` (with `code`, when given). */
export function isDatastoreError(e: unknown, code?: ErrorCode): e is DatastoreError {
  return e instanceof DatastoreError && (code === undefined || e.code === code);
}

export function invalidArgument(message: string): DatastoreError {
  return new DatastoreError('invalid_argument', message);
}

/**
 * The one wire format of a native error: a JSON object with `code` and,
 * for Cosmos, the diagnostics. It travels in `err.code` from synchronous
 * calls, and as a `[[{…}]] ` message prefix from asynchronous ones (napi's
 * async rejections carry no custom code).
 */
const WIRE_PREFIX = /^\[\[(\{[^\n]*?\})\]\] ([\s\S]*)$/;

function fromWire(wire: string, message: string): DatastoreError | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(wire);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const w = parsed as Record<string, unknown>;
  if (typeof w['code'] !== 'string' || !CODES.has(w['code'])) return undefined;
  const diagnostics: CosmosDiagnostics = {};
  for (const k of DIAGNOSTIC_FIELDS) {
    const v = w[k];
    if (k === 'activityId' ? typeof v === 'string' : typeof v === 'number') {
      (diagnostics as Record<string, unknown>)[k] = v;
    }
  }
  return new DatastoreError(w['code'] as ErrorCode, message, diagnostics.status, { diagnostics });
}

/** A native error in the wire format, decoded; `undefined` for anything else. */
function decodeNative(e: Error): DatastoreError | undefined {
  const wire = (e as { code?: unknown }).code;
  if (typeof wire === 'string' && wire.startsWith('{')) return fromWire(wire, e.message);
  const m = WIRE_PREFIX.exec(e.message);
  return m?.[1] !== undefined && m[2] !== undefined ? fromWire(m[1], m[2]) : undefined;
}

/** Maps anything thrown by the native layer to a `DatastoreError`. */
export function toDatastoreError(e: unknown): DatastoreError {
  if (e instanceof DatastoreError) return e;
  if (e instanceof Error) {
    return decodeNative(e) ?? new DatastoreError('internal', e.message, undefined, { cause: e });
  }
  return new DatastoreError('internal', String(e), undefined, { cause: e });
}
