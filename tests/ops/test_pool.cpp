// max_pool2d, avg_pool2d, adaptive_avg_pool2d: the optimized kernels against the _ref kernels on
// edge geometries (1-pixel planes, odd sizes, widths over 1000, ceil_mode, padding, dilation,
// strides 1 and 2 that take the 16-cell vector runs, stride 3 that takes the plain loops),
// PyTorch's tie and NaN rules, non-contiguous and empty inputs, and one EXPECT_THROW per check.
// Seed: Generator(23).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "cformer/autograd.h"
#include "cformer/ops.h"
#include "ops/pool.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"

namespace cf {
namespace {

using ops::cpu::Pool2dGeom;

Generator& gen() {
  static Generator g(23);
  return g;
}
template <class T>
T* p(const Tensor& t) {
  return t.numel() ? t.data_ptr<T>() : nullptr;
}

struct Window {
  int64_t P, H, W, kh, kw, sh, sw, ph, pw, dh, dw;
  bool ceil_mode;
};
const Window kWindows[] = {
    {3, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, false},   {2, 15, 17, 2, 2, 2, 2, 0, 0, 1, 1, false},
    {5, 17, 15, 3, 3, 2, 2, 1, 1, 1, 1, true},  {1, 33, 1000, 3, 2, 1, 3, 1, 1, 1, 1, true},
    {4, 9, 8, 3, 2, 2, 1, 1, 0, 2, 3, false},   {37, 7, 7, 7, 7, 1, 1, 3, 3, 1, 1, false},
    {2, 4, 4, 2, 2, 3, 3, 1, 1, 1, 1, true},    {3, 1001, 3, 5, 1, 4, 1, 2, 0, 1, 1, true},
    {2, 10, 11, 2, 3, 1, 1, 1, 1, 3, 2, false}, {2, 5, 1001, 2, 3, 2, 2, 0, 1, 1, 1, false},
    {1, 3, 77, 3, 3, 1, 1, 1, 1, 1, 1, false},  {2, 28, 28, 2, 2, 2, 2, 0, 0, 1, 1, false},
    {1, 6, 40, 3, 3, 2, 2, 1, 1, 1, 2, true},
};

std::string name(const Window& w) {
  return "P " + std::to_string(w.P) + " HxW " + std::to_string(w.H) + "x" + std::to_string(w.W) +
         " k " + std::to_string(w.kh) + "x" + std::to_string(w.kw) + " s " + std::to_string(w.sh) +
         "x" + std::to_string(w.sw) + " p " + std::to_string(w.ph) + "x" + std::to_string(w.pw) +
         " d " + std::to_string(w.dh) + "x" + std::to_string(w.dw) + (w.ceil_mode ? " ceil" : "");
}

// The geometry as the op computes it (its output shape gives Ho, Wo).
Pool2dGeom geom(const Window& w, bool avg) {
  const Shape k{w.kh, w.kw}, s{w.sh, w.sw}, pad{w.ph, w.pw};
  Tensor y =
      avg ? avg_pool2d(zeros(Shape{1, 1, w.H, w.W}), k, s, pad, w.ceil_mode)
          : max_pool2d(zeros(Shape{1, 1, w.H, w.W}), k, s, pad, Shape{w.dh, w.dw}, w.ceil_mode);
  return {w.P,  w.H,  w.W,  y.shape()[2], y.shape()[3],   w.kh,          w.kw,
          w.sh, w.sw, w.ph, w.pw,         avg ? 1 : w.dh, avg ? 1 : w.dw};
}

TEST(Pool, MaxPoolKernelsMatchRef) {
  for (const Window& w : kWindows) {
    SCOPED_TRACE(name(w));
    const Pool2dGeom g = geom(w, false);
    Tensor x = randn(Shape{g.P, g.H, g.W}, gen());
    Tensor y = empty(Shape{g.P, g.Ho, g.Wo}), yr = empty(y.shape());
    Tensor idx = empty(y.shape(), DType::i64), idxr = empty(y.shape(), DType::i64);
    ops::cpu::max_pool2d_forward({p<float>(x), p<float>(y), p<int64_t>(idx), g});
    ops::cpu::max_pool2d_forward_ref<float>({p<float>(x), p<float>(yr), p<int64_t>(idxr), g});
    EXPECT_CLOSE(y, yr, 0.0, 0.0);
    EXPECT_EQ(idx.to_vector<int64_t>(), idxr.to_vector<int64_t>());
    // Without indices (inference) the values are the same.
    Tensor y2 = empty(y.shape());
    ops::cpu::max_pool2d_forward({p<float>(x), p<float>(y2), nullptr, g});
    EXPECT_CLOSE(y2, yr, 0.0, 0.0);
    Tensor gy = randn(y.shape(), gen());
    Tensor dx = full(x.shape(), 7.0), dxr = full(x.shape(), 7.0);  // kernels overwrite
    ops::cpu::max_pool2d_backward({p<float>(gy), p<int64_t>(idx), p<float>(dx), g});
    ops::cpu::max_pool2d_backward_ref<float>({p<float>(gy), p<int64_t>(idxr), p<float>(dxr), g});
    EXPECT_CLOSE(dx, dxr, 1e-6, 1e-6);
  }
}

TEST(Pool, AvgPoolKernelsMatchRef) {
  for (const Window& w : kWindows) {
    for (int variant = 0; variant < 3; ++variant) {
      const bool include_pad = variant != 1;
      const int64_t divisor = variant == 2 ? 5 : 0;
      SCOPED_TRACE(name(w) + " variant " + std::to_string(variant));
      const Pool2dGeom g = geom(w, true);
      Tensor x = randn(Shape{g.P, g.H, g.W}, gen());
      Tensor y = empty(Shape{g.P, g.Ho, g.Wo}), yr = empty(y.shape());
      ops::cpu::avg_pool2d_forward({p<float>(x), p<float>(y), g, include_pad, divisor});
      ops::cpu::avg_pool2d_forward_ref<float>({p<float>(x), p<float>(yr), g, include_pad, divisor});
      EXPECT_CLOSE(y, yr, 1e-6, 1e-5);
      Tensor gy = randn(y.shape(), gen());
      Tensor dx = full(x.shape(), 7.0), dxr = full(x.shape(), 7.0);
      ops::cpu::avg_pool2d_backward({p<float>(gy), p<float>(dx), g, include_pad, divisor});
      ops::cpu::avg_pool2d_backward_ref<float>(
          {p<float>(gy), p<float>(dxr), g, include_pad, divisor});
      EXPECT_CLOSE(dx, dxr, 1e-6, 1e-5);
    }
  }
}

TEST(Pool, AdaptiveKernelsMatchRef) {
  const int64_t sizes[][5] = {{3, 7, 7, 1, 1},  {2, 14, 15, 5, 3},  {2, 5, 7, 7, 9},
                              {1, 1, 1, 1, 1},  {4, 1000, 3, 3, 1}, {2, 17, 33, 16, 17},
                              {3, 6, 5, 6, 5},  {37, 7, 7, 1, 1},   {40, 1, 1, 1, 1},
                              {33, 4, 5, 1, 1}, {19, 17, 3, 1, 1}};
  for (const auto& s : sizes) {
    const ops::cpu::AdaptiveAvgPool2dArgs<float> shape{nullptr, nullptr, s[0], s[1],
                                                       s[2],    s[3],    s[4]};
    SCOPED_TRACE("P " + std::to_string(s[0]) + " " + std::to_string(s[1]) + "x" +
                 std::to_string(s[2]) + " -> " + std::to_string(s[3]) + "x" + std::to_string(s[4]));
    Tensor x = randn(Shape{s[0], s[1], s[2]}, gen());
    Tensor y = empty(Shape{s[0], s[3], s[4]}), yr = empty(y.shape());
    auto args = [&shape](const Tensor& in, const Tensor& out) {
      auto a = shape;
      a.x = p<float>(in);
      a.y = p<float>(out);
      return a;
    };
    ops::cpu::adaptive_avg_pool2d_forward(args(x, y));
    ops::cpu::adaptive_avg_pool2d_forward_ref<float>(args(x, yr));
    EXPECT_CLOSE(y, yr, 1e-6, 1e-5);
    Tensor gy = randn(y.shape(), gen());
    Tensor dx = full(x.shape(), 7.0), dxr = full(x.shape(), 7.0);
    ops::cpu::adaptive_avg_pool2d_backward(args(gy, dx));
    ops::cpu::adaptive_avg_pool2d_backward_ref<float>(args(gy, dxr));
    EXPECT_CLOSE(dx, dxr, 1e-6, 1e-5);
  }
}

TEST(Pool, MaxPoolTiesGoToTheFirstIndexAndNaNWins) {
  // All equal: every window's gradient goes to its first (top-left) cell, as in PyTorch.
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = ones(Shape{1, 1, 4, 4}, dt).requires_grad_(true);
    Tensor y = max_pool2d(x, Shape{2});
    autograd::backward({y}, {ones(y.shape(), dt)});
    const std::vector<double> expect = {1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0};
    EXPECT_CLOSE(x.grad(), from_vector(expect, Shape{1, 1, 4, 4}).to(dt), 0.0, 0.0);
  }
  Tensor x = zeros(Shape{1, 1, 2, 4});
  x.data_ptr<float>()[6] = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> y = max_pool2d(x, Shape{2}).to_vector<float>();
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_TRUE(std::isnan(y[1]));
}

TEST(Pool, NonContiguousAndEmptyInputs) {
  Tensor base = randn(Shape{3, 2, 9, 11}, gen());
  Tensor x = base.permute(Dims{1, 0, 2, 3});  // (2, 3, 9, 11), non-contiguous
  const Tensor xc = x.contiguous();
  EXPECT_CLOSE(max_pool2d(x, Shape{3}, Shape{2}, Shape{1}),
               max_pool2d(xc, Shape{3}, Shape{2}, Shape{1}), 0.0, 0.0);
  EXPECT_CLOSE(avg_pool2d(x, Shape{2, 3}), avg_pool2d(xc, Shape{2, 3}), 0.0, 0.0);
  EXPECT_CLOSE(adaptive_avg_pool2d(x, Shape{4, 5}), adaptive_avg_pool2d(xc, Shape{4, 5}), 0.0, 0.0);
  for (int op = 0; op < 3; ++op) {
    SCOPED_TRACE("op " + std::to_string(op));
    Tensor e = zeros(Shape{0, 3, 6, 6}).requires_grad_(true);
    Tensor y = op == 0   ? max_pool2d(e, Shape{2})
               : op == 1 ? avg_pool2d(e, Shape{2})
                         : adaptive_avg_pool2d(e, Shape{3});
    EXPECT_EQ(y.shape(), (Shape{0, 3, 3, 3}));
    autograd::backward({y}, {zeros(y.shape())});
    EXPECT_EQ(e.grad().shape(), e.shape());
  }
}

TEST(Pool, ChecksThrow) {
  Tensor x = randn(Shape{2, 3, 6, 6}, gen());
  for (const char* op : {"max_pool2d", "avg_pool2d"}) {
    SCOPED_TRACE(op);
    const bool mx = std::string(op) == "max_pool2d";
    auto run = [mx](const Tensor& in, const Shape& k, const Shape& s, const Shape& pad) {
      return mx ? max_pool2d(in, k, s, pad) : avg_pool2d(in, k, s, pad);
    };
    EXPECT_THROW_OP(run(Tensor(), Shape{2}, {}, Shape{0}), ValueError, op);
    EXPECT_THROW_OP(run(zeros(Shape{2, 3, 6, 6}, DType::i64), Shape{2}, {}, Shape{0}), DTypeError,
                    op);
    EXPECT_THROW_OP(run(zeros(Shape{3, 6, 6}), Shape{2}, {}, Shape{0}), ShapeError, op);
    EXPECT_THROW_OP(run(zeros(Shape{2, 3, 0, 6}), Shape{2}, {}, Shape{0}), ShapeError, op);
    EXPECT_THROW_OP(run(x, Shape{2, 2, 2}, {}, Shape{0}), ValueError, op);
    EXPECT_THROW_OP(run(x, Shape{2}, Shape{1, 1, 1}, Shape{0}), ValueError, op);
    EXPECT_THROW_OP(run(x, Shape{2}, {}, Shape{}), ValueError, op);
    EXPECT_THROW_OP(run(x, Shape{0, 2}, {}, Shape{0}), ValueError, op);
    EXPECT_THROW_OP(run(x, Shape{2}, Shape{2, 0}, Shape{0}), ValueError, op);
    EXPECT_THROW_OP(run(x, Shape{2}, {}, Shape{-1}), ValueError, op);
    EXPECT_THROW_MSG(run(x, Shape{3}, {}, Shape{2}), ValueError, "at most half the kernel size");
    EXPECT_THROW_MSG(run(x, Shape{7, 2}, {}, Shape{0}), ShapeError, "larger than the padded input");
    EXPECT_NO_THROW(run(x, Shape{8, 2}, {}, Shape{1}));  // the padding makes room
  }
  EXPECT_THROW_OP(max_pool2d(x, Shape{2}, {}, Shape{0}, Shape{1, 2, 3}), ValueError, "max_pool2d");
  EXPECT_THROW_OP(max_pool2d(x, Shape{2}, {}, Shape{0}, Shape{0}), ValueError, "max_pool2d");
  EXPECT_THROW_MSG(max_pool2d(x, Shape{3}, {}, Shape{0}, Shape{3}), ShapeError,
                   "max_pool2d: the kernel (7, 7) (dilated) is larger");
  EXPECT_THROW_MSG(avg_pool2d(x, Shape{2}, {}, Shape{0}, false, true, 0), ValueError,
                   "avg_pool2d: divisor_override must be non-zero");
  const char* op = "adaptive_avg_pool2d";
  EXPECT_THROW_OP(adaptive_avg_pool2d(Tensor(), Shape{1}), ValueError, op);
  EXPECT_THROW_OP(adaptive_avg_pool2d(zeros(Shape{6, 6}), Shape{1}), ShapeError, op);
  EXPECT_THROW_OP(adaptive_avg_pool2d(zeros(Shape{1, 0, 6, 6}), Shape{1}), ShapeError, op);
  EXPECT_THROW_OP(adaptive_avg_pool2d(x, Shape{1, 2, 3}), ValueError, op);
  EXPECT_THROW_OP(adaptive_avg_pool2d(x, Shape{0, 2}), ShapeError, op);
}

}  // namespace
}  // namespace cf
