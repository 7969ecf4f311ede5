#!/usr/bin/env bash
# Installs the Python SDK (sdk/python) into the project's .venv and checks it: ruff,
# mypy --strict, unit tests (faked transport) and end-to-end tests against the real bay
# of build/<preset> (default: release). Called by scripts/test.sh for each preset.
# Extra arguments go to pytest, e.g. `scripts/test-sdk.sh release -k workflow -x`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
preset=${1:-release}
shift || true
venv="$root/.venv"
[[ -x "$venv/bin/python" ]] || ./scripts/python-env.sh

echo "=== [$preset] python sdk"
# pip builds in-tree; a stale build/lib could ship modules that no longer exist.
rm -rf sdk/python/build
"$venv/bin/pip" install -q --disable-pip-version-check "./sdk/python[dev]"
cd sdk/python
"$venv/bin/ruff" check --no-cache .
"$venv/bin/ruff" format --no-cache --check .
"$venv/bin/mypy" --cache-dir=/dev/null
SHIPYARD_BUILD_DIR="$root/build/$preset" \
  "$venv/bin/python" -m pytest -q -p no:cacheprovider -rs tests "$@"
