#!/usr/bin/env bash
# `cformer train bert` / `cformer finetune bert`: bad input ends with "error: ..." and a non-zero
# exit code, never a crash (exit >= 128) or a silent success; valid tiny runs succeed; and a
# pre-training run killed with -9 then resumed logs exactly the losses of an uninterrupted run.
# Usage: bert_cli_errors.sh CFORMER_BINARY WORKDIR
set -uo pipefail
bin="$1"
work="$2"
rm -rf "$work" && mkdir -p "$work"
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/tiny_text.sh"
tiny_text "$work/text.txt"
: > "$work/empty.txt"
tiny_sentiment "$work"
printf 'a good day\tpos\na bad day\tneutral\n' > "$work/unknown_label.tsv"
printf 'no tab on this line\n' > "$work/no_tab.tsv"
printf 'not a checkpoint' > "$work/garbage.safetensors"

tb=(train bert --no-progress --preset tiny --batch 4)
expect_error "train: missing data file" "data" "${tb[@]}" --data "$work/nope.txt" --vocab-size 80 --steps 1 --out "$work/o1"
expect_error "train: empty data file" "empty" "${tb[@]}" --data "$work/empty.txt" --vocab-size 80 --steps 1 --out "$work/o2"
expect_error "train: no tokenizer and no vocab size" "--tokenizer" "${tb[@]}" --data "$work/text.txt" --steps 1 --out "$work/o3"
expect_error "train: both tokenizer and vocab size" "not both" "${tb[@]}" --data "$work/text.txt" --tokenizer "$work/text.txt" --vocab-size 80 --steps 1 --out "$work/o4"
expect_error "train: tokenizer file is not a vocabulary" "" "${tb[@]}" --data "$work/garbage.safetensors" --tokenizer "$work/garbage.safetensors" --steps 1 --out "$work/o5"
expect_error "train: neither steps nor minutes" "--steps or --minutes" "${tb[@]}" --data "$work/text.txt" --vocab-size 80 --out "$work/o6"
expect_error "train: unknown preset" "preset" train bert --data "$work/text.txt" --vocab-size 80 --steps 1 --preset huge --out "$work/o7"
expect_error "train: negative learning rate" "lr" "${tb[@]}" --data "$work/text.txt" --vocab-size 80 --steps 1 --lr -1 --out "$work/o8"
expect_error "train: mask probability above 1" "mask-prob" "${tb[@]}" --data "$work/text.txt" --vocab-size 80 --steps 1 --mask-prob 1.5 --out "$work/o9"
expect_error "train: max-len too small" "max-len" "${tb[@]}" --data "$work/text.txt" --vocab-size 80 --steps 1 --max-len 2 --out "$work/o10"
expect_error "train: vocabulary too small" "vocab" "${tb[@]}" --data "$work/text.txt" --vocab-size 3 --steps 1 --out "$work/o11"
expect_error "train: resume without checkpoint" "no checkpoint" "${tb[@]}" --data "$work/text.txt" --steps 1 --resume --out "$work/o12"
expect_error "train: unknown flag" "" train bert --bogus-flag
"$bin" "${tb[@]}" --data "$work/text.txt" --vocab-size 80 --steps 2 --eval-examples 4 --out "$work/pre" > /dev/null ||
  fail "a valid tiny pre-training run failed"
expect_error "train: resume with a contradicting max-len" "contradicts" "${tb[@]}" --data "$work/text.txt" --steps 4 --max-len 16 --resume --out "$work/pre"
expect_error "train: resume with a contradicting NSP" "contradicts" "${tb[@]}" --data "$work/text.txt" --steps 4 --nsp --resume --out "$work/pre"
"$bin" "${tb[@]}" --data "$work/text.txt" --tokenizer "$work/pre/vocab.txt" --steps 2 --nsp --whole-word --out "$work/pre_nsp" > /dev/null ||
  fail "a valid NSP + whole-word run with a vocab.txt failed"

