#!/usr/bin/env bash
# The differential property suite (__test__/differential.spec.ts) with a long
# budget: Memory vs Cosmos (the local Cosmos-protocol test server) vs the
# reference model, many more generated operation sequences than CI runs.
#
#   scripts/differential.sh                 # 500 sequences per property, the fixed seed
#   DIFF_RUNS=2000 scripts/differential.sh  # more
#   DIFF_SEED=7 scripts/differential.sh     # another seed (print it when reporting a failure)
#
# Needs the addon built (datastore.*.node and dist/), as `npm test` leaves it.
# A failure prints the seed, fast-check's shrunk counterexample and a
# transcript of every step with each backend's answer; rerun with the same
# DIFF_SEED and DIFF_RUNS to reproduce it.
set -euo pipefail
cd "$(dirname "$0")/.."

export DIFF_RUNS="${DIFF_RUNS:-500}"
export DIFF_SEED="${DIFF_SEED:-20261125}"
# Shrinking a failure of a long run may take a while: give it a few minutes.
export DIFF_SHRINK_MS="${DIFF_SHRINK_MS:-180000}"

echo "differential suite: DIFF_RUNS=${DIFF_RUNS} DIFF_SEED=${DIFF_SEED}" >&2
exec npx vitest run __test__/differential.spec.ts "$@"
