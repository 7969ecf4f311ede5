#!/usr/bin/env bash
# Configures and builds one CMake preset (default: release). Usage: build.sh [preset]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
preset=${1:-release}
cd "$root"
if [[ ! -f "build/$preset/build.ninja" ]]; then
  cmake --preset "$preset" >/dev/null
fi
cmake --build --preset "$preset" -- -j"${SHIPYARD_JOBS:-$(nproc)}"
