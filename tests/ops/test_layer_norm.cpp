// layer_norm: the optimized kernels against the _ref kernels for edge row counts and widths
// (with and without weight / bias, every subset of gradients), op-level behaviour, and one
// EXPECT_THROW per check. Seed: Generator(13).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cformer/autograd.h"
#include "cformer/ops.h"
#include "cformer/runtime.h"
#include "ops/layer_norm.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"

namespace cf {
namespace {


Generator& gen() {
  static Generator g(13);
  return g;
}
float* fp(const Tensor& t) {
  return t.defined() && t.numel() ? t.data_ptr<float>() : nullptr;
}

struct Size {
  int64_t M, N;
};
// Widths 1, 15, 16, 17, 33, 384, 1000+; row counts across one and many backward blocks.
const Size kSizes[] = {{1, 1},    {3, 15},   {2, 16},    {5, 17}, {7, 33},
                       {40, 384}, {2, 1001}, {1100, 24}, {0, 8}};

TEST(LayerNorm, KernelsMatchRef) {
  for (const Size& s : kSizes) {
    for (int affine = 0; affine < 4; ++affine) {
      const bool has_w = affine & 1, has_b = affine & 2;
      SCOPED_TRACE("M " + std::to_string(s.M) + " N " + std::to_string(s.N) + " affine " +
                   std::to_string(affine));
      Tensor x = add(mul(randn(Shape{s.M, s.N}, gen()), 3.0), 2.0);
      Tensor w = has_w ? randn(Shape{s.N}, gen()) : Tensor(),
             b = has_b ? randn(Shape{s.N}, gen()) : Tensor();
      Tensor y = empty(x.shape()), yr = empty(x.shape());
      Tensor mean = empty(Shape{s.M}), rstd = empty(Shape{s.M}), meanr = empty(Shape{s.M}),
             rstdr = empty(Shape{s.M});
      ops::cpu::layer_norm_forward(
          {fp(x), fp(w), fp(b), fp(y), fp(mean), fp(rstd), s.M, s.N, 1e-5});
      ops::cpu::layer_norm_forward_ref<float>(
          {fp(x), fp(w), fp(b), fp(yr), fp(meanr), fp(rstdr), s.M, s.N, 1e-5});
      EXPECT_CLOSE(y, yr, 1e-5, 1e-4);
      EXPECT_CLOSE(mean, meanr, 1e-5, 1e-5);
      EXPECT_CLOSE(rstd, rstdr, 1e-5, 1e-4);
      Tensor g = randn(x.shape(), gen());
      for (int want = 1; want < 8; ++want) {  // every non-empty subset of dx, dw, db
        Tensor dx = want & 1 ? empty(x.shape()) : Tensor(),
               dxr = want & 1 ? empty(x.shape()) : Tensor();
        Tensor dw = want & 2 ? empty(Shape{s.N}) : Tensor(),
               dwr = want & 2 ? empty(Shape{s.N}) : Tensor();
        Tensor db = want & 4 ? empty(Shape{s.N}) : Tensor(),
               dbr = want & 4 ? empty(Shape{s.N}) : Tensor();
        ops::cpu::layer_norm_backward(
            {fp(x), fp(w), fp(meanr), fp(rstdr), fp(g), fp(dx), fp(dw), fp(db), s.M, s.N});
        ops::cpu::layer_norm_backward_ref<float>(
            {fp(x), fp(w), fp(meanr), fp(rstdr), fp(g), fp(dxr), fp(dwr), fp(dbr), s.M, s.N});
        if (want & 1) {
          EXPECT_CLOSE(dx, dxr, 1e-4, 1e-3);
        }
        if (want & 2) {
          EXPECT_CLOSE(dw, dwr, 1e-3, 1e-4);
        }
        if (want & 4) {
          EXPECT_CLOSE(db, dbr, 1e-3, 1e-4);
        }
      }
    }
  }
}

TEST(LayerNorm, OpMatchesF64AndComposite) {
  Tensor x = randn(Shape{3, 5, 2, 7}, gen()).requires_grad_(true);
  Tensor w = randn(Shape{2, 7}, gen()).requires_grad_(true),
         b = randn(Shape{2, 7}, gen()).requires_grad_(true);
  Tensor y = layer_norm(x, Shape{2, 7}, w, b, 1e-3);
  // The composite oracle: (x - mean) / sqrt(var + eps) * w + b over the last two dims.
  Tensor xd = x.detach();
  Tensor expect = add(mul(div(sub(xd, mean(xd, Dims{-2, -1}, true)),
                              pow(add(var(xd, Dims{-2, -1}, 0, true), 1e-3), 0.5)),
                          w.detach()),
                      b.detach());
  EXPECT_CLOSE(y, expect, 1e-5, 1e-4);
  Tensor g = randn(y.shape(), gen());
  autograd::backward({y}, {g});
  EXPECT_CLOSE(b.grad(), sum(g, Dims{0, 1}), 1e-5, 1e-5);
  Tensor x64 = x.detach().to(DType::f64).requires_grad_(true);
  Tensor w64 = w.detach().to(DType::f64).requires_grad_(true);
  Tensor y64 = layer_norm(x64, Shape{2, 7}, w64, b.detach().to(DType::f64), 1e-3);
  autograd::backward({y64}, {g.to(DType::f64)});
  EXPECT_CLOSE(x.grad(), x64.grad().to(DType::f32), 1e-5, 1e-4);
  EXPECT_CLOSE(w.grad(), w64.grad().to(DType::f32), 1e-5, 1e-4);
  // Non-contiguous input, size-1 rows (y = bias), empty batch.
  Tensor t = randn(Shape{6, 4}, gen());
  EXPECT_CLOSE(layer_norm(t.t(), Shape{6}), layer_norm(t.t().contiguous(), Shape{6}), 0.0, 0.0);
  Tensor bias = randn(Shape{1}, gen());
  EXPECT_CLOSE(layer_norm(randn(Shape{3, 1}, gen()), Shape{1}, Tensor(), bias),
               bias.expand(Shape{3, 1}), 0.0, 0.0);
  EXPECT_EQ(layer_norm(zeros(Shape{0, 5}), Shape{5}).shape(), (Shape{0, 5}));
}

TEST(LayerNorm, BackwardDoesNotDependOnThreadCount) {
  const int64_t M = 1000, N = 48;
  Tensor x = randn(Shape{M, N}, gen()), w = randn(Shape{N}, gen()), g = randn(Shape{M, N}, gen());
  Tensor mean = empty(Shape{M}), rstd = empty(Shape{M}), y = empty(x.shape());
  ops::cpu::layer_norm_forward({fp(x), fp(w), nullptr, fp(y), fp(mean), fp(rstd), M, N, 1e-5});
  const int threads = get_num_threads();
  std::vector<std::vector<float>> dws;
  for (int t : {1, 2, 3}) {
    set_num_threads(t);
    Tensor dx = empty(x.shape()), dw = empty(Shape{N}), db = empty(Shape{N});
    ops::cpu::layer_norm_backward(
        {fp(x), fp(w), fp(mean), fp(rstd), fp(g), fp(dx), fp(dw), fp(db), M, N});
    dws.push_back(dw.to_vector<float>());
  }
  set_num_threads(threads);
  EXPECT_EQ(dws[0], dws[1]);
  EXPECT_EQ(dws[0], dws[2]);
}

TEST(LayerNorm, ChecksThrow) {
  Tensor x = randn(Shape{4, 6}, gen());
  EXPECT_THROW_OP(layer_norm(zeros(Shape{4, 6}, DType::i64), Shape{6}), DTypeError, "layer_norm");
  EXPECT_THROW_OP(layer_norm(Tensor(), Shape{6}), ValueError, "layer_norm");
  EXPECT_THROW_OP(layer_norm(x, Shape{}), ShapeError, "layer_norm");
  EXPECT_THROW_OP(layer_norm(x, Shape{5}), ShapeError, "layer_norm");
  EXPECT_THROW_OP(layer_norm(x, Shape{2, 4, 6}), ShapeError, "layer_norm");
  EXPECT_THROW_OP(layer_norm(x, Shape{6}, ones(Shape{7})), ShapeError, "layer_norm");
  EXPECT_THROW_OP(layer_norm(x, Shape{6}, ones(Shape{6}, DType::f64)), DTypeError, "layer_norm");
  EXPECT_THROW_OP(layer_norm(x, Shape{6}, Tensor(), ones(Shape{1, 6})), ShapeError, "layer_norm");
  EXPECT_THROW_OP(layer_norm(x, Shape{6}, Tensor(), ones(Shape{6}, DType::f64)), DTypeError,
                  "layer_norm");
}

}  // namespace
}  // namespace cf
