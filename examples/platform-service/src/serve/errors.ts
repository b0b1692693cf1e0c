/**
 * Every error answer is `{ "error": { "code", "message" } }` with its HTTP
 * status. Routes throw `HttpError`; the error handler turns Fastify's own
 * errors (validation, bad JSON, media type, body size) and datastore
 * outages into the same shape.
 */

import { isDatastoreError } from '@bytelyst/datastore';

export interface ErrorBody {
  error: { code: string; message: string };
}

export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const errorBody = (code: string, message: string): ErrorBody => ({ error: { code, message } });

/** Fastify's error codes for a request it could not read, and what we call them. */
const FASTIFY_CODES: Readonly<Record<string, string>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'too_large',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
};

/** Status and body for anything a handler threw; `log` says whether it is our fault. */
export function toErrorAnswer(e: unknown): { status: number; body: ErrorBody; log: boolean } {
  if (e instanceof HttpError) return { status: e.status, body: errorBody(e.code, e.message), log: false };
  if (isDatastoreError(e)) {
    const outage = e.code === 'unavailable' || e.code === 'timeout' || e.code === 'throttled';
    return outage
      ? { status: 503, body: errorBody(e.code, `the store did not answer: ${e.message}`), log: true }
      : { status: 500, body: errorBody('internal', 'the store refused a write the service made'), log: true };
  }
  if (e instanceof Error) {
    const fastify = e as Error & { statusCode?: number; code?: string; validation?: unknown };
    if (fastify.validation !== undefined) {
      return { status: 400, body: errorBody('invalid_request', fastify.message), log: false };
    }
    const status = fastify.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      const code = FASTIFY_CODES[fastify.code ?? ''] ?? 'invalid_request';
      return { status, body: errorBody(code, fastify.message), log: false };
    }
  }
  return { status: 500, body: errorBody('internal', 'internal error; see the service log'), log: true };
}
