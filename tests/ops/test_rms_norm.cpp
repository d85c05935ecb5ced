// rms_norm: the optimized kernels against the _ref kernels for edge row counts and widths (with
// and without weight, every subset of gradients), the op against its composite formula, and one
// EXPECT_THROW per check. Seed: Generator(17).
#include <gtest/gtest.h>

#include <string>

#include "cformer/autograd.h"
#include "cformer/ops.h"
#include "ops/rms_norm.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"

namespace cf {
namespace {


Generator& gen() {
  static Generator g(17);
  return g;
}
float* fp(const Tensor& t) {
  return t.defined() && t.numel() ? t.data_ptr<float>() : nullptr;
}

struct Size {
  int64_t M, N;
};
const Size kSizes[] = {{1, 1},    {3, 15},   {2, 16},    {5, 17}, {7, 33},
                       {40, 384}, {2, 1001}, {1100, 24}, {0, 8}};

TEST(RmsNorm, KernelsMatchRef) {
  for (const Size& s : kSizes) {
    for (bool has_w : {false, true}) {
      SCOPED_TRACE("M " + std::to_string(s.M) + " N " + std::to_string(s.N) +
                   (has_w ? " weight" : ""));
      Tensor x = mul(randn(Shape{s.M, s.N}, gen()), 3.0);
      Tensor w = has_w ? randn(Shape{s.N}, gen()) : Tensor();
      Tensor y = empty(x.shape()), yr = empty(x.shape()), rstd = empty(Shape{s.M}),
             rstdr = empty(Shape{s.M});
      ops::cpu::rms_norm_forward({fp(x), fp(w), fp(y), fp(rstd), s.M, s.N, 1e-6});
      ops::cpu::rms_norm_forward_ref<float>({fp(x), fp(w), fp(yr), fp(rstdr), s.M, s.N, 1e-6});
      EXPECT_CLOSE(y, yr, 1e-5, 1e-4);
      EXPECT_CLOSE(rstd, rstdr, 1e-5, 1e-4);
      Tensor g = randn(x.shape(), gen());
      for (int want = 1; want < 4; ++want) {
        Tensor dx = want & 1 ? empty(x.shape()) : Tensor(),
               dxr = want & 1 ? empty(x.shape()) : Tensor();
        Tensor dw = want & 2 ? empty(Shape{s.N}) : Tensor(),
               dwr = want & 2 ? empty(Shape{s.N}) : Tensor();
        ops::cpu::rms_norm_backward({fp(x), fp(w), fp(rstdr), fp(g), fp(dx), fp(dw), s.M, s.N});
        ops::cpu::rms_norm_backward_ref<float>(
            {fp(x), fp(w), fp(rstdr), fp(g), fp(dxr), fp(dwr), s.M, s.N});
        if (want & 1) {
          EXPECT_CLOSE(dx, dxr, 1e-4, 1e-3);
        }
        if (want & 2) {
          EXPECT_CLOSE(dw, dwr, 1e-3, 1e-4);
        }
      }
    }
  }
}

TEST(RmsNorm, OpMatchesComposite) {
  Tensor x = randn(Shape{4, 3, 9}, gen()).requires_grad_(true);
  Tensor w = randn(Shape{3, 9}, gen()).requires_grad_(true);
  Tensor y = rms_norm(x, Shape{3, 9}, w, 1e-5);
  Tensor xd = x.detach();
  Tensor expect =
      mul(div(xd, pow(add(mean(mul(xd, xd), Dims{-2, -1}, true), 1e-5), 0.5)), w.detach());
  EXPECT_CLOSE(y, expect, 1e-5, 1e-4);
  Tensor g = randn(y.shape(), gen());
  autograd::backward({y}, {g});
  Tensor x64 = xd.to(DType::f64).requires_grad_(true),
         w64 = w.detach().to(DType::f64).requires_grad_(true);
  autograd::backward({rms_norm(x64, Shape{3, 9}, w64, 1e-5)}, {g.to(DType::f64)});
  EXPECT_CLOSE(x.grad(), x64.grad().to(DType::f32), 1e-5, 1e-4);
  EXPECT_CLOSE(w.grad(), w64.grad().to(DType::f32), 1e-5, 1e-4);
  Tensor t = randn(Shape{6, 4}, gen());
  EXPECT_CLOSE(rms_norm(t.t(), Shape{6}), rms_norm(t.t().contiguous(), Shape{6}), 0.0, 0.0);
  EXPECT_EQ(rms_norm(zeros(Shape{0, 5}), Shape{5}).shape(), (Shape{0, 5}));
}

TEST(RmsNorm, ChecksThrow) {
  Tensor x = randn(Shape{4, 6}, gen());
  EXPECT_THROW_OP(rms_norm(zeros(Shape{4, 6}, DType::i64), Shape{6}), DTypeError, "rms_norm");
  EXPECT_THROW_OP(rms_norm(Tensor(), Shape{6}), ValueError, "rms_norm");
  EXPECT_THROW_OP(rms_norm(x, Shape{}), ShapeError, "rms_norm");
  EXPECT_THROW_OP(rms_norm(x, Shape{4}), ShapeError, "rms_norm");
  EXPECT_THROW_OP(rms_norm(x, Shape{1, 4, 6}), ShapeError, "rms_norm");
  EXPECT_THROW_OP(rms_norm(x, Shape{6}, ones(Shape{5})), ShapeError, "rms_norm");
  EXPECT_THROW_OP(rms_norm(x, Shape{6}, ones(Shape{6}, DType::f64)), DTypeError, "rms_norm");
}

}  // namespace
}  // namespace cf
