"""safetensors files from an independent writer (PyTorch tensors, numpy bytes, Python's json),
for tests/golden/test_safetensors_interop.cpp. Writes OUT_DIR/io/:
  interop_spaced.safetensors   json.dumps defaults (", " and ": "), header order != data order,
                               no padding (the data starts unaligned), metadata last
  interop_compact.safetensors  compact, sorted keys, space-padded to 8 bytes, metadata first
  interop_expected.json        per tensor: cformer dtype, shape, values (after F16 -> f32 and
                               I32/I16/I8 -> i64 widening); "nan", "inf", "-inf" as strings
"""
import json
import math
import os
import struct

import numpy as np
import torch

FILE_DTYPE = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.bool: "BOOL",
              torch.uint8: "U8", torch.bfloat16: "BF16", torch.float16: "F16", torch.int32: "I32",
              torch.int16: "I16", torch.int8: "I8"}
CFORMER_DTYPE = {torch.float32: "f32", torch.float64: "f64", torch.int64: "i64", torch.bool: "bool",
                 torch.uint8: "u8", torch.bfloat16: "bf16", torch.float16: "f32", torch.int32: "i64",
                 torch.int16: "i64", torch.int8: "i64"}


def tensors():
    g = torch.Generator().manual_seed(20261121)
    return [
        ("model.layers.0.weight", torch.randn(3, 5, generator=g)),
        ("f64", torch.randn(4, generator=g, dtype=torch.float64)),
        ("i64", torch.tensor([-2**63, -1, 0, 2**63 - 1], dtype=torch.int64)),
        ("mask", torch.tensor([[True, False, True], [False, False, True]])),
        ("bytes", torch.arange(0, 256, 37, dtype=torch.uint8)),
        ("bf16", (torch.randn(2, 3, generator=g) * 100).to(torch.bfloat16)),
        ("f16", torch.tensor([1.0, -2.5, 65504.0, 2.0**-24, 0.1], dtype=torch.float16)),
        ("i32", torch.tensor([-2**31, 5, 2**31 - 1], dtype=torch.int32)),
        ("i16", torch.tensor([-2**15, 2**15 - 1], dtype=torch.int16)),
        ("i8", torch.tensor([-128, 0, 127], dtype=torch.int8)),
        ("scalar", torch.tensor(1.25, dtype=torch.float32)),
        ("empty", torch.zeros(0, 4)),
        ("special", torch.tensor([math.nan, math.inf, -math.inf, -0.0, 1e-45], dtype=torch.float32)),
    ]


def raw_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def expected_values(t):
    if t.dtype in (torch.bool, torch.uint8, torch.int64, torch.int32, torch.int16, torch.int8):
        return t.to(torch.int64).flatten().tolist()
    out = []
    for v in t.to(torch.float64).flatten().tolist():
        out.append("nan" if math.isnan(v) else ("inf" if v == math.inf else ("-inf" if v == -math.inf else v)))
    return out


def write(path, items, metadata, data_order, separators, sort_keys, pad, metadata_first):
    offsets, blobs, pos = {}, [], 0
    for name in data_order:
        b = raw_bytes(dict(items)[name])
        offsets[name] = [pos, pos + len(b)]
        blobs.append(b)
        pos += len(b)
    header = {"__metadata__": metadata} if metadata_first else {}
    for name, t in items:
        header[name] = {"dtype": FILE_DTYPE[t.dtype], "shape": list(t.shape), "data_offsets": offsets[name]}
    if not metadata_first:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=separators, sort_keys=sort_keys, ensure_ascii=False).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main(out_dir):
    d = os.path.join(out_dir, "io")
    os.makedirs(d, exist_ok=True)
    items = tensors()
    names = [n for n, _ in items]
    metadata = {"format": "pt", "writer": "gen_safetensors_interop.py", "ünïcode": "✓"}
    write(os.path.join(d, "interop_spaced.safetensors"), items, metadata, list(reversed(names)),
          (", ", ": "), False, False, False)
    write(os.path.join(d, "interop_compact.safetensors"), items, metadata, names,
          (",", ":"), True, True, True)
    expected = {"metadata": metadata,
                "tensors": [{"name": n, "dtype": CFORMER_DTYPE[t.dtype], "shape": list(t.shape),
                             "values": expected_values(t)} for n, t in items]}
    with open(os.path.join(d, "interop_expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False)


if __name__ == "__main__":
    import sys
    main(sys.argv[1])
