// Comparisons and logical ops: the kernels against the double reference for every dtype and
// layout, the scalar rounding rules, NaN, exact i64 comparison, no gradient, and every check.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cformer/cformer.h"
#include "ops/compare.h"
#include "support/expect_close.h"

namespace cf {
namespace {

using ops::cpu::Cmp;

template <class E, class F> void expect_throw_naming(const F& f, const std::string& op) {
  try {
    f();
    ADD_FAILURE() << "expected an exception naming " << op;
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(op + ":"), std::string::npos) << e.what();
  }
}

// Small integers (many ties) of the given dtype.
Tensor ties(const Shape& s, DType dtype, Generator& gen) {
  return randint(-2, 3, s, gen).to(dtype);
}

struct Pair {
  std::string name;
  Tensor a, b;
};

std::vector<Pair> pairs(DType dtype, uint64_t seed) {
  Generator gen(seed);
  auto t = [&gen, dtype](const Shape& s) { return ties(s, dtype, gen); };
  return {{"1", t(Shape{1}), t(Shape{1})},
          {"17", t(Shape{17}), t(Shape{17})},
          {"1037", t(Shape{1037}), t(Shape{1037})},
          {"empty", t(Shape{0}), t(Shape{0})},
          {"0-dim", t(Shape{}), t(Shape{})},
          {"scalar b", t(Shape{33}), t(Shape{})},
          {"outer", t(Shape{7, 1}), t(Shape{1, 33})},
          {"transposed", t(Shape{33, 7}).t(), t(Shape{7, 33})},
          {"threads", t(Shape{70001}), t(Shape{70001})}};
}

template <class T> void check_against_ref(DType dtype) {
  for (Cmp op : {Cmp::eq, Cmp::ne, Cmp::lt, Cmp::le, Cmp::gt, Cmp::ge}) {
    for (const Pair& p : pairs(dtype, 1)) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + ", op " + std::to_string(static_cast<int>(op)) +
                   ", " + p.name);
      const Shape shape = broadcast_shapes(p.a.shape(), p.b.shape());
      Tensor y = empty(shape, DType::b8), y_ref = empty(shape, DType::b8);
      ops::cpu::compare(op, ops::make_loop<3>(y, {&p.a, &p.b}), dtype);
      ops::cpu::compare_ref<T>(op, ops::make_loop<3>(y_ref, {&p.a, &p.b}));
      EXPECT_EQ(y.to_vector<bool>(), y_ref.to_vector<bool>());
    }
  }
}

TEST(Compare, KernelsMatchReferenceForEveryDtype) {
  check_against_ref<float>(DType::f32);
  check_against_ref<double>(DType::f64);
  check_against_ref<int64_t>(DType::i64);
  check_against_ref<bool>(DType::b8);
}

TEST(Compare, TensorOpsOnKnownValues) {
  const Tensor a = from_vector<float>({1, 2, 3, NAN});
  const Tensor b = from_vector<float>({2, 2, 2, NAN});
  using V = std::vector<bool>;
  EXPECT_EQ(eq(a, b).to_vector<bool>(), (V{false, true, false, false}));
  EXPECT_EQ(ne(a, b).to_vector<bool>(), (V{true, false, true, true}));
  EXPECT_EQ(lt(a, b).to_vector<bool>(), (V{true, false, false, false}));
  EXPECT_EQ(le(a, b).to_vector<bool>(), (V{true, true, false, false}));
  EXPECT_EQ(gt(a, b).to_vector<bool>(), (V{false, false, true, false}));
  EXPECT_EQ(ge(a, b).to_vector<bool>(), (V{false, true, true, false}));
  EXPECT_EQ(eq(a, b).dtype(), DType::b8);
  EXPECT_EQ(lt(a.unsqueeze(1), b.slice(0, 0, 3)).shape(), (Shape{4, 3}));
}

TEST(Compare, ScalarRules) {
  using V = std::vector<bool>;
  // f32: the scalar is rounded to f32 first (PyTorch), so float(0.1) == 0.1.
  const Tensor f = full(Shape{2}, 0.1);
  EXPECT_EQ(eq(f, 0.1).to_vector<bool>(), (V{true, true}));
  EXPECT_EQ(eq(f.to(DType::f64), 0.1).to_vector<bool>(), (V{false, false}));
  const Tensor s = from_vector<float>({-1, 0.5f, 2});
  EXPECT_EQ(lt(s, 0.5).to_vector<bool>(), (V{true, false, false}));
  EXPECT_EQ(le(s, 0.5).to_vector<bool>(), (V{true, true, false}));
  EXPECT_EQ(gt(s, 0.5).to_vector<bool>(), (V{false, false, true}));
  EXPECT_EQ(ge(s, 0.5).to_vector<bool>(), (V{false, true, true}));
  EXPECT_EQ(ne(s, 0.5).to_vector<bool>(), (V{true, false, true}));
  // i64: integer scalars compare exactly, others in double.
  const int64_t big = (int64_t{1} << 62) + 1;
  const Tensor i = from_vector<int64_t>({big, 1, 2});
  EXPECT_EQ(eq(i, std::ldexp(1.0, 62)).to_vector<bool>(), (V{false, false, false}));
  EXPECT_EQ(gt(i, std::ldexp(1.0, 62)).to_vector<bool>(), (V{true, false, false}));
  EXPECT_EQ(lt(i, 1.5).to_vector<bool>(), (V{false, true, false}));
  EXPECT_EQ(lt(i, 1e300).to_vector<bool>(), (V{true, true, true}));
  EXPECT_EQ(eq(i, NAN).to_vector<bool>(), (V{false, false, false}));
  const Tensor m = from_vector<bool>({true, false});
  EXPECT_EQ(eq(m, 1.0).to_vector<bool>(), (V{true, false}));
  EXPECT_EQ(eq(full(Shape{1}, NAN), NAN).to_vector<bool>(), (V{false}));
  // bernoulli compares f64 uniforms with p through lt(tensor, double).
  EXPECT_EQ(lt(from_vector<double>({0.25, 0.75}), 0.5).to_vector<bool>(), (V{true, false}));
}

