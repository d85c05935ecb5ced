#!/usr/bin/env bash
# End to end: train translate (a tiny model on a slice of the corpus, --limit-train), an
# interrupted run resumed with --resume (per-step losses and final tensors equal to an
# uninterrupted run), translate (greedy, beam + nbest, empty and over-long lines), eval
# translate (BLEU/chrF, --json, --output), and the command-line errors.
# Usage: translate_smoke.sh CFORMER_BINARY WORKDIR
set -euo pipefail
bin="$1"
work="$2"
src="${CFORMER_SOURCE_DIR:-.}/data/translation"
rm -rf "$work" && mkdir -p "$work/data"
[ -f "$src/train.en" ] || { echo "translate smoke: $src is missing (run cformer data translation)"; exit 1; }
head -n 1000 "$src/train.en" > "$work/data/train.en"
head -n 1000 "$src/train.fr" > "$work/data/train.fr"
head -n 40 "$src/valid.en" > "$work/data/valid.en"
head -n 40 "$src/valid.fr" > "$work/data/valid.fr"
fail() { echo "translate smoke: $*"; exit 1; }

common=(train translate --data "$work/data" --limit-train 400 --vocab-size 600 --d-model 32
        --heads 2 --enc-layers 1 --dec-layers 1 --ff 64 --max-positions 128 --max-len 96
        --batch-tokens 768 --warmup 4 --lr-factor 2 --grad-clip 1 --eval-every 5
        --val-bleu-sentences 8 --log-every 2 --checkpoint-every 5 --no-progress --seed 3)
"$bin" --threads 2 "${common[@]}" --steps 10 --out "$work/full" > "$work/full.log"
grep -q "longer than --max-len 96 dropped" "$work/full.log" || fail "no dropped-pairs count in the log"
grep -q "tok/s" "$work/full.log" || fail "no tokens/s in the log"
grep -q "BLEU" "$work/full.log" || fail "no BLEU in the log"
[ -f "$work/full/best.safetensors" ] || fail "no best checkpoint"

"$bin" --threads 2 "${common[@]}" --steps 5 --out "$work/part" > /dev/null
"$bin" --threads 2 train translate --data "$work/data" --steps 10 --out "$work/part" --resume \
  --no-progress > "$work/resume.log"
grep -q "resumed at step 5" "$work/resume.log" || fail "the resumed run did not start at step 5"
# Per-step losses (the last record of each step) and the checkpoints' tensor bytes must match.
/usr/bin/python3 - "$work/full" "$work/part" <<'PY'
import json, struct, sys
def losses(d):
    last = {}
    for line in open(d + "/metrics.jsonl"):
        r = json.loads(line)
        if "loss" in r:
            last[r["step"]] = r["loss"]
    return last
