#include "ops/compare.h"

#include "cformer/ops.h"
#include "ops/elementwise.h"
#include "tensor/tensor_util.h"
#include "util/check.h"

namespace cf {
namespace {

using ops::cpu::Cmp;
using ops::cpu::Logical;

const char* cmp_name(Cmp op) {
  switch (op) {
    case Cmp::eq: return "eq";
    case Cmp::ne: return "ne";
    case Cmp::lt: return "lt";
    case Cmp::le: return "le";
    case Cmp::gt: return "gt";
    case Cmp::ge: return "ge";
  }
  return "?";
}

void check_comparable(const char* op, const Tensor& t) {
  CF_CHECK(t.defined(), ValueError, op, ": input is undefined");
  detail::check_cpu(t, op, "input");
  const DType d = t.dtype();
  CF_CHECK(d == DType::f32 || d == DType::f64 || d == DType::i64 || d == DType::b8, DTypeError, op,
           ": input must be f32, f64, i64 or bool, got ", dtype_name(d));
}

void check_bool(const char* op, const Tensor& t, const char* arg) {
  CF_CHECK(t.defined(), ValueError, op, ": ", arg, " is undefined");
  detail::check_cpu(t, op, arg);
  CF_CHECK(t.dtype() == DType::b8, DTypeError, op, ": ", arg, " must be bool, got ",
           dtype_name(t.dtype()));
}

Tensor compare(Cmp op, const Tensor& a, const Tensor& b) {
  const char* name = cmp_name(op);
  const Shape shape = ops::check_binary(name, a, b);
  check_comparable(name, a);
  Tensor out = empty(shape, DType::b8);
  ops::cpu::compare(op, ops::make_loop<3>(out, {&a, &b}), a.dtype());
  return out;
}

Tensor compare(Cmp op, const Tensor& a, double s) {
  const char* name = cmp_name(op);
  check_comparable(name, a);
  Tensor out = empty(a.shape(), DType::b8);
  ops::cpu::compare_scalar(op, ops::make_loop<2>(out, {&a}), a.dtype(), s);
  return out;
}

Tensor logical(Logical op, const Tensor& a, const Tensor& b) {
  const char* name = op == Logical::and_ ? "logical_and" : "logical_or";
  const Shape shape = ops::check_binary(name, a, b);
  check_bool(name, a, "a");
  Tensor out = empty(shape, DType::b8);
  ops::cpu::logical(op, ops::make_loop<3>(out, {&a, &b}));
  return out;
}

}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return compare(Cmp::eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare(Cmp::ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare(Cmp::lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return compare(Cmp::le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare(Cmp::gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare(Cmp::ge, a, b); }
Tensor eq(const Tensor& a, double b) { return compare(Cmp::eq, a, b); }
Tensor ne(const Tensor& a, double b) { return compare(Cmp::ne, a, b); }
Tensor lt(const Tensor& a, double b) { return compare(Cmp::lt, a, b); }
Tensor le(const Tensor& a, double b) { return compare(Cmp::le, a, b); }
Tensor gt(const Tensor& a, double b) { return compare(Cmp::gt, a, b); }
Tensor ge(const Tensor& a, double b) { return compare(Cmp::ge, a, b); }

Tensor logical_not(const Tensor& a) {
  check_bool("logical_not", a, "input");
  Tensor out = empty(a.shape(), DType::b8);
  ops::cpu::logical_not(ops::make_loop<2>(out, {&a}));
  return out;
}
Tensor logical_and(const Tensor& a, const Tensor& b) { return logical(Logical::and_, a, b); }
Tensor logical_or(const Tensor& a, const Tensor& b) { return logical(Logical::or_, a, b); }

}  // namespace cf