TEST(Compare, OutputsCarryNoGradient) {
  Tensor x = from_vector<float>({1, 2}).requires_grad_(true);
  EXPECT_FALSE(lt(x, 1.5).requires_grad());
  EXPECT_FALSE(eq(x, x).requires_grad());
}

TEST(Compare, LogicalOps) {
  using V = std::vector<bool>;
  const Tensor a = from_vector<bool>({true, true, false, false});
  const Tensor b = from_vector<bool>({true, false, true, false});
  EXPECT_EQ(logical_and(a, b).to_vector<bool>(), (V{true, false, false, false}));
  EXPECT_EQ(logical_or(a, b).to_vector<bool>(), (V{true, true, true, false}));
  EXPECT_EQ(logical_not(a).to_vector<bool>(), (V{false, false, true, true}));
  // Broadcast and strided operands, large enough for two threads.
  Generator gen(2);
  const Tensor x = lt(rand(Shape{300, 250}, gen), 0.5);
  const Tensor y = lt(rand(Shape{250}, gen), 0.5);
  const Tensor xt = x.t();  // (250, 300), strided
  const Tensor both = logical_and(xt, y.unsqueeze(1));
  const Tensor either = logical_or(xt, y.unsqueeze(1));
  const Tensor nx = logical_not(xt);
  const std::vector<bool> xv = xt.contiguous().to_vector<bool>(), yv = y.to_vector<bool>();
  const std::vector<bool> bv = both.to_vector<bool>(), ev = either.to_vector<bool>(), nv = nx.to_vector<bool>();
  for (size_t k = 0; k < xv.size(); ++k) {
    const bool yk = yv[k / 300];
    ASSERT_EQ(bv[k], xv[k] && yk) << k;
    ASSERT_EQ(ev[k], xv[k] || yk) << k;
    ASSERT_EQ(nv[k], !xv[k]) << k;
  }
  EXPECT_EQ(logical_not(from_vector<bool>({})).numel(), 0);
}

TEST(Compare, ChecksNameTheOp) {
  const Tensor f = zeros(Shape{2, 3});
  const Tensor d = zeros(Shape{2, 3}, DType::f64);
  const Tensor u = zeros(Shape{2, 3}, DType::u8);
  const Tensor wrong = zeros(Shape{4});
  using TT = Tensor (*)(const Tensor&, const Tensor&);
  using TS = Tensor (*)(const Tensor&, double);
  struct Op {
    std::string name;
    TT tt;
    TS ts;
  };
  const Op ops[] = {{"eq", eq, eq}, {"ne", ne, ne}, {"lt", lt, lt},
                    {"le", le, le}, {"gt", gt, gt}, {"ge", ge, ge}};
  for (const auto& [name, tt, ts] : ops) {
    expect_throw_naming<DTypeError>([&f, &d, tt] { tt(f, d); }, name);
    expect_throw_naming<ShapeError>([&f, &wrong, tt] { tt(f, wrong); }, name);
    expect_throw_naming<DTypeError>([&u, tt] { tt(u, u); }, name);
    expect_throw_naming<ValueError>([&f, tt] { tt(Tensor(), f); }, name);
    expect_throw_naming<DTypeError>([&u, ts] { ts(u, 1.0); }, name);
    expect_throw_naming<ValueError>([ts] { ts(Tensor(), 1.0); }, name);
  }
  const Tensor m = zeros(Shape{2, 3}, DType::b8);
  expect_throw_naming<DTypeError>([&f] { logical_not(f); }, "logical_not");
  expect_throw_naming<ValueError>([] { logical_not(Tensor()); }, "logical_not");
  expect_throw_naming<DTypeError>([&f] { logical_and(f, f); }, "logical_and");
  expect_throw_naming<DTypeError>([&m, &f] { logical_or(m, f); }, "logical_or");
  expect_throw_naming<ShapeError>([&m] { logical_or(m, zeros(Shape{4}, DType::b8)); }, "logical_or");
  expect_throw_naming<ValueError>([&m] { logical_and(m, Tensor()); }, "logical_and");
}

}  // namespace
}  // namespace cf
