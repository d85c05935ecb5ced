#!/usr/bin/env bash
# The --attention flags of `train bert`, `finetune bert` and `train translate` (with its
# --decoder-attention and --cross-attention): tiny runs with
# performer and block_sparse / longformer kernels train, save their kernel buffers, resume exactly
# (performer runs killed or stopped, then --resume, log the uninterrupted run's losses), and the
# checkpoints serve eval / classify / translate; bad combinations end with "error: ..." and a
# non-zero exit code. Usage: attention_bert_translate.sh CFORMER_BINARY WORKDIR
set -uo pipefail
bin="$1"
work="$2"
rm -rf "$work" && mkdir -p "$work/tr"
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/tiny_text.sh"
tiny_text "$work/text.txt"
tiny_sentiment "$work"
# A toy parallel corpus: the "French" side is the English words reversed.
for split in train valid; do
  n=$([ "$split" = train ] && echo 200 || echo 12)
  for i in $(seq 1 "$n"); do
    echo "${words[$((i % 17))]} ${words[$((i * 7 % 17))]} ${words[$((i * 3 % 17))]}" >> "$work/tr/$split.en"
    echo "${words[$((i * 3 % 17))]} ${words[$((i * 7 % 17))]} ${words[$((i % 17))]}" >> "$work/tr/$split.fr"
  done
done
# has_tensor FILE NAME: the safetensors header of FILE names a tensor NAME (checkpoints prefix
# the model's tensors with "model.").
has_tensor() {
  /usr/bin/python3 -c "
import json, struct, sys
b = open(sys.argv[1], 'rb').read(); n = struct.unpack('<Q', b[:8])[0]
sys.exit(0 if sys.argv[2] in json.loads(b[8:8 + n]) else 1)" "$1" "$2"
}

# same_step_losses FULL PART N: the metrics.jsonl files FULL and PART log a loss for steps 1..N
# exactly (the last record of a step counts), and the same losses.
same_step_losses() {
  /usr/bin/python3 - "$1" "$2" "$3" <<'PY'
import json, sys
def losses(f):
    last = {}
    for line in open(f):
        r = json.loads(line)
        if "loss" in r and "step" in r:
            last[r["step"]] = r["loss"]
    return last
a, b = losses(sys.argv[1]), losses(sys.argv[2])
sys.exit(0 if sorted(a) == list(range(1, int(sys.argv[3]) + 1)) and a == b else 1)
PY
}

tb=(train bert --no-progress --preset tiny --batch 4 --max-len 32 --eval-examples 4 --data "$work/text.txt")
"$bin" "${tb[@]}" --vocab-size 80 --steps 2 --attention performer --features 8 --redraw-interval 1 \
  --out "$work/perf" > "$work/perf.log" || fail "train bert --attention performer failed"
grep -q '"kind":"performer"' "$work/perf.log" || fail "the performer run's config does not name its kernel"
has_tensor "$work/perf/checkpoint.safetensors" model.bert.encoder.layer.1.attention.self.kernel.projection_matrix ||
  fail "the performer checkpoint has no projection_matrix buffer"
"$bin" "${tb[@]}" --steps 3 --resume --out "$work/perf" > /dev/null || fail "resuming the performer run failed"
# kill -9 mid-run then --resume (projections redrawn every step, so their generators must be
# restored): per-step losses equal to an uninterrupted run's.
pc=("${tb[@]}" --tokenizer "$work/perf/vocab.txt" --steps 40 --warmup 2 --eval-every 1000
    --checkpoint-every 5 --log-every 1 --attention performer --features 8 --redraw-interval 1)
"$bin" --threads 2 "${pc[@]}" --out "$work/pfull" > /dev/null || fail "the uninterrupted performer run failed"
"$bin" --threads 2 "${pc[@]}" --out "$work/pkilled" > /dev/null &
pid=$!
for _ in $(seq 1 3000); do
  [ -f "$work/pkilled/metrics.jsonl" ] && grep -q '"step":12,' "$work/pkilled/metrics.jsonl" && break
  sleep 0.02
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
if grep -q '"step":40,' "$work/pkilled/metrics.jsonl"; then
  fail "performer resume: the run finished before the kill"
else
  "$bin" --threads 2 "${pc[@]}" --out "$work/pkilled" --resume > /dev/null || fail "the resumed performer run failed"
  same_step_losses "$work/pfull/metrics.jsonl" "$work/pkilled/metrics.jsonl" 40 ||
    fail "performer resume after kill -9: the losses differ from the uninterrupted run"
