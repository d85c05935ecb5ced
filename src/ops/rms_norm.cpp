#include "ops/rms_norm.h"

#include "autograd/node.h"
#include "cformer/ops.h"
#include "ops/elementwise.h"
#include "util/check.h"

namespace cf {
namespace {

using autograd::Needs;
using autograd::TensorList;

template <class T>
T* ptr(const Tensor& t) {
  return t.defined() && t.numel() ? t.data_ptr<T>() : nullptr;
}

/// Validates the arguments; returns N, the number of elements per normalized row.
int64_t check_rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight) {
  const char* op = "rms_norm";
  ops::check_floating(op, x);
  CF_CHECK(!normalized_shape.empty(), ShapeError, op, ": normalized_shape must not be empty");
  const int k = normalized_shape.size();
  bool match = x.dim() >= k;
  for (int i = 0; match && i < k; ++i) match = x.shape()[x.dim() - k + i] == normalized_shape[i];
  CF_CHECK(match, ShapeError, op, ": input of shape ", x.shape(),
           " does not end with normalized_shape ", normalized_shape);
  if (weight.defined()) {
    CF_CHECK(weight.dtype() == x.dtype(), DTypeError, op, ": weight must have dtype ",
             dtype_name(x.dtype()), " like the input, got ", dtype_name(weight.dtype()));
    CF_CHECK(weight.shape() == normalized_shape, ShapeError, op, ": weight must have shape ",
             normalized_shape, ", got ", weight.shape());
  }
  return normalized_shape.numel();
}

template <class T>
Tensor forward(const Tensor& x, const Tensor& w, const Tensor& rstd, int64_t M, int64_t N,
               double eps) {
  Tensor y = empty(x.shape(), x.dtype());
  const ops::cpu::RmsNormArgs<T> a{ptr<T>(x), ptr<T>(w), ptr<T>(y), ptr<T>(rstd), M, N, eps};
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::rms_norm_forward(a);
  else
    ops::cpu::rms_norm_forward_ref(a);
  return y;
}

template <class T>
TensorList backward(const Tensor& x, const Tensor& w, const Tensor& rstd, const Tensor& g,
                    const Needs& needs, const Shape& normalized_shape) {
  const int64_t N = normalized_shape.numel(), M = N ? x.numel() / N : 0;
  Tensor dx = needs[0] ? empty(x.shape(), x.dtype()) : Tensor();
  Tensor dw = needs[1] ? empty(normalized_shape, x.dtype()) : Tensor();
  const ops::cpu::RmsNormBackwardArgs<T> a{
      ptr<T>(x), ptr<T>(w), ptr<T>(rstd), ptr<T>(g), ptr<T>(dx), ptr<T>(dw), M, N};
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::rms_norm_backward(a);
  else
    ops::cpu::rms_norm_backward_ref(a);
  return {dx, dw};
}

}  // namespace

Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, double eps) {
  const int64_t N = check_rms_norm(x, normalized_shape, weight);
  const int64_t M = N ? x.numel() / N : 0;
  const Tensor xc = x.detach().contiguous();
  const Tensor wc = weight.defined() ? weight.detach().contiguous() : Tensor();
  Tensor rstd = empty(Shape{M}, x.dtype());
  Tensor y = x.dtype() == DType::f32 ? forward<float>(xc, wc, rstd, M, N, eps)
                                     : forward<double>(xc, wc, rstd, M, N, eps);
  if (autograd::needs_grad(x, weight)) {
    autograd::record(
        "rms_norm", {x, weight}, y,
        [sx = autograd::save(xc), sw = wc.defined() ? autograd::save(wc) : autograd::SavedTensor(),
         rstd, normalized_shape](const TensorList& g, const Needs& needs) -> TensorList {
          const Tensor gc = g[0].contiguous();
          const Tensor w = sw.defined() ? sw.get() : Tensor();
          return sx.get().dtype() == DType::f32
                     ? backward<float>(sx.get(), w, rstd, gc, needs, normalized_shape)
                     : backward<double>(sx.get(), w, rstd, gc, needs, normalized_shape);
        });
  }
  return y;
}

}  // namespace cf
