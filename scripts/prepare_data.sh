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
