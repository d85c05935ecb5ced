// Binary ops: the f32 kernels of add/sub/mul/div, pow and maximum/minimum (forward and fused
// backward) against the _ref kernels on broadcast / strided / empty / large layouts; PyTorch's
// conventions (ties, NaN, pow at 0); the scalar operators; the *_into entry points; every check.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "cformer/cformer.h"
#include "ops/binary.h"
#include "ops/inplace.h"
#include "support/expect_close.h"

namespace cf {
namespace {

template <class E, class F> void expect_throw_naming(const F& f, const std::string& op) {
  try {
    f();
    ADD_FAILURE() << "expected an exception naming " << op;
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(op + ":"), std::string::npos) << e.what();
  }
}

Tensor uniform_tensor(const Shape& s, double lo, double hi, Generator& gen) {
  return add(mul(rand(s, gen), hi - lo), lo);
}

struct Pair {
  std::string name;
  Tensor a, b;
};

// Operand pairs covering the loops' row kinds: both contiguous (sizes around the vector width),
// one broadcast scalar, row / outer broadcasts, transposed, empty, 0-dim, and multi-threaded.
std::vector<Pair> pairs(double alo, double ahi, double blo, double bhi, uint64_t seed) {
  Generator gen(seed);
  auto a = [&gen, alo, ahi](const Shape& s) { return uniform_tensor(s, alo, ahi, gen); };
  auto b = [&gen, blo, bhi](const Shape& s) { return uniform_tensor(s, blo, bhi, gen); };
  return {{"1", a(Shape{1}), b(Shape{1})},
          {"15", a(Shape{15}), b(Shape{15})},
          {"17", a(Shape{17}), b(Shape{17})},
          {"33", a(Shape{33}), b(Shape{33})},
          {"1037", a(Shape{1037}), b(Shape{1037})},
          {"empty", a(Shape{0, 3}), b(Shape{3})},
          {"0-dim", a(Shape{}), b(Shape{})},
          {"scalar b", a(Shape{17}), b(Shape{})},
          {"scalar a", a(Shape{}), b(Shape{17})},
          {"row broadcast", a(Shape{7, 33}), b(Shape{33})},
          {"outer", a(Shape{7, 1}), b(Shape{1, 33})},
          {"transposed", a(Shape{33, 7}).t(), b(Shape{7, 33})},
          {"threads", a(Shape{70001}), b(Shape{70001})}};
}

Tensor out_for(const Tensor& a, const Tensor& b) {
  return empty(broadcast_shapes(a.shape(), b.shape()), a.dtype());
}

TEST(Binary, ArithMatchesReference) {
  using ops::cpu::Arith;
  for (Arith op : {Arith::add, Arith::sub, Arith::mul, Arith::div}) {
    for (double alpha : {1.0, -0.5}) {
      if ((op == Arith::mul || op == Arith::div) && alpha != 1.0) continue;
      for (const Pair& p : pairs(-3, 3, 0.5, 2, 1)) {
        SCOPED_TRACE("op " + std::to_string(static_cast<int>(op)) + ", " + p.name);
        Tensor y = out_for(p.a, p.b), y_ref = out_for(p.a, p.b);
        ops::cpu::arith(op, ops::make_loop<3>(y, {&p.a, &p.b}), DType::f32, alpha);
        ops::cpu::arith_ref(op, ops::make_loop<3>(y_ref, {&p.a, &p.b}), DType::f32, alpha);
        EXPECT_CLOSE(y, y_ref, 1e-6, 1e-6);
      }
    }
  }
}

TEST(Binary, DivDivisorGradientMatchesReference) {
  for (const Pair& p : pairs(-3, 3, 0.5, 2, 8)) {
    SCOPED_TRACE(p.name);
    Generator gen(9);
    const Tensor g = randn(broadcast_shapes(p.a.shape(), p.b.shape()), gen);
    Tensor d = empty(g.shape()), d_ref = empty(g.shape());
    ops::cpu::div_backward_divisor(ops::make_loop<4>(d, {&g, &p.a, &p.b}), DType::f32);
    ops::cpu::div_backward_divisor_ref<float>(ops::make_loop<4>(d_ref, {&g, &p.a, &p.b}));
    EXPECT_CLOSE(d, d_ref, 1e-6, 1e-5);
  }
}

TEST(Binary, PowMatchesReference) {
  for (const Pair& p : pairs(0.1, 3, -2, 2, 2)) {
    SCOPED_TRACE(p.name);
    Tensor y = out_for(p.a, p.b), y_ref = out_for(p.a, p.b);
    ops::cpu::pow_forward(ops::make_loop<3>(y, {&p.a, &p.b}), DType::f32);
    ops::cpu::pow_forward_ref<float>(ops::make_loop<3>(y_ref, {&p.a, &p.b}));
    EXPECT_CLOSE(y, y_ref, 1e-6, 1e-6);
    Generator gen(4);
    const Tensor g = randn(y.shape(), gen);
    for (bool base : {true, false}) {
      Tensor d = empty(y.shape()), d_ref = empty(y.shape());
      const auto L = ops::make_loop<4>(d, {&g, &p.a, &p.b});
      const auto L_ref = ops::make_loop<4>(d_ref, {&g, &p.a, &p.b});
      if (base) {
        ops::cpu::pow_backward_base(L, DType::f32);
        ops::cpu::pow_backward_base_ref<float>(L_ref);
      } else {
        ops::cpu::pow_backward_exponent(L, DType::f32);
        ops::cpu::pow_backward_exponent_ref<float>(L_ref);
      }
      EXPECT_CLOSE(d, d_ref, 1e-5, 1e-5);
    }
  }
}

TEST(Binary, MinMaxMatchesReference) {
  for (bool is_max : {true, false}) {
    for (const Pair& p : pairs(-1, 1, -1, 1, 3)) {
      SCOPED_TRACE(std::string(is_max ? "maximum, " : "minimum, ") + p.name);
      Tensor y = out_for(p.a, p.b), y_ref = out_for(p.a, p.b);
      ops::cpu::minmax_forward(is_max, ops::make_loop<3>(y, {&p.a, &p.b}), DType::f32);
      ops::cpu::minmax_forward_ref<float>(is_max, ops::make_loop<3>(y_ref, {&p.a, &p.b}));
      EXPECT_CLOSE(y, y_ref, 0.0, 0.0);
      Generator gen(5);
      const Tensor g = randn(y.shape(), gen);
      Tensor d = empty(y.shape()), d_ref = empty(y.shape());
      ops::cpu::minmax_backward(is_max, ops::make_loop<4>(d, {&g, &p.a, &p.b}), DType::f32);
      ops::cpu::minmax_backward_ref<float>(is_max, ops::make_loop<4>(d_ref, {&g, &p.a, &p.b}));
      EXPECT_CLOSE(d, d_ref, 0.0, 0.0);
    }
  }
}

TEST(Binary, MinMaxTiesAndNaNFollowPyTorch) {
  Tensor a = from_vector<float>({1, 2, 3}).requires_grad_(true);
  Tensor b = from_vector<float>({1, 5, 0}).requires_grad_(true);
  Tensor y = maximum(a, b);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 5, 3}));
  sum(y).backward();
  EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{0.5f, 0, 1}));
  EXPECT_EQ(b.grad().to_vector<float>(), (std::vector<float>{0.5f, 1, 0}));
  const Tensor n = from_vector<float>({NAN, 1});
  const Tensor m = from_vector<float>({1, NAN});
  for (const Tensor& r : {maximum(n, m), minimum(n, m), maximum(m, n), minimum(m, n)}) {
    EXPECT_TRUE(std::isnan(r.to_vector<float>()[0]));
    EXPECT_TRUE(std::isnan(r.to_vector<float>()[1]));
  }
  const Tensor i = from_vector<int64_t>({4, -7});
  const Tensor j = from_vector<int64_t>({-1, 3});
  EXPECT_EQ(maximum(i, j).to_vector<int64_t>(), (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(minimum(i, j).to_vector<int64_t>(), (std::vector<int64_t>{-1, -7}));
}

TEST(Binary, PowGradientsAtZeroFollowPyTorch) {
  Tensor a = from_vector<float>({0, 0, 2, 2}).requires_grad_(true);
  Tensor b = from_vector<float>({0, 2, 0, 3}).requires_grad_(true);
  Tensor y = pow(a, b);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 0, 1, 8}));
  sum(y).backward();
  // d/da is 0 where b == 0; d/db is 0 where a == 0 and b >= 0.
  EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{0, 0, 0, 12}));
  const std::vector<float> gb = b.grad().to_vector<float>();
  EXPECT_EQ(gb[0], 0.0f);
  EXPECT_EQ(gb[1], 0.0f);
  EXPECT_NEAR(gb[2], std::log(2.0), 1e-6);
  EXPECT_NEAR(gb[3], 8 * std::log(2.0), 1e-5);
}

