#!/usr/bin/python3
"""Builds the byte-level long-document task of docs/long-documents.md (stdlib only):

  data/spam_bytes/{train,valid,test}.bin   SpamAssassin e-mail as raw bytes -> spam / ham

An example is the message's raw bytes with every header except Subject removed: the Subject
header line(s) as they are, a blank line, then the body untouched (MIME parts, HTML, base64,
quoted-printable, any charset). The other headers leak the label (spam-trap addresses,
SpamAssassin's own X-Spam-* headers, the list servers of the ham), as in data/spam/*.tsv. The
split of an example is that of data/spam (SHA-256 of the file name, 80/10/10); byte-identical
examples are kept once (all dropped when their labels disagree). The model reads the first 4,096
or 8,192 bytes (padded or truncated there, not here).

File format: the line "cformer-bytes-v1", then per example the line "<label> <n>" (label ham or
spam, n the byte count), the n bytes, and a newline. Usage: make_spam_bytes.py SPAM_DATA_DIR OUT_DIR
"""
import collections
import os
import sys

from make_classification import SPAM_GROUPS, SPLITS, split_of


def strip_headers(raw):
    raw = raw.replace(b"\r\n", b"\n")
    head, sep, body = raw.partition(b"\n\n")
    if not sep:
        head, body = raw, b""
    lines = head.split(b"\n")
    keep = []
    for i, line in enumerate(lines):
        if line.lower().startswith(b"subject:"):
            keep.append(line)
            for cont in lines[i + 1:]:  # folded header lines start with white space
                if not cont[:1].isspace():
                    break
                keep.append(cont)
            break
    return b"\n".join(keep) + b"\n\n" + body


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1].strip())
    spam_dir, out_dir = sys.argv[1:]
    examples = []
    for group, label in SPAM_GROUPS:
        directory = os.path.join(spam_dir, group)
        for name in sorted(os.listdir(directory)):
            if name.endswith(".txt"):
                with open(os.path.join(directory, name), "rb") as f:
                    examples.append((name[:-len(".txt")], strip_headers(f.read()), label))
    by_bytes = collections.defaultdict(list)
    for example_id, data, label in examples:
        by_bytes[data].append((example_id, label))
    kept = []
    for data, items in by_bytes.items():
        if len({label for _, label in items}) == 1:
            kept.append(min(items) + (data,))
    kept.sort()
    os.makedirs(out_dir, exist_ok=True)
    for s in SPLITS:
        rows = [(label, data) for example_id, label, data in kept if split_of(example_id) == s]
        path = os.path.join(out_dir, s + ".bin")
        with open(path + ".tmp", "wb") as f:
            f.write(b"cformer-bytes-v1\n")
            for label, data in rows:
                f.write(f"{label} {len(data)}\n".encode() + data + b"\n")
        os.replace(path + ".tmp", path)
        sizes = sorted(len(d) for _, d in rows)
        print(f"spam_bytes/{s}.bin: {len(rows)} examples ({sum(l == 'spam' for l, _ in rows)} spam), "
              f"median {sizes[len(sizes) // 2]} bytes, {sum(n > 4096 for n in sizes)} over 4096, "
              f"{sum(n > 8192 for n in sizes)} over 8192")


if __name__ == "__main__":
    main()
