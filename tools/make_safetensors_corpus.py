"""Writes the safetensors test corpus: /usr/bin/python3 tools/make_safetensors_corpus.py

tests/data/safetensors/malformed/*.safetensors: one defect per file; the reader must throw
FormatError naming it (tests/io/test_safetensors.cpp holds the expected message substrings).
tests/data/safetensors/valid/*.safetensors: edge cases the reader must accept.
tests/data/safetensors/README.md: the list of files, written from the tables below.
Pure Python (struct + json), deterministic: rerunning it reproduces the committed files.
"""
import json
import os
import struct

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "safetensors"))


def le64(n):
    return struct.pack("<Q", n)


def raw(text, data=b"", n=None):
    """A file from header bytes as given (no padding); n overrides the declared length."""
    if isinstance(text, str):
        text = text.encode()
    return le64(len(text) if n is None else n) + text + data


def st(header, data=b"", pad=True):
    """A file from a header dict (serialized compactly, space-padded to 8 bytes)."""
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return raw(text, data)


def f32(*values):
    return struct.pack(f"<{len(values)}f", *values)


def t(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


A = t("F32", [2], 0, 8)          # the usual good entry, 8 bytes of data
DATA = f32(1.0, 2.0)
GOOD = st({"a": A}, DATA)


def nested_shape(depth):
    text = '{"a":{"dtype":"F32","shape":' + "[" * depth + "]" * depth + ',"data_offsets":[0,0]}}'
    return raw(text)


# (file stem, bytes, defect, expected message substring)
MALFORMED = [
    ("empty", b"", "empty file", "fewer than the 8-byte header length"),
    ("seven_bytes", b"\x02\x00\x00\x00\x00\x00\x00", "7 bytes", "fewer than the 8-byte header length"),
    ("header_length_past_end", raw("{}", n=100), "header length 100 > file", "header length 100 runs past the end of the file (10 bytes)"),
    ("header_length_over_limit", raw("{}", n=100_000_001), "header length > 100 MB limit",
     "header length 100000001 exceeds the limit of 100000000 bytes"),
    ("header_length_u64_max", raw("{}", n=2**64 - 1), "header length 2^64-1 (overflow bait)",
     "header length 18446744073709551615 exceeds the limit"),
    ("header_length_zero", raw(""), "header length 0", "header of 0 bytes cannot hold a JSON object"),
    ("header_length_one", raw("{"), "header length 1", "header of 1 bytes cannot hold a JSON object"),
    ("header_leading_space", raw(' {"a":1}'), "header starts with a space", "header does not start with '{' (byte 8 is 0x20)"),
    ("header_json_array", raw("[1, 2, 3]"), "JSON array instead of object", "header does not start with '{' (byte 8 is 0x5b)"),
    ("invalid_json", raw('{"a":{"dtype":"F32",'), "unterminated JSON", "header is not valid JSON"),
    ("invalid_json_trailing_garbage", raw('{}  x'), "garbage after the object", "header is not valid JSON"),
    ("invalid_json_nul_padding", raw(b'{}\x00\x00\x00\x00\x00\x00'), "padded with NUL, not spaces (nlohmann would stop at the NUL)",
     "header is not valid JSON: NUL byte at byte 10 of the file"),
    ("invalid_json_nan", raw('{"a":{"dtype":"F32","shape":[NaN],"data_offsets":[0,0]}}'), "NaN literal",
     "header is not valid JSON"),
    ("invalid_json_lone_surrogate", raw('{"\\ud800":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}'),
     "escaped lone UTF-16 surrogate", "header is not valid JSON"),
    ("invalid_utf8", raw(b'{"\xff":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}'), "byte 0xFF in a name",
     "header is not valid UTF-8 (byte 10 of the file)"),
    ("invalid_utf8_overlong", raw(b'{"\xc0\xaf":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}'),
     "overlong encoding of '/'", "header is not valid UTF-8 (byte 10 of the file)"),
    ("duplicate_tensor_name", raw('{"a":' + json.dumps(A) + ',"a":' + json.dumps(A) + '}', DATA),
     "the same name twice", "duplicate tensor name 'a'"),
    ("duplicate_key_in_entry", raw('{"a":{"dtype":"F32","dtype":"I32","shape":[2],"data_offsets":[0,8]}}', DATA),
     "dtype given twice", "duplicate key 'dtype' in the entry 'a'"),
    ("duplicate_metadata", raw('{"__metadata__":{},"__metadata__":{}}'), "__metadata__ twice",
     "duplicate __metadata__"),
    ("unknown_dtype", st({"a": t("F17", [2], 0, 8)}, DATA), "dtype F17", "tensor 'a' has unknown dtype 'F17'"),
    ("dtype_lowercase", st({"a": t("f32", [2], 0, 8)}, DATA), "dtype f32 (names are upper case)",
     "tensor 'a' has unknown dtype 'f32'"),
    ("dtype_not_string", st({"a": {"dtype": 4, "shape": [2], "data_offsets": [0, 8]}}, DATA), "dtype 4",
     "tensor 'a' dtype must be a string, got the integer 4"),
    ("dtype_missing", st({"a": {"shape": [2], "data_offsets": [0, 8]}}, DATA), "no dtype", "tensor 'a' has no dtype"),
    ("shape_missing", st({"a": {"dtype": "F32", "data_offsets": [0, 8]}}, DATA), "no shape", "tensor 'a' has no shape"),
    ("shape_not_array", st({"a": t("F32", 2, 0, 8)}, DATA), "shape 2", "tensor 'a' shape must be an array, got the integer 2"),
    ("shape_negative", st({"a": t("F32", [-2], 0, 8)}, DATA), "shape [-2]",
     "tensor 'a' shape[0] must be a non-negative integer, got the integer -2"),
    ("shape_float", st({"a": t("F32", [2.0], 0, 8)}, DATA), "shape [2.0]",
     "tensor 'a' shape[0] must be a non-negative integer, got the number 2.0"),
    ("shape_string", st({"a": t("F32", [1, "2"], 0, 8)}, DATA), "shape [1, \"2\"]",
     "tensor 'a' shape[1] must be a non-negative integer, got the string '2'"),
    ("shape_beyond_u64", raw('{"a":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,8]}}', DATA),
     "a dim of 2^64 (parsed as a float)", "tensor 'a' shape[0] must be a non-negative integer, got the number"),
    ("shape_overflow_product", st({"a": t("F32", [2**32, 2**32], 0, 8)}, DATA), "2^64 elements",
     "shape [4294967296, 4294967296] has more than 2^50 elements"),
    ("shape_u64_max", st({"a": t("U8", [2**64 - 1], 0, 8)}, DATA), "a dim of 2^64-1",
     "shape [18446744073709551615] has more than 2^50 elements"),
    ("shape_zero_hides_huge_dims", st({"a": t("F32", [0, 2**40, 2**40], 0, 0)}), "0 elements, huge strides",
     "shape [0, 1099511627776, 1099511627776] has more than 2^50"),
    ("shape_too_many_dims", st({"a": t("F32", [1] * 9, 0, 4)}, f32(1.0)), "9 dims", "tensor 'a' has 9 dims; at most 8 are supported"),
    ("shape_deeply_nested", nested_shape(100_000), "shape nested 100000 arrays deep (stack-overflow bait)",
     "header nests JSON values deeper than a safetensors header can (an array inside 'shape' of the entry 'a')"),
    ("shape_long_array", raw('{"a":{"dtype":"U8","shape":[' + ",".join(["1"] * 100_000) + '],"data_offsets":[0,1]}}',
                             b"\x01"), "shape of 100000 entries (memory bait)",
     "an array in the header ('shape' of the entry 'a') has more than 64 elements"),
    ("metadata_nested_deep", st({"__metadata__": {"k": {"x": {"y": "z"}}}}), "objects nested in __metadata__",
     "header nests JSON values deeper than a safetensors header can (an object inside 'k' of __metadata__)"),
    ("offsets_missing", st({"a": {"dtype": "F32", "shape": [2]}}, DATA), "no data_offsets", "tensor 'a' has no data_offsets"),
    ("offsets_wrong_length", st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8]}}, DATA),
     "data_offsets [8]", "data_offsets must be an array [begin, end], got an array of 1 elements"),
    ("offsets_three", st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4, 8]}}, DATA),
     "data_offsets [0, 4, 8]", "data_offsets must be an array [begin, end], got an array of 3 elements"),
    ("offsets_not_array", st({"a": {"dtype": "F32", "shape": [2], "data_offsets": "0:8"}}, DATA),
     "data_offsets \"0:8\"", "data_offsets must be an array [begin, end], got the string '0:8'"),
    ("offsets_not_integers", st({"a": t("F32", [2], 0.0, 8.0)}, DATA), "data_offsets [0.0, 8.0]",
     "data_offsets[0] must be a non-negative integer, got the number 0.0"),
    ("offsets_negative", st({"a": t("F32", [2], -8, 0)}, DATA), "data_offsets [-8, 0]",
     "data_offsets[0] must be a non-negative integer, got the integer -8"),
    ("offsets_null", st({"a": t("F32", [2], 0, None)}, DATA), "data_offsets [0, null]",
     "data_offsets[1] must be a non-negative integer, got null"),
    ("offsets_reversed", st({"a": t("F32", [2], 8, 0)}, DATA), "data_offsets [8, 0]",
     "tensor 'a' data_offsets [8, 0] end before they begin"),
    ("offsets_past_end", st({"a": t("F32", [4], 0, 16)}, DATA), "16 bytes claimed, 8 present",
     "data_offsets [0, 16] run past the end of the data buffer (8 bytes)"),
    ("offsets_near_u64_max", st({"a": t("F32", [2], 2**64 - 9, 2**64 - 1)}, DATA),
     "data_offsets [2^64-9, 2^64-1] (overflow bait)",
     "data_offsets [18446744073709551607, 18446744073709551615] run past the end of the data buffer"),
    ("offsets_overlap", st({"a": A, "b": t("F32", [2], 4, 12)}, f32(1, 2, 3)), "[0, 8] and [4, 12]",
     "tensor 'b' data_offsets [4, 12] overlap tensor 'a' data_offsets [0, 8]"),
    ("offsets_alias", st({"a": A, "b": t("F32", [2], 0, 8)}, DATA), "two tensors share [0, 8]",
     "tensor 'b' data_offsets [0, 8] overlap tensor 'a' data_offsets [0, 8]"),
    ("offsets_empty_inside_other", st({"a": A, "e": t("F32", [0], 4, 4)}, DATA),
     "an empty tensor at 4, inside [0, 8]", "tensor 'e' data_offsets [4, 4] overlap tensor 'a'"),
    ("offsets_gap", st({"a": t("F32", [1], 0, 4), "b": t("F32", [1], 8, 12)}, f32(1, 2, 3)),
     "bytes [4, 8) unused", "gap in the data buffer: bytes [4, 8) belong to no tensor"),
    ("offsets_not_from_zero", st({"a": t("F32", [1], 4, 8)}, DATA), "data starts at 4",
     "gap in the data buffer: bytes [0, 4) belong to no tensor"),
    ("trailing_bytes", st({"a": t("F32", [1], 0, 4)}, DATA), "4 bytes after the last tensor",
     "trailing bytes [4, 8) belong to no tensor"),
    ("no_tensors_trailing_bytes", st({}, b"\x00" * 8), "empty header, 8 data bytes",
     "trailing bytes [0, 8) belong to no tensor"),
    ("byte_count_mismatch", st({"a": t("F32", [2, 3], 0, 20)}, b"\x00" * 20), "F32 (2, 3) in 20 bytes",
     "tensor 'a' of dtype F32 and shape [2, 3] needs 24 bytes, but data_offsets [0, 20] hold 20"),
    ("byte_count_dtype_mismatch", st({"a": t("F64", [2], 0, 8)}, DATA), "F64 (2) in 8 bytes",
     "of dtype F64 and shape [2] needs 16 bytes, but data_offsets [0, 8] hold 8"),
    ("scalar_byte_count", st({"a": t("F32", [], 0, 8)}, DATA), "0-dim F32 in 8 bytes",
     "and shape [] needs 4 bytes, but data_offsets [0, 8] hold 8"),
    ("metadata_not_object", st({"__metadata__": ["k", "v"], "a": A}, DATA), "__metadata__ is an array",
     "__metadata__ must be an object of strings, got an array of 2 elements"),
    ("metadata_null", st({"__metadata__": None, "a": A}, DATA), "__metadata__ is null",
     "__metadata__ must be an object of strings, got null"),
    ("metadata_value_not_string", st({"__metadata__": {"step": 10}, "a": A}, DATA), "metadata value 10",
     "__metadata__ value of 'step' must be a string, got the integer 10"),
    ("metadata_value_object", st({"__metadata__": {"cfg": {"lr": "1"}}, "a": A}, DATA),
     "metadata value is an object", "__metadata__ value of 'cfg' must be a string, got an object"),
    ("unknown_field", st({"a": dict(A, offset=0)}, DATA), "extra field 'offset'",
     "tensor 'a' has an unknown field 'offset'"),
    ("entry_not_object", st({"a": [0, 8]}, DATA), "tensor entry is an array",
     "tensor 'a' must be an object {dtype, shape, data_offsets}, got an array of 2 elements"),
    ("empty_tensor_name", st({"": A}, DATA), "name \"\"", "empty tensor name"),
    ("bool_byte_2", st({"m": t("BOOL", [4], 0, 4)}, b"\x00\x02\x01\x00"), "BOOL byte 2",
     "tensor 'm' (BOOL) holds byte 2 at element 1 (file offset 65); only 0 and 1 are valid"),
    ("truncated_data", GOOD[:-3], "a valid file minus its last 3 bytes",
     "data_offsets [0, 8] run past the end of the data buffer (5 bytes)"),
    ("truncated_header", GOOD[:20], "a valid file cut inside the header", "runs past the end of the file (20 bytes)"),
]

