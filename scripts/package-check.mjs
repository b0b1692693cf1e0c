#!/usr/bin/env node
// The ecosystem's checks, on the tarball `npm pack` makes (what a user
// downloads), not on the working tree:
//
//   1. what the tarball holds: no local *.node (binaries ship in the
//      npm/<target> packages), every source map's `sources` shipped, and no
//      link in a shipped file to a file outside this repository;
//   2. publint --strict;
//   3. @arethetypeswrong/cli: node10, node16 from CJS, node16 from ESM and
//      bundler resolution, every entry point.
//
// Needs `pnpm run build:ts` first (dist/). Usage: node scripts/package-check.mjs
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', process.platform === 'win32' ? `${name}.cmd` : name);
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
const problems = [];

if (!existsSync(join(root, 'dist', 'index.js'))) {
  console.error('package-check: dist/ is missing; run `pnpm run build:ts` first');
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'datastore-pack-'));
try {
  console.log(`[package-check] npm pack -> ${work}`);
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      shell: process.platform === 'win32',
    }),
  )[0];
  const tarball = join(work, packed.filename);
  const files = packed.files.map((f) => f.path).sort();
  console.log(
    `[package-check] ${packed.filename}: ${files.length} files, ${(packed.size / 1024).toFixed(1)} kB packed, ` +
      `${(packed.unpackedSize / 1024).toFixed(1)} kB unpacked`,
  );
  for (const f of packed.files) console.log(`  ${String(f.size).padStart(7)}  ${f.path}`);

  run('tar', ['-xzf', tarball, '-C', work]);
  const pkgDir = join(work, 'package');
  const shipped = new Set(files);

  // 1a. No native binary in the main package.
  for (const f of files) if (f.endsWith('.node')) problems.push(`${f}: a *.node in the main package (it belongs in npm/<target>)`);

  // 1b. Every source map points at files that ship.
  for (const f of files.filter((f) => f.endsWith('.map'))) {
    const map = JSON.parse(readFileSync(join(pkgDir, f), 'utf8'));
    for (const src of map.sources ?? []) {
      const target = posix.normalize(posix.join(posix.dirname(f), map.sourceRoot ?? '', src));
      if (!shipped.has(target)) problems.push(`${f}: source ${src} -> ${target}, which the tarball does not hold`);
    }
  }

  // 1c. No link out of the repository: no ../ above the package root, no
  // `shared/` or `design/*.md` (files that live beside the repository, not
  // in it), and every relative Markdown link names a file git tracks.
  const tracked = new Set(
    execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean),
  );
  const trackedDirs = new Set([...tracked].flatMap((p) => p.split('/').slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join('/'))));
  const outside = /(\.\.\/shared\b|(^|[\s(`'"])shared\/(design|seed)\b|\bdesign\/[\w.-]+\.md\b)/;
  for (const f of files.filter((f) => /\.(md|[cm]?[jt]s|d\.[cm]?ts|json)$/.test(f) && !f.endsWith('.map'))) {
    const text = readFileSync(join(pkgDir, f), 'utf8');
    text.split('\n').forEach((line, i) => {
      if (outside.test(line)) problems.push(`${f}:${i + 1}: points outside the repository: ${line.trim()}`);
    });
    if (f.endsWith('.md')) {
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const href = m[1];
        if (/^([a-z]+:|#)/i.test(href)) continue;
        const target = posix.normalize(posix.join(posix.dirname(f), href.split('#')[0]));
        if (target.startsWith('..')) problems.push(`${f}: link ${href} leaves the repository`);
        else if (!tracked.has(target) && !trackedDirs.has(target.replace(/\/$/, '')))
          problems.push(`${f}: link ${href} names no file in the repository`);
      }
    }
  }

  // 2. publint, strict: warnings fail too.
  console.log('\n[package-check] publint --strict');
  run(bin('publint'), ['run', '--strict', tarball], { shell: process.platform === 'win32' });

  // 3. Are the types wrong? Every resolution mode, every entry point.
  console.log('\n[package-check] attw (node10, node16 CJS, node16 ESM, bundler)');
  run(bin('attw'), [tarball, '--profile', 'strict', '--format', 'table-flipped', '--no-emoji', '--no-color'], {
    shell: process.platform === 'win32',
  });
} catch (e) {
  problems.push(e.message.split('\n')[0]);
} finally {
  rmSync(work, { recursive: true, force: true });
}

if (problems.length) {
  console.error(`\n[package-check] ${problems.length} problem(s):`);
  for (const p of problems) console.error(`  - ${p}`);
  process.exit(1);
}
console.log('\n[package-check] ok');
