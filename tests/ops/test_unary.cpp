// Unary ops: the optimized f32 kernels (forward and fused backward) against the _ref kernels on
// every layout the loops special-case; PyTorch's conventions at kinks and special values; the
// in-place clamp_; and every check.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "cformer/cformer.h"
#include "ops/inplace.h"
#include "ops/unary.h"
#include "support/expect_close.h"

namespace cf {
namespace {

using ops::cpu::Unary;
using ops::cpu::UnaryParams;

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

// Every layout the row loops special-case: sizes around the vector width, empty, 0-dim,
// transposed, broadcast (stride 0), sliced (stride 2), and one large enough for two threads.
std::vector<std::pair<std::string, Tensor>> layouts(double lo, double hi, uint64_t seed) {
  Generator gen(seed);
  auto u = [&gen, lo, hi](const Shape& s) { return uniform_tensor(s, lo, hi, gen); };
  return {{"1", u(Shape{1})},
          {"15", u(Shape{15})},
          {"17", u(Shape{17})},
          {"33", u(Shape{33})},
          {"1037", u(Shape{1037})},
          {"empty", u(Shape{0})},
          {"empty 2-D", u(Shape{0, 3})},
          {"0-dim", u(Shape{})},
          {"transposed", u(Shape{33, 7}).t()},
          {"broadcast", u(Shape{1, 33}).expand(Shape{7, 33})},
          {"sliced", u(Shape{34}).slice(0, 0, 34, 2)},
          {"threads", u(Shape{70001})}};
}

struct Case {
  const char* name;
  Unary op;
  UnaryParams p;
  double lo, hi;  // input range
};

const Case kCases[] = {
    {"neg", Unary::neg, {}, -3, 3},
    {"exp", Unary::exp, {}, -20, 20},
    {"log", Unary::log, {}, 1e-3, 1e3},
    {"sqrt", Unary::sqrt, {}, 0, 100},
    {"rsqrt", Unary::rsqrt, {}, 1e-2, 100},
    {"abs", Unary::abs, {}, -3, 3},
    {"tanh", Unary::tanh, {}, -10, 10},
    {"sigmoid", Unary::sigmoid, {}, -30, 30},
    {"relu", Unary::relu, {}, -3, 3},
    {"leaky_relu", Unary::leaky_relu, {0.1, 0}, -3, 3},
    {"gelu", Unary::gelu, {}, -8, 8},
    {"gelu_tanh", Unary::gelu_tanh, {}, -8, 8},
    {"silu", Unary::silu, {}, -30, 30},
    {"softplus", Unary::softplus, {1, 20}, -40, 40},
    {"softplus beta 2 threshold 1", Unary::softplus, {2, 1}, -3, 3},
    {"softplus negative beta", Unary::softplus, {-1.5, 20}, -10, 10},
    {"clamp", Unary::clamp, {-0.5, 0.7}, -2, 2},
    {"clamp max only", Unary::clamp, {-INFINITY, 0.3}, -2, 2},
    {"pow 0", Unary::pow, {0, 0}, -3, 3},
    {"pow 1", Unary::pow, {1, 0}, -3, 3},
    {"pow 2", Unary::pow, {2, 0}, -3, 3},
    {"pow 3", Unary::pow, {3, 0}, -3, 3},
    {"pow 0.5", Unary::pow, {0.5, 0}, 1e-2, 10},
    {"pow -0.5", Unary::pow, {-0.5, 0}, 1e-2, 10},
    {"pow -1", Unary::pow, {-1, 0}, 0.1, 10},
    {"pow -2", Unary::pow, {-2, 0}, 0.1, 10},
    {"pow 1.7", Unary::pow, {1.7, 0}, 0, 10},
};

TEST(Unary, OptimizedForwardMatchesReference) {
  for (const Case& c : kCases) {
    for (const auto& [layout, x] : layouts(c.lo, c.hi, 7)) {
      SCOPED_TRACE(std::string(c.name) + ", layout " + layout);
      Tensor y = empty(x.shape()), y_ref = empty(x.shape());
      ops::cpu::unary_forward(c.op, c.p, ops::make_loop<2>(y, {&x}), DType::f32);
      ops::cpu::unary_forward_ref<float>(c.op, c.p, ops::make_loop<2>(y_ref, {&x}));
      EXPECT_CLOSE(y, y_ref, 2e-6, 2e-6);
    }
  }
}

TEST(Unary, FusedBackwardMatchesReference) {
  for (const Case& c : kCases) {
    for (const auto& [layout, s] : layouts(c.lo, c.hi, 11)) {
      SCOPED_TRACE(std::string(c.name) + ", layout " + layout);
      Generator gen(3);
      const Tensor g = randn(s.shape(), gen);
      Tensor dx = empty(s.shape()), dx_ref = empty(s.shape());
      ops::cpu::unary_backward(c.op, c.p, ops::make_loop<3>(dx, {&g, &s}), DType::f32);
      ops::cpu::unary_backward_ref<float>(c.op, c.p, ops::make_loop<3>(dx_ref, {&g, &s}));
      EXPECT_CLOSE(dx, dx_ref, 5e-6, 1e-5);
    }
  }
}

TEST(Unary, F64UsesTheReference) {
  Generator gen(5);
  const Tensor x = randn(Shape{5, 33}, gen, DType::f64);
  const Tensor y = gelu(x);
  Tensor y_ref = empty(x.shape(), DType::f64);
  ops::cpu::unary_forward_ref<double>(Unary::gelu, {}, ops::make_loop<2>(y_ref, {&x}));
  EXPECT_CLOSE(y, y_ref, 0.0, 0.0);
  EXPECT_EQ(y.dtype(), DType::f64);
}

// Gradient of f at the given points (f32), by the op's own backward.
std::vector<float> grad_at(Tensor (*f)(const Tensor&), const std::vector<float>& xs) {
  Tensor x = from_vector<float>(xs).requires_grad_(true);
  sum(f(x)).backward();
  return x.grad().to_vector<float>();
}

TEST(Unary, KinksFollowPyTorch) {
  EXPECT_EQ(grad_at([](const Tensor& x) { return relu(x); }, {-1, 0, 2}), (std::vector<float>{0, 0, 1}));
  EXPECT_EQ(grad_at([](const Tensor& x) { return abs(x); }, {-1, 0, 2}), (std::vector<float>{-1, 0, 1}));
  EXPECT_EQ(grad_at([](const Tensor& x) { return leaky_relu(x, 0.25); }, {-1, 0, 2}),
            (std::vector<float>{0.25f, 0.25f, 1}));
  // clamp passes the gradient where min <= x <= max, bounds included.
  EXPECT_EQ(grad_at([](const Tensor& x) { return clamp(x, -1.0, 1.0); }, {-2, -1, 0, 1, 2}),
            (std::vector<float>{0, 1, 1, 1, 0}));
  EXPECT_EQ(grad_at([](const Tensor& x) { return clamp(x, 1.0, -1.0); }, {-2, 0, 2}),
            (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(grad_at([](const Tensor& x) { return pow(x, 0.0); }, {-2, 0, 2}),
            (std::vector<float>{0, 0, 0}));
  // softplus switches to the identity strictly above the threshold.
  const std::vector<float> sp = grad_at([](const Tensor& x) { return softplus(x, 1.0, 2.0); }, {2.0f, 2.5f});
  EXPECT_NEAR(sp[0], 1.0 / (1.0 + std::exp(-2.0)), 1e-6);
  EXPECT_EQ(sp[1], 1.0f);
}

TEST(Unary, KnownValuesAndSpecialValues) {
  const Tensor x = from_vector<float>({1.0f, -2.0f, 0.5f});
  const std::vector<float> g = gelu(x).to_vector<float>();
  const std::vector<float> gt = gelu(x, GeluApproximation::tanh).to_vector<float>();
  for (int i = 0; i < 3; ++i) {
    const double v = x.to_vector<float>()[i];
    EXPECT_NEAR(g[i], 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))), 1e-6);
    EXPECT_NEAR(gt[i], 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))), 1e-6);
  }
  const std::vector<float> sp = softplus(from_vector<float>({-100, 0, 30}), 1.0, 20.0).to_vector<float>();
  EXPECT_NEAR(sp[0], 3.7200759760208356e-44, 1e-44);
  EXPECT_NEAR(sp[1], std::log(2.0), 1e-7);
  EXPECT_EQ(sp[2], 30.0f);
  const Tensor specials = from_vector<float>({NAN, INFINITY, -INFINITY});
  for (Tensor (*f)(const Tensor&) : {+[](const Tensor& t) { return relu(t); },
                                     +[](const Tensor& t) { return clamp(t, -1.0, 1.0); },
                                     +[](const Tensor& t) { return tanh(t); },
                                     +[](const Tensor& t) { return sigmoid(t); },
                                     +[](const Tensor& t) { return gelu(t); }})
    EXPECT_TRUE(std::isnan(f(specials).to_vector<float>()[0]));
  EXPECT_EQ(tanh(specials).to_vector<float>()[1], 1.0f);
  EXPECT_EQ(tanh(specials).to_vector<float>()[2], -1.0f);
  EXPECT_EQ(sigmoid(specials).to_vector<float>()[2], 0.0f);
  EXPECT_EQ(clamp(specials, -1.0, 1.0).to_vector<float>()[2], -1.0f);
  EXPECT_EQ(pow(specials, 0.0).to_vector<float>()[0], 1.0f);  // as std::pow and PyTorch
}

