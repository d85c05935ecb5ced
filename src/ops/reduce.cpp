#include "ops/reduce.h"

#include <cmath>

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
  for (int d = 0; d < nd; ++d)
    if (!p.reduced[d]) {
      p.perm.push_back(d);
      p.outer *= x.shape()[d];
    }
  for (int d = 0; d < nd; ++d)
    if (p.reduced[d]) {
      p.perm.push_back(d);
      p.R *= x.shape()[d];
    }
  p.x = xd.permute(p.perm).contiguous();
  return p;
}

Tensor unplan(const Tensor& t, const ReducePlan& plan, const Shape& in_shape) {
  if (plan.perm.empty()) return t.view(in_shape);
  Shape permuted;
  Dims inverse = Dims::filled(plan.perm.size(), 0);
  for (int i = 0; i < plan.perm.size(); ++i) {
    permuted.push_back(in_shape[plan.perm[i]]);
    inverse[plan.perm[i]] = i;
  }
  return t.view(permuted).permute(inverse);
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

template <class T>
void run_sum(const ops::ReducePlan& p, const Tensor& y) {
  ops::cpu::ReduceArgs<T> a{p.x.data_ptr<T>(), y.data_ptr<T>(), p.outer, p.R, p.inner};
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::sum_forward<T>(a);
  else
    ops::cpu::sum_forward_ref<T>(a);
}

Tensor sum_impl(const Tensor& x, const Dims& dims, bool keepdim, bool is_mean) {
  const char* name = is_mean ? "mean" : "sum";
  if (is_mean)
    ops::check_floating(name, x);
  else
    ops::check_arithmetic(name, x);
  ops::ReducePlan p = ops::plan_reduction(x, dims, keepdim, name);
  Tensor y = empty(p.out_shape, x.dtype());
  switch (x.dtype()) {
    case DType::f32:
      run_sum<float>(p, y);
      break;
    case DType::f64:
      run_sum<double>(p, y);
      break;
    case DType::i64:
      run_sum<int64_t>(p, y);
      break;
    default:
      CF_THROW(DTypeError, name, ": unsupported dtype ", dtype_name(x.dtype()));
  }
  if (is_mean) {
    NoGradGuard ng;
    y.mul_(1.0 / static_cast<double>(p.R));  // R = 0 gives NaN, as in PyTorch
  }
  if (autograd::needs_grad(x)) {
    const Shape in_shape = x.shape(), keep = p.keep_shape;
    const double scale = is_mean ? 1.0 / static_cast<double>(p.R) : 1.0;
    autograd::record(name, {x}, y,
                     [in_shape, keep, scale](const TensorList& g, const Needs&) -> TensorList {
                       Tensor gk = g[0].reshape(keep);
                       if (scale != 1.0) gk = mul(gk, scale);
                       return {gk.expand(in_shape)};
                     });
  }
  return y;
}

// The plan without its data, kept by backward closures (the data is saved separately).
ops::ReducePlan layout_only(const ops::ReducePlan& p) {
  ops::ReducePlan l = p;
  l.x = Tensor();
  return l;
}

template <class T>
const T* cptr(const Tensor& t) {
  return t.numel() ? t.data_ptr<T>() : nullptr;
}
template <class T>
T* ptr(const Tensor& t) {
  return t.numel() ? t.data_ptr<T>() : nullptr;
}

// ------------------------------------------------------------------------------ var / std

template <class T>
void run_var(const ops::ReducePlan& p, const Tensor& mean, const Tensor& y, int64_t correction,
             bool take_sqrt) {
  ops::cpu::VarArgs<T> a{cptr<T>(p.x), ptr<T>(mean), ptr<T>(y),  p.outer,
                         p.R,          p.inner,      correction, take_sqrt};
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::var_forward(a);
  else
    ops::cpu::var_forward_ref(a);
}

template <class T>
Tensor run_var_backward(const ops::ReducePlan& l, const Tensor& x, const Tensor& mean,
                        const Tensor& y, const Tensor& g, int64_t correction, bool is_std) {
  Tensor dx = empty(Shape{l.outer, l.R, l.inner}, x.dtype());
  ops::cpu::VarBackwardArgs<T> a{cptr<T>(x), cptr<T>(mean), cptr<T>(y), cptr<T>(g), ptr<T>(dx),
                                 l.outer,    l.R,           l.inner,    correction, is_std};
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::var_backward(a);
  else
    ops::cpu::var_backward_ref(a);
  return dx;
}

Tensor var_impl(const Tensor& x, const Dims& dims, int64_t correction, bool keepdim, bool is_std) {
  const char* name = is_std ? "std" : "var";
  ops::check_floating(name, x);
  ops::ReducePlan p = ops::plan_reduction(x, dims, keepdim, name);
  Tensor y = empty(p.out_shape, x.dtype());
  Tensor m = empty(p.out_shape, x.dtype());
  if (x.dtype() == DType::f32)
    run_var<float>(p, m, y, correction, is_std);
  else
    run_var<double>(p, m, y, correction, is_std);
  if (autograd::needs_grad(x)) {
    const Shape in_shape = x.shape();
    autograd::record(
        name, {x}, y,
        [sx = autograd::save(p.x), sy = autograd::save(y), m, l = layout_only(p), in_shape,
         correction, is_std](const TensorList& g, const Needs&) -> TensorList {
          const Tensor gc = g[0].contiguous();
          const Tensor& xd = sx.get();
          Tensor dx = xd.dtype() == DType::f32
                          ? run_var_backward<float>(l, xd, m, sy.get(), gc, correction, is_std)
                          : run_var_backward<double>(l, xd, m, sy.get(), gc, correction, is_std);
          return {ops::unplan(dx, l, in_shape)};
        });
  }
  return y;
}

// ------------------------------------------------------------------------------- max / min

template <class T>
void run_arg(const ops::ReducePlan& p, const Tensor& values, const Tensor& indices, bool is_max) {
  ops::cpu::ArgReduceArgs<T> a{cptr<T>(p.x),
                               values.defined() ? ptr<T>(values) : nullptr,
                               indices.defined() ? ptr<int64_t>(indices) : nullptr,
                               p.outer,
                               p.R,
                               p.inner,
                               is_max};
  if constexpr (std::is_same_v<T, double>)
    ops::cpu::arg_reduce_ref(a);
  else
    ops::cpu::arg_reduce(a);
}

void arg_dispatch(const char* name, const ops::ReducePlan& p, const Tensor& values,
                  const Tensor& indices, bool is_max) {
  switch (p.x.dtype()) {
    case DType::f32:
      return run_arg<float>(p, values, indices, is_max);
    case DType::f64:
      return run_arg<double>(p, values, indices, is_max);
    case DType::i64:
      return run_arg<int64_t>(p, values, indices, is_max);
    default:
      CF_THROW(DTypeError, name, ": unsupported dtype ", dtype_name(p.x.dtype()));
  }
}

template <class T>
Tensor run_index_backward(const ops::ReducePlan& l, const Tensor& g, const Tensor& indices,
                          DType dtype) {
  Tensor dx = empty(Shape{l.outer, l.R, l.inner}, dtype);
  ops::cpu::IndexBackwardArgs<T> a{cptr<T>(g), cptr<int64_t>(indices), ptr<T>(dx), l.outer, l.R,
                                   l.inner};
  ops::cpu::index_backward(a);
  return dx;
}

ValuesIndices extremum_dim(const Tensor& x, int dim, bool keepdim, bool is_max) {
  const char* name = is_max ? "max" : "min";
  ops::check_arithmetic(name, x);
  const int d = detail::wrap_dim(dim, x.dim(), name);
  CF_CHECK(x.dim() == 0 || x.shape()[d] > 0, IndexError, name, ": cannot reduce dim ", dim,
           " of size 0 (input shape ", x.shape(), ")");
  ops::ReducePlan p = ops::plan_reduction(x, Dims{dim}, keepdim, name);
  Tensor values = empty(p.out_shape, x.dtype());
  Tensor indices = empty(p.out_shape, DType::i64);
  arg_dispatch(name, p, values, indices, is_max);
  if (autograd::needs_grad(x)) {
    const Shape in_shape = x.shape();
    autograd::record(name, {x}, values,
                     [si = autograd::save(indices), l = layout_only(p), in_shape](
                         const TensorList& g, const Needs&) -> TensorList {
                       const Tensor gc = g[0].contiguous();
                       Tensor dx = gc.dtype() == DType::f32
                                       ? run_index_backward<float>(l, gc, si.get(), gc.dtype())
                                       : run_index_backward<double>(l, gc, si.get(), gc.dtype());
                       return {ops::unplan(dx, l, in_shape)};
                     });
  }
  return {values, indices};
}

template <class T>
Tensor run_tie_backward(const Tensor& x, const Tensor& value, const Tensor& g) {
  Tensor dx = empty(x.shape(), x.dtype());
  ops::cpu::TieBackwardArgs<T> a{cptr<T>(x), static_cast<T>(value.item()), static_cast<T>(g.item()),
                                 ptr<T>(dx), x.numel()};
  ops::cpu::tie_backward(a);
  return dx;
}

Tensor extremum_all(const Tensor& x, bool is_max) {
  const char* name = is_max ? "max" : "min";
  ops::check_arithmetic(name, x);
  CF_CHECK(x.numel() > 0, ShapeError, name, ": the input of shape ", x.shape(),
           " is empty; give a dim to reduce over");
  ops::ReducePlan p = ops::plan_reduction(x, Dims{}, false, name);
  Tensor value = empty(Shape{}, x.dtype());
  arg_dispatch(name, p, value, Tensor(), is_max);
  if (autograd::needs_grad(x)) {
    autograd::record(name, {x}, value,
                     [sx = autograd::save(p.x), sv = autograd::save(value)](
                         const TensorList& g, const Needs&) -> TensorList {
                       const Tensor& xd = sx.get();
                       return {xd.dtype() == DType::f32
                                   ? run_tie_backward<float>(xd, sv.get(), g[0])
                                   : run_tie_backward<double>(xd, sv.get(), g[0])};
                     });
  }
  return value;
}

Tensor arg_extremum(const Tensor& x, std::optional<int> dim, bool keepdim, bool is_max) {
  const char* name = is_max ? "argmax" : "argmin";
  ops::check_arithmetic(name, x);
  if (!dim) {
    CF_CHECK(x.numel() > 0, ShapeError, name, ": the input of shape ", x.shape(),
             " is empty; give a dim to reduce over");
    ops::ReducePlan p = ops::plan_reduction(x, Dims{}, false, name);
    Tensor index = empty(keepdim ? Shape::filled(x.dim(), 1) : Shape{}, DType::i64);
    arg_dispatch(name, p, Tensor(), index, is_max);
    return index;
  }
  const int d = detail::wrap_dim(*dim, x.dim(), name);
  CF_CHECK(x.dim() == 0 || x.shape()[d] > 0, IndexError, name, ": cannot reduce dim ", *dim,
           " of size 0 (input shape ", x.shape(), ")");
  ops::ReducePlan p = ops::plan_reduction(x, Dims{*dim}, keepdim, name);
  Tensor index = empty(p.out_shape, DType::i64);
  arg_dispatch(name, p, Tensor(), index, is_max);
  return index;
}

// ------------------------------------------------------------------------- logsumexp, norm

template <class T>
Tensor run_pointwise_backward(const ops::ReducePlan& l, const Tensor& x, const Tensor& y,
                              const Tensor& g, double p, bool is_norm) {
  Tensor dx = empty(Shape{l.outer, l.R, l.inner}, x.dtype());
  ops::cpu::PointwiseBackwardArgs<T> a{cptr<T>(x), cptr<T>(y), cptr<T>(g), ptr<T>(dx),
                                       l.outer,    l.R,        l.inner,    p};
  if constexpr (std::is_same_v<T, float>) {
    if (is_norm)
      ops::cpu::norm_backward(a);
    else
      ops::cpu::logsumexp_backward(a);
  } else {
    if (is_norm)
      ops::cpu::norm_backward_ref(a);
    else
      ops::cpu::logsumexp_backward_ref(a);
  }
  return dx;
}

template <class T>
void run_pointwise_forward(const ops::ReducePlan& p, const Tensor& y, double ord, bool is_norm) {
  if (is_norm) {
    ops::cpu::NormArgs<T> a{cptr<T>(p.x), ptr<T>(y), p.outer, p.R, p.inner, ord};
    if constexpr (std::is_same_v<T, float>)
      ops::cpu::norm_forward(a);
    else
      ops::cpu::norm_forward_ref(a);
  } else {
    ops::cpu::ReduceArgs<T> a{cptr<T>(p.x), ptr<T>(y), p.outer, p.R, p.inner};
    if constexpr (std::is_same_v<T, float>)
      ops::cpu::logsumexp_forward(a);
    else
      ops::cpu::logsumexp_forward_ref(a);
  }
}

// logsumexp (is_norm false) and the p-norm share their plumbing: y from x, dx from x, y and g.
Tensor pointwise_reduce(const Tensor& x, const Dims& dims, bool keepdim, double ord, bool is_norm) {
  const char* name = is_norm ? "norm" : "logsumexp";
  ops::check_floating(name, x);
  CF_CHECK(!std::isnan(ord), ValueError, name, ": p must not be NaN");
  ops::ReducePlan p = ops::plan_reduction(x, dims, keepdim, name);
  if (is_norm && std::isinf(ord))
    CF_CHECK(p.R > 0 || p.outer * p.inner == 0, ShapeError, name,
             ": the infinity norm of an empty reduction is undefined (input shape ", x.shape(),
             ")");
  Tensor y = empty(p.out_shape, x.dtype());
  if (x.dtype() == DType::f32)
    run_pointwise_forward<float>(p, y, ord, is_norm);
  else
    run_pointwise_forward<double>(p, y, ord, is_norm);
  if (autograd::needs_grad(x)) {
    const Shape in_shape = x.shape();
    autograd::record(name, {x}, y,
                     [sx = autograd::save(p.x), sy = autograd::save(y), l = layout_only(p),
                      in_shape, ord, is_norm](const TensorList& g, const Needs&) -> TensorList {
                       const Tensor gc = g[0].contiguous();
                       const Tensor& xd = sx.get();
                       Tensor dx =
                           xd.dtype() == DType::f32
                               ? run_pointwise_backward<float>(l, xd, sy.get(), gc, ord, is_norm)
                               : run_pointwise_backward<double>(l, xd, sy.get(), gc, ord, is_norm);
                       return {ops::unplan(dx, l, in_shape)};
                     });
  }
  return y;
}

}  // namespace

