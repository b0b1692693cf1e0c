#!/usr/bin/env node
// Checks that a StrykerJS run tested with every test file its vitest config
// selects, then prints the score. Stryker's dry run "succeeds" when a test
// file fails to load inside its sandbox (it just runs the rest), so a broken
// import would silently turn a score into one measured on a few tests: this
// caught exactly that (the fleet fixtures' relative import of testing/).
//
//   node scripts/stryker-report-check.mjs <report.json> <vitest config> [dir]
//
// <dir> is where vitest runs (the config's project); default: cwd.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';

const [reportPath, config, dir = process.cwd()] = process.argv.slice(2);
if (reportPath === undefined || config === undefined) {
  process.stderr.write('usage: stryker-report-check.mjs <report.json> <vitest config> [dir]\n');
  process.exit(64);
}

const report = JSON.parse(readFileSync(reportPath, 'utf8'));
const listed = JSON.parse(
  execFileSync('npx', ['vitest', 'list', '--filesOnly', '--json', '-c', config], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  }),
);
const expected = listed.map((t) => relative(resolve(dir), t.file)).sort();
const tested = new Set(Object.keys(report.testFiles ?? {}).map((f) => relative(resolve(dir), resolve(dir, f))));
const missing = expected.filter((f) => !tested.has(f));
const tests = Object.values(report.testFiles ?? {}).reduce((n, f) => n + f.tests.length, 0);

const counts = {};
for (const [file, { mutants }] of Object.entries(report.files)) {
  const c = (counts[file] = { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, other: 0 });
  for (const m of mutants) {
    if (m.status in c) c[m.status] += 1;
    else c.other += 1;
  }
}
const sum = (k) => Object.values(counts).reduce((n, c) => n + c[k], 0);
const pct = (c) => {
  const caught = c.Killed + c.Timeout;
  const covered = caught + c.Survived;
  return {
    covered: covered === 0 ? '-' : `${((100 * caught) / covered).toFixed(1)} %`,
    total: covered + c.NoCoverage === 0 ? '-' : `${((100 * caught) / (covered + c.NoCoverage)).toFixed(1)} %`,
  };
};
process.stdout.write('| file | mutants | killed | timeout | survived | no coverage | score (covered) | score (total) |\n|---|---|---|---|---|---|---|---|\n');
const row = (name, c) => {
  const p = pct(c);
  const n = c.Killed + c.Timeout + c.Survived + c.NoCoverage + c.other;
  process.stdout.write(`| ${name} | ${n} | ${c.Killed} | ${c.Timeout} | ${c.Survived} | ${c.NoCoverage} | ${p.covered} | ${p.total} |\n`);
};
for (const [file, c] of Object.entries(counts)) row(file, c);
row('**total**', { Killed: sum('Killed'), Timeout: sum('Timeout'), Survived: sum('Survived'), NoCoverage: sum('NoCoverage'), other: sum('other') });
process.stdout.write(`\ntested with ${tests} tests in ${tested.size} files; the config selects ${expected.length} files\n`);
if (missing.length > 0) {
  process.stderr.write(`stryker-report-check: these test files never ran in the sandbox (failed to load?): ${missing.join(', ')}\n`);
  process.exit(1);
}
