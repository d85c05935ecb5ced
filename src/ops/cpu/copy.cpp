// Strided copy / conversion and fill kernels. Rows that are contiguous in both operands and of
// the same dtype become memcpy; conversions are plain loops the compiler vectorizes.
#include <cmath>
#include <cstring>

#include "ops/copy.h"
#include "ops/cpu/loops.h"
#include "util/check.h"

namespace cf::ops::cpu {

float bf16_to_float(BFloat16 v) {
  uint32_t bits = static_cast<uint32_t>(v.bits) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

BFloat16 float_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if (std::isnan(f)) return BFloat16{static_cast<uint16_t>((bits >> 16) | 0x40)};  // quiet NaN
  const uint32_t rounding = 0x7FFF + ((bits >> 16) & 1);  // round to nearest, ties to even
  return BFloat16{static_cast<uint16_t>((bits + rounding) >> 16)};
}

namespace {

template <class T> double to_double(T v) { return static_cast<double>(v); }
template <> double to_double(BFloat16 v) { return bf16_to_float(v); }

template <class D> D from_double(double v) { return static_cast<D>(v); }
template <> bool from_double(double v) { return v != 0.0; }
template <> BFloat16 from_double(double v) { return float_to_bf16(static_cast<float>(v)); }

// Direct conversion without a trip through double where that would change the result.
template <class D, class S> D convert(S v) { return from_double<D>(to_double(v)); }
template <> float convert(double v) { return static_cast<float>(v); }
template <> BFloat16 convert(float v) { return float_to_bf16(v); }
template <> float convert(BFloat16 v) { return bf16_to_float(v); }
template <> int64_t convert(int64_t v) { return v; }
template <> bool convert(float v) { return v != 0.0f; }

template <class D, class S> void copy_rows(const StridedLoop<2>& loop) {
  for_each_row<2>(loop, kGrainSize, [](int64_t n, const std::array<char*, 2>& p,
                                       const std::array<int64_t, 2>& s) {
    if constexpr (std::is_same_v<D, S>) {
      if (s[0] == sizeof(D) && s[1] == sizeof(S)) {
        std::memcpy(p[0], p[1], n * sizeof(D));
        return;
      }
    }
    if (s[0] == sizeof(D) && s[1] == sizeof(S)) {
      D* d = reinterpret_cast<D*>(p[0]);
      const S* src = reinterpret_cast<const S*>(p[1]);
      for (int64_t i = 0; i < n; ++i) d[i] = convert<D, S>(src[i]);
      return;
    }
    char* d = p[0];
    const char* src = p[1];
    for (int64_t i = 0; i < n; ++i, d += s[0], src += s[1]) {
      S v;
      std::memcpy(&v, src, sizeof(S));
      const D out = convert<D, S>(v);
      std::memcpy(d, &out, sizeof(D));
    }
  });
}

template <class D> void copy_from(const StridedLoop<2>& loop, DType src) {
  switch (src) {
    case DType::f32: return copy_rows<D, float>(loop);
    case DType::f64: return copy_rows<D, double>(loop);
    case DType::i64: return copy_rows<D, int64_t>(loop);
    case DType::b8: return copy_rows<D, bool>(loop);
    case DType::u8: return copy_rows<D, uint8_t>(loop);
    case DType::bf16: return copy_rows<D, BFloat16>(loop);
  }
}

template <class T> void fill_rows(const StridedLoop<1>& loop, T value) {
  for_each_row<1>(loop, kGrainSize, [value](int64_t n, const std::array<char*, 1>& p,
                                            const std::array<int64_t, 1>& s) {
    if (s[0] == sizeof(T)) {
      T* d = reinterpret_cast<T*>(p[0]);
      for (int64_t i = 0; i < n; ++i) d[i] = value;
      return;
    }
    char* d = p[0];
    for (int64_t i = 0; i < n; ++i, d += s[0]) std::memcpy(d, &value, sizeof(T));
  });
}

}  // namespace

void copy_strided(const StridedLoop<2>& loop, DType dst, DType src) {
  switch (dst) {
    case DType::f32: return copy_from<float>(loop, src);
    case DType::f64: return copy_from<double>(loop, src);
    case DType::i64: return copy_from<int64_t>(loop, src);
    case DType::b8: return copy_from<bool>(loop, src);
    case DType::u8: return copy_from<uint8_t>(loop, src);
    case DType::bf16: return copy_from<BFloat16>(loop, src);
  }
}

void fill_strided(const StridedLoop<1>& loop, DType dtype, double value) {
  switch (dtype) {
    case DType::f32: return fill_rows<float>(loop, static_cast<float>(value));
    case DType::f64: return fill_rows<double>(loop, value);
    case DType::i64: return fill_rows<int64_t>(loop, static_cast<int64_t>(value));
    case DType::b8: return fill_rows<bool>(loop, value != 0.0);
    case DType::u8: return fill_rows<uint8_t>(loop, static_cast<uint8_t>(value));
    case DType::bf16: return fill_rows<BFloat16>(loop, float_to_bf16(static_cast<float>(value)));
  }
}

}  // namespace cf::ops::cpu

namespace cf::ops {

void copy_into(const Tensor& dst, const Tensor& src) {
  if (dst.numel() == 0) return;
  cpu::copy_strided(make_loop<2>(dst, {&src}), dst.dtype(), src.dtype());
}

void fill_into(const Tensor& dst, double value) {
  if (dst.numel() == 0) return;
  cpu::fill_strided(make_loop<1>(dst, {}), dst.dtype(), value);
}

}  // namespace cf::ops
