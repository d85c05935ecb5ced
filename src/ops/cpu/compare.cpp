#include "ops/compare.h"

#include <cmath>

#include "ops/cpu/elementwise.h"
#include "util/check.h"

namespace cf::ops::cpu {
namespace {

template <class T> void compare_t(Cmp op, const StridedLoop<3>& L) {
  switch (op) {
    case Cmp::eq: return binary_loop<bool, T, T>(L, [](T a, T b) { return a == b; });
    case Cmp::ne: return binary_loop<bool, T, T>(L, [](T a, T b) { return a != b; });
    case Cmp::lt: return binary_loop<bool, T, T>(L, [](T a, T b) { return a < b; });
    case Cmp::le: return binary_loop<bool, T, T>(L, [](T a, T b) { return a <= b; });
    case Cmp::gt: return binary_loop<bool, T, T>(L, [](T a, T b) { return a > b; });
    case Cmp::ge: return binary_loop<bool, T, T>(L, [](T a, T b) { return a >= b; });
  }
}

// a is loaded as T and compared as C with s (already of type C).
template <class T, class C> void compare_scalar_t(Cmp op, const StridedLoop<2>& L, C s) {
  switch (op) {
    case Cmp::eq: return unary_loop<bool, T>(L, [s](T a) { return C(a) == s; });
    case Cmp::ne: return unary_loop<bool, T>(L, [s](T a) { return C(a) != s; });
    case Cmp::lt: return unary_loop<bool, T>(L, [s](T a) { return C(a) < s; });
    case Cmp::le: return unary_loop<bool, T>(L, [s](T a) { return C(a) <= s; });
    case Cmp::gt: return unary_loop<bool, T>(L, [s](T a) { return C(a) > s; });
    case Cmp::ge: return unary_loop<bool, T>(L, [s](T a) { return C(a) >= s; });
  }
}

}  // namespace

void compare(Cmp op, const StridedLoop<3>& L, DType dtype) {
  switch (dtype) {
    case DType::f32: return compare_t<float>(op, L);
    case DType::f64: return compare_t<double>(op, L);
    case DType::i64: return compare_t<int64_t>(op, L);
    case DType::b8: return compare_t<bool>(op, L);
    default: CF_THROW(DTypeError, "compare: unsupported dtype ", dtype_name(dtype));
  }
}

void compare_scalar(Cmp op, const StridedLoop<2>& L, DType dtype, double s) {
  switch (dtype) {
    case DType::f32: return compare_scalar_t<float, float>(op, L, static_cast<float>(s));
    case DType::f64: return compare_scalar_t<double, double>(op, L, s);
    case DType::i64:
      // Integers in (-2^63, 2^63) compare exactly as int64; anything else compares in double.
      if (std::trunc(s) == s && std::fabs(s) < 9.2233720368547758e18)
        return compare_scalar_t<int64_t, int64_t>(op, L, static_cast<int64_t>(s));
      return compare_scalar_t<int64_t, double>(op, L, s);
    case DType::b8: return compare_scalar_t<bool, double>(op, L, s);
    default: CF_THROW(DTypeError, "compare: unsupported dtype ", dtype_name(dtype));
  }
}

template <class T> void compare_ref(Cmp op, const StridedLoop<3>& L) {
  binary_loop<bool, T, T>(L, [op](T at, T bt) {
    const double a = static_cast<double>(at), b = static_cast<double>(bt);
    switch (op) {
      case Cmp::eq: return a == b;
      case Cmp::ne: return a != b;
      case Cmp::lt: return a < b;
      case Cmp::le: return a <= b;
      case Cmp::gt: return a > b;
      case Cmp::ge: return a >= b;
    }
    return false;
  });
}
template void compare_ref<float>(Cmp, const StridedLoop<3>&);
template void compare_ref<double>(Cmp, const StridedLoop<3>&);
template void compare_ref<int64_t>(Cmp, const StridedLoop<3>&);
template void compare_ref<bool>(Cmp, const StridedLoop<3>&);

void logical_not(const StridedLoop<2>& L) {
  unary_loop<bool, bool>(L, [](bool a) { return !a; });
}

void logical(Logical op, const StridedLoop<3>& L) {
  if (op == Logical::and_)
    return binary_loop<bool, bool, bool>(L, [](bool a, bool b) { return a && b; });
  binary_loop<bool, bool, bool>(L, [](bool a, bool b) { return a || b; });
}

}  // namespace cf::ops::cpu
