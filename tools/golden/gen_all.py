"""Writes every family's golden file: /usr/bin/python3 tools/golden/gen_all.py OUT_DIR"""
import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

FAMILIES = ["views", "elementwise", "reduce", "linalg", "nn", "loss", "shape", "attention"]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    total = 0
    for fam in FAMILIES:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"gen_{fam}.py")
        if not os.path.exists(path):
            continue
        module = importlib.import_module(f"gen_{fam}")
        n = module.build().write(out)
        total += n
        print(f"golden: {fam}: {n} cases")
    print(f"golden: {total} cases in {out}")


if __name__ == "__main__":
    main()
