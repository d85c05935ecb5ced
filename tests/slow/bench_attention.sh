#!/usr/bin/env bash
# `cformer bench attention` at tiny sizes (a few seconds): every row runs, the markdown tables are
# written, the memory prediction stops a row before it runs a length over the budget, the time
# prediction skips a length, --accuracy fills the summary, and bad flags fail with an error naming
# the flag. Usage: bench_attention.sh CFORMER_BINARY WORKDIR
set -uo pipefail
bin="$1"
work="$2"
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
expect_error() {  # expect_error "expected message part" args...
  local want="$1"
  shift
  local out rc
  out=$("$bin" bench attention "$@" 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" -eq 0 ] || [ "$rc" -ge 128 ] || ! grep -q "^error: " <<<"$out" || ! grep -q -- "$want" <<<"$out"; then
    fail "bench attention $* (exit $rc): $out"
  else
    echo "ok: $* -> $(grep '^error: ' <<<"$out" | head -1)"
  fi
}

printf '{"longformer": "53.5 (ListOps)", "performer": 51.4}\n' > "$work/acc.json"
# Budget 0.012 GiB: parameters + gradients of the MoE block alone (34 MiB) exceed it, so that row
# is predicted over the budget before its first length; Longformer fits at 128 (10.7 MiB) and is
# predicted over it at 256.
"$bin" bench attention --lengths 64,128 --max-search 256 --budget-gib 0.012 --repeats 1 \
  --threads 1 --rows naive,memory-efficient,longformer,bigbird,sparse-fixed,performer,moe \
  --accuracy "$work/acc.json" --out "$work/table.md" > "$work/stdout.txt" 2>&1 ||
  fail "a tiny benchmark run failed: $(tail -5 "$work/stdout.txt")"
md="$work/table.md"
[ -s "$md" ] || fail "no markdown written to --out"
for want in "GEMM backend: " "threads: 1" "## N = 64" "## N = 128" "## Summary" \
  "| architecture | max length (0.012 GiB) | memory at 128 | speed at 128 vs naive | accuracy |"; do
  grep -qF -- "$want" "$md" || fail "the tables lack '$want'"
done
row() { grep -F "| $1" "$md" | tail -1; }  # the summary line of a row
grep -qE '^\| full attention \(naive, \(N, N\) scores\) \| [0-9.]+ \| [0-9.]+ \| 1\.00x \|$' "$md" ||
  fail "the naive row of a length table is not 'ms | MiB | 1.00x'"
row Longformer | grep -qF "| 128 (256 predicted" || fail "Longformer: no predicted stop: $(row Longformer)"
row Longformer | grep -qF "53.5 (ListOps)" || fail "Longformer: accuracy not merged: $(row Longformer)"
row Performer | grep -qF "| 51.4 |" || fail "Performer: numeric accuracy not merged: $(row Performer)"
row "BigBird" | grep -qF "| n/a |" || fail "BigBird: accuracy should be n/a: $(row BigBird)"
row "MoE" | grep -qF "< 64 (64 predicted" || fail "MoE: not stopped before its first length: $(row MoE)"
grep -qF "not run: predicted" "$md" || fail "no 'not run: predicted' cell in the length tables"
grep -q "predicted peak .* MiB > budget: not run" "$work/stdout.txt" || fail "no predicted-stop line on stdout"
for name in "exact memory-efficient" "BigBird" "Sparse Transformer fixed" "Performer" "MoE FFN"; do
  grep -qF "| $name" "$md" || fail "row $name missing"
done

# The time prediction: with a 1 microsecond limit every length after the first is skipped.
"$bin" bench attention --lengths 64,128 --max-search 128 --max-seconds 0.000001 --repeats 1 \
  --threads 1 --rows bigbird > "$work/skip.txt" 2>&1 || fail "the time-limited run failed"
grep -qF "skipped (predicted" "$work/skip.txt" || fail "no 'skipped (predicted X s)' cell: $(cat "$work/skip.txt")"
grep -qF ">= 64 (128 skipped: predicted" "$work/skip.txt" || fail "the summary does not report the time skip"

expect_error "--repeats" --repeats 0
expect_error "--lengths" --lengths 0,64
expect_error "--lengths" --lengths 64,abc
expect_error "--rows" --rows naive,bogus
expect_error "--budget-gib" --budget-gib 0
expect_error "--budget-gib" --budget-gib -1
expect_error "--max-search" --max-search 0
expect_error "--max-seconds" --max-seconds abc
expect_error "--threads" --threads 0
expect_error "--accuracy" --lengths 64 --rows naive --accuracy "$work/missing.json"
printf '{"bogus-row": "1"}' > "$work/bad_row.json"
expect_error "--accuracy: unknown row 'bogus-row'" --lengths 64 --rows naive --accuracy "$work/bad_row.json"
printf '[1, 2]' > "$work/not_object.json"
expect_error "--accuracy" --lengths 64 --rows naive --accuracy "$work/not_object.json"
expect_error "--max-search must be <=" --lengths 64 --rows naive --max-search 999999999
expect_error "not expected: --bogus" --bogus
echo "$failures failed"
[ "$failures" -eq 0 ]