TEST(Unary, IntegerNegAbsClamp) {
  const Tensor x = from_vector<int64_t>({-5, 0, 3, 9'000'000'000'000'000'000});
  EXPECT_EQ(neg(x).to_vector<int64_t>(), (std::vector<int64_t>{5, 0, -3, -9'000'000'000'000'000'000}));
  EXPECT_EQ(abs(x).to_vector<int64_t>(), (std::vector<int64_t>{5, 0, 3, 9'000'000'000'000'000'000}));
  EXPECT_EQ(clamp(x, -2.0, 4.0).to_vector<int64_t>(), (std::vector<int64_t>{-2, 0, 3, 4}));
  EXPECT_EQ(clamp(x, std::nullopt, 2.0).to_vector<int64_t>(), (std::vector<int64_t>{-5, 0, 2, 2}));
  EXPECT_EQ(neg(x).dtype(), DType::i64);
}

TEST(Unary, InPlaceClampOnStridedTensor) {
  Generator gen(9);
  Tensor base = randn(Shape{33, 7}, gen);
  const Tensor expected = clamp(base.t(), -0.5, 0.5);
  Tensor view = base.t();
  view.clamp_(-0.5, 0.5);
  EXPECT_CLOSE(view, expected, 0.0, 0.0);
  EXPECT_EQ(base.version(), 1u);
}

