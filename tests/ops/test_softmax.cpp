// softmax / log_softmax: the optimized kernels against the _ref kernels on rows and columns of
// edge sizes, op-level edge values, and one EXPECT_THROW per check. Seed: Generator(11).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cformer/autograd.h"
#include "cformer/ops.h"
#include "ops/softmax.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"

namespace cf {
namespace {


struct Layout {
  int64_t outer, R, inner;
};
const Layout kLayouts[] = {{1, 1, 1},    {4, 15, 1},   {3, 16, 1}, {5, 17, 1},  {2, 33, 1},
                           {3, 1000, 1}, {2, 3001, 1}, {3, 7, 5},  {2, 33, 17}, {2, 1, 40},
                           {1, 19, 33},  {0, 5, 1},    {3, 4, 0}};

Generator& gen() {
  static Generator g(11);
  return g;
}
float* fp(const Tensor& t) {
  return t.numel() ? t.data_ptr<float>() : nullptr;
}
std::string name(const Layout& l, bool log) {
  std::string s = "(";
  s += std::to_string(l.outer);
  s += ", ";
  s += std::to_string(l.R);
  s += ", ";
  s += std::to_string(l.inner);
  s += log ? ") log_softmax" : ") softmax";
  return s;
}

TEST(Softmax, KernelsMatchRef) {
  for (const Layout& l : kLayouts) {
    for (bool log : {false, true}) {
      SCOPED_TRACE(name(l, log));
      const Shape s{l.outer, l.R, l.inner};
      Tensor x = mul(randn(s, gen()), 8.0);
      Tensor y = empty(s), yr = empty(s);
      ops::cpu::softmax_forward({fp(x), fp(y), l.outer, l.R, l.inner, log});
      ops::cpu::softmax_forward_ref<float>({fp(x), fp(yr), l.outer, l.R, l.inner, log});
      EXPECT_CLOSE(y, yr, 1e-6, 1e-5);
      Tensor g = randn(s, gen()), dx = empty(s), dxr = empty(s);
      ops::cpu::softmax_backward({fp(yr), fp(g), fp(dx), l.outer, l.R, l.inner, log});
      ops::cpu::softmax_backward_ref<float>({fp(yr), fp(g), fp(dxr), l.outer, l.R, l.inner, log});
      EXPECT_CLOSE(dx, dxr, 1e-5, 1e-4);
    }
  }
}

TEST(Softmax, F64MatchesF32AndAnyDim) {
  Tensor x = randn(Shape{3, 17, 5}, gen());
  for (int dim : {0, 1, 2, -1}) {
    EXPECT_CLOSE(softmax(x, dim), softmax(x.to(DType::f64), dim).to(DType::f32), 1e-6, 1e-5);
    EXPECT_CLOSE(log_softmax(x, dim), log_softmax(x.to(DType::f64), dim).to(DType::f32), 1e-5,
                 1e-5);
  }
  Tensor t = x.transpose(0, 2);  // non-contiguous
  EXPECT_CLOSE(softmax(t, 1), softmax(t.contiguous(), 1), 0.0, 0.0);
  EXPECT_CLOSE(sum(softmax(x, 1), Dims{1}), ones(Shape{3, 5}), 1e-6, 1e-6);
}

TEST(Softmax, EdgeValues) {
  EXPECT_EQ(softmax(scalar_tensor(3.0), 0).item(), 1.0);
  // Large values do not overflow; -inf entries get 0 (log: -inf); an all -inf row is NaN.
  Tensor x =
      from_vector<float>({1000, 1001, -INFINITY, -INFINITY, -INFINITY, -INFINITY}, Shape{2, 3});
  std::vector<float> y = softmax(x, 1).to_vector<float>();
  EXPECT_NEAR(y[0], 1.0 / (1.0 + std::exp(1.0)), 1e-6);
  EXPECT_EQ(y[2], 0.0f);
  EXPECT_TRUE(std::isnan(y[3]));
  std::vector<float> ly = log_softmax(x, 1).to_vector<float>();
  EXPECT_EQ(ly[2], -INFINITY);
  EXPECT_NEAR(ly[1], -std::log1p(std::exp(-1.0)), 1e-5);
  EXPECT_EQ(softmax(zeros(Shape{0, 4}), 1).shape(), (Shape{0, 4}));
}

TEST(Softmax, BackwardThroughOps) {
  Tensor x = randn(Shape{4, 19}, gen()).requires_grad_(true);
  Tensor g = randn(Shape{4, 19}, gen());
  Tensor y = softmax(x, 1);
  autograd::backward({y}, {g});
  Tensor yd = y.detach();
  Tensor expect = mul(yd, sub(g, sum(mul(g, yd), Dims{1}, true)));
  EXPECT_CLOSE(x.grad(), expect, 1e-6, 1e-5);
}

TEST(Softmax, ChecksThrow) {
  Tensor x = randn(Shape{3, 4}, gen());
  EXPECT_THROW_OP(softmax(zeros(Shape{3}, DType::i64), 0), DTypeError, "softmax");
  EXPECT_THROW_OP(softmax(x, 2), IndexError, "softmax");
  EXPECT_THROW_OP(softmax(Tensor(), 0), ValueError, "softmax");
  EXPECT_THROW_OP(log_softmax(zeros(Shape{3}, DType::b8), 0), DTypeError, "log_softmax");
  EXPECT_THROW_OP(log_softmax(x, -3), IndexError, "log_softmax");
}

}  // namespace
}  // namespace cf
