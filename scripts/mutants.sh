#!/usr/bin/env bash
# Mutation testing (issue #16): cargo-mutants over the Rust crate, StrykerJS
# over lib/ and over the example's fleet module. Slow (tens of minutes per
# tool), so it is NOT part of `npm test`; run it by hand or on a schedule.
# Results and the judged survivors are kept in docs/testing.md.
#
#   scripts/mutants.sh            # all three: rust, lib, fleet
#   scripts/mutants.sh rust       # cargo-mutants only
#   scripts/mutants.sh lib fleet  # StrykerJS only
#   scripts/mutants.sh cosmos-store  # src/cosmos/store.rs against the JS oracle
#
# Environment:
#   MUTANTS_RUST_FILES  space-separated files for cargo-mutants (default: the
#                       areas of issue #16, most important first)
#   MUTANTS_TIMEOUT     seconds a mutant's `cargo test` may take (default 20: the suite takes ~2 s; a
#                       mutant that breaks the retry loop hangs until then)
#   MUTANTS_JOBS        cargo-mutants --jobs (default 1: a 2-core machine)
#   MUTANTS_RE=<regex>  cargo-mutants --re: only the mutants whose names
#                       (as `cargo mutants --list` shows them) match, e.g.
#                       'stored_members|value_end' for the functions changed
#   MUTANTS_ITERATE=1   cargo-mutants --iterate: skip the mutants an earlier
#                       run (same output directory) already caught
#   MUTANTS_REV=<rev>   mutate a clean snapshot of that commit (git archive)
#                       instead of
#                       the working tree: for a stable run while the tree is
#                       being edited (a half-done edit elsewhere fails the
#                       baseline and no mutant is tested)
#   STRYKER_MUTATE      comma-separated globs overriding `mutate` of the
#                       Stryker run(s) given (e.g. lib/codec.ts)
#   STRYKER_LIB_LEG     memory | cosmos: the lib/ run's oracle is one
#                       provider's suites (vitest.stryker.config.mts); its
#                       reports are target/mutants-js/lib-<leg>.*
#   STRYKER_INCREMENTAL=1  Stryker --incremental: keep the results of mutants
#                       whose code and covering tests are unchanged since the
#                       last run (target/mutants-js/*-incremental.json)
#
#   COSMOS_STORE_RE     cosmos-store: cargo-mutants --re over src/cosmos/store.rs
#                       (default: the compare-and-write decision functions)
#   COSMOS_STORE_SKIP   cosmos-store: grep -E of mutant names not to test
#                       (default: the whole-body return-value replacements,
#                       which do not compile)
#   COSMOS_STORE_MAX    cosmos-store: test at most this many mutants
#   COSMOS_STORE_TESTS  cosmos-store: the vitest files of the oracle
#
# Prerequisite for `lib` and `fleet`: the addon and dist/ are built
# (`pnpm run build`): the JS tests load them; this script does not build them.
# Output: target/mutants/<file>/mutants.out (cargo-mutants), target/mutants-js/ (Stryker).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
pnpm=(npx --yes pnpm@10.34.9)
nice=(nice -n 10)

run_rust() {
  if ! cargo mutants --version >/dev/null 2>&1; then
    echo "== installing cargo-mutants" >&2
    cargo install --locked cargo-mutants
  fi
  local files=(${MUTANTS_RUST_FILES:-src/memory/store.rs src/validate.rs src/cosmos/outcome.rs src/doc.rs src/cosmos/token.rs src/memory/query.rs src/memory/registry.rs})
  # One cargo-mutants run per file, in the order given (most important
  # first), each with its own output: target/mutants/<file>/mutants.out.
  # A dedicated, persistent CARGO_TARGET_DIR: dependencies are compiled once
  # and reused by later runs, and it is not the target/ that `npm test` and
  # `pnpm run build` use, so a mutation run never blocks or clobbers them.
  export CARGO_TARGET_DIR="${MUTANTS_CARGO_TARGET_DIR:-$root/target/mutants-build}"
  # No debug info in that build: a mutant's crate compiles and its test
  # binary links several times faster (the crate's own target/ is untouched).
  export CARGO_PROFILE_DEV_DEBUG=0 CARGO_PROFILE_TEST_DEBUG=0
  local baseline=run f status src="$root"
  if [ -n "${MUTANTS_REV:-}" ]; then
    src="$(mktemp -d /tmp/datastore-mutants-src.XXXXXX)"
    git archive "$MUTANTS_REV" | tar -x -C "$src"
    echo "== snapshot of $MUTANTS_REV ($(git rev-parse --short "$MUTANTS_REV")) in $src" >&2
  fi
  mkdir -p "$root/target/mutants" # cargo-mutants creates only the last level
  for f in "${files[@]}"; do
    echo "== cargo-mutants over $f" >&2
    status=0
    # The tree is copied to a temporary build directory (no --in-place), so
    # edits in the working tree during the run do not mix with the mutants.
    # --gitignore: do not copy target/, node_modules/ and the built addon.
    # Oracle: `cargo test --lib`: all the crate's tests (it has no tests/ dir
    # and no doc tests), without building the cdylib and the doc-test rlib,
    # which halves each mutant's build.
    # Never run two of these at once on one CARGO_TARGET_DIR: the second
    # waits for the build lock inside its test timeout, and its mutants are
    # reported as false timeouts.
    "${nice[@]}" cargo mutants \
      --dir "$src" \
      --file "$f" \
      --gitignore=true \
      --jobs "${MUTANTS_JOBS:-1}" \
      --timeout "${MUTANTS_TIMEOUT:-20}" \
      --build-timeout 900 \
      --baseline "$baseline" \
      --output "$root/target/mutants/${f//\//_}" \
      --no-shuffle \
      --cargo-arg=--lib \
      ${MUTANTS_RE:+--re "$MUTANTS_RE"} \
      ${MUTANTS_ITERATE:+--iterate} \
      || status=$?
    # Exit 2: mutants survived, 3: some timed out: results to read, not a
    # failure of this script. 4: the baseline failed (tree broken mid-edit?).
    case "$status" in 0 | 2 | 3) ;; *) return "$status" ;; esac
    baseline=skip # the unmutated tree was checked by the first run
  done
  [ "$src" != "$root" ] && rm -rf "$src"
  echo "== cargo-mutants: target/mutants/*/mutants.out/{caught,missed,timeout,unviable}.txt" >&2
}

