#!/usr/bin/env bash
# `cformer train longdoc` end to end on a small generated ListOps set: each attention kernel
# trains a tiny model for a few steps and writes best/last checkpoints, metrics, the loss curve
# and result.json with a test accuracy; bad flags and missing or malformed data end with
# "error: ..." and a non-zero exit, never a crash.
# Usage: longdoc_cli.sh CFORMER_BINARY WORKDIR
set -uo pipefail
bin="$1"
work="$2"
rm -rf "$work" && mkdir -p "$work"
source "$(dirname "$0")/lib/expect.sh"

"$bin" data listops --out "$work/lo" --seed 1 --train 300 --valid 40 --test 40 \
  --min-length 20 --max-length 120 > "$work/data.log" || { echo "FAIL: data listops"; exit 1; }
small=(--d-model 16 --heads 2 --layers 1 --ffn 32 --batch 8 --steps 12 --warmup 2 --eval-every 6
       --val-limit 20 --window 8 --block-size 8 --features 8 --no-progress)
for a in dense memory_efficient longformer block_sparse performer; do
  if ! "$bin" --threads 2 train longdoc --task listops --data-dir "$work/lo" --attention "$a" \
      "${small[@]}" --out "$work/$a" > "$work/$a.log" 2>&1; then
    fail "train longdoc --attention $a"
    cat "$work/$a.log"
    continue
  fi
  for f in best.safetensors last.safetensors metrics.jsonl loss.svg result.json; do
    [ -s "$work/$a/$f" ] || fail "$a wrote no $f"
  done
  /usr/bin/python3 - "$work/$a/result.json" "$a" <<'PY' || fail "$a: bad result.json"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["attention"] == sys.argv[2], r["attention"]
assert r["steps"] == 12 and r["test_n"] == 40 and r["valid_n"] == 40, r
assert 0.0 <= r["test_accuracy"] <= 1.0 and r["tokens_per_s"] > 0, r
PY
done
"$bin" --threads 2 train longdoc --task listops --data-dir "$work/lo" --attention block_sparse \
  --sparse-layout bigbird "${small[@]}" --out "$work/bigbird" > "$work/bigbird.log" 2>&1 ||
  fail "train longdoc --sparse-layout bigbird: $(tail -n 3 "$work/bigbird.log")"

# eval longdoc on the best checkpoint reproduces the test accuracy of result.json.
"$bin" eval longdoc --model "$work/longformer/best.safetensors" --data-dir "$work/lo" \
  --json "$work/eval.json" > "$work/eval.txt" 2>&1 || fail "eval longdoc: $(tail -n 3 "$work/eval.txt")"
grep -q "confusion" "$work/eval.txt" || fail "eval longdoc printed no confusion matrix"
/usr/bin/python3 - "$work/eval.json" "$work/longformer/result.json" <<'PY' || fail "eval longdoc disagrees with result.json"
import json, sys
e, r = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert e["n"] == 40 and abs(e["accuracy"] - r["test_accuracy"]) < 1e-12, (e["accuracy"], r["test_accuracy"])
assert sum(map(sum, e["confusion"])) == 40
PY
expect_error "eval longdoc on a non-checkpoint" "header" eval longdoc --model "$work/longformer/loss.svg"
expect_error "plain eval on a longdoc checkpoint" "eval longdoc" eval --model "$work/longformer/best.safetensors"

expect_error "unknown attention" "attention" train longdoc --task listops --data-dir "$work/lo" --attention reformer
expect_error "odd window" "attention_window must be even" train longdoc --task listops \
  --data-dir "$work/lo" --attention longformer --window 7 --steps 1 --no-progress
expect_error "heads do not divide the width" "divisible" train longdoc --task listops \
  --data-dir "$work/lo" --d-model 10 --heads 4 --steps 1 --no-progress
expect_error "missing data" "cannot open" train longdoc --task listops --data-dir "$work/nowhere" --steps 1
expect_error "zero steps" "steps" train longdoc --task listops --data-dir "$work/lo" --steps 0
mkdir -p "$work/bad"
printf 'Source\tTarget\n( [MAX 2 ) ]\t2\n' > "$work/bad/train.tsv"
printf 'Source\tTarget\n( [AVG 2 ) ]\t2\n' > "$work/bad/valid.tsv"
expect_error "unknown ListOps token" "unknown token '\[AVG'" train longdoc --task listops --data-dir "$work/bad" --steps 1
printf 'cformer-bytes-v1\nspam 99\nshort\n' > "$work/bad/train.bin"
expect_error "truncated byte file" "truncated" train longdoc --task spam --data-dir "$work/bad" --steps 1

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "longdoc_cli: all checks passed"