Tensor sum(const Tensor& x, const Dims& dims, bool keepdim) {
  return sum_impl(x, dims, keepdim, false);
}
Tensor mean(const Tensor& x, const Dims& dims, bool keepdim) {
  return sum_impl(x, dims, keepdim, true);
}
Tensor var(const Tensor& x, const Dims& dims, int64_t correction, bool keepdim) {
  return var_impl(x, dims, correction, keepdim, false);
}
Tensor std_dev(const Tensor& x, const Dims& dims, int64_t correction, bool keepdim) {
  return var_impl(x, dims, correction, keepdim, true);
}
ValuesIndices max(const Tensor& x, int dim, bool keepdim) {
  return extremum_dim(x, dim, keepdim, true);
}
ValuesIndices min(const Tensor& x, int dim, bool keepdim) {
  return extremum_dim(x, dim, keepdim, false);
}
Tensor max(const Tensor& x) {
  return extremum_all(x, true);
}
Tensor min(const Tensor& x) {
  return extremum_all(x, false);
}
Tensor argmax(const Tensor& x, std::optional<int> dim, bool keepdim) {
  return arg_extremum(x, dim, keepdim, true);
}
Tensor argmin(const Tensor& x, std::optional<int> dim, bool keepdim) {
  return arg_extremum(x, dim, keepdim, false);
}
Tensor logsumexp(const Tensor& x, const Dims& dims, bool keepdim) {
  return pointwise_reduce(x, dims, keepdim, 0.0, false);
}
Tensor norm(const Tensor& x, double p, const Dims& dims, bool keepdim) {
  return pointwise_reduce(x, dims, keepdim, p, true);
}

}  // namespace cf
