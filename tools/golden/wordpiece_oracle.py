#!/usr/bin/env python3
"""Reference WordPiece tokenizer for tests/golden/test_wordpiece_oracle.cpp, written from the
published algorithm of Hugging Face's BertTokenizer (BasicTokenizer + WordpieceTokenizer):
  split at the special tokens written in the text ([PAD] [UNK] [CLS] [SEP] [MASK]); clean
  (drop NUL, U+FFFD, Cc/Cf except \\t\\n\\r; whitespace -> ' '); spaces around CJK ideographs;
  str.split(); per token: lower-case (one character at a time, as BertTokenizer.tokenize and the
  Rust BertNormalizer do), NFD and drop Mn; split off punctuation; then greedy longest-match-
  first WordPiece with '##', [UNK] for unsplittable words and words over 100 characters.
Bytes that are not valid UTF-8 are decoded as U+FFFD (errors='replace') and so dropped.
Usage: wordpiece_oracle.py VOCAB_TXT IN OUT [--cased]
  IN: records "<byte length>\\n<bytes>"; OUT: a JSON array with the ids of every record.
Prints the Unicode version to stderr: it must match the C++ tables."""
import json
import sys
import unicodedata

SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
CJK = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
       (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]


def is_whitespace(ch):
    return ch in ' \t\n\r' or unicodedata.category(ch) == 'Zs'


def is_control(ch):
    if ch in '\t\n\r':
        return False
    return unicodedata.category(ch) in ('Cc', 'Cf')


def is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith('P')


def is_cjk(cp):
    return any(lo <= cp <= hi for lo, hi in CJK)


def basic_tokenize(text, lower):
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or is_control(ch):
            continue
        if is_whitespace(ch):
            out.append(' ')
        elif is_cjk(cp):
            out.append(' ' + ch + ' ')
        else:
            out.append(ch)
    words = []
    for token in ''.join(out).split():
        if lower:
            token = ''.join(c.lower() for c in token)
            token = ''.join(c for c in unicodedata.normalize('NFD', token)
                            if unicodedata.category(c) != 'Mn')
        cur = []
        for ch in token:
            if is_punctuation(ch):
                if cur:
                    words.append(''.join(cur))
                    cur = []
                words.append(ch)
            else:
                cur.append(ch)
        if cur:
            words.append(''.join(cur))
    return ' '.join(words).split()


def wordpiece(word, vocab, unk):
    if len(word) > 100:
        return [unk]
    out, start = [], 0
    while start < len(word):
        end, cur = len(word), None
        while start < end:
            sub = word[start:end]
            if start > 0:
                sub = '##' + sub
            if sub in vocab:
                cur = vocab[sub]
                break
            end -= 1
        if cur is None:
            return [unk]
        out.append(cur)
        start = end
    return out


def encode(text, vocab, lower):
    ids, rest = [], text
    while rest:
        hits = [(rest.find(s), s) for s in SPECIALS if rest.find(s) >= 0]
        if not hits:
            break
        pos, s = min(hits)
        for w in basic_tokenize(rest[:pos], lower):
            ids += wordpiece(w, vocab, vocab['[UNK]'])
        ids.append(vocab[s])
        rest = rest[pos + len(s):]
    for w in basic_tokenize(rest, lower):
        ids += wordpiece(w, vocab, vocab['[UNK]'])
    return ids


def main():
    vocab_path, in_path, out_path = sys.argv[1:4]
    lower = '--cased' not in sys.argv[4:]
    with open(vocab_path, encoding='utf-8') as f:
        vocab = {t.rstrip('\n'): i for i, t in enumerate(f.readlines())}
    data = open(in_path, 'rb').read()
    texts, pos = [], 0
    while pos < len(data):
        nl = data.index(b'\n', pos)
        n = int(data[pos:nl])
        texts.append(data[nl + 1:nl + 1 + n].decode('utf-8', errors='replace'))
        pos = nl + 1 + n
    with open(out_path, 'w') as f:
        json.dump([encode(t, vocab, lower) for t in texts], f)
    print(unicodedata.unidata_version, file=sys.stderr)


if __name__ == '__main__':
    main()
