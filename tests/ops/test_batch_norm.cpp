// batch_norm: the optimized kernels against the _ref kernels for edge (N, C, S) layouts in both
// modes, the in-place running-statistics update (also through non-contiguous buffers), and one
// EXPECT_THROW per check. Seed: Generator(19).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cformer/autograd.h"
#include "cformer/ops.h"
#include "ops/batch_norm.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"

namespace cf {
namespace {


Generator& gen() {
  static Generator g(19);
  return g;
}
float* fp(const Tensor& t) {
  return t.defined() && t.numel() ? t.data_ptr<float>() : nullptr;
}

struct Layout {
  int64_t N, C, S;
};
const Layout kLayouts[] = {{2, 3, 1},    {4, 5, 15}, {3, 2, 17}, {2, 3, 33},
                           {1, 2, 1000}, {8, 16, 1}, {5, 1, 3}};

TEST(BatchNorm, KernelsMatchRef) {
  for (const Layout& l : kLayouts) {
    for (bool training : {true, false}) {
      for (bool affine : {false, true}) {
        SCOPED_TRACE("N " + std::to_string(l.N) + " C " + std::to_string(l.C) + " S " +
                     std::to_string(l.S) + (training ? " train" : " eval") +
                     (affine ? " affine" : ""));
        Tensor x = add(mul(randn(Shape{l.N, l.C, l.S}, gen()), 2.0), 1.0);
        Tensor w = affine ? randn(Shape{l.C}, gen()) : Tensor(),
               b = affine ? randn(Shape{l.C}, gen()) : Tensor();
        Tensor rm = randn(Shape{l.C}, gen()), rv = add(rand(Shape{l.C}, gen()), 0.5);
        Tensor y = empty(x.shape()), yr = empty(x.shape());
        std::vector<Tensor> st, str;
        for (int i = 0; i < 3; ++i) {
          st.push_back(empty(Shape{l.C}));
          str.push_back(empty(Shape{l.C}));
        }
        ops::cpu::batch_norm_forward({fp(x), fp(w), fp(b), fp(rm), fp(rv), fp(y), fp(st[0]),
                                      fp(st[1]), fp(st[2]), l.N, l.C, l.S, 1e-5, training});
        ops::cpu::batch_norm_forward_ref<float>({fp(x), fp(w), fp(b), fp(rm), fp(rv), fp(yr),
                                                 fp(str[0]), fp(str[1]), fp(str[2]), l.N, l.C, l.S,
                                                 1e-5, training});
        EXPECT_CLOSE(y, yr, 1e-5, 1e-4);
        for (int i = 0; i < 3; ++i) EXPECT_CLOSE(st[i], str[i], 1e-5, 1e-4);
        Tensor g = randn(x.shape(), gen());
        Tensor dx = empty(x.shape()), dxr = empty(x.shape());
        Tensor dw = empty(Shape{l.C}), dwr = empty(Shape{l.C}), db = empty(Shape{l.C}),
               dbr = empty(Shape{l.C});
        ops::cpu::batch_norm_backward({fp(x), fp(w), fp(str[0]), fp(str[2]), fp(g), fp(dx), fp(dw),
                                       fp(db), l.N, l.C, l.S, training});
        ops::cpu::batch_norm_backward_ref<float>({fp(x), fp(w), fp(str[0]), fp(str[2]), fp(g),
                                                  fp(dxr), fp(dwr), fp(dbr), l.N, l.C, l.S,
                                                  training});
        EXPECT_CLOSE(dx, dxr, 1e-4, 1e-3);
        EXPECT_CLOSE(dw, dwr, 1e-4, 1e-4);
        EXPECT_CLOSE(db, dbr, 1e-4, 1e-4);
      }
    }
  }
}

TEST(BatchNorm, RunningStatisticsUpdateInPlace) {
  Tensor x = randn(Shape{6, 3, 4}, gen());
  Tensor rm = randn(Shape{3}, gen()), rv = add(rand(Shape{3}, gen()), 0.5);
  const Tensor rm0 = rm.clone(), rv0 = rv.clone();
  const uint64_t version = rm.version();
  batch_norm(x, rm, rv, Tensor(), Tensor(), true, 0.25);
  EXPECT_GT(rm.version(), version);
  const Tensor bm = mean(x, Dims{0, 2}), bv = var(x, Dims{0, 2}, 1);  // unbiased for the update
  EXPECT_CLOSE(rm, add(mul(rm0, 0.75), mul(bm, 0.25)), 1e-6, 1e-5);
  EXPECT_CLOSE(rv, add(mul(rv0, 0.75), mul(bv, 0.25)), 1e-6, 1e-5);
  // Eval leaves them alone and normalizes with them.
  const Tensor rm1 = rm.clone();
  Tensor y = batch_norm(x, rm, rv, Tensor(), Tensor(), false);
  EXPECT_CLOSE(rm, rm1, 0.0, 0.0);
  Tensor expect =
      div(sub(x, rm.reshape(Shape{1, 3, 1})), pow(add(rv.reshape(Shape{1, 3, 1}), 1e-5), 0.5));
  EXPECT_CLOSE(y, expect, 1e-5, 1e-4);
  // A strided running buffer is updated through its view.
  Tensor storage = zeros(Shape{6});
  Tensor strided = storage.slice(0, 0, 6, 2);
  Tensor rv2 = ones(Shape{3});
  batch_norm(x, strided, rv2, Tensor(), Tensor(), true, 1.0);
  EXPECT_CLOSE(strided, bm, 1e-6, 1e-5);
  EXPECT_EQ(storage.to_vector<float>()[1], 0.0f);
}

TEST(BatchNorm, TrainingGradientMatchesF64) {
  Tensor x = randn(Shape{5, 4, 3}, gen()).requires_grad_(true);
  Tensor w = randn(Shape{4}, gen()).requires_grad_(true),
         b = randn(Shape{4}, gen()).requires_grad_(true);
  Tensor g = randn(x.shape(), gen());
  autograd::backward({batch_norm(x, Tensor(), Tensor(), w, b, true)}, {g});
  Tensor x64 = x.detach().to(DType::f64).requires_grad_(true),
         w64 = w.detach().to(DType::f64).requires_grad_(true);
  autograd::backward({batch_norm(x64, Tensor(), Tensor(), w64, b.detach().to(DType::f64), true)},
                     {g.to(DType::f64)});
  EXPECT_CLOSE(x.grad(), x64.grad().to(DType::f32), 1e-5, 1e-4);
  EXPECT_CLOSE(w.grad(), w64.grad().to(DType::f32), 1e-5, 1e-4);
  EXPECT_CLOSE(b.grad(), sum(g, Dims{0, 2}), 1e-5, 1e-5);
}

TEST(BatchNorm, ChecksThrow) {
  Tensor x = randn(Shape{4, 3, 2}, gen());
  Tensor c = ones(Shape{3});
  EXPECT_THROW_OP(batch_norm(zeros(Shape{4, 3}, DType::i64), c, c, c, c, true), DTypeError,
                  "batch_norm");
  EXPECT_THROW_OP(batch_norm(Tensor(), c, c, c, c, true), ValueError, "batch_norm");
  EXPECT_THROW_OP(batch_norm(ones(Shape{3}), c, c, c, c, true), ShapeError, "batch_norm");
  EXPECT_THROW_OP(batch_norm(x, ones(Shape{4}), c, c, c, true), ShapeError, "batch_norm");
  EXPECT_THROW_OP(batch_norm(x, c, ones(Shape{3}, DType::f64), c, c, true), DTypeError,
                  "batch_norm");
  EXPECT_THROW_OP(batch_norm(x, c, c, ones(Shape{2}), c, true), ShapeError, "batch_norm");
  EXPECT_THROW_OP(batch_norm(x, c, c, c, ones(Shape{1, 3}), true), ShapeError, "batch_norm");
  EXPECT_THROW_OP(batch_norm(ones(Shape{1, 3}), c, c, c, c, true), ValueError, "batch_norm");
  EXPECT_THROW_OP(batch_norm(x, c, Tensor(), c, c, true), ValueError, "batch_norm");
  EXPECT_THROW_OP(batch_norm(x, Tensor(), Tensor(), c, c, false), ValueError, "batch_norm");
  EXPECT_THROW_OP(batch_norm(x, c, c, c, c, true, 1.5), ValueError, "batch_norm");
}

}  // namespace
}  // namespace cf