def tensors(d):
    b = open(d + "/checkpoint.safetensors", "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    h.pop("__metadata__", None)
    return {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items()}
a, b = losses(sys.argv[1]), losses(sys.argv[2])
assert sorted(a) == list(range(1, 11)), sorted(a)
assert a == b, (a, b)
ta, tb = tensors(sys.argv[1]), tensors(sys.argv[2])
assert ta.keys() == tb.keys() and all(ta[k] == tb[k] for k in ta), "checkpoint tensors differ"
print("translate smoke: 10 per-step losses and %d checkpoint tensors identical after --resume" % len(ta))
PY

# translate: one line out per line in, empty in -> empty out, over-long -> truncated + warning.
long=$(for _ in $(seq 1 80); do printf 'Save the file to disk. '; done)
printf 'Open the file.\n\nClose all windows.\n%s\n' "$long" > "$work/in.txt"
"$bin" --threads 2 translate --model "$work/full" --input "$work/in.txt" --beam 1 \
  > "$work/out.txt" 2> "$work/err.txt"
[ "$(wc -l < "$work/out.txt")" -eq 4 ] || fail "translate wrote $(wc -l < "$work/out.txt") lines for 4"
[ -z "$(sed -n 2p "$work/out.txt")" ] || fail "an empty line was not translated to an empty line"
grep -q "warning: line 4 has .* truncated to the model's maximum of 128" "$work/err.txt" ||
  fail "no truncation warning: $(cat "$work/err.txt")"
"$bin" --threads 2 translate --model "$work/full/checkpoint.safetensors" --beam 3 --nbest 2 \
  < "$work/in.txt" > "$work/nbest.txt" 2> /dev/null
# nbest: K lines per non-empty input line; an empty line has no hypotheses (its index is absent).
[ "$(wc -l < "$work/nbest.txt")" -eq 6 ] || fail "nbest: $(wc -l < "$work/nbest.txt") lines, expected 2+0+2+2"
grep -qvE '^[0-9]+ \|\|\| .* \|\|\| -?[0-9.e+-]+$|^$' "$work/nbest.txt" && fail "malformed nbest line"
[ "$(cut -d' ' -f1 "$work/nbest.txt" | sort -u | tr '\n' ' ')" = "0 2 3 " ] || fail "nbest indices"

# eval translate
"$bin" --threads 2 eval translate --model "$work/full" --data "$work/data" --split valid \
  --limit 12 --beam 2 --json "$work/eval.json" --output "$work/hyps.txt" > "$work/eval.txt"
grep -q "^BLEU = " "$work/eval.txt" || fail "no BLEU line"
grep -q "^chrF2 = " "$work/eval.txt" || fail "no chrF line"
[ "$(wc -l < "$work/hyps.txt")" -eq 12 ] || fail "eval --output has $(wc -l < "$work/hyps.txt") lines"
/usr/bin/python3 -c "
import json, sys
j = json.load(open(sys.argv[1]))
assert j['sentences'] == 12 and 0 <= j['bleu'] <= 100 and 0 <= j['chrf'] <= 100, j
" "$work/eval.json"

# Errors: exit 2 for a bad command line, 1 with a clear message for bad input.
expect() {  # expect CODE PATTERN -- command...
  local code="$1" pattern="$2"; shift 3
  set +e; "$@" > "$work/e.out" 2> "$work/e.err"; local rc=$?; set -e
  [ "$rc" -eq "$code" ] || fail "exit $rc (expected $code): $*: $(cat "$work/e.err")"
  grep -q -- "$pattern" "$work/e.err" || fail "no '$pattern' in: $(cat "$work/e.err")"
}
head -c 20000 "$src/train.en" > "$work/text.txt"
"$bin" --threads 2 train gpt --data "$work/text.txt" --preset tiny --steps 1 --eval-every 100 \
  --no-progress --out "$work/gpt" > /dev/null
expect 1 "holds a 'gpt' model, not a translation model" -- "$bin" translate --model "$work/gpt" --input "$work/in.txt"
expect 1 "holds a 'gpt' model" -- "$bin" eval translate --model "$work/gpt" --data "$work/data"
expect 1 "no such checkpoint" -- "$bin" translate --model "$work/none" --input "$work/in.txt"
expect 1 "no_input.txt" -- "$bin" translate --model "$work/full" --input "$work/no_input.txt"
expect 1 "nbest 3 exceeds --beam 2" -- "$bin" translate --model "$work/full" --beam 2 --nbest 3 --input "$work/in.txt"
expect 2 "beam" -- "$bin" translate --model "$work/full" --beam 0
expect 2 "split" -- "$bin" eval translate --model "$work/full" --split train
expect 1 "give --steps or --minutes" -- "$bin" train translate --data "$work/data" --out "$work/x"
expect 1 "contradicts the checkpoint" -- "$bin" train translate --data "$work/data" --out "$work/full" --resume --steps 12 --d-model 64
expect 1 "train.en" -- "$bin" train translate --data "$work/nodata" --out "$work/y" --steps 1
expect 2 "positions" -- "$bin" train translate --positions rotary --steps 1
expect 1 "eval translate" -- "$bin" eval --model "$work/full/checkpoint.safetensors"
echo "translate smoke: train, resume, translate, eval translate and the errors all as expected"
