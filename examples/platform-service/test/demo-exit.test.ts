/**
 * The demo's exit code is what a CI job or a person's shell sees: 0 when
 * the invariants hold, 1 when one breaks. The broken case runs the demo with
 * `--broken-claims` (the replaced read -> check -> write claim, over two
 * replicas), so the test can fail: a demo that always exited 0 would fail it.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));

function demo(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(tsx, ['src/demo.ts', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString('utf8');
    });
    child.stderr.on('data', (b: Buffer) => {
      out += b.toString('utf8');
    });
    child.on('exit', (code) => resolve({ code, out }));
  });
}

const workload = ['--agents', '16', '--jobs', '60', '--replicas', '2', '--seed', '7'];

describe('the demo exit code', () => {
  it('0 when every invariant holds', { timeout: 120_000 }, async () => {
    const { code, out } = await demo(workload);
    expect(out).toContain('invariants hold');
    expect(code).toBe(0);
  });

  it('1 when claims double-assign (--broken-claims), naming what broke', { timeout: 120_000 }, async () => {
    const { code, out } = await demo([...workload, '--broken-claims']);
    expect(out).toContain('FAILED: invariants broken');
    expect(out).toMatch(/overlaps|runs per job epoch/);
    expect(code).toBe(1);
  });
});
