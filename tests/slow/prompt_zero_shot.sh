#!/usr/bin/env bash
# Zero-shot prompting beats chance: a tiny GPT trained only as a language model on the raw KJV
# lines of the training chapters of Genesis, Psalms, Matthew and Revelation ("Ge In the
# beginning ...") names the book of 300 verses from held-out chapters (75 a book) by scoring
# "\n{label} {text}" for each book code; the accuracy must beat chance (0.25) with an exact
# one-sided binomial p < 0.01. About 30 s of one core. Usage: prompt_zero_shot.sh CFORMER WORKDIR
set -euo pipefail
bin="$1"
work="$2"
src="${CFORMER_SOURCE_DIR:-.}"
rm -rf "$work" && mkdir -p "$work"
command -v bible > /dev/null || { echo "prompt test: 'bible' (Debian bible-kjv) is missing; run scripts/setup.sh"; exit 1; }
/usr/bin/python3 "$src/tools/data/prompt_task.py" "$work/data" --per-label 75
# One thread: no OpenMP threads spinning against each other on a loaded machine.
nice -n 19 "$bin" --threads 1 train gpt --data "$work/data/train.txt" --out "$work/gpt" --preset tiny \
  --block-size 128 --steps 2000 --batch 16 --lr 3e-3 --warmup 20 --eval-every 100000 \
  --checkpoint-every 100000 --seed 1 --no-progress
common=(--model "$work/gpt/checkpoint.safetensors" --prompt-template '\n{label} {text}' --labels Ge,Psa,Mat,Rev)
out=$(nice -n 19 "$bin" --threads 1 prompt-classify "${common[@]}" --data "$work/data/test.tsv")
echo "$out"

# The p-value again, independently of cformer, from the counts it printed.
/usr/bin/python3 - "$out" <<'PY'
import math, re, sys
m = re.search(r"examples (\d+), correct (\d+), accuracy ([0-9.]+), chance ([0-9.]+), p-value ([0-9.e+-]+)", sys.argv[1])
if not m:
    sys.exit("prompt test: no accuracy line in the output")
n, k, acc, chance, p_cli = int(m[1]), int(m[2]), float(m[3]), float(m[4]), float(m[5])
assert n == 300 and chance == 0.25, (n, chance)
p = sum(math.comb(n, i) * 0.25**i * 0.75**(n - i) for i in range(k, n + 1))
print(f"accuracy {k}/{n} = {k / n:.3f}, chance 0.25, exact one-sided binomial p = {p:.3g}")
assert abs(p - p_cli) <= 0.01 * p, f"cformer printed p = {p_cli}, expected {p}"
assert p < 0.01, f"zero-shot accuracy {k}/{n} is not significantly above chance (p = {p:.3g})"
PY

# --input prints one label a line.
head -5 "$work/data/test.tsv" | cut -f1 > "$work/texts.txt"
labels=$(nice -n 19 "$bin" --threads 1 prompt-classify "${common[@]}" --input "$work/texts.txt")
[ "$(grep -cxE 'Ge|Psa|Mat|Rev' <<<"$labels")" -eq 5 ] || { echo "prompt test: --input printed: $labels"; exit 1; }

# Bad input ends with "error: ..." naming the problem.
expect_error() {  # expect_error "expected message part" args...
  local want="$1" out rc=0
  shift
  out=$("$bin" --threads 1 prompt-classify "$@" 2>&1 >/dev/null) || rc=$?
  if [ "$rc" -eq 0 ] || [ "$rc" -ge 128 ] || ! grep -q "^error: .*$want" <<<"$out"; then
    echo "prompt test: expected an error with '$want' (exit $rc): $out"
    exit 1
  fi
}
model=(--model "$work/gpt/checkpoint.safetensors")
expect_error "{text} exactly once" "${model[@]}" --prompt-template 'no text' --labels a,b --input "$work/texts.txt"
expect_error "at least 2 labels" "${model[@]}" --prompt-template '{text}:' --labels a --input "$work/texts.txt"
expect_error "given twice" "${model[@]}" --prompt-template '{text}:' --labels a,b,a --input "$work/texts.txt"
expect_error "nothing before" "${model[@]}" --prompt-template '{label}{text}' --labels a,b --input "$work/texts.txt"
expect_error "not one of --labels" "${common[@]:0:4}" --labels Ge,Psa --data "$work/data/test.tsv"
expect_error "--data TSV or --input" "${common[@]}"
expect_error "cannot open" "${common[@]}" --input "$work/none.txt"
echo "ok"
