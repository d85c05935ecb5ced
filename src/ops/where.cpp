#include "ops/where.h"

#include <cmath>

#include "autograd/node.h"
#include "cformer/ops.h"
#include "ops/elementwise.h"
#include "ops/inplace.h"
#include "ops/reduce.h"
#include "tensor/tensor_util.h"
#include "util/check.h"

namespace cf {
namespace {

using autograd::Needs;
using autograd::TensorList;

void check_mask(const char* op, const Tensor& m, const char* arg) {
  CF_CHECK(m.defined(), ValueError, op, ": ", arg, " is undefined");
  detail::check_cpu(m, op, arg);
  CF_CHECK(m.dtype() == DType::b8, DTypeError, op, ": ", arg, " must be bool, got ",
           dtype_name(m.dtype()));
}

// Checks mask and x for masked_fill(_) writing a tensor of x's shape and dtype.
void check_masked_fill(const char* op, const Tensor& x, const Tensor& mask, double value) {
  CF_CHECK(x.defined(), ValueError, op, ": input is undefined");
  detail::check_cpu(x, op, "input");
  check_mask(op, mask, "mask");
  const DType d = x.dtype();
  CF_CHECK(d == DType::f32 || d == DType::f64 || d == DType::i64 || d == DType::b8, DTypeError, op,
           ": input must be f32, f64, i64 or bool, got ", dtype_name(d));
  CF_CHECK(broadcast_shapes(mask.shape(), x.shape(), op) == x.shape(), ShapeError, op,
           ": mask of shape ", mask.shape(), " does not broadcast to the input's shape ",
           x.shape());
  const bool int64_value = std::trunc(value) == value && std::fabs(value) < 9.2233720368547758e18;
  CF_CHECK(d != DType::i64 || int64_value, ValueError, op, ": value for an i64 tensor must be an integer, got ", value);
}

// g where cond == take, else 0 (cond broadcast to g's shape).
Tensor select_grad(const Tensor& g, const Tensor& cond, bool take) {
  Tensor d = empty(g.shape(), g.dtype());
  ops::cpu::where_backward(ops::make_loop<3>(d, {&g, &cond}), g.dtype(), take);
  return d;
}

}  // namespace

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_mask("where", cond, "condition");
  const Shape ab = ops::check_binary("where", a, b);
  const Shape shape = broadcast_shapes(cond.shape(), ab, "where");
  Tensor out = empty(shape, a.dtype());
  ops::cpu::where_forward(ops::make_loop<4>(out, {&cond, &a, &b}), a.element_size());
  if (autograd::needs_grad(a, b)) {
    const Shape sa = a.shape(), sb = b.shape();
    autograd::record("where", {a, b}, out,
                     [sa, sb, sc = autograd::save(cond)](const TensorList& g,
                                                         const Needs& needs) -> TensorList {
                       Tensor ga, gb;
                       if (needs[0]) ga = ops::sum_to_shape(select_grad(g[0], sc.get(), true), sa);
                       if (needs[1]) gb = ops::sum_to_shape(select_grad(g[0], sc.get(), false), sb);
                       return {ga, gb};
                     });
  }
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  check_masked_fill("masked_fill", x, mask, value);
  Tensor out = empty(x.shape(), x.dtype());
  ops::cpu::masked_fill_forward(ops::make_loop<3>(out, {&x, &mask}), x.dtype(), value);
  if (autograd::needs_grad(x)) {
    autograd::record("masked_fill", {x}, out,
                     [sm = autograd::save(mask)](const TensorList& g, const Needs&) -> TensorList {
                       return {select_grad(g[0], sm.get(), false)};
                     });
  }
  return out;
}

namespace ops {

void masked_fill_into(const Tensor& out, const Tensor& a, const Tensor& mask, double value) {
  check_masked_fill("masked_fill_", out, mask, value);
  CF_CHECK(a.defined(), ValueError, "masked_fill_: input is undefined");
  CF_CHECK(a.dtype() == out.dtype(), DTypeError, "masked_fill_: input dtype ",
           dtype_name(a.dtype()), " differs from output dtype ", dtype_name(out.dtype()));
  CF_CHECK(broadcast_shapes(a.shape(), out.shape(), "masked_fill_") == out.shape(), ShapeError,
           "masked_fill_: the input of shape ", a.shape(), " does not fit the output of shape ",
           out.shape());
  cpu::masked_fill_forward(make_loop<3>(out, {&a, &mask}), out.dtype(), value);
}

}  // namespace ops
}  // namespace cf
