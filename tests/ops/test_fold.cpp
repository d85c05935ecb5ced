// unfold / fold: the optimized kernels against the _ref kernels on edge geometries (kernel as
// large as the padded image, strides above the kernel, dilation, widths over 1000), the adjoint
// identity <unfold(x), c> = <x, fold(c)>, non-contiguous and empty inputs, and one EXPECT_THROW
// per check. Seed: Generator(31).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "cformer/autograd.h"
#include "cformer/ops.h"
#include "ops/fold.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"

namespace cf {
namespace {

Generator& gen() {
  static Generator g(31);
  return g;
}
float* fp(const Tensor& t) {
  return t.numel() ? t.data_ptr<float>() : nullptr;
}

struct Window {
  int64_t N, C, H, W, kh, kw, dh, dw, ph, pw, sh, sw;
};
const Window kWindows[] = {
    {2, 3, 6, 7, 3, 3, 1, 1, 0, 0, 1, 1},    {1, 2, 9, 11, 2, 3, 2, 1, 1, 2, 2, 3},
    {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1},    {2, 2, 4, 5, 2, 2, 1, 1, 3, 3, 2, 2},
    {1, 2, 3, 1000, 3, 5, 1, 2, 1, 2, 1, 1}, {3, 1, 7, 8, 2, 2, 1, 1, 0, 0, 3, 3},
    {1, 17, 5, 5, 5, 5, 1, 1, 0, 0, 1, 1},   {2, 4, 15, 17, 3, 3, 2, 2, 2, 2, 1, 2},
};

ops::cpu::FoldGeom geom(const Window& w) {
  auto blocks = [](int64_t n, int64_t k, int64_t d, int64_t p, int64_t s) {
    return (n + 2 * p - d * (k - 1) - 1) / s + 1;
  };
  return {w.N,
          w.C,
          w.H,
          w.W,
          w.kh,
          w.kw,
          w.dh,
          w.dw,
          w.ph,
          w.pw,
          w.sh,
          w.sw,
          blocks(w.H, w.kh, w.dh, w.ph, w.sh),
          blocks(w.W, w.kw, w.dw, w.pw, w.sw)};
}

TEST(Fold, KernelsMatchRefAndAreAdjoint) {
  for (const Window& w : kWindows) {
    SCOPED_TRACE("N " + std::to_string(w.N) + " C " + std::to_string(w.C) + " " +
                 std::to_string(w.H) + "x" + std::to_string(w.W) + " k " + std::to_string(w.kh) +
                 "x" + std::to_string(w.kw));
    const ops::cpu::FoldGeom g = geom(w);
    const Shape im_shape{g.N, g.C, g.H, g.W}, col_shape{g.N, g.C * g.kh * g.kw, g.Lh * g.Lw};
    Tensor x = randn(im_shape, gen());
    Tensor col = full(col_shape, 7.0), colr = full(col_shape, 7.0);  // kernels overwrite
    ops::cpu::unfold_forward({fp(x), fp(col), g});
    ops::cpu::unfold_forward_ref<float>({fp(x), fp(colr), g});
    EXPECT_CLOSE(col, colr, 0.0, 0.0);
    Tensor c = randn(col_shape, gen());
    Tensor im = full(im_shape, 7.0), imr = full(im_shape, 7.0);
    ops::cpu::fold_forward({fp(c), fp(im), g});
    ops::cpu::fold_forward_ref<float>({fp(c), fp(imr), g});
    EXPECT_CLOSE(im, imr, 1e-5, 1e-5);
    const double lhs = sum(mul(col, c)).item(), rhs = sum(mul(x, im)).item();
    EXPECT_NEAR(lhs, rhs, 1e-3 * (1.0 + std::abs(lhs)));
  }
}

TEST(Fold, NonContiguousAndEmptyInputs) {
  Tensor base = randn(Shape{3, 2, 6, 7}, gen());
  Tensor x = base.permute(Dims{1, 0, 2, 3});
  EXPECT_CLOSE(unfold(x, Shape{3}, Shape{1}, Shape{1}),
               unfold(x.contiguous(), Shape{3}, Shape{1}, Shape{1}), 0.0, 0.0);
  Tensor cbase = randn(Shape{20, 2, 16}, gen());
  Tensor c = cbase.transpose(0, 1);  // (2, 20, 16) non-contiguous
  EXPECT_CLOSE(fold(c, Shape{5, 8}, Shape{2}, Shape{1}, Shape{0}, Shape{1, 2}),
               fold(c.contiguous(), Shape{5, 8}, Shape{2}, Shape{1}, Shape{0}, Shape{1, 2}), 0.0,
               0.0);
  Tensor e = zeros(Shape{0, 2, 5, 5}).requires_grad_(true);
  Tensor u = unfold(e, Shape{2});
  EXPECT_EQ(u.shape(), (Shape{0, 8, 16}));
  Tensor f = fold(u, Shape{5, 5}, Shape{2});
  autograd::backward({f}, {zeros(f.shape())});
  EXPECT_EQ(e.grad().shape(), e.shape());
}

TEST(Fold, ChecksThrow) {
  Tensor x = randn(Shape{2, 3, 5, 5}, gen());
  EXPECT_THROW_OP(unfold(Tensor(), Shape{2}), ValueError, "unfold");
  EXPECT_THROW_OP(unfold(zeros(Shape{2, 3, 5, 5}, DType::i64), Shape{2}), DTypeError, "unfold");
  EXPECT_THROW_OP(unfold(zeros(Shape{3, 5, 5}), Shape{2}), ShapeError, "unfold");
  EXPECT_THROW_OP(unfold(zeros(Shape{2, 3, 0, 5}), Shape{2}), ShapeError, "unfold");
  EXPECT_THROW_OP(unfold(x, Shape{2, 2, 2}), ValueError, "unfold");
  EXPECT_THROW_OP(unfold(x, Shape{0}), ValueError, "unfold");
  EXPECT_THROW_OP(unfold(x, Shape{2}, Shape{0}), ValueError, "unfold");
  EXPECT_THROW_OP(unfold(x, Shape{2}, Shape{1}, Shape{-1}), ValueError, "unfold");
  EXPECT_THROW_OP(unfold(x, Shape{2}, Shape{1}, Shape{0}, Shape{0, 1}), ValueError, "unfold");
  EXPECT_THROW_MSG(unfold(x, Shape{3}, Shape{3}), ShapeError,
                   "unfold: the kernel (7, 7) (dilated) is larger than the padded image (5, 5)");
  EXPECT_NO_THROW(unfold(x, Shape{3}, Shape{3}, Shape{1}));

  Tensor c = randn(Shape{2, 12, 16}, gen());  // C 3, kernel 2x2, 4x4 blocks of a 5x5 image
  EXPECT_NO_THROW(fold(c, Shape{5}, Shape{2}));
  EXPECT_THROW_OP(fold(Tensor(), Shape{5}, Shape{2}), ValueError, "fold");
  EXPECT_THROW_OP(fold(zeros(Shape{2, 12, 16}, DType::i64), Shape{5}, Shape{2}), DTypeError,
                  "fold");
  EXPECT_THROW_OP(fold(zeros(Shape{12, 16}), Shape{5}, Shape{2}), ShapeError, "fold");
  EXPECT_THROW_OP(fold(zeros(Shape{2, 0, 16}), Shape{5}, Shape{2}), ShapeError, "fold");
  EXPECT_THROW_OP(fold(c, Shape{5, 5, 5}, Shape{2}), ValueError, "fold");
  EXPECT_THROW_OP(fold(c, Shape{0, 5}, Shape{2}), ValueError, "fold");
  EXPECT_THROW_OP(fold(c, Shape{5}, Shape{0}), ValueError, "fold");
  EXPECT_THROW_MSG(fold(c, Shape{5}, Shape{6}), ShapeError, "fold: the kernel (6, 6)");
  EXPECT_THROW_MSG(fold(c, Shape{5}, Shape{3}), ShapeError,
                   "fold: input dim 1 (12) must be divisible by the kernel size (3, 3)");
  EXPECT_THROW_MSG(fold(c, Shape{6}, Shape{2}), ShapeError,
                   "fold: input dim 2 must be the number of sliding blocks 25 = 5 x 5");
}

}  // namespace
}  // namespace cf
