// upsample_nearest2d / upsample_bilinear2d: the optimized kernels against the _ref kernels for
// sizes and scale factors (identity dims, x2, down-sampling, widths over 1000, align_corners),
// PyTorch's index formulas on small exact cases, non-contiguous and empty inputs, and one
// EXPECT_THROW per check. Seed: Generator(29).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "cformer/autograd.h"
#include "cformer/ops.h"
#include "ops/upsample.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"

namespace cf {
namespace {

Generator& gen() {
  static Generator g(29);
  return g;
}
float* fp(const Tensor& t) {
  return t.numel() ? t.data_ptr<float>() : nullptr;
}

struct Geometry {
  int64_t P, H, W, Ho, Wo;
  double scale_h, scale_w;
};
const Geometry kGeometries[] = {
    {3, 5, 7, 10, 14, 0, 0},     {2, 5, 7, 9, 5, 0, 0},       {2, 9, 11, 4, 6, 0, 0},
    {1, 1, 1, 3, 17, 0, 0},      {2, 4, 6, 4, 13, 0, 0},      {2, 5, 6, 8, 15, 1.7, 2.5},
    {3, 9, 10, 5, 4, 0.6, 0.45}, {1, 3, 1000, 7, 1001, 0, 0}, {5, 16, 16, 32, 32, 2.0, 2.0},
    {2, 7, 3, 1, 1, 0, 0},
};

TEST(Upsample, KernelsMatchRef) {
  for (const Geometry& s : kGeometries) {
    for (int mode = 0; mode < 3; ++mode) {  // nearest, bilinear, bilinear align_corners
      SCOPED_TRACE("P " + std::to_string(s.P) + " " + std::to_string(s.H) + "x" +
                   std::to_string(s.W) + " -> " + std::to_string(s.Ho) + "x" +
                   std::to_string(s.Wo) + " scale " + std::to_string(s.scale_h) + " mode " +
                   std::to_string(mode));
      Tensor x = randn(Shape{s.P, s.H, s.W}, gen());
      Tensor y = empty(Shape{s.P, s.Ho, s.Wo}), yr = empty(y.shape());
      auto args = [&s, mode](const Tensor& in, const Tensor& out) {
        return ops::cpu::UpsampleArgs<float>{fp(in), fp(out), s.P,       s.H,       s.W,
                                             s.Ho,   s.Wo,    s.scale_h, s.scale_w, mode == 2};
      };
      Tensor g = randn(y.shape(), gen());
      Tensor dx = full(x.shape(), 7.0), dxr = full(x.shape(), 7.0);
      if (mode == 0) {
        ops::cpu::upsample_nearest2d_forward(args(x, y));
        ops::cpu::upsample_nearest2d_forward_ref<float>(args(x, yr));
        ops::cpu::upsample_nearest2d_backward(args(g, dx));
        ops::cpu::upsample_nearest2d_backward_ref<float>(args(g, dxr));
      } else {
        ops::cpu::upsample_bilinear2d_forward(args(x, y));
        ops::cpu::upsample_bilinear2d_forward_ref<float>(args(x, yr));
        ops::cpu::upsample_bilinear2d_backward(args(g, dx));
        ops::cpu::upsample_bilinear2d_backward_ref<float>(args(g, dxr));
      }
      EXPECT_CLOSE(y, yr, 1e-6, 1e-5);
      EXPECT_CLOSE(dx, dxr, 1e-5, 1e-5);
    }
  }
}

TEST(Upsample, PyTorchIndexFormulas) {
  // (1, 1, 1, 3) row [0, 1, 2] -> width 5.
  Tensor x = from_vector<float>({0, 1, 2}, Shape{1, 1, 1, 3});
  // nearest: floor(o * 3 / 5) = 0 0 1 1 2
  EXPECT_CLOSE(upsample_nearest2d(x, Shape{1, 5}),
               from_vector<float>({0, 0, 1, 1, 2}, Shape{1, 1, 1, 5}), 0.0, 0.0);
  // align_corners: o * 2 / 4 = 0 0.5 1 1.5 2
  EXPECT_CLOSE(upsample_bilinear2d(x, Shape{1, 5}, true),
               from_vector<float>({0, 0.5, 1, 1.5, 2}, Shape{1, 1, 1, 5}), 1e-7, 0.0);
  // half-pixel: max(0, (o + 0.5) 0.6 - 0.5) = 0 0.4 1 1.6 2 (clamped to the last pixel)
  EXPECT_CLOSE(upsample_bilinear2d(x, Shape{1, 5}, false),
               from_vector<float>({0, 0.4f, 1, 1.6f, 2}, Shape{1, 1, 1, 5}), 1e-6, 0.0);
  // A scale factor is used as given: 1 / 1.5 instead of 3 / 4 for floor(3 * 1.5) = 4 outputs.
  EXPECT_CLOSE(upsample_bilinear2d(x, {}, false, {1.0, 1.5}),
               from_vector<float>({0, 0.5f, 7.0f / 6.0f, 11.0f / 6.0f}, Shape{1, 1, 1, 4}), 1e-6,
               0.0);
}

TEST(Upsample, NonContiguousAndEmptyInputs) {
  Tensor base = randn(Shape{3, 2, 5, 6}, gen());
  Tensor x = base.permute(Dims{1, 0, 2, 3});
  const Tensor xc = x.contiguous();
  EXPECT_CLOSE(upsample_nearest2d(x, Shape{7, 13}), upsample_nearest2d(xc, Shape{7, 13}), 0.0, 0.0);
  EXPECT_CLOSE(upsample_bilinear2d(x, Shape{7, 13}, false),
               upsample_bilinear2d(xc, Shape{7, 13}, false), 0.0, 0.0);
  for (int mode = 0; mode < 2; ++mode) {
    Tensor e = zeros(Shape{0, 2, 4, 4}).requires_grad_(true);
    Tensor y =
        mode == 0 ? upsample_nearest2d(e, {}, {2.0}) : upsample_bilinear2d(e, {}, true, {2.0});
    EXPECT_EQ(y.shape(), (Shape{0, 2, 8, 8}));
    autograd::backward({y}, {zeros(y.shape())});
    EXPECT_EQ(e.grad().shape(), e.shape());
  }
}

TEST(Upsample, ChecksThrow) {
  Tensor x = randn(Shape{2, 3, 5, 5}, gen());
  for (int mode = 0; mode < 2; ++mode) {
    const char* op = mode == 0 ? "upsample_nearest2d" : "upsample_bilinear2d";
    SCOPED_TRACE(op);
    auto run = [mode](const Tensor& in, const Shape& size, const std::vector<double>& scale) {
      return mode == 0 ? upsample_nearest2d(in, size, scale)
                       : upsample_bilinear2d(in, size, false, scale);
    };
    EXPECT_THROW_OP(run(Tensor(), Shape{4}, {}), ValueError, op);
    EXPECT_THROW_OP(run(zeros(Shape{2, 3, 5, 5}, DType::i64), Shape{4}, {}), DTypeError, op);
    EXPECT_THROW_OP(run(zeros(Shape{3, 5, 5}), Shape{4}, {}), ShapeError, op);
    EXPECT_THROW_OP(run(zeros(Shape{2, 3, 5, 0}), Shape{4}, {}), ShapeError, op);
    EXPECT_THROW_MSG(run(x, Shape{4}, {2.0}), ValueError, "exactly one of size and scale_factor");
    EXPECT_THROW_MSG(run(x, {}, {}), ValueError, "exactly one of size and scale_factor");
    EXPECT_THROW_OP(run(x, Shape{4, 4, 4}, {}), ValueError, op);
    EXPECT_THROW_OP(run(x, {}, {2.0, 2.0, 2.0}), ValueError, op);
    EXPECT_THROW_OP(run(x, {}, {0.0}), ValueError, op);
    EXPECT_THROW_OP(run(x, {}, {2.0, -1.0}), ValueError, op);
    EXPECT_THROW_OP(run(x, {}, {std::numeric_limits<double>::infinity()}), ValueError, op);
    EXPECT_THROW_MSG(run(x, {}, {0.1}), ShapeError, "must be at least 1");
    EXPECT_THROW_MSG(run(x, Shape{0, 3}, {}), ShapeError, "must be at least 1");
  }
}

}  // namespace
}  // namespace cf
