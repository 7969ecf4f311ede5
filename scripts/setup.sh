#!/usr/bin/env bash
# Installs everything Shipyard needs to build, run and test on Debian 12.
# Idempotent: packages already present are not reinstalled, and apt is only
# consulted when something is missing.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang-format git
  # C++ libraries (DESIGN.md §2)
  libboost1.81-all-dev libyaml-cpp-dev libsqlite3-dev libssl-dev
  libspdlog-dev libfmt-dev libcli11-dev libseccomp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # sandbox isolation and tools available inside sandboxes (bay-api-v1.md §14)
  bubblewrap slirp4netns xfsprogs procps python3 python3-venv python3-pip python3-ipython
  python3-matplotlib python3-numpy python3-pandas python3-pil
  fonts-noto-cjk curl tar gzip coreutils
  # benchmarks
  wrk
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
    missing+=("$p")
  fi
done

# Node.js may come from Debian or from another packaging (e.g. NodeSource, which
# bundles npm and conflicts with Debian's npm); only install it when absent.
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# slirp4netns (network "outbound") runs as the sandbox's unprivileged uid and opens the
# tun device itself; Debian's udev rules make it 0666, minimal hosts without udev may not.
if [[ -c /dev/net/tun && $(stat -c %a /dev/net/tun) != 666 ]]; then
  echo "setup: making /dev/net/tun usable by unprivileged users (0666, as udev does)" >&2
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo chmod 0666 /dev/net/tun
fi

# pnpm is not packaged by Debian 12; install it from the npm registry.
if ! command -v pnpm >/dev/null 2>&1; then
  echo "setup: installing pnpm" >&2
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo npm install -g --silent pnpm@9
fi
