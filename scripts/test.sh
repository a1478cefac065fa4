#!/usr/bin/env bash
# The whole test suite: setup (idempotent), then unit, lab and end-to-end tests in one
# run against one shared lab, then `lab down` and a check that the machine is as it was.
# Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

work=$(mktemp -d)
trap 'node dist/src/client.js lab down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
node dist/src/client.js lab down >/dev/null 2>&1 || true # leftovers of an interrupted run
node dist/test/support/machine.js >"$work/before.json"

echo "== bringing up the shared lab"
node dist/src/client.js lab up >/dev/null

set +e
node --test --test-concurrency=1 --test-reporter=spec $(find dist/test -name '*.test.js' -not -path '*/teardown/*' | sort) 2>&1 | tee "$work/main.log"
status=${PIPESTATUS[0]}
echo "== lab down, then check nothing is left"
node dist/src/client.js lab down
API7HA_SNAPSHOT_BEFORE="$work/before.json" node --test --test-reporter=spec dist/test/teardown/ 2>&1 | tee "$work/teardown.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
set -e

count() { grep -hE "^ℹ $1 " "$work/main.log" "$work/teardown.log" | awk '{s+=$3} END {print s+0}'; }
echo "tests: $(count pass) passed, $(count fail) failed"
exit "$status"
