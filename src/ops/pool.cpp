#include "ops/pool.h"

#include "autograd/node.h"
#include "cformer/ops.h"
#include "ops/elementwise.h"
#include "tensor/tensor_util.h"
#include "util/check.h"

namespace cf {

namespace ops {

std::array<int64_t, 2> pair_arg(const char* op, const char* arg, const Shape& s) {
  CF_CHECK(s.size() == 1 || s.size() == 2, ValueError, op, ": ", arg,
           " must have 1 or 2 values, got ", s);
  return {s[0], s[s.size() - 1]};
}

void check_spatial_input(const char* op, const Tensor& x, int rank, const char* layout) {
  check_floating(op, x);
  CF_CHECK(x.dim() == rank, ShapeError, op, ": input must have shape ", layout, ", got ",
           x.shape());
  for (int d = 1; d < rank; ++d)
    CF_CHECK(x.shape()[d] > 0, ShapeError, op, ": input must have non-zero sizes after the batch ",
             "dim, got ", x.shape());
}

}  // namespace ops

namespace {

using autograd::Needs;
using autograd::TensorList;
using ops::cpu::Pool2dGeom;

template <class T>
T* ptr(const Tensor& t) {
  return t.numel() ? t.data_ptr<T>() : nullptr;
}

Shape hw(int64_t h, int64_t w) {
  return Shape{h, w};
}

// PyTorch's pooling_output_shape: with ceil_mode the last window must start inside the input or
// the left padding.
int64_t pooled_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  const int64_t num = in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  int64_t out = num / s + 1;  // num >= 0 once the kernel fits the padded input
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

Pool2dGeom check_pool2d(const char* op, const Tensor& x, const Shape& kernel_size,
                        const Shape& stride, const Shape& padding, const Shape& dilation,
                        bool ceil_mode) {
  ops::check_spatial_input(op, x, 4, "(N, C, H, W)");
  const auto k = ops::pair_arg(op, "kernel_size", kernel_size);
  const auto s = stride.size() == 0 ? k : ops::pair_arg(op, "stride", stride);
  const auto p = ops::pair_arg(op, "padding", padding);
  const auto d = ops::pair_arg(op, "dilation", dilation);
  CF_CHECK(k[0] > 0 && k[1] > 0, ValueError, op, ": kernel_size must be positive, got ",
           hw(k[0], k[1]));
  CF_CHECK(s[0] > 0 && s[1] > 0, ValueError, op, ": stride must be positive, got ", hw(s[0], s[1]));
  CF_CHECK(d[0] > 0 && d[1] > 0, ValueError, op, ": dilation must be positive, got ",
           hw(d[0], d[1]));
  CF_CHECK(p[0] >= 0 && p[1] >= 0, ValueError, op, ": padding must be non-negative, got ",
           hw(p[0], p[1]));
  CF_CHECK(p[0] <= k[0] / 2 && p[1] <= k[1] / 2, ValueError, op,
           ": padding must be at most half the kernel size, got padding ", hw(p[0], p[1]),
           " for kernel_size ", hw(k[0], k[1]));
  const int64_t H = x.shape()[2], W = x.shape()[3];
  const int64_t eh = d[0] * (k[0] - 1) + 1, ew = d[1] * (k[1] - 1) + 1;
  CF_CHECK(eh <= H + 2 * p[0] && ew <= W + 2 * p[1], ShapeError, op, ": the kernel ", hw(eh, ew),
           " (dilated) is larger than the padded input ", hw(H + 2 * p[0], W + 2 * p[1]),
           " of input shape ", x.shape());
  Pool2dGeom g{x.shape()[0] * x.shape()[1],
               H,
               W,
               pooled_size(H, k[0], s[0], p[0], d[0], ceil_mode),
               pooled_size(W, k[1], s[1], p[1], d[1], ceil_mode),
               k[0],
               k[1],
               s[0],
               s[1],
               p[0],
               p[1],
               d[0],
               d[1]};
  CF_ASSERT(g.Ho >= 1 && g.Wo >= 1, "pooled size of a kernel that fits");  // see pooled_size
  return g;
}

Shape out_shape(const Tensor& x, int64_t Ho, int64_t Wo) {
  return Shape{x.shape()[0], x.shape()[1], Ho, Wo};
}

// ---------------------------------------------------------------- max_pool2d

template <class T>
void max_forward(const Tensor& xc, const Tensor& y, const Tensor& idx, const Pool2dGeom& g) {
  const ops::cpu::MaxPool2dArgs<T> a{ptr<T>(xc), ptr<T>(y),
                                     idx.defined() ? ptr<int64_t>(idx) : nullptr, g};
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::max_pool2d_forward(a);
  else
    ops::cpu::max_pool2d_forward_ref(a);
}

template <class T>
Tensor max_backward(const Tensor& gc, const Tensor& idx, const Shape& x_shape,
                    const Pool2dGeom& g) {
  Tensor dx = empty(x_shape, gc.dtype());
  const ops::cpu::MaxPool2dBackwardArgs<T> a{ptr<T>(gc), ptr<int64_t>(idx), ptr<T>(dx), g};
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::max_pool2d_backward(a);
  else
    ops::cpu::max_pool2d_backward_ref(a);
  return dx;
}

// ---------------------------------------------------------------- avg_pool2d

template <class T>
void avg_run(const ops::cpu::AvgPool2dArgs<T>& a, bool backward) {
  if constexpr (std::is_same_v<T, float>) {
    if (backward)
      ops::cpu::avg_pool2d_backward(a);
    else
      ops::cpu::avg_pool2d_forward(a);
  } else {
    if (backward)
      ops::cpu::avg_pool2d_backward_ref(a);
    else
      ops::cpu::avg_pool2d_forward_ref(a);
  }
}

template <class T>
void adaptive_run(const ops::cpu::AdaptiveAvgPool2dArgs<T>& a, bool backward) {
  if constexpr (std::is_same_v<T, float>) {
    if (backward)
      ops::cpu::adaptive_avg_pool2d_backward(a);
    else
      ops::cpu::adaptive_avg_pool2d_forward(a);
  } else {
    if (backward)
      ops::cpu::adaptive_avg_pool2d_backward_ref(a);
    else
      ops::cpu::adaptive_avg_pool2d_forward_ref(a);
  }
}

}  // namespace

Tensor max_pool2d(const Tensor& x, const Shape& kernel_size, const Shape& stride,
                  const Shape& padding, const Shape& dilation, bool ceil_mode) {
  const Pool2dGeom g =
      check_pool2d("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode);
  const Tensor xc = x.detach().contiguous();
  Tensor y = empty(out_shape(x, g.Ho, g.Wo), x.dtype());
  const bool grad = autograd::needs_grad(x);
  const Tensor idx = grad ? empty(y.shape(), DType::i64) : Tensor();
  if (x.dtype() == DType::f32)
    max_forward<float>(xc, y, idx, g);
  else
    max_forward<double>(xc, y, idx, g);
  if (grad) {
    autograd::record(
        "max_pool2d", {x}, y,
        [idx, g, x_shape = x.shape()](const TensorList& grads, const Needs&) -> TensorList {
          const Tensor gc = grads[0].contiguous();
          return {gc.dtype() == DType::f32 ? max_backward<float>(gc, idx, x_shape, g)
                                           : max_backward<double>(gc, idx, x_shape, g)};
        });
  }
  return y;
}

Tensor avg_pool2d(const Tensor& x, const Shape& kernel_size, const Shape& stride,
                  const Shape& padding, bool ceil_mode, bool count_include_pad,
                  std::optional<int64_t> divisor_override) {
  const Pool2dGeom g =
      check_pool2d("avg_pool2d", x, kernel_size, stride, padding, Shape{1}, ceil_mode);
  CF_CHECK(!divisor_override || *divisor_override != 0, ValueError,
           "avg_pool2d: divisor_override must be non-zero");
  const int64_t divisor = divisor_override.value_or(0);
  const Tensor xc = x.detach().contiguous();
  Tensor y = empty(out_shape(x, g.Ho, g.Wo), x.dtype());
  if (x.dtype() == DType::f32)
    avg_run<float>({ptr<float>(xc), ptr<float>(y), g, count_include_pad, divisor}, false);
  else
    avg_run<double>({ptr<double>(xc), ptr<double>(y), g, count_include_pad, divisor}, false);
  if (autograd::needs_grad(x)) {
    autograd::record(
        "avg_pool2d", {x}, y,
        [g, count_include_pad, divisor, x_shape = x.shape()](const TensorList& grads,
                                                             const Needs&) -> TensorList {
          const Tensor gc = grads[0].contiguous();
          Tensor dx = empty(x_shape, gc.dtype());
          if (gc.dtype() == DType::f32)
            avg_run<float>({ptr<float>(gc), ptr<float>(dx), g, count_include_pad, divisor}, true);
          else
            avg_run<double>({ptr<double>(gc), ptr<double>(dx), g, count_include_pad, divisor},
                            true);
          return {dx};
        });
  }
  return y;
}

Tensor adaptive_avg_pool2d(const Tensor& x, const Shape& output_size) {
  const char* op = "adaptive_avg_pool2d";
  ops::check_spatial_input(op, x, 4, "(N, C, H, W)");
  const auto o = ops::pair_arg(op, "output_size", output_size);
  CF_CHECK(o[0] >= 1 && o[1] >= 1, ShapeError, op, ": output_size must be at least 1, got ",
           hw(o[0], o[1]));
  const ops::cpu::AdaptiveAvgPool2dArgs<float> shape_only{
      nullptr, nullptr, x.shape()[0] * x.shape()[1], x.shape()[2], x.shape()[3], o[0], o[1]};
  const Tensor xc = x.detach().contiguous();
  Tensor y = empty(out_shape(x, o[0], o[1]), x.dtype());
  auto run = [&shape_only](const Tensor& in, const Tensor& out, bool backward) {
    const auto& s = shape_only;
    if (in.dtype() == DType::f32)
      adaptive_run<float>({ptr<float>(in), ptr<float>(out), s.P, s.H, s.W, s.Ho, s.Wo}, backward);
    else
      adaptive_run<double>({ptr<double>(in), ptr<double>(out), s.P, s.H, s.W, s.Ho, s.Wo},
                           backward);
  };
  run(xc, y, false);
  if (autograd::needs_grad(x)) {
    autograd::record(
        "adaptive_avg_pool2d", {x}, y,
        [shape_only, x_shape = x.shape()](const TensorList& grads, const Needs&) -> TensorList {
          const auto& s = shape_only;
          const Tensor gc = grads[0].contiguous();
          Tensor dx = empty(x_shape, gc.dtype());
          if (gc.dtype() == DType::f32)
            adaptive_run<float>({ptr<float>(gc), ptr<float>(dx), s.P, s.H, s.W, s.Ho, s.Wo}, true);
          else
            adaptive_run<double>({ptr<double>(gc), ptr<double>(dx), s.P, s.H, s.W, s.Ho, s.Wo},
                                 true);
          return {dx};
        });
  }
  return y;
}

}  // namespace cf
