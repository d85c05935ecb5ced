#!/usr/bin/env bash
# `cformer data listops` against an independent Python reading of the Long Range Arena's ListOps
# (lra_benchmarks/data/listops.py): every line is the LRA's to_string of a left-nested tuple
# ((((op, a0), a1), ...), "]") with "( x y )" per tuple; the Python side rebuilds the tuples from
# the parentheses, evaluates them as the LRA does (MED = int(np.median), SM = sum % 10) and checks
# the label, the length window and that the three splits are disjoint.
# Usage: listops_oracle.sh CFORMER_BINARY WORKDIR
set -euo pipefail
bin="$1"
work="$2"
rm -rf "$work" && mkdir -p "$work"
"$bin" data listops --out "$work/lo" --seed 3 --train 150 --valid 25 --test 25 > "$work/log.txt"
/usr/bin/python3 - "$work/lo" <<'PY'
import sys
import numpy as np

d = sys.argv[1]

def parse(tokens, i):
    """One node at tokens[i]: a digit, an operator, "]" or a parenthesized pair."""
    t = tokens[i]
    if t == "(":
        a, i = parse(tokens, i + 1)
        b, i = parse(tokens, i)
        assert tokens[i] == ")", f"expected ) at {i}, got {tokens[i]}"
        return (a, b), i + 1
    return (int(t) if t.isdigit() else t), i + 1

def flatten(t):
    """The LRA tree ((((op, a0), a1), ...), "]") -> (op, [args])."""
    assert isinstance(t, tuple) and t[1] == "]", t
    args, node = [], t[0]
    while isinstance(node, tuple):
        args.append(node[1])
        node = node[0]
    return node, args[::-1]

def evaluate(t):
    if isinstance(t, int):
        return t
    op, args = flatten(t)
    v = [evaluate(a) for a in args]
    return {"[MIN": min, "[MAX": max, "[MED": lambda x: int(np.median(x)),
            "[SM": lambda x: sum(x) % 10}[op](v)

def length(t):
    if isinstance(t, int):
        return 1
    op, args = flatten(t)
    return 2 + sum(length(a) for a in args)

seen = set()
n = 0
for split, count in (("train", 150), ("valid", 25), ("test", 25)):
    lines = open(f"{d}/{split}.tsv").read().split("\n")
    assert lines[0] == "Source\tTarget" and lines[-1] == "", (split, lines[0])
    rows = lines[1:-1]
    assert len(rows) == count, (split, len(rows))
    for row in rows:
        src, label = row.split("\t")
        tokens = src.split(" ")
        tree, end = parse(tokens, 0)
        assert end == len(tokens), "trailing tokens"
        assert evaluate(tree) == int(label), (src[:80], evaluate(tree), label)
        assert 500 < length(tree) < 2000, length(tree)
        assert src not in seen, "duplicate example"
        seen.add(src)
        n += 1
labels = [int(r.split("\t")[1]) for r in open(f"{d}/train.tsv").read().split("\n")[1:-1]]
assert len(set(labels)) >= 6, sorted(set(labels))
print(f"listops oracle: {n} examples agree with the LRA reading")
PY