stryker_args() {
  if [ -n "${STRYKER_MUTATE:-}" ]; then printf -- '--mutate\n%s\n' "$STRYKER_MUTATE"; fi
  if [ "${STRYKER_INCREMENTAL:-}" = 1 ]; then printf -- '--incremental\n'; fi
}

run_lib() {
  echo "== StrykerJS over lib/" >&2
  mapfile -t extra < <(stryker_args)
  "${nice[@]}" "${pnpm[@]}" exec stryker run stryker.config.mjs "${extra[@]}"
  # Fails when a test file never ran in Stryker's sandbox; prints the scores.
  node scripts/stryker-report-check.mjs "target/mutants-js/lib${STRYKER_LIB_LEG:+-$STRYKER_LIB_LEG}.json" vitest.stryker.config.mts
}

run_fleet() {
  echo "== StrykerJS over the fleet module" >&2
  mapfile -t extra < <(stryker_args)
  (cd examples/platform-service && "${nice[@]}" "${pnpm[@]}" exec stryker run stryker.config.mjs "${extra[@]}" &&
    node ../../scripts/stryker-report-check.mjs ../../target/mutants-js/fleet.json vitest.stryker.config.ts)
}

# src/cosmos/store.rs's network paths are out of `cargo test`'s reach: its
# oracle is the Cosmos vitest suites against the local test server. So
# cargo-mutants only lists the mutants (with their diffs); each is applied to
# the working tree, the debug addon rebuilt and the suites run. The file is
# restored on every exit (trap) and the release addon rebuilt at the end.
run_cosmos_store() {
  local file=src/cosmos/store.rs out="$root/target/mutants-cosmos-store"
  local re="${COSMOS_STORE_RE:-in CosmosStore::(first_answer|update_if_match|delete_if_match|remove|write|unconditional)$}"
  local skip="${COSMOS_STORE_SKIP:- with (DsResult|Default)::}"
  local tests=(${COSMOS_STORE_TESTS:-__test__/cosmos-faults.spec.ts __test__/cosmos.spec.ts})
  if ! git diff --quiet -- "$file"; then
    echo "$file has uncommitted edits: commit them first (it is restored from git)" >&2
    return 65
  fi
  mkdir -p "$out"
  : >"$out/caught.txt"; : >"$out/missed.txt"; : >"$out/unviable.txt"; : >"$out/log.txt"
  trap 'git checkout -- "'"$file"'"' EXIT
  trap 'exit 130' INT TERM # the EXIT trap restores the file
  cargo mutants --list --json --diff --file "$file" --re "$re" >"$out/list.json"
  # One mutant per line: <name>\t<base64 diff>, the skipped ones left out.
  node -e '
    const ms = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const skip = new RegExp(process.argv[2]);
    for (const m of ms) {
      if (skip.test(m.name)) continue;
      console.log(`${m.name}\t${Buffer.from(m.diff).toString("base64")}`);
    }' "$out/list.json" "$skip" >"$out/all.tsv"
  head -n "${COSMOS_STORE_MAX:-1000}" "$out/all.tsv" >"$out/todo.tsv"
  echo "== cosmos-store: $(wc -l <"$out/todo.tsv") mutants, log in $out/log.txt" >&2
  local name diff start verdict
  while IFS=$'\t' read -r name diff; do
    start=$SECONDS
    git checkout -- "$file"
    if ! base64 -d <<<"$diff" | patch -s -p0 "$file" >/dev/null; then
      echo "$name (patch failed)" >>"$out/unviable.txt"; continue
    fi
    if ! "${nice[@]}" "${pnpm[@]}" run build:debug >"$out/build.log" 2>&1; then
      verdict=unviable
    elif "${nice[@]}" npx vitest run "${tests[@]}" ${COSMOS_STORE_FILTER:+-t "$COSMOS_STORE_FILTER"} >"$out/vitest.log" 2>&1; then
      verdict=missed
    else
      verdict=caught
    fi
    echo "$name" >>"$out/$verdict.txt"
    echo "$verdict $((SECONDS - start))s $name" | tee -a "$out/log.txt" >&2
  done <"$out/todo.tsv"
  git checkout -- "$file"
  trap - EXIT INT TERM
  echo "== cosmos-store: caught $(wc -l <"$out/caught.txt"), missed $(wc -l <"$out/missed.txt"), unviable $(wc -l <"$out/unviable.txt"); rebuilding the release addon" >&2
  "${nice[@]}" "${pnpm[@]}" run build >"$out/build.log" 2>&1
}

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(rust lib fleet)
for t in "${targets[@]}"; do
  case "$t" in
    rust) run_rust ;;
    lib) run_lib ;;
    fleet) run_fleet ;;
    cosmos-store) run_cosmos_store ;;
    *) echo "unknown target $t (rust, lib, fleet, cosmos-store)" >&2; exit 64 ;;
  esac
done
