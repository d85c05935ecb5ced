#!/usr/bin/env python3
"""Zero-shot book identification from the King James Bible (docs/prompting.md).

Writes, from the raw `bible -f` output (Debian bible-kjv), which starts every verse with its
reference ("Ge1:1 In the beginning ..."):
  OUT/train.txt  unlabelled language-model text: the verses of the training chapters, one a line,
                 the reference cut to the book code ("Ge In the beginning ..."), whole chapters
                 in a seeded random order;
  OUT/test.tsv   "verse<TAB>book code": PER_LABEL verses of each of the LABELS books, drawn
                 (seeded) from the held-out chapters (every HOLD_OUT-th chapter of every book),
                 which never occur in train.txt.
The split is by chapter, so no test verse (nor its neighbours) is seen in training. Deterministic
and idempotent. Usage: prompt_task.py OUT [--books Ge,Psa,Mat,Rev|all] [--labels ...]
"""
import argparse
import os
import random
import re
import subprocess
import sys

REF = re.compile(r"^([1-3]?[A-Za-z]+)(\d+):(\d+) (.*)$")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--books", default="Ge,Psa,Mat,Rev",
                    help="books whose training chapters form train.txt (comma list or 'all')")
    ap.add_argument("--labels", default="Ge,Psa,Mat,Rev", help="books of the test set")
    ap.add_argument("--hold-out", type=int, default=4, help="every N-th chapter is held out")
    ap.add_argument("--per-label", type=int, default=50, help="test verses per book")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    raw = subprocess.run(["bible", "-f", "gen1:1-rev22:21"], stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, check=True).stdout
    verses = []  # (book, chapter, text)
    for line in raw.splitlines():
        m = REF.match(line)
        if not m:
            sys.exit(f"prompt_task: unexpected line in the bible output: {line[:60]!r}")
        verses.append((m.group(1), int(m.group(2)), m.group(4)))
    books = sorted({b for b, _, _ in verses})
    labels = a.labels.split(",")
    train_books = books if a.books == "all" else a.books.split(",")
    for b in labels + train_books:
        if b not in books:
            sys.exit(f"prompt_task: unknown book code {b!r}; known: {' '.join(books)}")

    held = lambda chapter: chapter % a.hold_out == 0
    rng = random.Random(a.seed)
    # Whole chapters in a shuffled order: `cformer train gpt` validates on the last 10 % of the
    # text, which in Bible order would hold the last book (Revelation) out of training.
    chapters = {}
    for b, c, t in verses:
        if b in train_books and not held(c):
            chapters.setdefault((b, c), []).append(f"{b} {t}")
    order = list(chapters)
    rng.shuffle(order)
    train = [line for key in order for line in chapters[key]]
    test = []
    for b in labels:
        pool = [t for bb, c, t in verses if bb == b and held(c)]
        if len(pool) < a.per_label:
            sys.exit(f"prompt_task: book {b} has only {len(pool)} held-out verses")
        test += [(t, b) for t in rng.sample(pool, a.per_label)]
    rng.shuffle(test)

    os.makedirs(a.out, exist_ok=True)
    for name, lines in (("train.txt", train), ("test.tsv", [f"{t}\t{b}" for t, b in test])):
        tmp = os.path.join(a.out, name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, os.path.join(a.out, name))
    print(f"prompt_task: {len(train)} training verses ({sum(len(l) + 1 for l in train)} characters) "
          f"from {len(train_books)} books, {len(test)} held-out test verses of {','.join(labels)} "
          f"in {a.out}")


if __name__ == "__main__":
    main()