fi
"$bin" "${tb[@]}" --vocab-size 80 --steps 2 --attention block_sparse --sparse-block 8 --local-blocks 2 \
  --out "$work/bs" > /dev/null || fail "train bert --attention block_sparse failed"
has_tensor "$work/bs/checkpoint.safetensors" model.bert.encoder.layer.0.attention.self.kernel.layout ||
  fail "the block_sparse checkpoint has no layout buffer"
expect_error "train bert: performer with attention dropout" "--attention-dropout 0" \
  "${tb[@]}" --vocab-size 80 --steps 1 --dropout 0.1 --attention performer --out "$work/e1"
"$bin" "${tb[@]}" --vocab-size 80 --steps 1 --dropout 0.1 --attention-dropout 0 --attention memory_efficient \
  --out "$work/me" > /dev/null || fail "train bert --dropout 0.1 --attention-dropout 0 --attention memory_efficient failed"
expect_error "train bert: resume with another kernel" "contradicts" \
  "${tb[@]}" --steps 4 --resume --attention memory_efficient --out "$work/perf"
expect_error "train bert: resume with another --features alone" "contradicts" \
  "${tb[@]}" --steps 4 --resume --features 16 --out "$work/perf"
expect_error "train bert: odd longformer window" "attention_window" \
  "${tb[@]}" --vocab-size 80 --steps 1 --attention longformer --window 5 --out "$work/e2"

ft=(finetune bert --no-progress --max-len 16 --batch 8 --epochs 1 --train "$work/train.tsv" --valid "$work/valid.tsv")
"$bin" "${ft[@]}" --init "$work/perf/checkpoint.safetensors" --out "$work/ft" > /dev/null ||
  fail "fine-tuning the performer checkpoint failed"
has_tensor "$work/ft/model.safetensors" model.bert.encoder.layer.0.attention.self.kernel.projection_matrix ||
  fail "the fine-tuned classifier lost the performer kernel"
"$bin" eval --model "$work/ft/model.safetensors" --data "$work/valid.tsv" > "$work/eval.txt" ||
  fail "eval of the performer classifier failed"
printf 'a good cat day\na bad dog day\n' | "$bin" classify --model "$work/ft/model.safetensors" > "$work/cls.txt" ||
  fail "classify with the performer classifier failed"
[ "$(wc -l < "$work/cls.txt")" -eq 2 ] || fail "classify printed $(wc -l < "$work/cls.txt") lines for 2 texts"
"$bin" "${ft[@]}" --preset tiny --vocab-size 60 --attention longformer --window 4 --out "$work/ft_lf" > /dev/null ||
  fail "fine-tuning from scratch with --attention longformer failed"
expect_error "finetune: --attention with --init" "--attention" \
  "${ft[@]}" --init "$work/perf/checkpoint.safetensors" --attention memory_efficient --out "$work/e3"

tt=(train translate --data "$work/tr" --vocab-size 300 --d-model 16 --heads 2 --enc-layers 1 --dec-layers 1
    --ff 32 --max-positions 64 --max-len 48 --batch-tokens 256 --warmup 2 --eval-every 3
    --val-bleu-sentences 4 --log-every 1 --no-progress --seed 3)
"$bin" "${tt[@]}" --steps 3 --attention performer --features 8 --out "$work/tperf" > /dev/null ||
  fail "train translate --attention performer failed"
has_tensor "$work/tperf/checkpoint.safetensors" model.transformer.encoder.layers.0.self_attn.kernel.projection_matrix ||
  fail "the translation checkpoint has no encoder projection_matrix buffer"
"$bin" "${tt[@]}" --steps 3 --attention block_sparse --sparse-block 8 --sparse-layout bigbird \
  --window-blocks 3 --global-blocks 1 --random-blocks 1 --out "$work/tbs" > /dev/null ||
  fail "train translate --attention block_sparse (bigbird) failed"
# --resume of a performer run (projections redrawn every step) gives the uninterrupted run's losses.
"$bin" "${tt[@]}" --steps 8 --attention performer --features 8 --redraw-interval 1 --out "$work/tp_full" > /dev/null ||
  fail "the uninterrupted translate performer run failed"
"$bin" "${tt[@]}" --steps 4 --attention performer --features 8 --redraw-interval 1 --out "$work/tp_part" > /dev/null &&
  "$bin" "${tt[@]}" --steps 8 --resume --out "$work/tp_part" > /dev/null || fail "the resumed translate performer run failed"
same_step_losses "$work/tp_full/metrics.jsonl" "$work/tp_part/metrics.jsonl" 8 ||
  fail "translate performer resume: the losses differ from the uninterrupted run"
