/**
 * Per-call options (`CallOptions`): checked once here for both providers.
 * A signal that has already fired rejects the call before anything is
 * sent. Memory answers synchronously, so this check is all it does with
 * them; Cosmos also hands them to the native call (`lib/cosmos.ts`).
 */

import { checkOptionNames, reading } from './codec.js';
import { DatastoreError, invalidArgument } from './errors.js';
import type { CallOptions } from './types.js';

const CALL_OPTIONS = ['signal', 'timeoutMs'] as const satisfies readonly (keyof CallOptions)[];

/** The largest timeout a call takes: 2^31 - 1 ms (as `setTimeout`). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** `timeoutMs`, checked: a whole number of milliseconds from 1 to 2^31 - 1. */
export function checkTimeoutMs(v: unknown, what?: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_TIMEOUT_MS) {
    throw invalidArgument(`${what === undefined ? '' : `${what}: `}timeoutMs must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}, got ${String(v)}`);
  }
  return v;
}

/**
 * `options` checked (`invalid_argument` when malformed), or the rejection
 * of a call whose signal has already fired (`timeout`, "aborted", with the
 * signal's reason as `cause`).
 */
export function checkCallOptions(options: unknown, what: string): CallOptions {
  return reading(`${what}: the call options`, () => checkCallOptionsValue(options, what));
}

function checkCallOptionsValue(options: unknown, what: string): CallOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidArgument(`${what}: the last argument must be call options like { signal, timeoutMs }, got ${options === null ? 'null' : typeof options}`);
  }
  checkOptionNames(options, CALL_OPTIONS, what);
  const { signal, timeoutMs } = options as { signal?: unknown; timeoutMs?: unknown };
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalidArgument(`${what}: signal must be an AbortSignal (from an AbortController or AbortSignal.timeout())`);
  }
  const checked: CallOptions = {};
  const ms = checkTimeoutMs(timeoutMs, what);
  if (ms !== undefined) checked.timeoutMs = ms;
  if (signal !== undefined) {
    if (signal.aborted) throw aborted(`${what}: aborted before it was sent (the signal had already fired); nothing was written`, signal);
    checked.signal = signal;
  }
  return checked;
}

/** A `timeout` rejection carrying the signal's reason as `cause`. */
function aborted(message: string, signal: AbortSignal): DatastoreError {
  return new DatastoreError('timeout', message, undefined, { cause: signal.reason });
}

/** `err` again, with the fired signal's reason as its `cause`. */
export function withAbortCause(err: DatastoreError, signal: AbortSignal): DatastoreError {
  const { status, subStatus, activityId, requestCharge, retryAfterMs } = err;
  const diagnostics = {
    ...(subStatus === undefined ? {} : { subStatus }),
    ...(activityId === undefined ? {} : { activityId }),
    ...(requestCharge === undefined ? {} : { requestCharge }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  };
  return new DatastoreError(err.code, err.message, status, { cause: signal.reason, diagnostics });
}
