#!/usr/bin/env bash
# The image-classifier commands end to end on real Fashion-MNIST with tiny models: train vit and
# cnn for a few steps, `eval` prints accuracy, per-class accuracy and the confusion matrix (and
# JSON that agrees with them), `attention-map` writes a PNG, and bad input (truncated or
# wrong-magic IDX files, a text TSV for an image model, a CNN for attention-map, a missing
# checkpoint) ends with "error: ..." and a non-zero exit, never a crash.
# Usage: vision_cli.sh CFORMER_BINARY WORKDIR
set -uo pipefail
bin="$1"
work="$2"
rm -rf "$work" && mkdir -p "$work"
source "$(dirname "$0")/lib/expect.sh"
fm=/usr/share/datasets/fashion-mnist
[ -f "$fm/t10k-images-idx3-ubyte.gz" ] || { echo "FAIL: $fm missing (scripts/setup.sh installs dataset-fashion-mnist)"; exit 1; }

for m in vit cnn; do
  "$bin" --threads 2 train "$m" --preset tiny --max-steps 30 --batch 32 --warmup 5 --lr 3e-3 \
    --val-size 500 --out "$work/$m" --no-progress --no-test > "$work/$m.log" 2>&1 ||
    { fail "train $m"; cat "$work/$m.log"; }
  [ -f "$work/$m/checkpoint.safetensors" ] || fail "train $m wrote no checkpoint"
done

# eval on an image checkpoint: the test split of the dataset it was trained on.
if "$bin" eval --model "$work/cnn/checkpoint.safetensors" --json "$work/cnn.json" > "$work/eval.txt" 2>&1; then
  grep -q "t10k\|test, 10000 images" "$work/eval.txt" || fail "eval did not use the 10000 test images: $(head -n 3 "$work/eval.txt")"
  grep -q "per-class accuracy" "$work/eval.txt" || fail "eval printed no per-class accuracy"
  grep -q "Ankle boot" "$work/eval.txt" || fail "eval printed no class names"
  grep -qi "confusion" "$work/eval.txt" || fail "eval printed no confusion matrix"
  /usr/bin/python3 - "$work/cnn.json" "$work/eval.txt" <<'PY' || fail "eval JSON inconsistent"
import json, re, sys
j = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
conf = j["confusion"]
assert len(conf) == 10 and all(len(r) == 10 for r in conf), "confusion is not 10x10"
n = sum(map(sum, conf))
assert n == j["n"] == 10000, (n, j["n"])
acc = sum(conf[i][i] for i in range(10)) / n
assert abs(acc - j["accuracy"]) < 1e-9, (acc, j["accuracy"])
assert acc > 0.3, f"tiny CNN after 30 steps should beat chance clearly, got {acc}"
for i, c in enumerate(j["per_class"]):
    assert c["support"] == sum(conf[i]) == 1000, c
    assert abs(c["accuracy"] - conf[i][i] / 1000) < 1e-9, c
m = re.search(r"accuracy\D*([0-9.]+)", text)
print("eval accuracy", j["accuracy"])
PY
else
  fail "eval on an image checkpoint: $(cat "$work/eval.txt")"
fi

# attention-map: a PNG (signature) of image + rollout.
if "$bin" attention-map --model "$work/vit/checkpoint.safetensors" --index 3 --out "$work/attn.png" > "$work/attn.txt" 2>&1; then
  head -c 8 "$work/attn.png" | od -An -tx1 | grep -q "89 50 4e 47 0d 0a 1a 0a" || fail "attention-map wrote no PNG"
else
  fail "attention-map: $(cat "$work/attn.txt")"
fi

# Bad input.
mkdir -p "$work/bad"
zcat "$fm/t10k-images-idx3-ubyte.gz" | head -c 5000 > "$work/bad/t10k-images-idx3-ubyte"
cp "$fm/t10k-labels-idx1-ubyte.gz" "$work/bad/"
expect_error "truncated IDX images" "t10k-images" eval --model "$work/cnn/checkpoint.safetensors" --data-dir "$work/bad"
mkdir -p "$work/magic"
zcat "$fm/t10k-images-idx3-ubyte.gz" | { printf '\x00\x00\x09\x03'; tail -c +5; } > "$work/magic/t10k-images-idx3-ubyte"
cp "$fm/t10k-labels-idx1-ubyte.gz" "$work/magic/"
expect_error "wrong IDX magic" "magic" eval --model "$work/cnn/checkpoint.safetensors" --data-dir "$work/magic"
expect_error "missing dataset files" "missing" eval --model "$work/cnn/checkpoint.safetensors" --data-dir "$work/nothing"
printf 'a text\tlabel\n' > "$work/t.tsv"
expect_error "a TSV for an image model" "image classifier" eval --model "$work/cnn/checkpoint.safetensors" --data "$work/t.tsv"
expect_error "attention-map of a CNN" "vit" attention-map --model "$work/cnn/checkpoint.safetensors" --out "$work/x.png"
expect_error "missing checkpoint" "cannot open" eval --model "$work/none.safetensors"
expect_error "image index out of range" "index" attention-map --model "$work/vit/checkpoint.safetensors" --index 10000 --out "$work/y.png"
expect_error "unknown preset" "preset" train vitae --preset huge --max-steps 1 --out "$work/p"
expect_error "patch size does not divide the image" "divisible" train vit --config '{"attn_drop_rate":0.0,"depth":1,"drop_path_rate":0.0,"drop_rate":0.0,"embed_dim":16,"image_size":28,"in_chans":1,"mlp_ratio":2.0,"num_classes":10,"num_heads":2,"patch_size":5,"qkv_bias":true}' --max-steps 1 --out "$work/q" --no-progress

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all vision CLI checks passed"
