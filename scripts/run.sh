#!/usr/bin/env bash
# Runs the product. For now this is Ship on a temporary workspace (the Bay control plane
# replaces it once it exists). Usage: run.sh [ship args...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
./scripts/setup.sh
./scripts/build.sh release >/dev/null
workspace=${SHIP_WORKSPACE:-$(mktemp -d -t ship-workspace-XXXXXX)}
echo "Ship workspace: $workspace"
echo "Ship API: http://127.0.0.1:${SHIP_PORT:-8123}  (try: curl -s http://127.0.0.1:${SHIP_PORT:-8123}/health)"
exec "$root/build/release/app/bin/ship" --workspace "$workspace" "$@"
