#!/usr/bin/env bash
# The end-to-end tests at a bigger size than the `test` script runs them:
# more agent processes, more jobs, more SIGKILLs, on Memory and on Cosmos
# (two replicas). Sizes can be overridden from the environment.
#   examples/platform-service/scripts/e2e-large.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export FLEET_E2E_AGENTS="${FLEET_E2E_AGENTS:-50}"
export FLEET_E2E_JOBS="${FLEET_E2E_JOBS:-300}"
export FLEET_E2E_KILLS="${FLEET_E2E_KILLS:-12}"
export FLEET_E2E_DEADLINE_MS="${FLEET_E2E_DEADLINE_MS:-240000}"
exec nice -n 10 npx vitest run test/e2e "$@"
