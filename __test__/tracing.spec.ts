/**
 * The SDK's tracing, switched on by BYTELYST_DATASTORE_TRACE: events reach
 * stderr, and no line carries the account key or an authorization value.
 * (At `trace` the SDK logs each request's string-to-sign under its
 * `authorization` target; the scrubber cuts it. The key itself the SDK never
 * prints: the Rust unit test of `trace::scrub_line` shows a key would be cut.)
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';

const endpoint = inject('cosmosEndpoint');
// The test server accepts any key: this one is easy to find in output.
const KEY = Buffer.from(`trace-secret-${randomUUID()}-${'k'.repeat(24)}`).toString('base64');

/** Runs a Cosmos create + get + 412 in a fresh Node process; resolves with its stderr. */
function run(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const options = { endpoint, key: KEY, database: 'tracing', container: `c-${randomUUID()}`, partitionKeyPath: '/t', emulator: true, createIfNotExists: true };
  const source = `
    import { CosmosProvider } from '@bytelyst/datastore';
    const p = await CosmosProvider.connect(${JSON.stringify(options)});
    const d = await p.create({ id: 'a', t: 'x' });
    await p.get('a', 'x');
    await p.updateIfMatch('a', 'x', { etag: '"stale"' }, { n: 1 });
    await p.close();
  `;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', source], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString('utf8');
    });
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('BYTELYST_DATASTORE_TRACE', () => {
  it('off by default: nothing on stderr', async () => {
    const env = { BYTELYST_DATASTORE_TRACE: '' };
    const { code, stderr } = await run(env);
    expect(code).toBe(0);
    expect(stderr).toBe('');
  });

  it('on: the SDK\'s events reach stderr, and no line carries the key or an authorization value', async () => {
    const { code, stderr } = await run({ BYTELYST_DATASTORE_TRACE: 'trace' });
    expect(code).toBe(0);
    const lines = stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines.length, 'the SDK traced something').toBeGreaterThan(10);
    expect(lines.some((l) => l.includes('azure_')), 'events of the azure crates').toBe(true);
    expect(stderr).not.toContain(KEY);
    expect(stderr).not.toContain(decodeURIComponent(KEY));
    expect(stderr).not.toMatch(/type=master&ver=1\.0&sig=[^<\s]/i);
  });

  it('a filter that does not parse says so and leaves tracing off', async () => {
    const { code, stderr } = await run({ BYTELYST_DATASTORE_TRACE: 'azure_core=[' });
    expect(code).toBe(0);
    expect(stderr).toContain('BYTELYST_DATASTORE_TRACE: not a tracing filter');
    expect(stderr.split('\n').filter((l) => l.trim() !== '')).toHaveLength(1);
  });
});