TEST(Binary, BroadcastGradientsAreSummedToInputShapes) {
  Generator gen(6);
  for (Tensor (*f)(const Tensor&, const Tensor&) :
       {+[](const Tensor& x, const Tensor& y) { return pow(x, y); },
        +[](const Tensor& x, const Tensor& y) { return maximum(x, y); },
        +[](const Tensor& x, const Tensor& y) { return minimum(x, y); }}) {
    Tensor a = uniform_tensor(Shape{3, 1}, 0.5, 2, gen).requires_grad_(true);
    Tensor b = randn(Shape{4}, gen).requires_grad_(true);
    sum(f(a, b)).backward();
    EXPECT_EQ(a.grad().shape(), a.shape());
    EXPECT_EQ(b.grad().shape(), b.shape());
  }
}

TEST(Binary, ScalarOperators) {
  const Tensor x = from_vector<float>({1, 2, 4});
  EXPECT_EQ((2.0 - x).to_vector<float>(), (std::vector<float>{1, 0, -2}));
  EXPECT_EQ((2.0 / x).to_vector<float>(), (std::vector<float>{2, 1, 0.5f}));
  EXPECT_EQ((-x).to_vector<float>(), (std::vector<float>{-1, -2, -4}));
  EXPECT_EQ((x * 2.0 + 1.0).to_vector<float>(), (std::vector<float>{3, 5, 9}));
  const Tensor i = from_vector<int64_t>({1, -2});
  EXPECT_EQ(add(i, i, 3.0).to_vector<int64_t>(), (std::vector<int64_t>{4, -8}));
}