head -n 3 "$work/tr/valid.en" | "$bin" translate --model "$work/tperf" --beam 2 > "$work/tout.txt" ||
  fail "translate with the performer model failed"
[ "$(wc -l < "$work/tout.txt")" -eq 3 ] || fail "translate wrote $(wc -l < "$work/tout.txt") lines for 3"
"$bin" eval translate --model "$work/tbs" --data "$work/tr" --split valid --limit 4 > "$work/teval.txt" ||
  fail "eval translate with the block_sparse model failed"
grep -q "^BLEU = " "$work/teval.txt" || fail "eval translate printed no BLEU line"
expect_error "train translate: odd longformer window" "attention_window" \
  "${tt[@]}" --steps 1 --attention longformer --window 3 --out "$work/e4"
expect_error "train translate: resume with another kernel" "contradicts" \
  "${tt[@]}" --steps 4 --resume --attention dense --out "$work/tperf"
expect_error "train translate: resume with another --features alone" "contradicts" \
  "${tt[@]}" --steps 4 --resume --features 16 --out "$work/tperf"

# The decoder's kernels: performer self- and cross-attention (shape flags shared with the
# encoder's), their projections saved, an exact resume (redrawn every step), translate and eval.
td=("${tt[@]}" --decoder-attention performer --cross-attention performer --features 8 --redraw-interval 1)
"$bin" "${td[@]}" --steps 6 --out "$work/td_full" > "$work/td_full.log" ||
  fail "train translate --decoder-attention performer --cross-attention performer failed"
grep -q '"decoder_attention":{"kind":"performer","nb_features":8' "$work/td_full.log" ||
  fail "the decoder performer run's config does not name its decoder kernel"
grep -q '"cross_attention":{"kind":"performer","nb_features":8' "$work/td_full.log" ||
  fail "the decoder performer run's config does not name its cross kernel"
for t in model.transformer.decoder.layers.0.self_attn.kernel.projection_matrix \
         model.transformer.decoder.layers.0.multihead_attn.kernel.projection_matrix; do
  has_tensor "$work/td_full/checkpoint.safetensors" "$t" || fail "the decoder performer checkpoint has no $t"
done
"$bin" "${td[@]}" --steps 3 --out "$work/td_part" > /dev/null &&
  "$bin" "${tt[@]}" --steps 6 --resume --out "$work/td_part" > /dev/null ||
  fail "the resumed decoder performer run failed"
same_step_losses "$work/td_full/metrics.jsonl" "$work/td_part/metrics.jsonl" 6 ||
  fail "decoder performer resume: the losses differ from the uninterrupted run"
head -n 3 "$work/tr/valid.en" | "$bin" translate --model "$work/td_part" --beam 2 > "$work/tdout.txt" ||
  fail "translate with the decoder performer model failed"
[ "$(wc -l < "$work/tdout.txt")" -eq 3 ] || fail "translate wrote $(wc -l < "$work/tdout.txt") lines for 3"
"$bin" eval translate --model "$work/td_part" --data "$work/tr" --split valid --limit 4 > "$work/tdeval.txt" ||
  fail "eval translate with the decoder performer model failed"
grep -q "^BLEU = " "$work/tdeval.txt" || fail "eval translate (decoder performer) printed no BLEU line"
"$bin" "${tt[@]}" --steps 2 --decoder-attention block_sparse --sparse-block 8 --cross-attention memory_efficient \
  --out "$work/tdbs" > /dev/null || fail "train translate --decoder-attention block_sparse failed"
has_tensor "$work/tdbs/checkpoint.safetensors" model.transformer.decoder.layers.0.self_attn.kernel.layout ||
  fail "the decoder block_sparse checkpoint has no layout buffer"
head -n 2 "$work/tr/valid.en" | "$bin" translate --model "$work/tdbs" > /dev/null ||
  fail "translate with the decoder block_sparse model failed"
expect_error "train translate: --cross-attention longformer" "cross_attention (--cross-attention) must be dense, memory_efficient or performer" \
  "${tt[@]}" --steps 1 --cross-attention longformer --out "$work/e5"
expect_error "train translate: --decoder-attention longformer" "--decoder-attention) longformer has no causal form" \
  "${tt[@]}" --steps 1 --decoder-attention longformer --out "$work/e6"
expect_error "train translate: resume with another decoder kernel" "--decoder-attention" \
  "${tt[@]}" --steps 8 --resume --decoder-attention dense --out "$work/td_part"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "attention_bert_translate: all checks passed"
