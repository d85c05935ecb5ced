#include "ops/dropout.h"

#include "autograd/node.h"
#include "cformer/ops.h"
#include "ops/elementwise.h"
#include "util/check.h"

namespace cf {
namespace {

using autograd::Needs;
using autograd::TensorList;

template <class T>
void run_forward(const Tensor& x, const Tensor& y, const Tensor& mask, double p, uint64_t seed,
                 uint64_t base) {
  ops::cpu::DropoutArgs<T> a{
      x.data_ptr<T>(), y.data_ptr<T>(), mask.data_ptr<bool>(), x.numel(), p, seed, base};
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::dropout_forward(a);
  else
    ops::cpu::dropout_forward_ref<T>(a);
}

template <class T>
Tensor run_backward(const Tensor& g, const Tensor& mask, double scale) {
  const Tensor gc = g.contiguous();
  Tensor dx = empty(g.shape(), g.dtype());
  if (dx.numel() == 0) return dx;
  ops::cpu::DropoutBackwardArgs<T> a{gc.data_ptr<T>(), mask.data_ptr<bool>(), dx.data_ptr<T>(),
                                     dx.numel(), scale};
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::dropout_backward(a);
  else
    ops::cpu::dropout_backward_ref<T>(a);
  return dx;
}

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  ops::check_floating("dropout", x);
  CF_CHECK(p >= 0.0 && p <= 1.0, ValueError, "dropout: p must be in [0, 1], got ", p);
  if (!training || p == 0.0) return x;
  if (p == 1.0) return mul(x, 0.0);  // as PyTorch: x * 0 (NaN stays NaN), no draw
  const Tensor xc = x.detach().contiguous();
  const int64_t n = xc.numel();
  const uint64_t base = gen.advance(static_cast<uint64_t>((n + 3) / 4));
  Tensor y = empty(x.shape(), x.dtype());
  Tensor mask = empty(x.shape(), DType::b8);
  if (n > 0) {
    if (x.dtype() == DType::f32)
      run_forward<float>(xc, y, mask, p, gen.seed(), base);
    else
      run_forward<double>(xc, y, mask, p, gen.seed(), base);
  }
  if (autograd::needs_grad(x)) {
    const double scale = 1.0 / (1.0 - p);
    autograd::record(
        "dropout", {x}, y, [mask, scale](const TensorList& g, const Needs&) -> TensorList {
          return {g[0].dtype() == DType::f32 ? run_backward<float>(g[0], mask, scale)
                                             : run_backward<double>(g[0], mask, scale)};
        });
  }
  return y;
}

}  // namespace cf
