#!/usr/bin/env bash
# train bow / eval / classify: bad input ends with "error: ..." and a non-zero exit code, never a
# crash (exit >= 128) or a silent success; a valid tiny run works end to end.
# Usage: classify_cli_errors.sh CFORMER_BINARY WORKDIR
set -uo pipefail
bin="$1"
work="$2"
fx="$(cd "$(dirname "$0")/../data/classify" && pwd)"
rm -rf "$work" && mkdir -p "$work"
source "$(dirname "$0")/lib/expect.sh"
expect_ok() {  # expect_ok "description" args...
  local what="$1"
  shift
  if ! "$bin" "$@" > "$work/out.txt" 2> "$work/err.txt"; then
    echo "FAIL: $what: $(cat "$work/err.txt")"
    failures=$((failures + 1))
  else
    echo "ok: $what"
  fi
}
tr=(--train "$fx/toy_train.tsv" --valid "$fx/toy_valid.tsv")

expect_error "missing training file" "cannot open" train bow --train "$work/nope.tsv" --valid "$fx/toy_valid.tsv" --out "$work/o1"
expect_error "line without a tab" "no_tab.tsv:2" train bow --train "$fx/no_tab.tsv" --valid "$fx/toy_valid.tsv" --out "$work/o2"
expect_error "empty text" "empty_text.tsv:2: empty text" train bow --train "$fx/empty_text.tsv" --valid "$fx/toy_valid.tsv" --out "$work/o3"
expect_error "empty training file" "no examples" train bow --train "$fx/empty.tsv" --valid "$fx/toy_valid.tsv" --out "$work/o4"
expect_error "one label only" "two labels" train bow --train "$fx/one_label.tsv" --valid "$fx/one_label.tsv" --out "$work/o5" --min-count 1
expect_error "valid label unseen in train" "unknown_label.tsv:1: unknown label 'pos'" train bow "${tr[@]/toy_valid/unknown_label}" --out "$work/o6"
expect_error "negative learning rate" "lr" train bow "${tr[@]}" --lr -1 --out "$work/o7"
expect_error "min-count above every token" "min_count" train bow "${tr[@]}" --min-count 1000 --out "$work/o8"
expect_error "missing --out" "out" train bow "${tr[@]}"

expect_ok "train bow on the toy task" train bow "${tr[@]}" --min-count 1 --epochs 30 --patience 30 --lr 0.05 --batch 4 --out "$work/toy"
ck="$work/toy/checkpoint.safetensors"
expect_ok "eval on the toy task" eval --model "$ck" --data "$fx/toy_valid.tsv" --json "$work/toy.json"
grep -q '^accuracy  1.0000$' "$work/out.txt" || { echo "FAIL: the toy task is not learned: $(cat "$work/out.txt")"; failures=$((failures + 1)); }
/usr/bin/python3 -c "import json,sys; assert json.load(open(sys.argv[1]))['accuracy'] == 1.0" "$work/toy.json" ||
  { echo "FAIL: eval --json"; failures=$((failures + 1)); }
expect_ok "majority baseline" eval --majority "$fx/toy_train.tsv" --data "$fx/toy_valid.tsv"
grep -q '^accuracy  0.5000$' "$work/out.txt" || { echo "FAIL: majority accuracy: $(cat "$work/out.txt")"; failures=$((failures + 1)); }
printf 'a dog and a horse\n\nsoup with bread\n' > "$work/texts.txt"
expect_ok "classify a file" classify --model "$ck" --input "$work/texts.txt"
[ "$(cut -f1,2 "$work/out.txt" | tr '\t\n' ' ')" = "1 animal 3 food " ] || { echo "FAIL: classify output: $(cat "$work/out.txt")"; failures=$((failures + 1)); }
grep -q "texts.txt:2: empty line skipped" "$work/err.txt" || { echo "FAIL: the empty line is not reported"; failures=$((failures + 1)); }

expect_error "neither --model nor --majority" "--model" eval --data "$fx/toy_valid.tsv"
expect_error "both --model and --majority" "excludes" eval --model "$ck" --majority "$fx/toy_train.tsv" --data "$fx/toy_valid.tsv"
expect_error "missing checkpoint" "cannot open" eval --model "$work/none.safetensors" --data "$fx/toy_valid.tsv"
printf 'not a checkpoint' > "$work/garbage.safetensors"
expect_error "garbage checkpoint" "header" eval --model "$work/garbage.safetensors" --data "$fx/toy_valid.tsv"
head -c 300 "$ck" > "$work/truncated.safetensors"
expect_error "truncated checkpoint" "safetensors" eval --model "$work/truncated.safetensors" --data "$fx/toy_valid.tsv"
printf 'In the beginning God created the heaven and the earth.\n%.0s' $(seq 1 200) > "$work/text.txt"
"$bin" train gpt --data "$work/text.txt" --preset tiny --steps 1 --batch 2 --eval-windows 1 --out "$work/gpt" --no-progress > /dev/null ||
  { echo "FAIL: a tiny gpt run failed"; failures=$((failures + 1)); }
expect_error "a GPT without a prompt template" "a GPT classifies by prompting" eval --model "$work/gpt/checkpoint.safetensors" --data "$fx/toy_valid.tsv"
expect_error "unknown label in the data" "unknown_label.tsv:1: unknown label 'pos'" eval --model "$ck" --data "$fx/unknown_label.tsv"
expect_error "empty data" "no examples" eval --model "$ck" --data "$fx/empty.tsv"
expect_error "empty label in the data" "empty_label.tsv:3: empty label" eval --majority "$fx/toy_train.tsv" --data "$fx/empty_label.tsv"
expect_error "classify empty input" "no text to classify" classify --model "$ck" --input "$fx/empty.tsv"
expect_error "classify empty stdin" "no text to classify" classify --model "$ck"
expect_error "classify missing input" "cannot open" classify --model "$ck" --input "$work/none.txt"
expect_error "prompt options for a bow model" "GPT" classify --model "$ck" --input "$work/texts.txt" --prompt-template "{text}" --labels a,b

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
