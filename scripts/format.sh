#!/usr/bin/env bash
# Formats the C++ sources with clang-format; with --check, fails if any file would change.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mapfile -t files < <(git ls-files -co --exclude-standard -- 'src/*.cpp' 'src/*.hpp' \
  'tests/*.cpp' 'tests/*.hpp' 'bench/*.cpp' 'bench/*.hpp')
((${#files[@]})) || exit 0
if [[ "${1:-}" == "--check" ]]; then
  if ! clang-format --dry-run --Werror "${files[@]}" 2>/tmp/shipyard-format.log; then
    head -40 /tmp/shipyard-format.log >&2
    echo "format check failed: run scripts/format.sh" >&2
    exit 1
  fi
else
  clang-format -i "${files[@]}"
fi
