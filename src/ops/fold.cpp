#include "ops/fold.h"

#include "autograd/node.h"
#include "cformer/ops.h"
#include "ops/pool.h"
#include "tensor/tensor_util.h"
#include "util/check.h"

namespace cf {
namespace {

using autograd::Needs;
using autograd::TensorList;
using ops::cpu::FoldGeom;

template <class T>
T* ptr(const Tensor& t) {
  return t.numel() ? t.data_ptr<T>() : nullptr;
}

Shape hw(int64_t h, int64_t w) {
  return Shape{h, w};
}

// The window arguments and the sliding blocks over an (H, W) image; C and N are filled in later.
FoldGeom check_window(const char* op, int64_t H, int64_t W, const Shape& kernel_size,
                      const Shape& dilation, const Shape& padding, const Shape& stride) {
  const auto k = ops::pair_arg(op, "kernel_size", kernel_size);
  const auto d = ops::pair_arg(op, "dilation", dilation);
  const auto p = ops::pair_arg(op, "padding", padding);
  const auto s = ops::pair_arg(op, "stride", stride);
  CF_CHECK(k[0] > 0 && k[1] > 0, ValueError, op, ": kernel_size must be positive, got ",
           hw(k[0], k[1]));
  CF_CHECK(d[0] > 0 && d[1] > 0, ValueError, op, ": dilation must be positive, got ",
           hw(d[0], d[1]));
  CF_CHECK(p[0] >= 0 && p[1] >= 0, ValueError, op, ": padding must be non-negative, got ",
           hw(p[0], p[1]));
  CF_CHECK(s[0] > 0 && s[1] > 0, ValueError, op, ": stride must be positive, got ", hw(s[0], s[1]));
  const int64_t eh = d[0] * (k[0] - 1) + 1, ew = d[1] * (k[1] - 1) + 1;
  CF_CHECK(eh <= H + 2 * p[0] && ew <= W + 2 * p[1], ShapeError, op, ": the kernel ", hw(eh, ew),
           " (dilated) is larger than the padded image ", hw(H + 2 * p[0], W + 2 * p[1]),
           ", so there are no sliding blocks");
  return FoldGeom{0,
                  0,
                  H,
                  W,
                  k[0],
                  k[1],
                  d[0],
                  d[1],
                  p[0],
                  p[1],
                  s[0],
                  s[1],
                  (H + 2 * p[0] - eh) / s[0] + 1,
                  (W + 2 * p[1] - ew) / s[1] + 1};
}

template <class T>
void im2col(const FoldGeom& g, const Tensor& im, const Tensor& col) {
  const ops::cpu::Im2ColArgs<T> a{ptr<T>(im), ptr<T>(col), g};
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::unfold_forward(a);
  else
    ops::cpu::unfold_forward_ref(a);
}
template <class T>
void col2im(const FoldGeom& g, const Tensor& col, const Tensor& im) {
  const ops::cpu::Col2ImArgs<T> a{ptr<T>(col), ptr<T>(im), g};
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::fold_forward(a);
  else
    ops::cpu::fold_forward_ref(a);
}

Tensor run_unfold(const FoldGeom& g, const Tensor& im, DType dt) {
  Tensor col = empty(Shape{g.N, g.C * g.kh * g.kw, g.Lh * g.Lw}, dt);
  if (dt == DType::f32)
    im2col<float>(g, im, col);
  else
    im2col<double>(g, im, col);
  return col;
}
Tensor run_fold(const FoldGeom& g, const Tensor& col, DType dt) {
  Tensor im = empty(Shape{g.N, g.C, g.H, g.W}, dt);
  if (dt == DType::f32)
    col2im<float>(g, col, im);
  else
    col2im<double>(g, col, im);
  return im;
}

}  // namespace

Tensor unfold(const Tensor& x, const Shape& kernel_size, const Shape& dilation,
              const Shape& padding, const Shape& stride) {
  const char* op = "unfold";
  ops::check_spatial_input(op, x, 4, "(N, C, H, W)");
  FoldGeom g = check_window(op, x.shape()[2], x.shape()[3], kernel_size, dilation, padding, stride);
  g.N = x.shape()[0];
  g.C = x.shape()[1];
  Tensor y = run_unfold(g, x.detach().contiguous(), x.dtype());
  if (autograd::needs_grad(x)) {
    autograd::record(op, {x}, y, [g](const TensorList& grads, const Needs&) -> TensorList {
      const Tensor gc = grads[0].contiguous();
      return {run_fold(g, gc, gc.dtype())};
    });
  }
  return y;
}

Tensor fold(const Tensor& x, const Shape& output_size, const Shape& kernel_size,
            const Shape& dilation, const Shape& padding, const Shape& stride) {
  const char* op = "fold";
  ops::check_spatial_input(op, x, 3, "(N, C*kh*kw, L)");
  const auto o = ops::pair_arg(op, "output_size", output_size);
  CF_CHECK(o[0] > 0 && o[1] > 0, ValueError, op, ": output_size must be positive, got ",
           hw(o[0], o[1]));
  FoldGeom g = check_window(op, o[0], o[1], kernel_size, dilation, padding, stride);
  const int64_t K = g.kh * g.kw;
  CF_CHECK(x.shape()[1] % K == 0, ShapeError, op, ": input dim 1 (", x.shape()[1],
           ") must be divisible by the kernel size ", hw(g.kh, g.kw), " product ", K,
           ", got input shape ", x.shape());
  CF_CHECK(x.shape()[2] == g.Lh * g.Lw, ShapeError, op, ": input dim 2 must be the number of ",
           "sliding blocks ", g.Lh * g.Lw, " = ", g.Lh, " x ", g.Lw, " for output_size ",
           hw(o[0], o[1]), ", got input shape ", x.shape());
  g.N = x.shape()[0];
  g.C = x.shape()[1] / K;
  Tensor y = run_fold(g, x.detach().contiguous(), x.dtype());
  if (autograd::needs_grad(x)) {
    autograd::record(op, {x}, y, [g](const TensorList& grads, const Needs&) -> TensorList {
      const Tensor gc = grads[0].contiguous();
      return {run_unfold(g, gc, gc.dtype())};
    });
  }
  return y;
}

}  // namespace cf
