// PNG output (8-bit gray or RGB, no interlace) and an image grid to write many images as one.
// File: signature, IHDR, one IDAT with the zlib stream of the filtered rows, IEND; each chunk is
// length, type, data, CRC-32 of type + data (RFC 2083). Each row gets the filter (None, Sub,
// Up, Average, Paeth) with the smallest sum of |signed bytes|, the heuristic the spec suggests.
#include <zlib.h>

#include <array>
#include <cstdlib>

#include "cformer/io.h"
#include "cformer/vision_data.h"
#include "util/check.h"

namespace cf::data {
namespace {

// Largest side written (PNG allows 2^31 - 1; this bounds the buffers to sane sizes).
constexpr int64_t kMaxPngSide = 1 << 16;

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  out.push_back(static_cast<uint8_t>(v >> 24));
  out.push_back(static_cast<uint8_t>(v >> 16));
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

void put_chunk(std::vector<uint8_t>& out, const char* type, const std::vector<uint8_t>& data) {
  put_u32(out, static_cast<uint32_t>(data.size()));
  const size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, out.data() + start, static_cast<uInt>(out.size() - start));
  put_u32(out, static_cast<uint32_t>(crc));
}

uint8_t paeth(uint8_t a, uint8_t b, uint8_t c) {
  const int p = int{a} + int{b} - int{c};
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

// Appends the filter byte and the filtered row; prev is the previous row (zeros for the first),
// bpp the bytes per pixel.
void filter_row(std::vector<uint8_t>& out, const uint8_t* row, const uint8_t* prev, size_t n,
                size_t bpp) {
  std::array<std::vector<uint8_t>, 5> f;
  size_t best = 0;
  uint64_t best_cost = UINT64_MAX;
  for (size_t t = 0; t < 5; ++t) {
    f[t].resize(n);
    uint64_t cost = 0;
    for (size_t i = 0; i < n; ++i) {
      const uint8_t a = i >= bpp ? row[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
      uint8_t pred = 0;
      switch (t) {
        case 0:
          pred = 0;
          break;
        case 1:
          pred = a;
          break;
        case 2:
          pred = b;
          break;
        case 3:
          pred = static_cast<uint8_t>((int{a} + int{b}) / 2);
          break;
        case 4:
          pred = paeth(a, b, c);
          break;
      }
      f[t][i] = static_cast<uint8_t>(row[i] - pred);
      cost += static_cast<uint64_t>(std::abs(static_cast<int8_t>(f[t][i])));
    }
    if (cost < best_cost) {
      best_cost = cost;
      best = t;
    }
  }
  out.push_back(static_cast<uint8_t>(best));
  out.insert(out.end(), f[best].begin(), f[best].end());
}

}  // namespace

std::vector<uint8_t> encode_png(const Tensor& image) {
  CF_CHECK(image.defined() && image.dtype() == DType::u8, DTypeError,
           "encode_png: image must be u8, got ",
           image.defined() ? std::string(dtype_name(image.dtype())) : std::string("undefined"));
  CF_CHECK(image.dim() == 2 || (image.dim() == 3 && (image.size(2) == 1 || image.size(2) == 3)),
           ShapeError, "encode_png: image must have shape (H, W), (H, W, 1) or (H, W, 3), got ",
           image.shape());
  const int64_t H = image.size(0), W = image.size(1), C = image.dim() == 3 ? image.size(2) : 1;
  CF_CHECK(H >= 1 && W >= 1 && H <= kMaxPngSide && W <= kMaxPngSide, ShapeError,
           "encode_png: height and width must be in [1, ", kMaxPngSide, "], got ", image.shape());
  const Tensor img = image.contiguous();
  const uint8_t* px = img.data_ptr<uint8_t>();
  const size_t stride = static_cast<size_t>(W * C);

  std::vector<uint8_t> raw;
  raw.reserve(static_cast<size_t>(H) * (stride + 1));
  const std::vector<uint8_t> zeros(stride, 0);
  for (int64_t y = 0; y < H; ++y)
    filter_row(raw, px + y * stride, y ? px + (y - 1) * stride : zeros.data(), stride,
               static_cast<size_t>(C));
  uLongf zlen = compressBound(static_cast<uLong>(raw.size()));
  std::vector<uint8_t> idat(zlen);
  const int rc = compress2(idat.data(), &zlen, raw.data(), static_cast<uLong>(raw.size()), 9);
  CF_CHECK(rc == Z_OK, Error, "encode_png: zlib's compress2 failed: ", zError(rc));
  idat.resize(zlen);

  std::vector<uint8_t> ihdr;
  put_u32(ihdr, static_cast<uint32_t>(W));
  put_u32(ihdr, static_cast<uint32_t>(H));
  ihdr.push_back(8);                   // bit depth
  ihdr.push_back(C == 3 ? 2 : 0);      // colour type: RGB or gray
  ihdr.insert(ihdr.end(), {0, 0, 0});  // deflate, adaptive filtering, no interlace
  std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  put_chunk(out, "IHDR", ihdr);
  put_chunk(out, "IDAT", idat);
  put_chunk(out, "IEND", {});
  return out;
}

void write_png(const std::string& path, const Tensor& image) {
  const std::vector<uint8_t> bytes = encode_png(image);
  io::write_file_atomic(path, bytes);
}

Tensor make_image_grid(const Tensor& images, int64_t nrow, int64_t padding, int64_t scale,
                       uint8_t pad_value) {
  CF_CHECK(images.defined() && images.dtype() == DType::u8, DTypeError,
           "make_image_grid: images must be u8, got ",
           images.defined() ? std::string(dtype_name(images.dtype())) : std::string("undefined"));
  CF_CHECK(images.dim() == 4 && images.size(0) >= 1, ShapeError,
           "make_image_grid: images must have shape (B, H, W, C) with B >= 1, got ",
           images.shape());
  CF_CHECK(nrow >= 1, ValueError, "make_image_grid: nrow must be >= 1, got ", nrow);
  CF_CHECK(padding >= 0 && padding <= 1024, ValueError,
           "make_image_grid: padding must be in [0, 1024], got ", padding);
  CF_CHECK(scale >= 1 && scale <= 64, ValueError, "make_image_grid: scale must be in [1, 64], got ",
           scale);
  const int64_t B = images.size(0), H = images.size(1), W = images.size(2), C = images.size(3);
  const int64_t cols = std::min(nrow, B), rows = (B + cols - 1) / cols;
  const int64_t cell_h = H * scale + padding, cell_w = W * scale + padding;
  // Bounded before multiplying: every factor is at most kMaxPngSide-sized.
  CF_CHECK(H <= kMaxPngSide && W <= kMaxPngSide && rows <= kMaxPngSide && cols <= kMaxPngSide,
           ShapeError, "make_image_grid: ", B, " images of ", H, "x", W,
           " are too many or too large");
  const int64_t GH = rows * cell_h + padding, GW = cols * cell_w + padding;
  CF_CHECK(GH <= kMaxPngSide && GW <= kMaxPngSide, ShapeError,
           "make_image_grid: the grid would be ", GH, "x", GW, ", more than ", kMaxPngSide,
           " on a side");
  const Tensor src = images.contiguous();
  const uint8_t* in = src.data_ptr<uint8_t>();
  Tensor grid = full(Shape{GH, GW, C}, pad_value, DType::u8);
  uint8_t* out = grid.data_ptr<uint8_t>();
  for (int64_t b = 0; b < B; ++b) {
    const int64_t top = padding + (b / cols) * cell_h, left = padding + (b % cols) * cell_w;
    const uint8_t* img = in + b * H * W * C;
    for (int64_t y = 0; y < H * scale; ++y) {
      const uint8_t* row = img + (y / scale) * W * C;
      uint8_t* dst = out + ((top + y) * GW + left) * C;
      for (int64_t x = 0; x < W * scale; ++x)
        for (int64_t c = 0; c < C; ++c) dst[x * C + c] = row[(x / scale) * C + c];
    }
  }
  return grid;
}

}  // namespace cf::data
