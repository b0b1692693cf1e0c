// Copies the tables of the last `pnpm bench` run (bench/last-run.md) into
// README.md, between the `<!-- bench:begin -->` and `<!-- bench:end -->` markers.
import { readFileSync, writeFileSync } from 'node:fs';

const readme = new URL('../README.md', import.meta.url);
const tables = readFileSync(new URL('../bench/last-run.md', import.meta.url), 'utf8').trim();
const text = readFileSync(readme, 'utf8');
const begin = '<!-- bench:begin -->';
const end = '<!-- bench:end -->';
const a = text.indexOf(begin);
const b = text.indexOf(end);
if (a < 0 || b < a) throw new Error('README.md has no bench:begin / bench:end markers');
writeFileSync(readme, `${text.slice(0, a + begin.length)}\n${tables}\n${text.slice(b)}`);
console.log('README.md: bench tables replaced from bench/last-run.md');