# (file stem, bytes, what it holds)
VALID = [
    ("empty_tensor", st({"e": t("F32", [0, 3], 0, 0), "x": t("F32", [2], 0, 8), "z": t("I64", [2, 0], 8, 8)}, DATA),
     "e: F32 (0, 3), x: F32 (2) = [1, 2], z: I64 (2, 0)"),
    ("scalar", st({"s": t("F64", [], 0, 8)}, struct.pack("<d", 3.5)), "s: F64 () = 3.5"),
    ("metadata_only", st({"__metadata__": {"format": "pt", "note": "no tensors"}}),
     "no tensors; metadata format=pt, note=no tensors"),
    ("no_tensors", st({}), "header {}: nothing at all"),
    ("padded_header", raw('{"a":' + json.dumps(A) + "}" + " " * 37, DATA),
     "a: F32 (2) = [1, 2]; header followed by 37 spaces"),
    ("f16_i32", st({"h": t("F16", [5], 0, 10), "i": t("I32", [3], 10, 22)},
                   struct.pack("<5e", 1.0, -2.0, 0.5, 65504.0, 5.960464477539063e-08)
                   + struct.pack("<3i", -1, 2**31 - 1, -2**31)),
     "h: F16 (5) = [1, -2, 0.5, 65504, 2^-24] -> f32; i: I32 (3) = [-1, 2^31-1, -2^31] -> i64"),
    ("bf16", st({"b": t("BF16", [3], 0, 6)}, struct.pack("<3H", 0x3F80, 0xC020, 0x4049)),
     "b: BF16 (3) = [1, -2.5, 3.140625]"),
    ("small_ints", st({"i8": t("I8", [2], 0, 2), "i16": t("I16", [2], 2, 6), "u16": t("U16", [2], 6, 10),
                       "u32": t("U32", [2], 10, 18)},
                      struct.pack("<2b2h2H2I", -128, 127, -32768, 32767, 0, 65535, 0, 2**32 - 1)),
     "i8 = [-128, 127], i16 = [-32768, 32767], u16 = [0, 65535], u32 = [0, 2^32-1], all -> i64"),
    ("unordered", st({"second": t("F32", [1], 4, 8), "first": t("U8", [4], 0, 4), "__metadata__": {"k": "v"}},
                     b"\x01\x02\x03\x04" + f32(7.0)),
     "header order differs from data order: first: U8 (4) = [1, 2, 3, 4], second: F32 (1) = [7]"),
    ("unicode_name", st({"ünï/名前": t("BOOL", [3], 0, 3)}, b"\x01\x00\x01"),
     "a UTF-8 name 'ünï/名前': BOOL (3) = [true, false, true]"),
]


