/**
 * Contention on one Cosmos document: N concurrent unconditional `update`s
 * (each bumps `rev` once and sets a field) through the native provider,
 * versus N concurrent `@azure/cosmos` `patch` calls (`incr`) of one
 * document on the same local server. Prints wall times, their ratio, and
 * the native outcome counts (every update must be `ok`, final rev N + 1).
 *
 * Run alone with `tsx bench/contention.mts` (CONTENTION_N, default 1000).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { DatastoreError } from '@bytelyst/datastore';
import { startCosmosServerProcess } from '../testing/cosmos-server.mjs';
import { openClients } from './clients.mjs';

interface Counter {
  id: string;
  tenantId: string;
  n: number;
  by?: number;
}

export interface ContentionResult {
  n: number;
  nativeMs: number;
  sdkMs: number;
  ok: number;
  failed: Record<string, number>;
  finalRev: number;
  sdkFinal: number;
}

export async function benchContention(n = 1_000): Promise<ContentionResult> {
  const { endpoint, stop } = await startCosmosServerProcess();
  try {
    const clients = await openClients<Counter>(endpoint, `contention-${randomUUID()}`);
    const { native, sdk } = clients;

    await native.create({ id: 'hot', tenantId: 't', n: 0 });
    await native.create({ id: 'sdk-hot', tenantId: 't', n: 0 });
    // Warm both clients.
    await native.get('hot', 't');
    await sdk.item('sdk-hot', 't').read();

    const failed: Record<string, number> = {};
    let ok = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        try {
          await native.update('hot', 't', { by: i });
          ok++;
        } catch (e) {
          const code = e instanceof DatastoreError ? e.code : 'other';
          failed[code] = (failed[code] ?? 0) + 1;
        }
      }),
    );
    const nativeMs = performance.now() - t0;
    const finalRev = (await native.get('hot', 't'))?.rev ?? -1;

    const t1 = performance.now();
    await Promise.all(
      Array.from({ length: n }, () => sdk.item('sdk-hot', 't').patch([{ op: 'incr', path: '/n', value: 1 }])),
    );
    const sdkMs = performance.now() - t1;
    const { resource } = await sdk.item('sdk-hot', 't').read<Counter>();
    await clients.close();
    return { n, nativeMs, sdkMs, ok, failed, finalRev, sdkFinal: resource?.n ?? -1 };
  } finally {
    await stop();
  }
}

/** The result as markdown. */
export function contentionMarkdown(r: ContentionResult): string {
  const failures = Object.entries(r.failed).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  return [
    `**Contention: ${r.n.toLocaleString('en-US')} concurrent \`update\`s of one Cosmos document vs ${r.n.toLocaleString('en-US')} concurrent \`@azure/cosmos\` \`patch\` (\`incr\`) calls, same local server**`,
    '',
    '| case | native update | @azure/cosmos patch incr | ratio (time) | goal |',
    '|---|---|---|---|---|',
    `| ${r.n} concurrent | ${r.nativeMs.toFixed(0)} ms | ${r.sdkMs.toFixed(0)} ms | ${(r.nativeMs / r.sdkMs).toFixed(2)}× | ≤ 2.0× |`,
    '',
    `native: ${r.ok} ok, failed: ${failures}; final rev ${r.finalRev} (expected ${r.n + 1}); sdk final n ${r.sdkFinal}`,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await benchContention(Number(process.env.CONTENTION_N ?? 1_000));
  console.log(contentionMarkdown(r));
  process.exitCode = r.ok === r.n && r.finalRev === r.n + 1 ? 0 : 1;
}
