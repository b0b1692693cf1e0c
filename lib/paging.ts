/**
 * Query paging for both providers: `queryPage` answers one page and an
 * opaque continuation token; `queryIter` walks every page. The token wraps
 * the provider's own position (Cosmos: the SDK's continuation; Memory: the
 * version the page ended at) with the filter's fingerprint, so a token is refused with a query
 * or provider it was not made by. `orderBy` is refused: the Cosmos provider
 * orders in process (see README, "The test server").
 */

import { createHash } from 'node:crypto';
import { checkOptionNames, reading } from './codec.js';
import { invalidArgument } from './errors.js';
import type { PageOptions, QueryPage, Stored } from './types.js';

/** Default and largest page size. */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

/** What a token carries. */
export interface Position {
  /** The provider's own position: the SDK's token, or the version a Memory page ended at. */
  at: string;
  /** Documents still allowed by the filter's `limit`, when it has one (Cosmos). */
  remaining: number | null;
}

interface Envelope {
  v: 1;
  k: 'memory' | 'cosmos';
  f: string;
  at: string;
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
  return reading(`${what}: the options`, () => checkIterOptionsValue(options, what));
}

function checkIterOptionsValue(options: unknown, what: string): number {
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
  return reading(`${what}: the page options`, () => checkPageOptionsValue(options, kind, filterJson, what));
}

function checkPageOptionsValue(
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
  // Cosmos: the SDK's token; Memory: the number of the version a page ended at.
  // An empty SDK token would start the query over, not continue it.
  const atOk = typeof e?.at === 'string' && (kind === 'cosmos' ? e.at !== '' : /^[1-9][0-9]{0,19}$/.test(e.at));
  const rOk = e?.r === null || (Number.isInteger(e?.r) && (e?.r as number) >= 0);
  if (e === null || typeof e !== 'object' || e.v !== 1 || e.k !== kind || !atOk || !rOk) {
    throw invalidArgument(`${what}: continuation is not a token this provider gave`);
  }
  if (e.f !== fingerprint(filterJson)) throw invalidArgument(`${what}: continuation was made by another query; pass the same filter`);
  return { maxItems: size, from: { at: e.at as string, remaining: e.r ?? null } };
}

/** The opaque token of position `at`. */
export function token(kind: Envelope['k'], filterJson: string | undefined, at: Position): string {
  const e: Envelope = { v: 1, k: kind, f: fingerprint(filterJson), at: at.at, r: at.remaining };
  return Buffer.from(JSON.stringify(e), 'utf8').toString('base64url');
}

/**
 * How many documents the next page may hold: the page size, capped by what
 * the filter's `limit` leaves over the pages so far (`take` 0: done).
 */
export function pageTake(filter: unknown, from: Position | null, maxItems: number): { take: number; remaining: number | null } {
  const limit = typeof filter === 'object' && filter !== null ? (filter as { limit?: unknown }).limit : undefined;
  const remaining = from !== null ? from.remaining : typeof limit === 'number' && Number.isInteger(limit) && limit >= 1 ? limit : null;
  return { take: remaining === null ? maxItems : Math.min(maxItems, remaining), remaining };
}

/** A page of `items`, with a token to go on from `next` (the provider's position) while the limit leaves room. */
export function pageOf<T>(kind: Envelope['k'], filterJson: string | undefined, remaining: number | null, items: Stored<T>[], next: string | null): QueryPage<T> {
  const left = remaining === null ? null : remaining - items.length;
  const more = next !== null && (left === null || left > 0);
  return { items, continuation: more ? token(kind, filterJson, { at: next, remaining: left }) : null };
}

/** Refuses `orderBy`, which cannot be paged (see the module comment). */
export function refuseOrderBy(filter: unknown, what: string): void {
  if (typeof filter === 'object' && filter !== null && reading('query filter', () => (filter as { orderBy?: unknown }).orderBy) !== undefined) {
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