def main():
    for sub, rows in (("malformed", MALFORMED), ("valid", VALID)):
        d = os.path.join(ROOT, sub)
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            if old.endswith(".safetensors"):
                os.remove(os.path.join(d, old))
        stems = [r[0] for r in rows]
        assert len(stems) == len(set(stems)), "duplicate file stem"
        for row in rows:
            with open(os.path.join(d, row[0] + ".safetensors"), "wb") as f:
                f.write(row[1])
    lines = [
        "# safetensors test corpus",
        "",
        "Written by `/usr/bin/python3 tools/make_safetensors_corpus.py` (do not edit by hand; edit the",
        "script and rerun it). Checked by `tests/io/test_safetensors.cpp`, whose table holds the same",
        "expected message substrings. See docs/notes/safetensors.md for what is validated and why.",
        "",
        f"## malformed/ ({len(MALFORMED)} files): each must raise cf::FormatError containing the substring",
        "",
        "| file | defect | expected message substring |",
        "|---|---|---|",
    ]
    for stem, data, defect, msg in MALFORMED:
        lines.append(f"| {stem}.safetensors | {defect} ({len(data)} bytes) | `{msg}` |")
    lines += ["", f"## valid/ ({len(VALID)} files): each must load with these contents", "",
              "| file | contents |", "|---|---|"]
    for stem, data, what in VALID:
        lines.append(f"| {stem}.safetensors | {what} |")
    with open(os.path.join(ROOT, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"safetensors corpus: {len(MALFORMED)} malformed, {len(VALID)} valid files in {ROOT}")


if __name__ == "__main__":
    main()
