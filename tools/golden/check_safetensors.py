"""An independent safetensors reader (struct + json + numpy) that checks a file cformer wrote:
  /usr/bin/python3 tools/golden/check_safetensors.py FILE EXPECTED_JSON
EXPECTED_JSON: {"metadata": {...}, "tensors": {name: {"dtype": "F32", "shape": [...],
"values": [...]}}} with values flattened in C order ("nan", "inf", "-inf" as strings).
Checks the layout rules (8-byte little-endian length, UTF-8 JSON object starting with '{',
space padding to a multiple of 8, no duplicate keys, offsets tiling the data buffer from 0 to
its end) and every value exactly (the sign of zeros too). Exit 0 when all holds, 1 otherwise.
"""
import json
import struct
import sys

import numpy as np

NUMPY = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
         "U8": "u1", "BOOL": "u1", "BF16": "<u2"}
SIZE = {"F64": 8, "F32": 4, "F16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1, "BF16": 2}


class Bad(Exception):
    pass


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise Bad(f"duplicate key in {keys}")
    return dict(pairs)


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise Bad(f"{len(data)} bytes, no header length")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise Bad(f"header length {n} runs past the end ({len(data)} bytes)")
    raw = data[8:8 + n]
    if n % 8 != 0:
        raise Bad(f"header length {n} is not a multiple of 8 (cformer pads it)")
    if not raw.startswith(b"{"):
        raise Bad("header does not start with '{'")
    text = raw.decode("utf-8")  # strict: raises on invalid UTF-8
    body = text.rstrip(" ")
    if not body.endswith("}"):
        raise Bad("header padding is not spaces after the object")
    header = json.loads(body, object_pairs_hook=no_duplicates)
    metadata = header.pop("__metadata__", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise Bad("__metadata__ is not str -> str")
    buf = data[8 + n:]
    entries = sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"]))
    pos, out = 0, {}
    for name, e in entries:
        if set(e) != {"dtype", "shape", "data_offsets"}:
            raise Bad(f"{name}: fields {sorted(e)}")
        begin, end = e["data_offsets"]
        if begin != pos:
            raise Bad(f"{name}: data starts at {begin}, expected {pos}")
        count = int(np.prod(e["shape"], dtype=np.int64)) if e["shape"] else 1
        if end - begin != count * SIZE[e["dtype"]]:
            raise Bad(f"{name}: {end - begin} bytes for {e['dtype']} {e['shape']}")
        arr = np.frombuffer(buf[begin:end], dtype=NUMPY[e["dtype"]]).reshape(e["shape"])
        if e["dtype"] == "BOOL":
            if arr.size and arr.max() > 1:
                raise Bad(f"{name}: BOOL byte above 1")
            arr = arr.astype(bool)
        if e["dtype"] == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        out[name] = (e["dtype"], list(e["shape"]), arr)
        pos = end
    if pos != len(buf):
        raise Bad(f"tensors cover {pos} of {len(buf)} data bytes")
    return metadata, out


def to_float(v):
    return {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}.get(v, v) if isinstance(v, str) else v


def check(path, expected_path):
    with open(expected_path, encoding="utf-8") as f:
        expected = json.load(f)
    metadata, tensors = read(path)
    if metadata != expected.get("metadata", {}):
        raise Bad(f"metadata {metadata} != {expected.get('metadata')}")
    if sorted(tensors) != sorted(expected["tensors"]):
        raise Bad(f"tensor names {sorted(tensors)} != {sorted(expected['tensors'])}")
    for name, e in expected["tensors"].items():
        dtype, shape, arr = tensors[name]
        if dtype != e["dtype"] or shape != e["shape"]:
            raise Bad(f"{name}: {dtype} {shape} != {e['dtype']} {e['shape']}")
        got = arr.reshape(-1)
        if dtype in ("F64", "F32", "F16", "BF16"):
            want = np.array([to_float(v) for v in e["values"]], dtype=np.float64)
            got = got.astype(np.float64)
            same = got.shape == want.shape and np.array_equal(got, want, equal_nan=True)
            if same:  # -0.0 == 0.0 above: compare signs too (NaN signs carry no meaning)
                finite = ~np.isnan(want)
                same = np.array_equal(np.signbit(got[finite]), np.signbit(want[finite]))
        else:
            want = np.array(e["values"], dtype=np.int64)
            same = got.shape == want.shape and np.array_equal(got.astype(np.int64), want)
        if not same:
            raise Bad(f"{name}: values {got.tolist()} != {want.tolist()}")
    return len(tensors)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        n = check(sys.argv[1], sys.argv[2])
    except (Bad, ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        print(f"check_safetensors: {sys.argv[1]}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"check_safetensors: {sys.argv[1]}: {n} tensors match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
