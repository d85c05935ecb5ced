#!/usr/bin/env bash
# The --attention flags of `train gpt` and `train vit|vitae` end to end: tiny models train a few
# steps with performer and block_sparse, the checkpoint records the kernel, `generate` and `eval`
# run on it, a resume with another kernel is refused, and the combinations without a meaning
# (longformer / bigbird in the causal GPT, attention dropout with a non-dense kernel, attention
# maps of performer) end with "error: ..." and a non-zero exit.
# Usage: attention_models_cli.sh CFORMER_BINARY WORKDIR
set -uo pipefail
bin="$1"
work="$2"
rm -rf "$work" && mkdir -p "$work"
source "$(dirname "$0")/lib/expect.sh"
head -c 100000 "${CFORMER_SOURCE_DIR:-.}/data/kjv.txt" > "$work/text.txt" 2>/dev/null ||
  { echo "FAIL: data/kjv.txt is missing (run scripts/setup.sh)"; exit 1; }
fm=/usr/share/datasets/fashion-mnist
[ -f "$fm/t10k-images-idx3-ubyte.gz" ] || { echo "FAIL: $fm missing (scripts/setup.sh installs dataset-fashion-mnist)"; exit 1; }

# One thread: the performer kernels parallelize over batch x heads only.
gpt=(--threads 1 train gpt --data "$work/text.txt" --preset tiny --block-size 32 --batch 4 --warmup 2 --eval-every 1000 --eval-windows 4 --checkpoint-every 2 --no-progress)
attention_of() {
  /usr/bin/python3 - "$1" <<'PY'
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    meta = json.loads(f.read(n))["__metadata__"]
print(json.loads(meta["cformer"])["config"].get("attention", {}).get("kind", "absent"))
PY
}

for k in performer block_sparse; do
  if "$bin" "${gpt[@]}" --steps 4 --attention "$k" --features 16 --sparse-block 8 --local-blocks 2 \
       --dropout 0.1 --out "$work/gpt_$k" > "$work/gpt_$k.log" 2>&1; then
    grep -q "\"kind\":\"$k\"" "$work/gpt_$k.log" || fail "train gpt --attention $k: the config line lacks the kernel"
    got=$(attention_of "$work/gpt_$k/checkpoint.safetensors" 2>&1)
    [ "$got" = "$k" ] || fail "train gpt --attention $k: the checkpoint's config has attention '$got'"
    if "$bin" --threads 1 generate "$work/gpt_$k/checkpoint.safetensors" --prompt "And God" \
         --max-new-tokens 40 --temperature 0 > "$work/gen_$k.txt" 2>&1; then
      [ "$(head -c 7 "$work/gen_$k.txt")" = "And God" ] || fail "generate ($k) printed: $(head -c 80 "$work/gen_$k.txt")"
      echo "ok: train gpt + generate with $k"
    else
      fail "generate ($k): $(cat "$work/gen_$k.txt")"
    fi
  else
    fail "train gpt --attention $k: $(tail -n 5 "$work/gpt_$k.log")"
  fi
done
if "$bin" "${gpt[@]}" --steps 6 --out "$work/gpt_performer" --resume > "$work/resume.log" 2>&1; then
  grep -q '"step":6,' "$work/gpt_performer/metrics.jsonl" || fail "resume (performer) did not reach step 6"
  echo "ok: resume a performer GPT"
else
  fail "resume (performer): $(tail -n 5 "$work/resume.log")"
fi
expect_error "resume with another kernel" "contradicts the checkpoint" \
  "${gpt[@]}" --steps 6 --attention dense --out "$work/gpt_performer" --resume
expect_error "resume with another --features alone" "contradicts the checkpoint" \
  "${gpt[@]}" --steps 6 --features 32 --out "$work/gpt_performer" --resume
expect_error "longformer in GPT" "has no causal form" "${gpt[@]}" --steps 4 --attention longformer --out "$work/bad1"
expect_error "bigbird in GPT" "no causal form" \
  "${gpt[@]}" --steps 4 --attention block_sparse --sparse-layout bigbird --out "$work/bad2"
expect_error "unknown kernel" "attention" "${gpt[@]}" --steps 4 --attention flash --out "$work/bad3"

vis=(--max-steps 3 --batch 16 --warmup 1 --val-size 100 --no-test --no-progress)
if "$bin" --threads 1 train vit "${vis[@]}" --preset tiny --attention performer --features 8 \
     --out "$work/vit" > "$work/vit.log" 2>&1; then
  got=$(attention_of "$work/vit/checkpoint.safetensors" 2>&1)
  [ "$got" = performer ] || fail "train vit --attention performer: the checkpoint's config has attention '$got'"
  if "$bin" --threads 1 eval --model "$work/vit/checkpoint.safetensors" > "$work/vit_eval.txt" 2>&1; then
    grep -qi "accuracy" "$work/vit_eval.txt" || fail "eval (vit performer) printed no accuracy"
    echo "ok: train vit + eval with performer"
  else
    fail "eval (vit performer): $(tail -n 5 "$work/vit_eval.txt")"
  fi
  expect_error "resume a performer ViT with another kernel" "contradicts the checkpoint" \
    --threads 1 train vit "${vis[@]}" --attention memory_efficient --out "$work/vit" --resume
  expect_error "attention-map of a performer ViT" "never forms" \
    attention-map --model "$work/vit/checkpoint.safetensors" --out "$work/map.png"
else
  fail "train vit --attention performer: $(tail -n 5 "$work/vit.log")"
fi
if "$bin" --threads 1 train vitae "${vis[@]}" --preset tiny --attention block_sparse --sparse-block 16 \
     --out "$work/vitae" > "$work/vitae.log" 2>&1; then
  got=$(attention_of "$work/vitae/checkpoint.safetensors" 2>&1)
  [ "$got" = block_sparse ] || fail "train vitae --attention block_sparse: the checkpoint's config has attention '$got'"
  echo "ok: train vitae with block_sparse"
else
  fail "train vitae --attention block_sparse: $(tail -n 5 "$work/vitae.log")"
fi
config=$(/usr/bin/python3 -c '
import json
print(json.dumps({"image_size": 28, "patch_size": 4, "in_chans": 1, "num_classes": 10,
  "embed_dim": 32, "depth": 2, "num_heads": 2, "mlp_ratio": 2.0, "qkv_bias": True,
  "drop_rate": 0.0, "attn_drop_rate": 0.1, "drop_path_rate": 0.0}))')
expect_error "attention dropout with performer" "set attn_drop_rate to 0" \
  --threads 1 train vit "${vis[@]}" --config "$config" --attention performer --out "$work/bad4"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "attention_models_cli: all passed"
