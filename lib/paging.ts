/**
 * Query paging for both providers: `queryPage` answers one page and an
 * opaque continuation token; `queryIter` walks every page. The token wraps
 * the provider's own position (Cosmos: the SDK's continuation; Memory: an
 * offset) with the filter's fingerprint, so a token is refused with a query
 * or provider it was not made by. `orderBy` is refused: the Cosmos provider
 * orders in process (see README, "The test server").
 */

import { createHash } from 'node:crypto';
import { checkOptionNames } from './codec.js';
import { invalidArgument } from './errors.js';
import type { PageOptions } from './types.js';

/** Default and largest page size. */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

/** What a token carries. */
export interface Position {
  /** The provider's own position: the SDK's token, or an offset. */
  at: string | number;
  /** Documents still allowed by the filter's `limit`, when it has one (Cosmos). */
  remaining: number | null;
}

interface Envelope {
  v: 1;
  k: 'memory' | 'cosmos';
  f: string;
  at: string | number;
  r: number | null;
}

function pageSize(v: unknown, name: string, what: string): number {
  if (v === undefined) return DEFAULT_PAGE_SIZE;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_PAGE_SIZE) {
    throw invalidArgument(`${what}: ${name} must be a whole number from 1 to ${MAX_PAGE_SIZE}, got ${String(v)}`);
  }
  return v;
}

/** `queryIter`'s options, checked: the page size. */
export function checkIterOptions(options: unknown, what: string): number {
  if (options === undefined) return DEFAULT_PAGE_SIZE;
  if (typeof options !== 'object' || options === null) throw invalidArgument(`${what}: options must be an object like { pageSize: 100 }`);
  checkOptionNames(options, ['pageSize'], what);
  return pageSize((options as { pageSize?: unknown }).pageSize, 'pageSize', what);
}

/** The fingerprint of an encoded filter: a token only continues the query it came from. */
function fingerprint(filterJson: string | undefined): string {
  return createHash('sha256')
    .update(filterJson ?? '')
    .digest('base64url')
    .slice(0, 16);
}

/** `queryPage`'s options checked: the page size and, when continuing, the position. */
export function checkPageOptions(
  options: unknown,
  kind: Envelope['k'],
  filterJson: string | undefined,
  what: string,
): { maxItems: number; from: Position | null } {
  if (options === undefined) return { maxItems: DEFAULT_PAGE_SIZE, from: null };
  if (typeof options !== 'object' || options === null) {
    throw invalidArgument(`${what}: page options must be an object like { maxItems: 100, continuation }`);
  }
  checkOptionNames(options, ['maxItems', 'continuation'] as const satisfies readonly (keyof PageOptions)[], what);
  const { maxItems, continuation } = options as { maxItems?: unknown; continuation?: unknown };
  const size = pageSize(maxItems, 'maxItems', what);
  if (continuation === undefined || continuation === null) return { maxItems: size, from: null };
  if (typeof continuation !== 'string') throw invalidArgument(`${what}: continuation must be a string from an earlier page, or null`);
  let e: Partial<Envelope> | null = null;
  try {
    e = JSON.parse(Buffer.from(continuation, 'base64url').toString('utf8')) as Partial<Envelope>;
  } catch {
    e = null;
  }
  const atOk = kind === 'cosmos' ? typeof e?.at === 'string' : Number.isInteger(e?.at) && (e?.at as number) >= 0;
  const rOk = e?.r === null || (Number.isInteger(e?.r) && (e?.r as number) >= 0);
  if (e === null || typeof e !== 'object' || e.v !== 1 || e.k !== kind || !atOk || !rOk) {
    throw invalidArgument(`${what}: continuation is not a token this provider gave`);
  }
  if (e.f !== fingerprint(filterJson)) throw invalidArgument(`${what}: continuation was made by another query; pass the same filter`);
  return { maxItems: size, from: { at: e.at as string | number, remaining: e.r ?? null } };
}

/** The opaque token of position `at`. */
export function token(kind: Envelope['k'], filterJson: string | undefined, at: Position): string {
  const e: Envelope = { v: 1, k: kind, f: fingerprint(filterJson), at: at.at, r: at.remaining };
  return Buffer.from(JSON.stringify(e), 'utf8').toString('base64url');
}

/** Refuses `orderBy`, which cannot be paged (see the module comment). */
export function refuseOrderBy(filter: unknown, what: string): void {
  if (typeof filter === 'object' && filter !== null && (filter as { orderBy?: unknown }).orderBy !== undefined) {
    throw invalidArgument(`${what}: orderBy cannot be paged (the Cosmos provider orders in process, as Memory does); use query() for an ordered result`);
  }
}

/** Every document of every page, fetched a page at a time. */
export async function* walk<D>(
  queryPage: (page: PageOptions) => Promise<{ items: D[]; continuation: string | null }>,
  maxItems: number,
): AsyncGenerator<D, void, undefined> {
  let continuation: string | null = null;
  do {
    const page: { items: D[]; continuation: string | null } = await queryPage({ maxItems, continuation });
    yield* page.items;
    continuation = page.continuation;
  } while (continuation !== null);
}