TEST(Unary, SavedOutputModifiedInPlaceIsDetected) {
  Tensor x = from_vector<float>({1, 2}).requires_grad_(true);
  Tensor y = exp(x);
  {
    NoGradGuard ng;
    y.mul_(2.0);
  }
  EXPECT_THROW(sum(y).backward(), AutogradError);
}

TEST(Unary, ChecksNameTheOp) {
  const Tensor i = from_vector<int64_t>({1, 2});
  const Tensor b = zeros(Shape{2}, DType::b8);
  const Tensor f = from_vector<float>({1, 2});
  for (auto [name, fn] : std::vector<std::pair<std::string, Tensor (*)(const Tensor&)>>{
           {"exp", [](const Tensor& t) { return exp(t); }},
           {"log", [](const Tensor& t) { return log(t); }},
           {"sqrt", [](const Tensor& t) { return sqrt(t); }},
           {"rsqrt", [](const Tensor& t) { return rsqrt(t); }},
           {"tanh", [](const Tensor& t) { return tanh(t); }},
           {"sigmoid", [](const Tensor& t) { return sigmoid(t); }},
           {"relu", [](const Tensor& t) { return relu(t); }},
           {"leaky_relu", [](const Tensor& t) { return leaky_relu(t); }},
           {"gelu", [](const Tensor& t) { return gelu(t); }},
           {"silu", [](const Tensor& t) { return silu(t); }},
           {"softplus", [](const Tensor& t) { return softplus(t); }},
           {"pow", [](const Tensor& t) { return pow(t, 2.0); }}}) {
    expect_throw_naming<DTypeError>([&i, fn] { fn(i); }, name);
    expect_throw_naming<ValueError>([fn] { fn(Tensor()); }, name);
  }
  expect_throw_naming<DTypeError>([&b] { neg(b); }, "neg");
  expect_throw_naming<DTypeError>([&b] { abs(b); }, "abs");
  expect_throw_naming<ValueError>([] { neg(Tensor()); }, "neg");
  expect_throw_naming<ValueError>([&f] { softplus(f, 0.0); }, "softplus");
  expect_throw_naming<ValueError>([&f] { clamp(f, std::nullopt, std::nullopt); }, "clamp");
  expect_throw_naming<ValueError>([&i] { clamp(i, 0.5, 3.0); }, "clamp");
  expect_throw_naming<DTypeError>([&b] { clamp(b, 0.0, 1.0); }, "clamp");
  expect_throw_naming<ValueError>([&f] { clamp(f, NAN, 1.0); }, "clamp");
  expect_throw_naming<ValueError>([&f] { clamp(f, std::nullopt, NAN); }, "clamp");
  expect_throw_naming<ValueError>([] { clamp(Tensor(), 0.0, 1.0); }, "clamp");
}

TEST(Unary, ClampIntoChecksNameTheOp) {
  Tensor f = from_vector<float>({1, 2, 3});
  const Tensor d = from_vector<double>({1, 2, 3});
  expect_throw_naming<ValueError>([&f] { f.clamp_(std::nullopt, std::nullopt); }, "clamp_");
  expect_throw_naming<DTypeError>([&f, &d] { ops::clamp_into(f, d, 0.0, 1.0); }, "clamp_");
  expect_throw_naming<ShapeError>([&f] { ops::clamp_into(f, zeros(Shape{4}), 0.0, 1.0); }, "clamp_");
  expect_throw_naming<ValueError>([&f] { ops::clamp_into(f, Tensor(), 0.0, 1.0); }, "clamp_");
  expect_throw_naming<ValueError>([&f] { f.clamp_(NAN, 1.0); }, "clamp_");
  Tensor b = zeros(Shape{3}, DType::b8);
  expect_throw_naming<DTypeError>([&b] { b.clamp_(0.0, 1.0); }, "clamp_");
  Tensor i = from_vector<int64_t>({1, 5});
  expect_throw_naming<ValueError>([&i] { i.clamp_(0.5, 2.0); }, "clamp_");
  i.clamp_(2.0, 3.0);
  EXPECT_EQ(i.to_vector<int64_t>(), (std::vector<int64_t>{2, 3}));
  // A broadcast input into a larger output.
  Tensor out = zeros(Shape{2, 3});
  ops::clamp_into(out, f, 1.5, 2.5);
  EXPECT_EQ(out.to_vector<float>(), (std::vector<float>{1.5f, 2, 2.5f, 1.5f, 2, 2.5f}));
}

}  // namespace
}  // namespace cf
