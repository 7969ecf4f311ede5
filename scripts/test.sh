#!/usr/bin/env bash
# The project's test command: installs what is missing, checks formatting, then builds
# and runs every test (unit tests through ctest, integration tests through pytest
# against the real binaries) for each preset in SHIPYARD_TEST_PRESETS
# (default: "release asan" — the sanitizer build must pass the suite too).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

./scripts/setup.sh
./scripts/python-env.sh
./scripts/format.sh --check

presets=${SHIPYARD_TEST_PRESETS:-"release asan"}
for preset in $presets; do
  echo "=== [$preset] build"
  ./scripts/build.sh "$preset"
  echo "=== [$preset] unit tests"
  ctest --preset "$preset" -j"$(nproc)" --timeout 300
  echo "=== [$preset] integration tests"
  SHIPYARD_BUILD_DIR="$root/build/$preset" SHIPYARD_PRESET="$preset" \
    .venv/bin/python -m pytest -c tests/integration/pytest.ini tests/integration tests/kernel tests/security \
    -q -p no:cacheprovider "$@"
  ./scripts/test-sdk.sh "$preset"
done
echo "=== all tests passed"
