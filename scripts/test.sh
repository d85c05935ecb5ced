#!/usr/bin/env bash
# Runs the complete test suite (unit, grad, golden, slow) of an already built tree.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${1:-build}"
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)"
