#!/usr/bin/env bash
# The linearizability suite (__test__/linearizability.spec.ts) at a larger
# size, over several seeds: Memory across worker threads, Cosmos (the local
# test server) through two providers, and Cosmos behind the fault proxy.
#
#   scripts/linearizability.sh                      # LIN_SCALE=8, seeds 1..5
#   LIN_SCALE=20 LIN_SEEDS="7 8" scripts/linearizability.sh
#
# Needs the addon built (datastore.*.node and dist/), as `npm test` leaves it.
# A failure names its seed: rerun with LIN_SEEDS=<seed> to reproduce it
# (histories of a concurrent run differ run to run: rerun a few times), and
# LIN_DUMP=<file> writes the failing document's history as JSON.
set -euo pipefail
cd "$(dirname "$0")/.."

export LIN_SCALE="${LIN_SCALE:-8}"
for seed in ${LIN_SEEDS:-1 2 3 4 5}; do
  echo "linearizability: LIN_SCALE=${LIN_SCALE} LIN_SEED=${seed}" >&2
  LIN_SEED="$seed" npx vitest run __test__/linearizability.spec.ts --testTimeout 600000 "$@"
done
