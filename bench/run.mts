/**
 * `pnpm bench`: every benchmark, printed as tables of ratios against
 * baselines run in the same process. The tables are also written to
 * bench/last-run.md, which `pnpm run bench:readme` copies into the README.
 * `BENCH_ONLY=memory` runs the Memory provider's part alone.
 */
import { writeFileSync } from 'node:fs';
import { contentionMarkdown, benchContention } from './contention.mjs';
import { benchCosmos, cosmosMarkdown } from './cosmos.mjs';
import { benchMemory, markdown } from './memory.mjs';

const parts: string[] = [];
for (const t of await benchMemory()) parts.push(markdown(t));
if (process.env['BENCH_ONLY'] !== 'memory') {
  console.log('\nCosmos provider vs @azure/cosmos against a local cosmosdb-server (started here)');
  const ops = Number(process.env['BENCH_COSMOS_OPS'] ?? 2_000);
  parts.push(cosmosMarkdown(await benchCosmos(ops), ops));
  parts.push(contentionMarkdown(await benchContention(Number(process.env['CONTENTION_N'] ?? 1_000))));
}
const md = `${parts.join('\n\n')}\n`;
console.log(`\n${md}`);
writeFileSync(new URL('./last-run.md', import.meta.url), md);
// The native Cosmos client's runtime keeps the process alive otherwise.
process.exit(0);
