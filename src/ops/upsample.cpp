#include "ops/upsample.h"

#include <cmath>

#include "autograd/node.h"
#include "cformer/ops.h"
#include "ops/pool.h"
#include "tensor/tensor_util.h"
#include "util/check.h"

namespace cf {
namespace {

using autograd::Needs;
using autograd::TensorList;

template <class T>
T* ptr(const Tensor& t) {
  return t.numel() ? t.data_ptr<T>() : nullptr;
}

enum class Mode { nearest, bilinear };

// The output geometry: from size, or from scale_factor as floor(in * scale).
ops::cpu::UpsampleArgs<float> check_upsample(const char* op, const Tensor& x, const Shape& size,
                                             const std::vector<double>& scale_factor,
                                             bool align_corners) {
  ops::check_spatial_input(op, x, 4, "(N, C, H, W)");
  CF_CHECK((size.size() == 0) != scale_factor.empty(), ValueError, op,
           ": exactly one of size and scale_factor must be given, got size ", size, " and ",
           scale_factor.size(), " scale factors");
  const int64_t H = x.shape()[2], W = x.shape()[3];
  ops::cpu::UpsampleArgs<float> a{
      nullptr, nullptr, x.shape()[0] * x.shape()[1], H, W, 0, 0, 0.0, 0.0, align_corners};
  if (size.size() != 0) {
    const auto s = ops::pair_arg(op, "size", size);
    a.Ho = s[0];
    a.Wo = s[1];
  } else {
    CF_CHECK(scale_factor.size() == 1 || scale_factor.size() == 2, ValueError, op,
             ": scale_factor must have 1 or 2 values, got ", scale_factor.size());
    a.scale_h = scale_factor.front();
    a.scale_w = scale_factor.back();
    CF_CHECK(
        a.scale_h > 0.0 && a.scale_w > 0.0 && std::isfinite(a.scale_h) && std::isfinite(a.scale_w),
        ValueError, op, ": scale_factor must be positive and finite, got (", a.scale_h, ", ",
        a.scale_w, ")");
    a.Ho = static_cast<int64_t>(std::floor(static_cast<double>(H) * a.scale_h));
    a.Wo = static_cast<int64_t>(std::floor(static_cast<double>(W) * a.scale_w));
  }
  CF_CHECK(a.Ho >= 1 && a.Wo >= 1, ShapeError, op, ": output size ", Shape{a.Ho, a.Wo},
           " must be at least 1 in both dims (input shape ", x.shape(), ")");
  return a;
}

template <class T>
void run(Mode mode, const ops::cpu::UpsampleArgs<T>& a, bool backward) {
  if constexpr (std::is_same_v<T, float>) {
    if (mode == Mode::nearest)
      backward ? ops::cpu::upsample_nearest2d_backward(a) : ops::cpu::upsample_nearest2d_forward(a);
    else
      backward ? ops::cpu::upsample_bilinear2d_backward(a)
               : ops::cpu::upsample_bilinear2d_forward(a);
  } else {
    if (mode == Mode::nearest)
      backward ? ops::cpu::upsample_nearest2d_backward_ref(a)
               : ops::cpu::upsample_nearest2d_forward_ref(a);
    else
      backward ? ops::cpu::upsample_bilinear2d_backward_ref(a)
               : ops::cpu::upsample_bilinear2d_forward_ref(a);
  }
}

// in -> out with the geometry of s (forward: image to upsampled, backward: the reverse).
void dispatch(Mode mode, const ops::cpu::UpsampleArgs<float>& s, const Tensor& in,
              const Tensor& out, bool backward) {
  if (in.dtype() == DType::f32) {
    ops::cpu::UpsampleArgs<float> a = s;
    a.x = ptr<float>(in);
    a.y = ptr<float>(out);
    run<float>(mode, a, backward);
  } else {
    const ops::cpu::UpsampleArgs<double> a{
        ptr<double>(in), ptr<double>(out), s.P, s.H, s.W, s.Ho, s.Wo, s.scale_h,
        s.scale_w,       s.align_corners};
    run<double>(mode, a, backward);
  }
}

Tensor upsample(const char* op, Mode mode, const Tensor& x, const Shape& size,
                const std::vector<double>& scale_factor, bool align_corners) {
  const ops::cpu::UpsampleArgs<float> s = check_upsample(op, x, size, scale_factor, align_corners);
  const Tensor xc = x.detach().contiguous();
  Tensor y = empty(Shape{x.shape()[0], x.shape()[1], s.Ho, s.Wo}, x.dtype());
  dispatch(mode, s, xc, y, false);
  if (autograd::needs_grad(x)) {
    autograd::record(
        op, {x}, y,
        [mode, s, x_shape = x.shape()](const TensorList& g, const Needs&) -> TensorList {
          const Tensor gc = g[0].contiguous();
          Tensor dx = empty(x_shape, gc.dtype());
          dispatch(mode, s, gc, dx, true);
          return {dx};
        });
  }
  return y;
}

}  // namespace

Tensor upsample_nearest2d(const Tensor& x, const Shape& size,
                          const std::vector<double>& scale_factor) {
  return upsample("upsample_nearest2d", Mode::nearest, x, size, scale_factor, false);
}

Tensor upsample_bilinear2d(const Tensor& x, const Shape& size, bool align_corners,
                           const std::vector<double>& scale_factor) {
  return upsample("upsample_bilinear2d", Mode::bilinear, x, size, scale_factor, align_corners);
}

}  // namespace cf
