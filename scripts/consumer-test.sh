#!/usr/bin/env bash
# How a user meets the package: a fresh project outside this workspace
# installs the packed tarballs with pnpm and with npm, then imports the
# package under ESM and under CommonJS and runs a claim race (N concurrent
# updateIfMatch calls on one document: exactly one wins).
#
# The tarballs are what a release publishes:
#   - the main package as `npm pack` makes it, plus the optionalDependencies
#     that `napi pre-publish` adds at publish time (one per napi target);
#   - one package per target from npm/<target>: this host's with the .node
#     built here, the other six empty (an installer must skip them by their
#     os / cpu / libc fields, which is part of what this checks).
# The consumer project maps each platform package name to its tarball with
# `overrides` (npm) and `pnpm.overrides`, so nothing is fetched for them.
#
# Needs the addon built for this host (`pnpm run build`). Runs offline except
# for the pnpm download by npx when pnpm is not on PATH.
# Usage: scripts/consumer-test.sh [N]   (N claimers, default 64)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
claimers="${1:-64}"
say() { printf '[consumer-test] %s\n' "$*"; }

triple="$(node -p "process.platform + '-' + process.arch")"
if [[ "$triple" == linux-* ]]; then
  if node -p 'process.report.getReport().header.glibcVersionRuntime ? "" : "musl"' | grep -q musl; then
    triple="$triple-musl"
  else
    triple="$triple-gnu"
  fi
elif [[ "$triple" == win32-* ]]; then
  triple="$triple-msvc"
fi
binary="$root/datastore.$triple.node"
[[ -f "$binary" ]] || { echo "consumer-test: $binary is missing; run \`pnpm run build\` first" >&2; exit 1; }
[[ -d "$root/npm/$triple" ]] || { echo "consumer-test: no npm/$triple package for this host" >&2; exit 1; }

if command -v pnpm >/dev/null 2>&1; then PNPM=(pnpm); else PNPM=(npx --yes pnpm@10.34.9); fi

work="$(mktemp -d "${TMPDIR:-/tmp}/datastore-consumer-XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tarballs" "$work/stage"
say "work dir $work (host $triple, $claimers claimers)"

# The main package: npm pack, then what napi pre-publish adds.
(cd "$root" && npm pack --silent --pack-destination "$work/stage" >/dev/null)
tar -xzf "$work"/stage/bytelyst-datastore-*.tgz -C "$work/stage"
node - "$work/stage/package/package.json" "$root/package.json" <<'EOF'
const fs = require('node:fs');
const [file, rootFile] = process.argv.slice(2);
const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
const npmDirs = fs.readdirSync(require('node:path').join(rootFile, '..', 'npm'));
pkg.optionalDependencies = Object.fromEntries(npmDirs.sort().map((d) => [`${pkg.name}-${d}`, pkg.version]));
fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + '\n');
EOF
main_tgz="$(cd "$work/tarballs" && npm pack --silent "$work/stage/package")"
say "main package: $main_tgz ($(du -k "$work/tarballs/$main_tgz" | cut -f1) kB)"

