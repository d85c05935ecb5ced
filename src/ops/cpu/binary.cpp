#include "ops/binary.h"

#include <cmath>

#include "ops/cpu/elementwise.h"
#include "util/check.h"

namespace cf::ops::cpu {
namespace {

template <class T> void arith_t(Arith op, const StridedLoop<3>& L, T alpha) {
  switch (op) {
    case Arith::add:
      if (alpha == T(1)) return binary_loop<T, T, T>(L, [](T a, T b) { return a + b; });
      return binary_loop<T, T, T>(L, [alpha](T a, T b) { return a + alpha * b; });
    case Arith::sub:
      if (alpha == T(1)) return binary_loop<T, T, T>(L, [](T a, T b) { return a - b; });
      return binary_loop<T, T, T>(L, [alpha](T a, T b) { return a - alpha * b; });
    case Arith::mul: return binary_loop<T, T, T>(L, [](T a, T b) { return a * b; });
    case Arith::div: return binary_loop<T, T, T>(L, [](T a, T b) { return a / b; });
  }
}

template <class T> void arith_scalar_t(Arith op, const StridedLoop<2>& L, T s) {
  switch (op) {
    case Arith::add: return unary_loop<T, T>(L, [s](T a) { return a + s; });
    case Arith::sub: return unary_loop<T, T>(L, [s](T a) { return a - s; });
    case Arith::mul: return unary_loop<T, T>(L, [s](T a) { return a * s; });
    case Arith::div: return unary_loop<T, T>(L, [s](T a) { return a / s; });
  }
}

// In the templates below T is the storage type and C the type the math runs in: T for the
// optimized kernels, double for the references.
template <class T, class C> void div_divisor_t(const StridedLoop<4>& L) {
  ternary_loop<T, T, T, T>(L, [](T g, T a, T b) {
    return static_cast<T>(-C(g) * ((C(a) / C(b)) / C(b)));
  });
}

template <class T, class C> void pow_t(const StridedLoop<3>& L) {
  binary_loop<T, T, T>(L, [](T a, T b) { return static_cast<T>(std::pow(C(a), C(b))); });
}

template <class T, class C> void pow_base_t(const StridedLoop<4>& L) {
  ternary_loop<T, T, T, T>(L, [](T g, T a, T b) {
    return b == T(0) ? T(0) : static_cast<T>(C(g) * (C(b) * std::pow(C(a), C(b) - C(1))));
  });
}

template <class T, class C> void pow_exponent_t(const StridedLoop<4>& L) {
  ternary_loop<T, T, T, T>(L, [](T g, T a, T b) {
    return a == T(0) && b >= T(0) ? T(0)
                                  : static_cast<T>(C(g) * (std::pow(C(a), C(b)) * std::log(C(a))));
  });
}

// a != a is true only for NaN: it makes NaN win in either position.
template <class T> void minmax_t(bool is_max, const StridedLoop<3>& L) {
  if (is_max) return binary_loop<T, T, T>(L, [](T a, T b) { return a != a || a > b ? a : b; });
  binary_loop<T, T, T>(L, [](T a, T b) { return a != a || a < b ? a : b; });
}

// PyTorch: where(self == other, g / 2, g).masked_fill_(self loses, 0).
template <class T, class C> void minmax_backward_t(bool is_max, const StridedLoop<4>& L) {
  if (is_max)
    return ternary_loop<T, T, T, T>(L, [](T g, T a, T b) {
      return a == b ? static_cast<T>(C(g) * C(0.5)) : a < b ? T(0) : g;
    });
  ternary_loop<T, T, T, T>(L, [](T g, T a, T b) {
    return a == b ? static_cast<T>(C(g) * C(0.5)) : a > b ? T(0) : g;
  });
}

}  // namespace

void div_backward_divisor(const StridedLoop<4>& L, DType dtype) {
  switch (dtype) {
    case DType::f32: return div_divisor_t<float, float>(L);
    case DType::f64: return div_backward_divisor_ref<double>(L);
    default: CF_THROW(DTypeError, "div: unsupported dtype ", dtype_name(dtype));
  }
}

void pow_forward(const StridedLoop<3>& L, DType dtype) {
  switch (dtype) {
    case DType::f32: return pow_t<float, float>(L);
    case DType::f64: return pow_forward_ref<double>(L);
    default: CF_THROW(DTypeError, "pow: unsupported dtype ", dtype_name(dtype));
  }
}
void pow_backward_base(const StridedLoop<4>& L, DType dtype) {
  switch (dtype) {
    case DType::f32: return pow_base_t<float, float>(L);
    case DType::f64: return pow_backward_base_ref<double>(L);
    default: CF_THROW(DTypeError, "pow: unsupported dtype ", dtype_name(dtype));
  }
}
void pow_backward_exponent(const StridedLoop<4>& L, DType dtype) {
  switch (dtype) {
    case DType::f32: return pow_exponent_t<float, float>(L);
    case DType::f64: return pow_backward_exponent_ref<double>(L);
    default: CF_THROW(DTypeError, "pow: unsupported dtype ", dtype_name(dtype));
  }
}
void minmax_forward(bool is_max, const StridedLoop<3>& L, DType dtype) {
  switch (dtype) {
    case DType::f32: return minmax_t<float>(is_max, L);
    case DType::f64: return minmax_forward_ref<double>(is_max, L);
    case DType::i64: return minmax_t<int64_t>(is_max, L);
    default: CF_THROW(DTypeError, "minmax: unsupported dtype ", dtype_name(dtype));
  }
}
void minmax_backward(bool is_max, const StridedLoop<4>& L, DType dtype) {
  switch (dtype) {
    case DType::f32: return minmax_backward_t<float, float>(is_max, L);
    case DType::f64: return minmax_backward_ref<double>(is_max, L);
    default: CF_THROW(DTypeError, "minmax: unsupported dtype ", dtype_name(dtype));
  }
}

template <class T> void div_backward_divisor_ref(const StridedLoop<4>& L) {
  div_divisor_t<T, double>(L);
}
template <class T> void pow_forward_ref(const StridedLoop<3>& L) { pow_t<T, double>(L); }
template <class T> void pow_backward_base_ref(const StridedLoop<4>& L) { pow_base_t<T, double>(L); }
template <class T> void pow_backward_exponent_ref(const StridedLoop<4>& L) {
  pow_exponent_t<T, double>(L);
}
template <class T> void minmax_forward_ref(bool is_max, const StridedLoop<3>& L) {
  minmax_t<T>(is_max, L);  // exact: a selection, no arithmetic
}
template <class T> void minmax_backward_ref(bool is_max, const StridedLoop<4>& L) {
  minmax_backward_t<T, double>(is_max, L);
}
template void div_backward_divisor_ref<float>(const StridedLoop<4>&);
template void div_backward_divisor_ref<double>(const StridedLoop<4>&);
template void pow_forward_ref<float>(const StridedLoop<3>&);
template void pow_forward_ref<double>(const StridedLoop<3>&);
template void pow_backward_base_ref<float>(const StridedLoop<4>&);
template void pow_backward_base_ref<double>(const StridedLoop<4>&);
template void pow_backward_exponent_ref<float>(const StridedLoop<4>&);
template void pow_backward_exponent_ref<double>(const StridedLoop<4>&);
template void minmax_forward_ref<float>(bool, const StridedLoop<3>&);
template void minmax_forward_ref<double>(bool, const StridedLoop<3>&);
template void minmax_backward_ref<float>(bool, const StridedLoop<4>&);
template void minmax_backward_ref<double>(bool, const StridedLoop<4>&);

void arith(Arith op, const StridedLoop<3>& L, DType dtype, double alpha) {
  switch (dtype) {
    case DType::f32: return arith_t<float>(op, L, static_cast<float>(alpha));
    case DType::f64: return arith_t<double>(op, L, alpha);
    case DType::i64: return arith_t<int64_t>(op, L, static_cast<int64_t>(alpha));
    default: CF_THROW(DTypeError, "arith: unsupported dtype ", dtype_name(dtype));
  }
}

void arith_scalar(Arith op, const StridedLoop<2>& L, DType dtype, double s) {
  switch (dtype) {
    case DType::f32: return arith_scalar_t<float>(op, L, static_cast<float>(s));
    case DType::f64: return arith_scalar_t<double>(op, L, s);
    case DType::i64: return arith_scalar_t<int64_t>(op, L, static_cast<int64_t>(s));
    default: CF_THROW(DTypeError, "arith: unsupported dtype ", dtype_name(dtype));
  }
}

void arith_ref(Arith op, const StridedLoop<3>& L, DType dtype, double alpha) {
  auto f = [op, alpha](double a, double b) {
    switch (op) {
      case Arith::add: return a + alpha * b;
      case Arith::sub: return a - alpha * b;
      case Arith::mul: return a * b;
      case Arith::div: return a / b;
    }
    return 0.0;
  };
  switch (dtype) {
    case DType::f32:
      return binary_loop<float, float, float>(
          L, [&f](float a, float b) { return static_cast<float>(f(a, b)); });
    case DType::f64: return binary_loop<double, double, double>(L, f);
    default: CF_THROW(DTypeError, "arith_ref: unsupported dtype ", dtype_name(dtype));
  }
}

}  // namespace cf::ops::cpu
