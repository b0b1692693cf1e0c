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
