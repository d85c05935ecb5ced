// favor_features (fused FAVOR+ features): the f32 kernel and the f64 reference against the
// composite of public ops it replaced (values and the gradients in x and the projection, queries
// and keys, sizes around the vector width; no rows; strided and broadcast x), c's gradient going to
// its first maximal element on exact ties, and the argument checks.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "cformer/cformer.h"
#include "cformer/efficient_attention.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"

namespace cf {
namespace {

// The definition: softmax_kernel_transformation with the max not detached.
Tensor favor_composite(const Tensor& x, const Tensor& w, bool is_query, double eps) {
  const double d = static_cast<double>(x.size(-1)), m = static_cast<double>(w.size(0));
  const Tensor xs = mul(x, std::pow(d, -0.25));
  const Tensor dash = matmul(xs, w.t());
  const Tensor diag = mul(sum(mul(xs, xs), Dims{-1}, true), 0.5);
  Tensor c = max(dash, -1, true).values;
  if (!is_query) c = max(c, -2, true).values;
  return mul(add(exp(sub(sub(dash, diag), c)), eps), 1.0 / std::sqrt(m));
}

struct Result {
  Tensor out, dx, dw;
};

Result run_favor(bool fused, const Tensor& x0, const Tensor& w0, const Tensor& gout, bool is_query,
                 double eps, DType dt) {
  Tensor x = x0.to(dt).detach().requires_grad_(), w = w0.to(dt).detach().requires_grad_();
  Tensor out = fused ? favor_features(x, w, is_query, eps) : favor_composite(x, w, is_query, eps);
  out.backward(gout.to(dt));
  return {out.detach().to(DType::f64), x.grad().to(DType::f64), w.grad().to(DType::f64)};
}

struct Sizes {
  int64_t B, L, d, m;
};

TEST(FavorFeatures, MatchesCompositeAndReference) {
  for (const Sizes& s : {Sizes{1, 1, 1, 1}, Sizes{2, 15, 16, 17}, Sizes{3, 17, 15, 33},
                         Sizes{1, 33, 64, 256}, Sizes{2, 1000, 64, 40}})
    for (bool is_query : {true, false}) {
      SCOPED_TRACE(::testing::Message() << "B " << s.B << " L " << s.L << " d " << s.d << " m "
                                        << s.m << (is_query ? " query" : " key"));
      Generator gen(s.L * 7 + s.m);
      const Tensor x = mul(randn(Shape{s.B, s.L, s.d}, gen), 0.8);
      const Tensor w = randn(Shape{s.m, s.d}, gen);
      const Tensor g = randn(Shape{s.B, s.L, s.m}, gen);
      const Result oracle = run_favor(false, x, w, g, is_query, 1e-3, DType::f64);
      const Result ref = run_favor(true, x, w, g, is_query, 1e-3, DType::f64);
      const Result f32 = run_favor(true, x, w, g, is_query, 1e-3, DType::f32);
      EXPECT_CLOSE(ref.out, oracle.out, 1e-12, 1e-10);
      EXPECT_CLOSE(ref.dx, oracle.dx, 1e-12, 1e-9);
      EXPECT_CLOSE(ref.dw, oracle.dw, 1e-11, 1e-9);
      EXPECT_CLOSE(f32.out, oracle.out, 1e-6, 1e-4);
      EXPECT_CLOSE(f32.dx, oracle.dx, 1e-4, 1e-3);
      EXPECT_CLOSE(f32.dw, oracle.dw, 1e-3, 1e-3);
    }
}

// No rows (the composite cannot reduce an empty dim): empty features, zero gradients.
TEST(FavorFeatures, Empty) {
  for (DType dt : {DType::f32, DType::f64})
    for (bool is_query : {true, false}) {
      Tensor x = zeros(Shape{2, 0, 8}, dt).requires_grad_(),
             w = ones(Shape{5, 8}, dt).requires_grad_();
      Tensor out = favor_features(x, w, is_query);
      EXPECT_EQ(out.shape(), (Shape{2, 0, 5}));
      sum(out).backward();
      EXPECT_EQ(x.grad().shape(), x.shape());
      EXPECT_CLOSE(w.grad(), zeros(Shape{5, 8}, dt), 0.0, 0.0);
    }
}

TEST(FavorFeatures, StridedAndBroadcastInputs) {
  Generator gen(5);
  const Tensor w = randn(Shape{20, 6}, gen);
  const Tensor xt = randn(Shape{9, 3, 6}, gen).transpose(0, 1);         // (3, 9, 6), strided
  const Tensor xb = randn(Shape{1, 9, 6}, gen).expand(Shape{4, 9, 6});  // stride 0
  for (bool is_query : {true, false}) {
    EXPECT_CLOSE(favor_features(xt, w, is_query), favor_features(xt.contiguous(), w, is_query), 0.0,
                 0.0);
    EXPECT_CLOSE(favor_features(xb, w.t().contiguous().t(), is_query),
                 favor_features(xb.contiguous(), w, is_query), 0.0, 0.0);
  }
}

// Two equal projection rows give equal features in every row: the maximum is tied, and c's
// gradient must go to the first of them as max(dim).values does (not split among the ties).
TEST(FavorFeatures, TiedMaximumGradientGoesToFirst) {
  Generator gen(9);
  Tensor w = randn(Shape{6, 4}, gen, DType::f64);
  w = cat({w.narrow(0, 0, 3), w.narrow(0, 0, 3)}, 0);  // rows r and r + 3 equal
  const Tensor x = randn(Shape{2, 5, 4}, gen, DType::f64);
  const Tensor g = randn(Shape{2, 5, 6}, gen, DType::f64);
  for (bool is_query : {true, false}) {
    const Result oracle = run_favor(false, x, w, g, is_query, 1e-6, DType::f64);
    const Result fused = run_favor(true, x, w, g, is_query, 1e-6, DType::f64);
    EXPECT_CLOSE(fused.out, oracle.out, 1e-12, 1e-10);
    EXPECT_CLOSE(fused.dx, oracle.dx, 1e-12, 1e-9);
    EXPECT_CLOSE(fused.dw, oracle.dw, 1e-12, 1e-9);
  }
}

TEST(FavorFeatures, ChecksArguments) {
  const char* op = "favor_features";
  const Tensor x = ones(Shape{2, 4, 3});
  EXPECT_THROW_OP(favor_features(x, ones(Shape{0, 3}), true), ShapeError, op);
  EXPECT_THROW_OP(favor_features(ones(Shape{3}), ones(Shape{4, 3}), true), ShapeError, op);
  EXPECT_THROW_OP(favor_features(x, ones(Shape{2, 4, 3}), false), ShapeError, op);
  EXPECT_THROW_OP(favor_features(x, ones(Shape{4, 2}), true), ShapeError, op);
  EXPECT_THROW_OP(favor_features(x, ones(Shape{4, 3}, DType::f64), true), DTypeError, op);
  EXPECT_THROW_OP(favor_features(x.to(DType::i64), ones(Shape{4, 3}), true), DTypeError, op);
  EXPECT_THROW_OP(favor_features(x, ones(Shape{4, 3}, DType::i64), true), DTypeError, op);
}

}  // namespace
}  // namespace cf
