#!/usr/bin/env bash
# The main job on the embedded default: install what is missing, then `api7-ha up`
# (local Temporal dev server + lab + worker + deployHA). Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec node dist/src/client.js up "$@"
