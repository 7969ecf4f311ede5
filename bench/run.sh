#!/usr/bin/env bash
# Runs the whole benchmark suite: builds the release preset, then the Ship benchmark and
# the Bay benchmark against it. Results go to bench/results/ (ship-*.{json,md} and
# bay-*.{json,md}); compare two runs with bench/compare.py A.json B.json.
#
# Usage: bench/run.sh [--quick] [--build-dir DIR] [--no-build] [--ship-only|--bay-only]
#                     [-- extra arguments for bench/bay/run.py]
# The Bay benchmark needs root (process driver: bwrap, cgroups, cargo images).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

build_dir="$root/build/release"
build=1
quick=()
run_ship=1
run_bay=1
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) quick=(--quick) ;;
    --build-dir) build_dir=$(realpath "$2"); build=0; shift ;;
    --no-build) build=0 ;;
    --ship-only) run_bay=0 ;;
    --bay-only) run_ship=0 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

if [[ $build == 1 ]]; then
  ./scripts/build.sh release
fi
py="$root/.venv/bin/python"
[[ -x $py ]] || py=python3

status=0
if [[ $run_ship == 1 ]]; then
  echo "== Ship benchmark ($build_dir)" >&2
  "$py" bench/ship/run.py --ship "$build_dir/app/bin/ship" "${quick[@]}" || status=1
fi
if [[ $run_bay == 1 ]]; then
  echo "== Bay benchmark ($build_dir)" >&2
  "$py" bench/bay/run.py --build-dir "$build_dir" "${quick[@]}" "${extra[@]}" || status=1
fi
exit $status
