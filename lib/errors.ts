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

export class DatastoreError extends Error {
  override readonly name = 'DatastoreError';
  readonly code: ErrorCode;
  /** The HTTP status Cosmos DB answered, when there was one. */
  readonly status?: number;

  constructor(code: ErrorCode, message: string, status?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    if (status !== undefined) this.status = status;
  }
}

/** True when `e` is a `DatastoreError` (with `code`, when given). */
export function isDatastoreError(e: unknown, code?: ErrorCode): e is DatastoreError {
  return e instanceof DatastoreError && (code === undefined || e.code === code);
}

export function invalidArgument(message: string): DatastoreError {
  return new DatastoreError('invalid_argument', message);
}

/** Maps anything thrown by the native layer to a `DatastoreError`. */
export function toDatastoreError(e: unknown): DatastoreError {
  if (e instanceof DatastoreError) return e;
  if (e instanceof Error) {
    const wire = (e as { code?: unknown }).code;
    if (typeof wire === 'string') {
      const at = wire.indexOf('@');
      const code = at < 0 ? wire : wire.slice(0, at);
      const status = at < 0 ? undefined : Number(wire.slice(at + 1));
      if (CODES.has(code)) {
        return new DatastoreError(code as ErrorCode, e.message, Number.isInteger(status) ? status : undefined);
      }
    }
    return new DatastoreError('internal', e.message, undefined, { cause: e });
  }
  return new DatastoreError('internal', String(e), undefined, { cause: e });
}
