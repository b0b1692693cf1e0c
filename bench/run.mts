/** `pnpm bench`: every benchmark, printed as tables of ratios. */
import { benchMemory, printTable } from './memory.mjs';

printTable('Memory provider vs pure-TypeScript Map baseline', await benchMemory());
