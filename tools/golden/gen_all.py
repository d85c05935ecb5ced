"""Writes every golden file: /usr/bin/python3 tools/golden/gen_all.py OUT_DIR

Each tools/golden/gen_<name>.py either defines build() -> Family (op cases, written to
OUT_DIR/<name>.safetensors and run by the table-driven op tests) or main(out_dir) (module,
optimizer and model data, written under OUT_DIR/<subdir>/ and read by their own tests).
"""
import glob
import importlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    total = 0
    for path in sorted(glob.glob(os.path.join(HERE, "gen_*.py"))):
        name = os.path.basename(path)[4:-3]
        if name == "all":
            continue
        module = importlib.import_module(f"gen_{name}")
        if hasattr(module, "build"):
            n = module.build().write(out)
            total += n
            print(f"golden: {name}: {n} op cases")
        else:
            module.main(out)
            print(f"golden: {name}: written")
    print(f"golden: {total} op cases in {out}")


if __name__ == "__main__":
    main()