ft=(finetune bert --no-progress --max-len 16 --batch 8)
expect_error "finetune: missing train file" "train" "${ft[@]}" --train "$work/nope.tsv" --valid "$work/valid.tsv" --out "$work/f1"
expect_error "finetune: line without a tab" "no_tab.tsv" "${ft[@]}" --train "$work/no_tab.tsv" --valid "$work/valid.tsv" --out "$work/f2"
expect_error "finetune: validation label unknown" "neutral" "${ft[@]}" --train "$work/train.tsv" --valid "$work/unknown_label.tsv" --preset tiny --vocab-size 60 --out "$work/f3"
expect_error "finetune: init is not a checkpoint" "" "${ft[@]}" --train "$work/train.tsv" --valid "$work/valid.tsv" --init "$work/garbage.safetensors" --out "$work/f4"
expect_error "finetune: --tokenizer with a checkpoint" "tokenizer" "${ft[@]}" --train "$work/train.tsv" --valid "$work/valid.tsv" --init "$work/pre/checkpoint.safetensors" --tokenizer "$work/pre/vocab.txt" --out "$work/f5"
expect_error "finetune: max-len beyond the positions" "max-len" finetune bert --no-progress --train "$work/train.tsv" --valid "$work/valid.tsv" --init "$work/pre/checkpoint.safetensors" --max-len 4096 --out "$work/f6"
expect_error "finetune: no epochs and no minutes" "--epochs or --minutes" "${ft[@]}" --train "$work/train.tsv" --valid "$work/valid.tsv" --epochs 0 --preset tiny --vocab-size 60 --out "$work/f7"
"$bin" "${ft[@]}" --train "$work/train.tsv" --valid "$work/valid.tsv" --init "$work/pre/checkpoint.safetensors" --epochs 1 --out "$work/ft" > /dev/null ||
  fail "a valid fine-tuning run failed"
[ -s "$work/ft/model.safetensors" ] || fail "fine-tuning wrote no model.safetensors"
expect_error "finetune: init is a text file" "header" "${ft[@]}" --train "$work/train.tsv" --valid "$work/valid.tsv" --init "$work/text.txt" --out "$work/f8"
"$bin" train gpt --data "$work/text.txt" --preset tiny --steps 1 --batch 2 --eval-windows 1 --out "$work/gpt" --no-progress > /dev/null ||
  fail "a tiny GPT run failed"
expect_error "finetune: init from a GPT checkpoint" "'gpt' model" "${ft[@]}" --train "$work/train.tsv" --valid "$work/valid.tsv" --init "$work/gpt/checkpoint.safetensors" --out "$work/f9"

# kill -9 mid-run, --resume: per-step losses equal to an uninterrupted run's.
common=("${tb[@]}" --data "$work/text.txt" --tokenizer "$work/pre/vocab.txt" --max-len 32 --steps 60 --warmup 5
        --eval-every 1000 --checkpoint-every 10 --log-every 5 --seed 7)
"$bin" --threads 2 "${common[@]}" --out "$work/full" > /dev/null || fail "the uninterrupted run failed"
"$bin" --threads 2 "${common[@]}" --out "$work/killed" > /dev/null &
pid=$!
for _ in $(seq 1 3000); do
  if [ -f "$work/killed/metrics.jsonl" ] && grep -q '"step":25,' "$work/killed/metrics.jsonl"; then break; fi
  sleep 0.02
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
if grep -q '"step":60,' "$work/killed/metrics.jsonl"; then
  fail "resume: the run finished before the kill"
else
  "$bin" --threads 2 "${common[@]}" --out "$work/killed" --resume > /dev/null || fail "the resumed run failed"
  losses() { /usr/bin/python3 - "$1" <<'PY'
import json, sys
last = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "loss" in r:
        last[r["step"]] = r["loss"]
for s in sorted(last):
    print(s, repr(last[s]))
PY
  }
  if diff <(losses "$work/full/metrics.jsonl") <(losses "$work/killed/metrics.jsonl") > /dev/null; then
    echo "ok: resume after kill -9 reproduces the 60 per-step losses"
  else
    fail "resume after kill -9: the losses differ from the uninterrupted run"
  fi
fi
echo "$failures failed"
[ "$failures" -eq 0 ]