# One package per target; only this host's carries a binary.
overrides="{}"
for dir in "$root"/npm/*/; do
  target="$(basename "$dir")"
  cp -r "$dir" "$work/stage/$target"
  if [[ "$target" == "$triple" ]]; then cp "$binary" "$work/stage/$target/"; fi
  tgz="$(cd "$work/tarballs" && npm pack --silent "$work/stage/$target")"
  overrides="$(node -p 'const o = JSON.parse(process.argv[1]); o[process.argv[2]] = "file:" + process.argv[3]; JSON.stringify(o)' \
    "$overrides" "@bytelyst/datastore-$target" "$work/tarballs/$tgz")"
done
say "platform packages: $(cd "$work/tarballs" && ls | grep -v "^$main_tgz$" | tr '\n' ' ')"

# The consumer's code: a claim race, under ESM and under CommonJS.
write_consumer() {
  local dir="$1"
  mkdir -p "$dir"
  node - "$dir/package.json" "$work/tarballs/$main_tgz" "$overrides" <<'EOF'
const fs = require('node:fs');
const [file, tgz, overrides] = process.argv.slice(2);
fs.writeFileSync(file, JSON.stringify({
  name: 'datastore-consumer', version: '1.0.0', private: true,
  dependencies: { '@bytelyst/datastore': `file:${tgz}` },
  overrides: JSON.parse(overrides),
  pnpm: { overrides: JSON.parse(overrides) },
}, null, 2) + '\n');
EOF
  cat >"$dir/race.cjs" <<'EOF'
const { MemoryProvider, isDatastoreError } = require('@bytelyst/datastore');
module.exports = { run: () => race(MemoryProvider, isDatastoreError, 'cjs') };
async function race(MemoryProvider, isDatastoreError, label) {
  const n = Number(process.env.CLAIMERS);
  const jobs = new MemoryProvider({ partitionKeyPath: '/tenantId' });
  const job = await jobs.create({ id: 'job-1', tenantId: 't1', status: 'queued', assignedTo: null });
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      jobs.updateIfMatch('job-1', 't1', { etag: job._etag, rev: job.rev }, { status: 'assigned', assignedTo: `agent-${i}` }),
    ),
  );
  const winners = results.filter((r) => r.ok);
  const conflicts = results.filter((r) => !r.ok && r.reason === 'conflict');
  const final = await jobs.get('job-1', 't1');
  if (winners.length !== 1 || conflicts.length !== n - 1) throw new Error(`${label}: ${winners.length} winners, ${conflicts.length} conflicts`);
  if (final.rev !== 2 || final.assignedTo !== winners[0].doc.assignedTo) throw new Error(`${label}: final ${JSON.stringify(final)}`);
  let dup = null;
  try { await jobs.create({ id: 'job-1', tenantId: 't1', status: 'queued', assignedTo: null }); } catch (e) { dup = e; }
  if (!isDatastoreError(dup, 'conflict')) throw new Error(`${label}: duplicate create gave ${dup}`);
  await jobs.close();
  console.log(`  ${label}: 1 winner (${final.assignedTo}), ${conflicts.length} conflicts, rev ${final.rev}`);
}
module.exports.race = race;
EOF
  cat >"$dir/cjs.cjs" <<'EOF'
require('./race.cjs').run().catch((e) => { console.error(e); process.exit(1); });
EOF
  cat >"$dir/esm.mjs" <<'EOF'
import { MemoryProvider, isDatastoreError, createProvider } from '@bytelyst/datastore';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const cjs = require('@bytelyst/datastore');
if (cjs.MemoryProvider !== MemoryProvider) throw new Error('esm: ESM and CJS give different classes');
if (typeof createProvider !== 'function') throw new Error('esm: createProvider missing');
const { race } = require('./race.cjs');
await race(MemoryProvider, isDatastoreError, 'esm');
EOF
}

check_install() {
  local dir="$1" pm="$2"
  # Resolve the platform packages from where the loader (index.js) sits.
  local from="require('node:path').dirname(require.resolve('@bytelyst/datastore/package.json'))"
  say "$pm: the loader finds $(cd "$dir" && node -p "require.resolve('@bytelyst/datastore-$triple', { paths: [$from] })")"
  local other
  for other in "$root"/npm/*/; do
    other="$(basename "$other")"
    [[ "$other" == "$triple" ]] && continue
    if (cd "$dir" && node -e "require.resolve('@bytelyst/datastore-$other', { paths: [$from] })" 2>/dev/null); then
      echo "consumer-test: $pm installed @bytelyst/datastore-$other on $triple (os/cpu/libc filter ignored)" >&2; exit 1
    fi
  done
  (cd "$dir" && CLAIMERS="$claimers" node esm.mjs && CLAIMERS="$claimers" node cjs.cjs)
}

say "pnpm install (${PNPM[*]})"
write_consumer "$work/pnpm"
(cd "$work/pnpm" && "${PNPM[@]}" install --silent --ignore-workspace --config.confirmModulesPurge=false)
check_install "$work/pnpm" pnpm

say "npm install"
write_consumer "$work/npm"
(cd "$work/npm" && npm install --silent --no-audit --no-fund)
check_install "$work/npm" npm

say "ok: pnpm and npm installs load the $triple binary, ESM and CJS races have exactly one winner"
