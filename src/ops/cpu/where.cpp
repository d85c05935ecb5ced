#include "ops/where.h"

#include <cstdint>

#include "ops/cpu/elementwise.h"
#include "util/check.h"

namespace cf::ops::cpu {
namespace {

template <class T> void masked_fill_t(const StridedLoop<3>& L, T value) {
  binary_loop<T, T, bool>(L, [value](T x, bool m) { return m ? value : x; });
}

template <class T> void where_backward_t(const StridedLoop<3>& L, bool take) {
  if (take) return binary_loop<T, T, bool>(L, [](T g, bool c) { return c ? g : T(0); });
  binary_loop<T, T, bool>(L, [](T g, bool c) { return c ? T(0) : g; });
}

}  // namespace

// Selection moves bits: the element size, not the dtype, picks the instantiation.
void where_forward(const StridedLoop<4>& L, size_t element_size) {
  auto run = [&L](auto zero) {
    using T = decltype(zero);
    ternary_loop<T, bool, T, T>(L, [](bool c, T a, T b) { return c ? a : b; });
  };
  switch (element_size) {
    case 1: return run(uint8_t{});
    case 2: return run(uint16_t{});
    case 4: return run(uint32_t{});
    case 8: return run(uint64_t{});
    default: CF_THROW(DTypeError, "where: unsupported element size ", element_size);
  }
}

void masked_fill_forward(const StridedLoop<3>& L, DType dtype, double value) {
  switch (dtype) {
    case DType::f32: return masked_fill_t<float>(L, static_cast<float>(value));
    case DType::f64: return masked_fill_t<double>(L, value);
    case DType::i64: return masked_fill_t<int64_t>(L, static_cast<int64_t>(value));
    case DType::b8: return masked_fill_t<bool>(L, value != 0.0);
    default: CF_THROW(DTypeError, "masked_fill: unsupported dtype ", dtype_name(dtype));
  }
}

void where_backward(const StridedLoop<3>& L, DType dtype, bool take) {
  switch (dtype) {
    case DType::f32: return where_backward_t<float>(L, take);
    case DType::f64: return where_backward_t<double>(L, take);
    default: CF_THROW(DTypeError, "where: unsupported gradient dtype ", dtype_name(dtype));
  }
}

}  // namespace cf::ops::cpu
