#!/usr/bin/env bash
# THE run command: installs what is missing, builds, and starts Bay with the embedded
# default driver (bubblewrap sandboxes, SQLite in ./data). Prints where it listens and
# how to authenticate. Extra arguments go to bay (e.g. --set server.port=9000).
#
# Bay needs root for the process driver (cgroups, one host uid per cargo); without it
# it runs in a clearly logged degraded mode.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
./scripts/setup.sh
./scripts/build.sh release >/dev/null
export BAY_DATA_DIR=${BAY_DATA_DIR:-$root/data}
export BAY_SERVER__HOST=${BAY_SERVER__HOST:-127.0.0.1}
export BAY_SERVER__PORT=${BAY_SERVER__PORT:-8000}
echo "Bay data directory: $BAY_DATA_DIR"
echo "Bay API: http://$BAY_SERVER__HOST:$BAY_SERVER__PORT  (GET /health needs no key)"
if [[ -z "${BAY_API_KEY:-}" ]]; then
  echo "API key: generated on first start into $BAY_DATA_DIR/credentials.json (or set BAY_API_KEY)"
fi
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo -E"
exec $sudo "$root/build/release/bin/bay" "$@"
