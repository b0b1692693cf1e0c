/**
 * Lifecycle: `close()` and `await using`, a closed provider's clear error,
 * shared stores that can be dropped, and a process that exits by itself
 * once its providers are closed (or were never used).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { CosmosProvider, MemoryProvider } from '@bytelyst/datastore';
import type { BaseDocument, CosmosProviderOptions, DatastoreProvider } from '@bytelyst/datastore';
import { rejection } from './suites/conformance.js';
import { EMULATOR_KEY } from '../testing/cosmos-server.mjs';
import { memoryCreate, memoryDropShared, memoryGet, memoryOpen, memoryRelease } from '../index.js';

const endpoint = inject('cosmosEndpoint');

interface Doc extends BaseDocument {
  id: string;
  t: string;
  n?: number;
}

const cosmosOptions = (): CosmosProviderOptions => ({
  endpoint,
  key: EMULATOR_KEY,
  database: 'lifecycle',
  container: `c-${randomUUID()}`,
  partitionKeyPath: '/t',
  emulator: true,
  createIfNotExists: true,
});

const providers: Array<[string, () => Promise<DatastoreProvider<Doc>>]> = [
  ['Memory', async () => new MemoryProvider<Doc>({ partitionKeyPath: '/t' })],
  ['Cosmos', async () => CosmosProvider.connect<Doc>(cosmosOptions())],
];

for (const [name, open] of providers) {
  describe(`${name}: close`, () => {
    it('every method of a closed provider rejects with a clear error; closing twice is fine', async () => {
      const p = await open();
      const a = await p.create({ id: 'a', t: 'x' });
      await p.close();
      await p.close();
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['get', () => p.get('a', 'x')],
        ['create', () => p.create({ id: 'b', t: 'x' })],
        ['upsert', () => p.upsert({ id: 'a', t: 'x' })],
        ['replace', () => p.replace(a)],
        ['update', () => p.update('a', 'x', { n: 1 })],
        ['delete', () => p.delete('a', 'x')],
        ['query', () => p.query()],
        ['updateIfMatch', () => p.updateIfMatch('a', 'x', { rev: 1 }, { n: 1 })],
        ['deleteIfMatch', () => p.deleteIfMatch('a', 'x', { rev: 1 })],
      ];
      for (const [method, call] of calls) {
        const err = await rejection(call(), 'invalid_argument');
        expect(err.message).toContain(`.${method}: the provider is closed`);
      }
    });

    it('await using closes the provider at the end of the block', async () => {
      let kept: DatastoreProvider<Doc> | undefined;
      {
        await using p = await open();
        await p.create({ id: 'a', t: 'x' });
        kept = p;
      }
      await rejection(kept.get('a', 'x'), 'invalid_argument');
    });
  });
}

describe('Cosmos: close waits for the calls in flight', () => {
  it('calls started before close settle normally; close resolves after them', async () => {
    const p = await CosmosProvider.connect<Doc>(cosmosOptions());
    const started = Array.from({ length: 20 }, (_, i) => p.create({ id: `d${i}`, t: 'x' }));
    let settled = 0;
    for (const s of started) void s.then(() => settled++);
    await p.close();
    expect(settled).toBe(20);
    expect((await Promise.all(started)).map((d) => d.rev)).toEqual(Array(20).fill(1));
  });
});

describe('Memory: shared stores can be dropped', () => {
  it('a dropped name starts over; providers already open keep their store', async () => {
    const name = `drop-${randomUUID()}`;
    const first = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: name });
    await first.create({ id: 'a', t: 'x' });
    expect(MemoryProvider.dropShared(name)).toBe(true);
    expect(MemoryProvider.dropShared(name)).toBe(false);
    expect(await first.get('a', 'x')).not.toBeNull();
    const second = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: name });
    expect(await second.get('a', 'x')).toBeNull();
  });

  it('a name no shared store can have is refused by dropShared as by the constructor', () => {
    const refusal = (f: () => unknown): unknown => {
      try {
        f();
      } catch (e) {
        return e;
      }
      return 'accepted';
    };
    const byDrop = refusal(() => MemoryProvider.dropShared(''));
    const byOpen = refusal(() => new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: '' }));
    expect(byDrop).toMatchObject({ code: 'invalid_argument', message: 'shared store name must be a non-empty string' });
    expect(byDrop).toMatchObject({ code: (byOpen as { code: string }).code, message: (byOpen as { message: string }).message });
  });

  it('a shared store outlives the provider that created it', async () => {
    const name = `outlive-${randomUUID()}`;
    const opener = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: name });
    await opener.create({ id: 'a', t: 'x' });
    await opener.close();
    const later = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: name });
    expect((await later.get('a', 'x'))?.id).toBe('a');
  });
});

describe('Memory: close frees the documents of a store no one else holds', () => {
  const put = (h: ReturnType<typeof memoryOpen>, id: string): void => void memoryCreate(h, JSON.stringify({ id, t: 'x' }));
  const has = (h: ReturnType<typeof memoryOpen>, id: string): boolean => memoryGet(h, id, '"x"') !== null;

  it('a store of its own is emptied at once; a shared one only once dropped and held by no other handle', () => {
    const own = memoryOpen('/t');
    put(own, 'a');
    put(own, 'b');
    expect(memoryRelease(own)).toBe(true);
    expect([has(own, 'a'), has(own, 'b')]).toEqual([false, false]);

    const name = `release-${randomUUID()}`;
    const one = memoryOpen('/t', name);
    put(one, 'a');
    expect(memoryRelease(one)).toBe(false); // the registry holds it: others may open it
    expect(has(one, 'a')).toBe(true);
    const two = memoryOpen('/t', name);
    memoryDropShared(name);
    expect(memoryRelease(one)).toBe(false); // `two` holds it still
    expect(has(two, 'a')).toBe(true);
  });

  it('a dropped shared store whose only handle is released is emptied', () => {
    const name = `release-${randomUUID()}`;
    const h = memoryOpen('/t', name);
    put(h, 'a');
    expect(memoryDropShared(name)).toBe(true);
    expect(memoryRelease(h)).toBe(true);
    expect(has(h, 'a')).toBe(false);
  });

  it('closing one provider of a shared store leaves its documents to the others', async () => {
    const name = `release-${randomUUID()}`;
    const a = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: name });
    const b = new MemoryProvider<Doc>({ partitionKeyPath: '/t', shared: name });
    await a.create({ id: 'a', t: 'x' });
    await a.close();
    expect((await b.get('a', 'x'))?.id).toBe('a');
    MemoryProvider.dropShared(name);
    await a.close(); // twice: nothing more happens
    expect((await b.get('a', 'x'))?.id).toBe('a');
  });

  it('twenty closed providers of 64 MB each do not keep 1.3 GB alive until V8 collects their handles', async () => {
    // In a process of its own, so this file's other stores do not count. Without the release,
    // the closed stores' documents stayed until a major collection: 2 GB after fifteen.
    const source = `
      import { MemoryProvider } from '@bytelyst/datastore';
      const prompt = 'P'.repeat(64 * 1024);
      let peak = 0;
      for (let r = 0; r < 20; r++) {
        const p = new MemoryProvider({ partitionKeyPath: '/t' });
        for (let i = 0; i < 1000; i++) await p.create({ id: 'd' + i, t: 'x', prompt });
        await p.close();
        peak = Math.max(peak, process.memoryUsage().rss);
      }
      process.exit(peak < 512 * 1024 * 1024 ? 0 : 3);
    `;
    expect(await runScript(source, 60_000)).toBe(0);
  }, 70_000);
});

/** Runs a module in a fresh Node process; resolves with its exit code, or 'hung'. */
function runScript(source: string, limitMs: number): Promise<number | 'hung' | null> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', source], { cwd: root, stdio: 'ignore' });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve('hung');
    }, limitMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe('a process exits by itself', () => {
  it.each([
    ['a Cosmos provider that was used, then closed', true],
    ['a Cosmos provider that was used and never closed', false],
  ])('with %s', async (_what, close) => {
    const source = `
      import { CosmosProvider } from '@bytelyst/datastore';
      const p = await CosmosProvider.connect(${JSON.stringify(cosmosOptions())});
      await p.create({ id: 'a', t: 'x' });
      await p.get('a', 'x');
      ${close ? 'await p.close();' : ''}
    `;
    expect(await runScript(source, 20_000)).toBe(0);
  });

  it('with a Memory provider, used or not', async () => {
    const source = `
      import { MemoryProvider } from '@bytelyst/datastore';
      const p = new MemoryProvider({ partitionKeyPath: '/t', shared: 'x' });
      await p.create({ id: 'a', t: 'x' });
    `;
    expect(await runScript(source, 20_000)).toBe(0);
  });
});
