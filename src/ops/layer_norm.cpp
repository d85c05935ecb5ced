#include "ops/layer_norm.h"

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
int64_t check_layer_norm(const char* op, const Tensor& x, const Shape& normalized_shape,
                         const Tensor& weight, const Tensor& bias) {
  ops::check_floating(op, x);
  CF_CHECK(!normalized_shape.empty(), ShapeError, op, ": normalized_shape must not be empty");
  const int k = normalized_shape.size();
  bool match = x.dim() >= k;
  for (int i = 0; match && i < k; ++i) match = x.shape()[x.dim() - k + i] == normalized_shape[i];
  CF_CHECK(match, ShapeError, op, ": input of shape ", x.shape(),
           " does not end with normalized_shape ", normalized_shape);
  for (const auto& [t, arg] : {std::pair{&weight, "weight"}, std::pair{&bias, "bias"}}) {
    if (!t->defined()) continue;
    CF_CHECK(t->dtype() == x.dtype(), DTypeError, op, ": ", arg, " must have dtype ",
             dtype_name(x.dtype()), " like the input, got ", dtype_name(t->dtype()));
    CF_CHECK(t->shape() == normalized_shape, ShapeError, op, ": ", arg, " must have shape ",
             normalized_shape, ", got ", t->shape());
  }
  return normalized_shape.numel();
}

template <class T>
void run_forward(const ops::cpu::LayerNormArgs<T>& a) {
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::layer_norm_forward(a);
  else
    ops::cpu::layer_norm_forward_ref(a);
}
template <class T>
void run_backward(const ops::cpu::LayerNormBackwardArgs<T>& a) {
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::layer_norm_backward(a);
  else
    ops::cpu::layer_norm_backward_ref(a);
}

template <class T>
Tensor forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& mean,
               const Tensor& rstd, int64_t M, int64_t N, double eps) {
  Tensor y = empty(x.shape(), x.dtype());
  run_forward<T>(
      {ptr<T>(x), ptr<T>(w), ptr<T>(b), ptr<T>(y), ptr<T>(mean), ptr<T>(rstd), M, N, eps});
  return y;
}

template <class T>
TensorList backward(const Tensor& x, const Tensor& w, const Tensor& mean, const Tensor& rstd,
                    const Tensor& g, const Needs& needs, const Shape& normalized_shape) {
  const int64_t N = normalized_shape.numel(), M = N ? x.numel() / N : 0;
  Tensor dx = needs[0] ? empty(x.shape(), x.dtype()) : Tensor();
  Tensor dw = needs[1] ? empty(normalized_shape, x.dtype()) : Tensor();
  Tensor db = needs[2] ? empty(normalized_shape, x.dtype()) : Tensor();
  run_backward<T>({ptr<T>(x), ptr<T>(w), ptr<T>(mean), ptr<T>(rstd), ptr<T>(g), ptr<T>(dx),
                   ptr<T>(dw), ptr<T>(db), M, N});
  return {dx, dw, db};
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  const char* name = "layer_norm";
  const int64_t N = check_layer_norm(name, x, normalized_shape, weight, bias);
  const int64_t M = N ? x.numel() / N : 0;
  const Tensor xc = x.detach().contiguous();
  const Tensor wc = weight.defined() ? weight.detach().contiguous() : Tensor();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor mean = empty(Shape{M}, x.dtype()), rstd = empty(Shape{M}, x.dtype());
  Tensor y = x.dtype() == DType::f32 ? forward<float>(xc, wc, bc, mean, rstd, M, N, eps)
                                     : forward<double>(xc, wc, bc, mean, rstd, M, N, eps);
  if (autograd::needs_grad(x, weight, bias)) {
    autograd::record(
        name, {x, weight, bias}, y,
        [sx = autograd::save(xc), sw = wc.defined() ? autograd::save(wc) : autograd::SavedTensor(),
         mean, rstd, normalized_shape](const TensorList& g, const Needs& needs) -> TensorList {
          const Tensor gc = g[0].contiguous();
          const Tensor w = sw.defined() ? sw.get() : Tensor();
          return sx.get().dtype() == DType::f32
                     ? backward<float>(sx.get(), w, mean, rstd, gc, needs, normalized_shape)
                     : backward<double>(sx.get(), w, mean, rstd, gc, needs, normalized_shape);
        });
  }
  return y;
}

}  // namespace cf