TEST(Binary, IntoEntryPoints) {
  Tensor base = from_vector<float>({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  Tensor view = base.t();  // (3, 2), strided
  view.add_(from_vector<float>({10, 20}), 0.5);
  EXPECT_EQ(base.to_vector<float>(), (std::vector<float>{6, 7, 8, 14, 15, 16}));
  view.mul_(2.0);
  EXPECT_EQ(base.to_vector<float>(), (std::vector<float>{12, 14, 16, 28, 30, 32}));
  expect_throw_naming<ShapeError>([&base] { ops::add_into(base, base, zeros(Shape{4}), 1.0); }, "add_");
  expect_throw_naming<DTypeError>(
      [&base] { ops::mul_into(base, base, zeros(Shape{3}, DType::f64)); }, "mul_");
  expect_throw_naming<ShapeError>(
      [&base] { ops::add_into(base, zeros(Shape{3, 3}), zeros(Shape{3}), 1.0); }, "add_");
  const Tensor d = zeros(Shape{2, 3}, DType::f64);
  expect_throw_naming<DTypeError>([&base, &d] { ops::add_into(base, d, d, 1.0); }, "add_");
  expect_throw_naming<DTypeError>([&base, &d] { ops::mul_into(base, d, d); }, "mul_");
  Tensor flags = zeros(Shape{3}, DType::b8);
  expect_throw_naming<DTypeError>([&flags] { ops::add_into(flags, flags, flags, 1.0); }, "add_");
  expect_throw_naming<DTypeError>([&flags] { flags.add_(1.0); }, "add_");
  expect_throw_naming<DTypeError>([&flags] { flags.mul_(2.0); }, "mul_");
}

TEST(Binary, ChecksNameTheOp) {
  const Tensor f = zeros(Shape{2, 3});
  const Tensor d = zeros(Shape{2, 3}, DType::f64);
  const Tensor i = zeros(Shape{2, 3}, DType::i64);
  const Tensor b = zeros(Shape{2, 3}, DType::b8);
  const Tensor wrong = zeros(Shape{4});
  using Fn = Tensor (*)(const Tensor&, const Tensor&);
  const std::vector<std::pair<std::string, Fn>> ops = {
      {"add", [](const Tensor& x, const Tensor& y) { return add(x, y); }},
      {"sub", [](const Tensor& x, const Tensor& y) { return sub(x, y); }},
      {"mul", [](const Tensor& x, const Tensor& y) { return mul(x, y); }},
      {"div", [](const Tensor& x, const Tensor& y) { return div(x, y); }},
      {"pow", [](const Tensor& x, const Tensor& y) { return pow(x, y); }},
      {"maximum", [](const Tensor& x, const Tensor& y) { return maximum(x, y); }},
      {"minimum", [](const Tensor& x, const Tensor& y) { return minimum(x, y); }}};
  for (const auto& [name, fn] : ops) {
    expect_throw_naming<DTypeError>([&f, &d, fn] { fn(f, d); }, name);
    expect_throw_naming<ShapeError>([&f, &wrong, fn] { fn(f, wrong); }, name);
    expect_throw_naming<DTypeError>([&b, fn] { fn(b, b); }, name);
    expect_throw_naming<ValueError>([&f, fn] { fn(f, Tensor()); }, name);
  }
  expect_throw_naming<DTypeError>([&i] { div(i, i); }, "div");
  expect_throw_naming<DTypeError>([&i] { pow(i, i); }, "pow");
  expect_throw_naming<DTypeError>([&i] { pow(i, 2.0); }, "pow");
  expect_throw_naming<DTypeError>([&i] { div(i, 2.0); }, "div");
  expect_throw_naming<DTypeError>([&b] { add(b, 1.0); }, "add");
}

}  // namespace
}  // namespace cf
