#include "ops/softmax.h"

#include "autograd/node.h"
#include "cformer/ops.h"
#include "ops/elementwise.h"
#include "tensor/tensor_util.h"
#include "util/check.h"

namespace cf {
namespace {

using autograd::Needs;
using autograd::TensorList;

struct RowLayout {
  int64_t outer = 1, R = 1, inner = 1;
};

RowLayout layout_of(const Shape& s, int d) {
  RowLayout l;
  for (int i = 0; i < s.size(); ++i) {
    if (i < d)
      l.outer *= s[i];
    else if (i == d)
      l.R = s[i];
    else
      l.inner *= s[i];
  }
  return l;
}

template <class T>
T* ptr(const Tensor& t) {
  return t.numel() ? t.data_ptr<T>() : nullptr;
}

template <class T>
void run_forward(const Tensor& x, const Tensor& y, const RowLayout& l, bool log) {
  ops::cpu::SoftmaxArgs<T> a{ptr<T>(x), ptr<T>(y), l.outer, l.R, l.inner, log};
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::softmax_forward(a);
  else
    ops::cpu::softmax_forward_ref(a);
}

template <class T>
void run_backward(const Tensor& y, const Tensor& g, const Tensor& dx, const RowLayout& l,
                  bool log) {
  ops::cpu::SoftmaxBackwardArgs<T> a{ptr<T>(y), ptr<T>(g), ptr<T>(dx), l.outer, l.R, l.inner, log};
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::softmax_backward(a);
  else
    ops::cpu::softmax_backward_ref(a);
}

Tensor softmax_impl(const Tensor& x, int dim, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  ops::check_floating(name, x);
  const int d = detail::wrap_dim(dim, x.dim(), name);
  const RowLayout l = layout_of(x.shape(), d);
  const Tensor xc = x.detach().contiguous();
  Tensor y = empty(x.shape(), x.dtype());
  if (x.dtype() == DType::f32)
    run_forward<float>(xc, y, l, log);
  else
    run_forward<double>(xc, y, l, log);
  if (autograd::needs_grad(x)) {
    autograd::record(
        name, {x}, y,
        [sy = autograd::save(y), l, log](const TensorList& g, const Needs&) -> TensorList {
          const Tensor& yv = sy.get();
          const Tensor gc = g[0].contiguous();
          Tensor dx = empty(yv.shape(), yv.dtype());
          if (yv.dtype() == DType::f32)
            run_backward<float>(yv, gc, dx, l, log);
          else
            run_backward<double>(yv, gc, dx, l, log);
          return {dx};
        });
  }
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x, int dim) {
  return softmax_impl(x, dim, false);
}
Tensor log_softmax(const Tensor& x, int dim) {
  return softmax_impl(x, dim, true);
}

}  // namespace cf
