#include "ops/reduce.h"

#include "autograd/node.h"
#include "cformer/ops.h"
#include "ops/elementwise.h"
#include "tensor/tensor_util.h"
#include "util/check.h"

namespace cf {
namespace ops {

ReducePlan plan_reduction(const Tensor& x, const Dims& dims, bool keepdim, const char* op) {
  ReducePlan p;
  const int nd = x.dim();
  if (dims.empty()) {
    for (int d = 0; d < nd; ++d) p.reduced[d] = true;
  } else {
    for (int64_t d : dims) {
      const int w = detail::wrap_dim(d, nd, op);
      if (nd == 0) continue;
      CF_CHECK(!p.reduced[w], ShapeError, op, ": dim ", d, " appears twice in ", dims);
      p.reduced[w] = true;
    }
  }
  for (int d = 0; d < nd; ++d) {
    p.keep_shape.push_back(p.reduced[d] ? 1 : x.shape()[d]);
    if (!p.reduced[d] || keepdim) p.out_shape.push_back(p.reduced[d] ? 1 : x.shape()[d]);
  }
  int first = nd, last = -1;
  for (int d = 0; d < nd; ++d)
    if (p.reduced[d]) {
      first = std::min(first, d);
      last = d;
    }
  bool block = true;
  for (int d = first; d <= last; ++d) block = block && p.reduced[d];
  Tensor xd = x.detach();
  if (last < 0) {  // nothing reduced (0-dim input)
    p.x = xd.contiguous();
    p.outer = x.numel();
    return p;
  }
  if (block && xd.is_contiguous()) {
    for (int d = 0; d < first; ++d) p.outer *= x.shape()[d];
    for (int d = first; d <= last; ++d) p.R *= x.shape()[d];
    for (int d = last + 1; d < nd; ++d) p.inner *= x.shape()[d];
    p.x = xd;
    return p;
  }
  Dims perm;
  for (int d = 0; d < nd; ++d)
    if (!p.reduced[d]) {
      perm.push_back(d);
      p.outer *= x.shape()[d];
    }
  for (int d = 0; d < nd; ++d)
    if (p.reduced[d]) {
      perm.push_back(d);
      p.R *= x.shape()[d];
    }
  p.x = xd.permute(perm).contiguous();
  return p;
}

Tensor expand_reduced(const Tensor& g, const ReducePlan& plan, const Shape& in_shape) {
  return g.reshape(plan.keep_shape).expand(in_shape);
}

Tensor sum_to_shape(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  const int lead = g.dim() - shape.size();
  CF_ASSERT(lead >= 0, "sum_to_shape: ", g.shape(), " -> ", shape);
  Dims dims;
  for (int d = 0; d < g.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && g.shape()[d] != 1)) dims.push_back(d);
  if (dims.empty()) return g.reshape(shape);
  return sum(g, dims, true).reshape(shape);
}

}  // namespace ops

namespace {

using autograd::Needs;
using autograd::TensorList;

template <class T> void run_sum(const ops::ReducePlan& p, const Tensor& y) {
  ops::cpu::ReduceArgs<T> a{p.x.data_ptr<T>(), y.data_ptr<T>(), p.outer, p.R, p.inner};
  if constexpr (std::is_same_v<T, float>) ops::cpu::sum_forward<T>(a);
  else ops::cpu::sum_forward_ref<T>(a);
}

Tensor sum_impl(const Tensor& x, const Dims& dims, bool keepdim, bool is_mean) {
  const char* name = is_mean ? "mean" : "sum";
  if (is_mean) ops::check_floating(name, x);
  else ops::check_arithmetic(name, x);
  ops::ReducePlan p = ops::plan_reduction(x, dims, keepdim, name);
  Tensor y = empty(p.out_shape, x.dtype());
  switch (x.dtype()) {
    case DType::f32: run_sum<float>(p, y); break;
    case DType::f64: run_sum<double>(p, y); break;
    case DType::i64: run_sum<int64_t>(p, y); break;
    default: CF_THROW(DTypeError, name, ": unsupported dtype ", dtype_name(x.dtype()));
  }
  if (is_mean) {
    NoGradGuard ng;
    y.mul_(1.0 / static_cast<double>(p.R));  // R = 0 gives NaN, as in PyTorch
  }
  if (autograd::needs_grad(x)) {
    const Shape in_shape = x.shape(), keep = p.keep_shape;
    const double scale = is_mean ? 1.0 / static_cast<double>(p.R) : 1.0;
    autograd::record(name, {x}, y, [in_shape, keep, scale](const TensorList& g, const Needs&) -> TensorList {
      Tensor gk = g[0].reshape(keep);
      if (scale != 1.0) gk = mul(gk, scale);
      return {gk.expand(in_shape)};
    });
  }
  return y;
}

}  // namespace

Tensor sum(const Tensor& x, const Dims& dims, bool keepdim) { return sum_impl(x, dims, keepdim, false); }
Tensor mean(const Tensor& x, const Dims& dims, bool keepdim) { return sum_impl(x, dims, keepdim, true); }

}  // namespace cf
