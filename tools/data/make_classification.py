#!/usr/bin/python3
"""Builds the text-classification data sets of docs/classification.md (stdlib only).

  data/wordnet/{train,valid,test}.tsv  WordNet 3.0 gloss -> lexicographer file (45 classes)
  data/spam/{train,valid,test}.tsv     SpamAssassin e-mail (Subject + body) -> spam / ham
  data/bert/pretrain.txt               the train texts of both tasks, one a line (MLM pretraining)

Each example has a stable id (WordNet: synset offset + part of speech, e.g. "00001740v";
SpamAssassin: the file name, e.g. "00001.7848dde101aa985090474a91ec93fcf0"). Its split is fixed
by the first 8 bytes of SHA-256(id) modulo 10: 0-7 train, 8 valid, 9 test. Texts that occur more
than once are kept once (the smallest id) and dropped altogether when their labels disagree, so
no text is in two splits. Usage: make_classification.py WORDNET_DIR SPAM_DATA_DIR OUT_DIR
"""
import collections
import hashlib
import os
import re
import sys

# WordNet 3.0 lexnames: lexicographer file number -> name.
LEXNAMES = [
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
    "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
    "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather", "adj.ppl",
]
WORDNET_FILES = [("noun", "n"), ("verb", "v"), ("adj", "a"), ("adv", "r")]
SPAM_GROUPS = [("easy-ham-1", "ham"), ("easy-ham-2", "ham"), ("hard-ham-1", "ham"),
               ("spam-1", "spam"), ("spam-2", "spam")]
SPAM_MAX_CHARS = 4000
SPLITS = ("train", "valid", "test")
WHITESPACE = re.compile(r"\s+")


def split_of(example_id):
    bucket = int.from_bytes(hashlib.sha256(example_id.encode()).digest()[:8], "big") % 10
    return "train" if bucket < 8 else ("valid" if bucket == 8 else "test")


def clean(text):
    return WHITESPACE.sub(" ", text).strip()


def wordnet_examples(wordnet_dir):
    """(id, text, label) for every synset: text = the gloss, label = the lexicographer file."""
    out = []
    for name, pos in WORDNET_FILES:
        with open(os.path.join(wordnet_dir, "data." + name), encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                if line.startswith("  "):  # the licence header
                    continue
                fields = line.split(" ", 3)
                bar = line.find("| ")
                if len(fields) < 4 or bar < 0 or not fields[1].isdigit():
                    sys.exit(f"make_classification: data.{name}:{line_no}: not a synset line")
                lex = int(fields[1])
                if lex >= len(LEXNAMES):
                    sys.exit(f"make_classification: data.{name}:{line_no}: lexicographer file {lex}")
                out.append((fields[0] + pos, clean(line[bar + 2:]), LEXNAMES[lex]))
    return out


def spam_text(raw):
    """Subject + body of one RFC 822 message; the other headers are dropped (they leak the label:
    spam-trap addresses, SpamAssassin's own X-Spam-* headers, the list servers of the ham)."""
    text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n")
    head, _, body = text.partition("\n\n")
    subject = ""
    lines = head.split("\n")
    for i, line in enumerate(lines):
        if line.lower().startswith("subject:"):
            subject = line[len("subject:"):]
            for cont in lines[i + 1:]:  # folded header lines start with white space
                if not cont[:1].isspace():
                    break
                subject += " " + cont
            break
    return clean(clean(subject) + " " + body)[:SPAM_MAX_CHARS].strip()


def spam_examples(spam_dir):
    out = []
    for group, label in SPAM_GROUPS:
        directory = os.path.join(spam_dir, group)
        for name in sorted(os.listdir(directory)):
            if not name.endswith(".txt"):
                continue
            with open(os.path.join(directory, name), "rb") as f:
                out.append((name[:-len(".txt")], spam_text(f.read()), label))
    return out


def deduplicate(examples):
    """Drops empty texts and repeated texts (all copies when their labels disagree)."""
    by_text = collections.defaultdict(list)
    for example_id, text, label in examples:
        if text:
            by_text[text].append((example_id, label))
    kept, stats = [], collections.Counter(empty=sum(1 for e in examples if not e[1]))
    for text, items in by_text.items():
        if len({label for _, label in items}) > 1:
            stats["conflicting"] += len(items)
            continue
        stats["duplicate"] += len(items) - 1
        example_id, label = min(items)
        kept.append((example_id, text, label))
    kept.sort()
    return kept, stats


def write_task(out_dir, task, examples, pretrain):
    kept, stats = deduplicate(examples)
    os.makedirs(os.path.join(out_dir, task), exist_ok=True)
    rows = {s: [] for s in SPLITS}
    for example_id, text, label in kept:
        rows[split_of(example_id)].append((text, label))
    for s in SPLITS:
        path = os.path.join(out_dir, task, s + ".tsv")
        with open(path + ".tmp", "w", encoding="utf-8", newline="\n") as f:
            f.writelines(f"{text}\t{label}\n" for text, label in rows[s])
        os.replace(path + ".tmp", path)
    pretrain.extend(text for text, _ in rows["train"])
    print(f"{task}: {len(examples)} examples read, {stats['empty']} empty, {stats['duplicate']} "
          f"duplicates and {stats['conflicting']} with conflicting labels dropped")
    labels = sorted({label for _, _, label in kept})
    print(f"  {'label':<20}" + "".join(f"{s:>8}" for s in SPLITS))
    for label in labels + ["(all)"]:
        counts = [sum(1 for _, l in rows[s] if label in (l, "(all)")) for s in SPLITS]
        print(f"  {label:<20}" + "".join(f"{c:>8}" for c in counts))


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[-1].strip())
    wordnet_dir, spam_dir, out_dir = sys.argv[1:]
    pretrain = []
    write_task(out_dir, "wordnet", wordnet_examples(wordnet_dir), pretrain)
    write_task(out_dir, "spam", spam_examples(spam_dir), pretrain)
    os.makedirs(os.path.join(out_dir, "bert"), exist_ok=True)
    path = os.path.join(out_dir, "bert", "pretrain.txt")
    with open(path + ".tmp", "w", encoding="utf-8", newline="\n") as f:
        f.writelines(text + "\n" for text in pretrain)
    os.replace(path + ".tmp", path)
    print(f"bert/pretrain.txt: {len(pretrain)} lines (the train texts of both tasks)")


if __name__ == "__main__":
    main()
