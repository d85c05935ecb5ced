#!/usr/bin/env bash
# Bad input ends with "error: ..." and a non-zero exit code, never a crash (exit >= 128) or a
# silent success. Usage: cli_errors.sh CFORMER_BINARY WORKDIR
set -uo pipefail
bin="$1"
work="$2"
rm -rf "$work" && mkdir -p "$work"
source "$(dirname "$0")/lib/expect.sh"
printf 'In the beginning God created the heaven and the earth.\n%.0s' $(seq 1 400) > "$work/text.txt"
: > "$work/empty.txt"
expect_error "missing data file" "cannot open" train gpt --data "$work/nope.txt" --steps 1 --out "$work/o1" --no-progress
expect_error "empty data file" "empty" train gpt --data "$work/empty.txt" --steps 1 --out "$work/o2" --no-progress
expect_error "neither steps nor minutes" "--steps or --minutes" train gpt --data "$work/text.txt" --out "$work/o3" --no-progress
expect_error "negative learning rate" "lr" train gpt --data "$work/text.txt" --steps 1 --lr -1 --out "$work/o4"
expect_error "unknown preset" "preset" train gpt --data "$work/text.txt" --steps 1 --preset huge --out "$work/o5"
expect_error "heads do not divide width" "n_head" train gpt --data "$work/text.txt" --steps 1 --preset tiny --n-head 5 --out "$work/o6" --no-progress
expect_error "resume without checkpoint" "no checkpoint" train gpt --data "$work/text.txt" --steps 1 --resume --out "$work/o7" --no-progress
expect_error "unknown flag" "" train gpt --bogus-flag
"$bin" train gpt --data "$work/text.txt" --preset tiny --steps 2 --batch 2 --eval-windows 2 --out "$work/ok" --no-progress > /dev/null ||
  { echo "FAIL: a valid tiny training run failed"; failures=$((failures + 1)); }
expect_error "resume with a contradicting config" "contradicts" train gpt --data "$work/text.txt" --preset tiny --n-layer 3 --steps 4 --resume --out "$work/ok" --no-progress
head -c 1000 "$work/ok/checkpoint.safetensors" > "$work/truncated.safetensors"
expect_error "truncated checkpoint" "safetensors" generate "$work/truncated.safetensors"
printf 'not a checkpoint' > "$work/garbage.safetensors"
expect_error "garbage checkpoint" "header" generate "$work/garbage.safetensors"
expect_error "missing checkpoint" "cannot open" generate "$work/none.safetensors"
expect_error "empty prompt" "prompt" generate "$work/ok/checkpoint.safetensors" --prompt ""
expect_error "info on garbage" "header" info "$work/garbage.safetensors"
expect_error "negative temperature" "temperature" generate "$work/ok/checkpoint.safetensors" --temperature -1
"$bin" generate "$work/ok/checkpoint.safetensors" --prompt "In the" --max-new-tokens 5 > /dev/null ||
  { echo "FAIL: generate from a valid checkpoint failed"; failures=$((failures + 1)); }
info_out=$("$bin" info "$work/ok/checkpoint.safetensors")
grep -q "model.wte.weight" <<<"$info_out" ||
  { echo "FAIL: info does not list the tensors"; failures=$((failures + 1)); }
echo "$failures failed"
[ "$failures" -eq 0 ]
