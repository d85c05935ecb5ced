# Tiny deterministic corpora for the slow CLI tests (source this file).
# tiny_words: the 17-word vocabulary; tiny_text FILE: 300 six-word lines with a blank line every
# 20 (documents for BERT pre-training); tiny_sentiment DIR: DIR/train.tsv and DIR/valid.tsv, 40
# "a good|bad WORD day<TAB>pos|neg" lines each.
words=(the cat sat on a mat and dog ran far away from home while birds sang in trees)
tiny_text() {
  local i
  for i in $(seq 1 300); do
    echo "${words[$((i % 17))]} ${words[$((i * 7 % 17))]} ${words[$((i * 3 % 17))]} ${words[$((i * 5 % 17))]} ${words[$((i * 11 % 17))]} ${words[$((i * 13 % 17))]}"
    [ $((i % 20)) -eq 0 ] && echo
  done > "$1"
}
tiny_sentiment() {
  local split i
  for split in train valid; do
    for i in $(seq 1 40); do
      if [ $((i % 2)) -eq 0 ]; then printf 'a good %s day\tpos\n' "${words[$((i % 17))]}"; else printf 'a bad %s day\tneg\n' "${words[$((i % 17))]}"; fi
    done > "$1/$split.tsv"
  done
}
