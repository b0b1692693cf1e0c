/**
 * lib/call.ts, lib/paging.ts and lib/provider.ts: the survivors of the
 * Memory-leg StrykerJS run of 2026-12-02 (night) (docs/testing.md, "StrykerJS,
 * 2026-12-02 (night): call.ts, paging.ts, provider.ts"). Through the public
 * API where a user can see the difference; the one check only Cosmos reaches
 * (an empty SDK position in a token) is called from lib/ directly, as
 * mutants-lib.spec.ts does. Each was seen failing on its hand-made mutant.
 */
import { describe, expect, it } from 'vitest';
import { MemoryProvider, createProvider } from '@bytelyst/datastore';
import { checkPageOptions, token } from '../lib/paging.js';
import { rejection } from './suites/conformance.js';

interface Doc {
  id: string;
  t: string;
}

/** Casts a deliberately wrong value past the type checker. */
const bad = <T>(v: unknown): T => v as T;

/** An object whose member `name` throws `boom` when read. */
function throwing(name: string, boom: Error): object {
  return Object.defineProperty({}, name, {
    enumerable: true,
    get(): never {
      throw boom;
    },
  });
}

async function provider(): Promise<MemoryProvider<Doc>> {
  const p = new MemoryProvider<Doc>({ partitionKeyPath: '/t' });
  for (let i = 0; i < 3; i++) await p.create({ id: `a${i}`, t: 'x' });
  return p;
}

describe('an argument that throws when read is named in the message, with its error as cause', () => {
  it('call options (call.ts:32)', async () => {
    const p = await provider();
    const boom = new Error('boom');
    const err = await rejection(p.get('a0', 'x', bad(throwing('signal', boom))), 'invalid_argument');
    expect(err.message).toBe('MemoryProvider.get: the call options could not be read: boom');
    expect(err.cause).toBe(boom);
    // Nothing written on the way out.
    await rejection(p.create({ id: 'new', t: 'x' }, bad(throwing('timeoutMs', boom))), 'invalid_argument');
    expect(await p.get('new', 'x')).toBeNull();
  });

  it('page options and iteration options (paging.ts:45, :70)', async () => {
    const p = await provider();
    const boom = new Error('boom');
    const page = await rejection(p.queryPage(undefined, bad(throwing('maxItems', boom))), 'invalid_argument');
    expect(page.message).toBe('MemoryProvider.queryPage: the page options could not be read: boom');
    expect(page.cause).toBe(boom);
    expect(() => p.queryIter(undefined, bad(throwing('pageSize', boom)))).toThrow(
      expect.objectContaining({ code: 'invalid_argument', message: 'MemoryProvider.queryIter: the options could not be read: boom', cause: boom }),
    );
  });

  it("a filter's orderBy, read before anything else of the filter (paging.ts:130)", async () => {
    const p = await provider();
    const boom = new Error('boom');
    const err = await rejection(p.queryPage(bad(throwing('orderBy', boom))), 'invalid_argument');
    expect(err.message).toBe('query filter could not be read: boom');
    expect(err.cause).toBe(boom);
  });

  it("createProvider's config (provider.ts:16)", async () => {
    const boom = new Error('boom');
    const err = await rejection(
      Promise.resolve().then(() => createProvider(bad(throwing('kind', boom)))),
      'invalid_argument',
    );
    expect(err.message).toBe('createProvider config could not be read: boom');
    expect(err.cause).toBe(boom);
  });
});

describe('createProvider', () => {
  it("kind 'cosmos' reaches the Cosmos provider, which checks its own options (provider.ts:20)", async () => {
    // No server needed: the Cosmos provider refuses a config without an endpoint before connecting.
    const err = await rejection(
      Promise.resolve().then(() => createProvider(bad({ kind: 'cosmos', partitionKeyPath: '/t' }))),
      'invalid_argument',
    );
    expect(err.message).not.toMatch(/unknown provider kind/);
    expect(err.message).toMatch(/endpoint .*is required/);
  });
});

describe('query pages', () => {
  it('a filter whose limit is below 1 is refused, not answered as an empty last page (paging.ts:117)', async () => {
    const p = await provider();
    for (const limit of [0, -1, -0]) {
      const err = await rejection(p.queryPage(bad({ limit }), { maxItems: 2 }), 'invalid_argument');
      expect(err.message, String(limit)).toMatch(/limit must be a whole number/);
      await rejection(p.queryIter(bad({ limit })).next(), 'invalid_argument');
    }
  });

  it('a Cosmos token with an empty SDK position is refused: it would start the query over (paging.ts:96)', () => {
    // Called from lib/ directly: only the Cosmos provider reads such a token.
    const forged = token('cosmos', '{"limit":5}', { at: '', remaining: 5 });
    expect(() => checkPageOptions({ continuation: forged }, 'cosmos', '{"limit":5}', 'w')).toThrow('w: continuation is not a token this provider gave');
    const real = token('cosmos', '{"limit":5}', { at: 'x', remaining: 5 });
    expect(checkPageOptions({ continuation: real }, 'cosmos', '{"limit":5}', 'w')).toEqual({ maxItems: 100, from: { at: 'x', remaining: 5 } });
  });
});
