/** `pnpm bench`: every benchmark, printed as tables of ratios against a baseline run in the same process. */
import { benchContention, printContention } from './contention.mjs';
import { benchCosmos, printCosmosTable } from './cosmos.mjs';
import { benchMemory, printTable } from './memory.mjs';

const memory = await benchMemory();
console.log('\nCosmos provider vs @azure/cosmos against a local cosmosdb-server (started here)');
const cosmos = await benchCosmos(Number(process.env['BENCH_COSMOS_OPS'] ?? 2_000));
printTable('Memory provider vs pure-TypeScript Map baseline', memory);
printCosmosTable(cosmos);
printContention(await benchContention(Number(process.env['CONTENTION_N'] ?? 1_000)));
// The native Cosmos client's runtime keeps the process alive otherwise.
process.exit(0);
