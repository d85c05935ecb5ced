#include "ops/elementwise.h"

#include "tensor/tensor_util.h"
#include "util/check.h"

namespace cf {

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int n = std::max(a.size(), b.size());
  Shape out = Shape::filled(n, 1);
  for (int i = 0; i < n; ++i) {
    const int ia = i - (n - a.size()), ib = i - (n - b.size());
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    CF_CHECK(da == db || da == 1 || db == 1, ShapeError, op, ": shapes ", a, " and ", b,
             " cannot be broadcast together (dim ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace ops {

Shape check_binary(const char* op, const Tensor& a, const Tensor& b) {
  CF_CHECK(a.defined() && b.defined(), ValueError, op, ": an operand is undefined");
  detail::check_cpu(a, op, "a");
  detail::check_cpu(b, op, "b");
  CF_CHECK(a.dtype() == b.dtype(), DTypeError, op, ": operands have different dtypes ",
           dtype_name(a.dtype()), " and ", dtype_name(b.dtype()),
           " (cformer does not promote; convert one with .to())");
  return broadcast_shapes(a.shape(), b.shape(), op);
}

void check_floating(const char* op, const Tensor& t, const char* arg) {
  CF_CHECK(t.defined(), ValueError, op, ": ", arg, " is undefined");
  detail::check_cpu(t, op, arg);
  CF_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f64, DTypeError, op, ": ", arg,
           " must be f32 or f64, got ", dtype_name(t.dtype()));
}

void check_arithmetic(const char* op, const Tensor& t, const char* arg) {
  CF_CHECK(t.defined(), ValueError, op, ": ", arg, " is undefined");
  detail::check_cpu(t, op, arg);
  CF_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f64 || t.dtype() == DType::i64,
           DTypeError, op, ": ", arg, " must be f32, f64 or i64, got ", dtype_name(t.dtype()));
}

}  // namespace ops
}  // namespace cf
