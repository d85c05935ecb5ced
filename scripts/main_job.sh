#!/usr/bin/env bash
# The main job: train the default GPT on the King James Bible for a bounded time, then print
# generated samples. Usage: scripts/main_job.sh [MINUTES] (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-10}"
out=runs/gpt-main
rm -rf "$out"
build/cformer train gpt --data data/kjv.txt --out "$out" --preset default --minutes "$minutes" \
  --batch 32 --lr 2e-3 --warmup 100 --eval-every 500 --checkpoint-every 500
echo
echo "== samples (temperature 0.8, top-k 40)"
build/cformer generate "$out/checkpoint.safetensors" --prompt "And God said" --samples 3 \
  --max-new-tokens 300 --temperature 0.8 --top-k 40 --seed 1
