#!/usr/bin/env bash
# The whole test suite: setup (idempotent), then unit, lab and end-to-end tests in one
# run against one shared lab that is torn down at the end. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

trap 'node dist/src/client.js lab down >/dev/null 2>&1 || true' EXIT
echo "== bringing up the shared lab"
node dist/src/client.js lab up >/dev/null

files=$(find dist/test -name '*.test.js' | sort)
log=$(mktemp)
set +e
node --test --test-concurrency=1 --test-reporter=spec $files 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
pass=$(grep -E '^ℹ pass ' "$log" | awk '{print $3}')
fail=$(grep -E '^ℹ fail ' "$log" | awk '{print $3}')
rm -f "$log"
echo "tests: ${pass:-0} passed, ${fail:-0} failed"
exit "$status"
