#include "ops/binary.h"

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

}  // namespace

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
