#!/usr/bin/env python3
"""Independent PNG decoder for cformer's tests (standard library only: zlib + struct).

Usage: png_check.py IN.png OUT.raw
Checks the signature, every chunk CRC, IHDR (8-bit gray or RGB, no interlace), that IEND ends
the file, then inflates the IDAT data and undoes the row filters (types 0-4). Writes the pixels
row-major (H, W, C) to OUT.raw and prints "W H C". Exits 1 with a message on any problem.
"""
import struct
import sys
import zlib


def fail(msg):
    print("png_check: " + msg, file=sys.stderr)
    sys.exit(1)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("bad signature")
    pos, chunks = 8, []
    while pos < len(data):
        if pos + 12 > len(data):
            fail("truncated chunk at byte %d" % pos)
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        ctype = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            fail("truncated %r chunk" % ctype)
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(ctype + body) & 0xFFFFFFFF != crc:
            fail("bad CRC in %r chunk" % ctype)
        chunks.append((ctype, body))
        pos += 12 + length
    if not chunks or chunks[0][0] != b"IHDR" or chunks[-1] != (b"IEND", b""):
        fail("chunks must start with IHDR and end with an empty IEND")
    w, h, depth, ctype, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if depth != 8 or ctype not in (0, 2) or comp or filt or interlace:
        fail("unsupported IHDR %r" % ((w, h, depth, ctype, comp, filt, interlace),))
    c = 1 if ctype == 0 else 3
    raw = zlib.decompress(b"".join(body for t, body in chunks if t == b"IDAT"))
    stride = w * c
    if len(raw) != h * (stride + 1):
        fail("inflated %d bytes, expected %d" % (len(raw), h * (stride + 1)))
    out = bytearray()
    prev = bytearray(stride)
    for y in range(h):
        ftype = raw[y * (stride + 1)]
        row = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = row[i - c] if i >= c else 0
            b = prev[i]
            cc = prev[i - c] if i >= c else 0
            if ftype == 0:
                p = 0
            elif ftype == 1:
                p = a
            elif ftype == 2:
                p = b
            elif ftype == 3:
                p = (a + b) // 2
            elif ftype == 4:
                p = paeth(a, b, cc)
            else:
                fail("row %d has filter type %d" % (y, ftype))
            row[i] = (row[i] + p) & 0xFF
        out += row
        prev = row
    return w, h, c, bytes(out)


def main():
    if len(sys.argv) != 3:
        fail("usage: png_check.py IN.png OUT.raw")
    with open(sys.argv[1], "rb") as f:
        w, h, c, pixels = decode(f.read())
    with open(sys.argv[2], "wb") as f:
        f.write(pixels)
    print(w, h, c)


if __name__ == "__main__":
    main()
