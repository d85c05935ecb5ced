#include "ops/where.h"

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "ops/cpu/elementwise.h"
#include "ops/cpu/vec.h"
#include "util/check.h"

namespace cf::ops::cpu {
namespace {

// Selection moves bits, so every kernel works on unsigned integers of the element's size, and
// selects with masks instead of branches: a random condition would mispredict half the time,
// and the masked form vectorizes.
template <class U> U all_ones_if(bool c) { return static_cast<U>(U(0) - static_cast<U>(c)); }

// out = c ? p : q over one row of 4-byte elements with VecF blends; p and q are unit-stride
// arrays (template flag true) or single values (stride 0).
template <bool PArray, bool QArray>
void select_row32(int64_t n, float* out, const bool* c, const float* p, const float* q) {
  constexpr int W = VecF::kWidth;
  const VecF pv(PArray ? 0.0f : *p), qv(QArray ? 0.0f : *q);
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    const VecF t = PArray ? VecF::load(p + i) : pv;
    const VecF f = QArray ? VecF::load(q + i) : qv;
    VecF::select(c + i, t, f).store(out + i);
  }
  if (i < n) {
    const int m = static_cast<int>(n - i);
    const VecF t = PArray ? VecF::load(p + i, m) : pv;
    const VecF f = QArray ? VecF::load(q + i, m) : qv;
    VecF::select(c + i, m, t, f).store(out + i, m);
  }
}

// The VecF row when the strides allow it (out and c unit-stride, p and q unit-stride or 0);
// false otherwise. The floats are bit patterns: a blend moves them unchanged.
bool try_select_row32(int64_t n, char* out, int64_t so, const char* c, int64_t sc, const char* p,
                      int64_t sp, const char* q, int64_t sq) {
  if (so != 4 || sc != 1 || (sp != 4 && sp != 0) || (sq != 4 && sq != 0)) return false;
  float* o = reinterpret_cast<float*>(out);
  const bool* cb = reinterpret_cast<const bool*>(c);
  const float* pf = reinterpret_cast<const float*>(p);
  const float* qf = reinterpret_cast<const float*>(q);
  if (sp && sq) select_row32<true, true>(n, o, cb, pf, qf);
  else if (sp) select_row32<true, false>(n, o, cb, pf, qf);
  else if (sq) select_row32<false, true>(n, o, cb, pf, qf);
  else select_row32<false, false>(n, o, cb, pf, qf);
  return true;
}

template <class U> void where_t(const StridedLoop<4>& L) {
  if constexpr (sizeof(U) == 4) {
    for_each_row<4>(L, kGrainSize, [](int64_t n, const std::array<char*, 4>& p,
                                      const std::array<int64_t, 4>& s) {
      if (try_select_row32(n, p[0], s[0], p[1], s[1], p[2], s[2], p[3], s[3])) return;
      for (int64_t i = 0; i < n; ++i) {
        const U m = all_ones_if<U>(load<bool>(p[1] + i * s[1]));
        const U a = load<U>(p[2] + i * s[2]), b = load<U>(p[3] + i * s[3]);
        store<U>(p[0] + i * s[0], static_cast<U>((a & m) | (b & static_cast<U>(~m))));
      }
    });
    return;
  }
  ternary_loop<U, bool, U, U>(L, [](bool c, U a, U b) {
    const U m = all_ones_if<U>(c);
    return static_cast<U>((a & m) | (b & static_cast<U>(~m)));
  });
}

// out = c ? value : x; 4-byte rows go through VecF.
template <class U> void masked_fill_t(const StridedLoop<3>& L, U value) {
  if constexpr (sizeof(U) == 4) {
    for_each_row<3>(L, kGrainSize, [value](int64_t n, const std::array<char*, 3>& p,
                                           const std::array<int64_t, 3>& s) {
      const char* v = reinterpret_cast<const char*>(&value);
      if (try_select_row32(n, p[0], s[0], p[2], s[2], v, 0, p[1], s[1])) return;
      for (int64_t i = 0; i < n; ++i) {
        const U m = all_ones_if<U>(load<bool>(p[2] + i * s[2]));
        store<U>(p[0] + i * s[0],
                 static_cast<U>((value & m) | (load<U>(p[1] + i * s[1]) & static_cast<U>(~m))));
      }
    });
    return;
  }
  binary_loop<U, U, bool>(L, [value](U x, bool c) {
    const U m = all_ones_if<U>(c);
    return static_cast<U>((value & m) | (x & static_cast<U>(~m)));
  });
}

// The bit pattern of v as the unsigned integer of its size.
template <class T> auto bits_of(T v) {
  using U = std::conditional_t<sizeof(T) == 1, uint8_t,
                               std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>;
  U u;
  std::memcpy(&u, &v, sizeof(T));
  return u;
}

// dx = c == take ? g : 0, as a selection between g and 0.0 (all zero bits in f32 and f64).
template <class U> void where_backward_t(const StridedLoop<3>& L, bool take) {
  if constexpr (sizeof(U) == 4) {
    for_each_row<3>(L, kGrainSize, [take](int64_t n, const std::array<char*, 3>& p,
                                          const std::array<int64_t, 3>& s) {
      static constexpr float kZero = 0.0f;
      const char* z = reinterpret_cast<const char*>(&kZero);
      const bool fast = take ? try_select_row32(n, p[0], s[0], p[2], s[2], p[1], s[1], z, 0)
                             : try_select_row32(n, p[0], s[0], p[2], s[2], z, 0, p[1], s[1]);
      if (fast) return;
      for (int64_t i = 0; i < n; ++i) {
        const U m = all_ones_if<U>(load<bool>(p[2] + i * s[2]) == take);
        store<U>(p[0] + i * s[0], static_cast<U>(load<U>(p[1] + i * s[1]) & m));
      }
    });
    return;
  }
  binary_loop<U, U, bool>(
      L, [take](U g, bool c) { return static_cast<U>(g & all_ones_if<U>(c == take)); });
}

}  // namespace

void where_forward(const StridedLoop<4>& L, size_t element_size) {
  switch (element_size) {
    case 1: return where_t<uint8_t>(L);
    case 2: return where_t<uint16_t>(L);
    case 4: return where_t<uint32_t>(L);
    case 8: return where_t<uint64_t>(L);
    default: CF_THROW(DTypeError, "where: unsupported element size ", element_size);
  }
}

void masked_fill_forward(const StridedLoop<3>& L, DType dtype, double value) {
  switch (dtype) {
    case DType::f32: return masked_fill_t(L, bits_of(static_cast<float>(value)));
    case DType::f64: return masked_fill_t(L, bits_of(value));
    case DType::i64: return masked_fill_t(L, bits_of(static_cast<int64_t>(value)));
    case DType::b8: return masked_fill_t(L, bits_of(value != 0.0));
    default: CF_THROW(DTypeError, "masked_fill: unsupported dtype ", dtype_name(dtype));
  }
}

void where_backward(const StridedLoop<3>& L, DType dtype, bool take) {
  switch (dtype) {
    case DType::f32: return where_backward_t<uint32_t>(L, take);
    case DType::f64: return where_backward_t<uint64_t>(L, take);
    default: CF_THROW(DTypeError, "where: unsupported gradient dtype ", dtype_name(dtype));
  }
}

}  // namespace cf::ops::cpu
