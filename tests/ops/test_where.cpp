// where and masked_fill: the kernels against an element-by-element expectation for every element
// size and layout, gradients through broadcasting, the in-place masked_fill_, and every check.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cformer/cformer.h"
#include "ops/inplace.h"
#include "ops/where.h"
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

// cond ? a : b element by element, everything expanded to `shape` and read through f64.
std::vector<double> expected_where(const Tensor& c, const Tensor& a, const Tensor& b, const Shape& shape) {
  const std::vector<bool> cv = c.expand(shape).contiguous().to_vector<bool>();
  const std::vector<double> av = a.expand(shape).to(DType::f64).contiguous().to_vector<double>();
  const std::vector<double> bv = b.expand(shape).to(DType::f64).contiguous().to_vector<double>();
  std::vector<double> out(cv.size());
  for (size_t i = 0; i < cv.size(); ++i) out[i] = cv[i] ? av[i] : bv[i];
  return out;
}

struct Triple {
  std::string name;
  Shape c, a, b;
};

const Triple kTriples[] = {
    {"1", {1}, {1}, {1}},
    {"17", {17}, {17}, {17}},
    {"1037", {1037}, {1037}, {1037}},
    {"empty", {0, 3}, {3}, {1}},
    {"0-dim", {}, {}, {}},
    {"broadcast all", {4, 1}, {1, 33}, {2, 1, 1}},
    {"scalar b", {7, 33}, {7, 33}, {}},
    {"threads", {70001}, {70001}, {1}},
};

TEST(Where, ForwardForEveryElementSizeAndLayout) {
  Generator gen(1);
  for (DType dtype : {DType::f32, DType::f64, DType::i64, DType::b8, DType::bf16}) {
    for (const Triple& t : kTriples) {
      for (bool transposed : {false, true}) {
        SCOPED_TRACE(std::string(dtype_name(dtype)) + ", " + t.name + (transposed ? ", transposed" : ""));
        Tensor c = lt(rand(t.c, gen), 0.5);
        Tensor a = randint(-9, 9, t.a, gen).to(dtype);
        const Tensor b = randint(-9, 9, t.b, gen).to(dtype);
        if (transposed && a.dim() == 2) a = a.t().contiguous().t();
        if (transposed && c.dim() == 2) c = c.t().contiguous().t();
        const Tensor y = where(c, a, b);
        const Shape shape = broadcast_shapes(t.c, broadcast_shapes(t.a, t.b));
        ASSERT_EQ(y.shape(), shape);
        ASSERT_EQ(y.dtype(), dtype);
        EXPECT_EQ(y.to(DType::f64).to_vector<double>(), expected_where(c, a, b, shape));
      }
    }
  }
}

TEST(Where, GradientsAreMaskedAndSummedToInputShapes) {
  const Tensor c = from_vector<bool>({true, false, true}, Shape{3, 1});
  Tensor a = from_vector<float>({1, 2}).requires_grad_(true);          // (2)
  Tensor b = from_vector<float>({5}, Shape{1, 1}).requires_grad_(true);  // (1, 1)
  Tensor y = where(c, a, b);                                            // (3, 2)
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 2, 5, 5, 1, 2}));
  y.backward(from_vector<float>({1, 2, 3, 4, 5, 6}, Shape{3, 2}));
  EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{6, 8}));
  EXPECT_EQ(b.grad().shape(), (Shape{1, 1}));
  EXPECT_EQ(b.grad().to_vector<float>(), (std::vector<float>{7}));
}

TEST(Where, BackwardKernelOnLayouts) {
  Generator gen(2);
  for (DType dtype : {DType::f32, DType::f64}) {
    for (const Triple& t : kTriples) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + ", " + t.name);
      const Shape shape = broadcast_shapes(t.c, t.a);
      const Tensor g = randn(shape, gen, dtype);
      const Tensor c = lt(rand(t.c, gen), 0.5);
      const Tensor zero = zeros(Shape{}, dtype);
      for (bool take : {true, false}) {
        Tensor d = empty(shape, dtype);
        ops::cpu::where_backward(ops::make_loop<3>(d, {&g, &c}), dtype, take);
        const Tensor expected = take ? where(c, g, zero) : where(c, zero, g);
        EXPECT_CLOSE(d, expected, 0.0, 0.0);
      }
    }
  }
}

TEST(MaskedFill, ForwardGradientAndDtypes) {
  Generator gen(3);
  for (const Triple& t : kTriples) {
    SCOPED_TRACE(t.name);
    const Shape shape = broadcast_shapes(t.a, t.c);
    Tensor x = randn(shape, gen).requires_grad_(true);
    const Tensor m = lt(rand(t.c, gen), 0.5);
    Tensor y = masked_fill(x, m, -2.5);
    EXPECT_EQ(y.to(DType::f64).to_vector<double>(),
              expected_where(m, full(Shape{}, -2.5), x.detach(), shape));
    if (y.numel() == 0) continue;
    sum(y).backward();
    EXPECT_EQ(x.grad().to(DType::f64).to_vector<double>(),
              expected_where(m, zeros(Shape{}), ones(Shape{}), shape));
  }
  const Tensor m = from_vector<bool>({true, false});
  EXPECT_EQ(masked_fill(from_vector<int64_t>({1, 2}), m, -7.0).to_vector<int64_t>(),
            (std::vector<int64_t>{-7, 2}));
  EXPECT_EQ(masked_fill(from_vector<double>({1, 2}), m, 0.1).to_vector<double>(),
            (std::vector<double>{0.1, 2}));
  EXPECT_EQ(masked_fill(from_vector<bool>({false, false}), m, 1.0).to_vector<bool>(),
            (std::vector<bool>{true, false}));
  const std::vector<float> big = masked_fill(from_vector<float>({1, 2}), m, -1e30).to_vector<float>();
  EXPECT_EQ(big[0], -1e30f);
}

TEST(MaskedFill, InPlaceOnStridedTensor) {
  Tensor base = from_vector<float>({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  Tensor view = base.t();  // (3, 2)
  view.masked_fill_(from_vector<bool>({true, false}), 0.0);  // broadcast over rows of the view
  EXPECT_EQ(base.to_vector<float>(), (std::vector<float>{0, 0, 0, 4, 5, 6}));
  EXPECT_EQ(base.version(), 1u);
  Tensor out = zeros(Shape{2, 2});
  ops::masked_fill_into(out, from_vector<float>({1, 2}), from_vector<bool>({false, true}), 9.0);
  EXPECT_EQ(out.to_vector<float>(), (std::vector<float>{1, 9, 1, 9}));
}

TEST(Where, ChecksNameTheOp) {
  const Tensor f = zeros(Shape{2, 3});
  const Tensor c = zeros(Shape{2, 3}, DType::b8);
  expect_throw_naming<DTypeError>([&f] { where(f, f, f); }, "where");
  expect_throw_naming<ValueError>([&f] { where(Tensor(), f, f); }, "where");
  expect_throw_naming<DTypeError>([&c, &f] { where(c, f, f.to(DType::f64)); }, "where");
  expect_throw_naming<ShapeError>([&c, &f] { where(c, f, zeros(Shape{4})); }, "where");
  expect_throw_naming<ShapeError>([&f] { where(zeros(Shape{5, 1, 1}, DType::b8).expand(Shape{5, 4, 1}), f, f); }, "where");
  expect_throw_naming<ValueError>([&c, &f] { where(c, Tensor(), f); }, "where");
}

TEST(MaskedFill, ChecksNameTheOp) {
  Tensor f = zeros(Shape{2, 3});
  const Tensor m = zeros(Shape{3}, DType::b8);
  expect_throw_naming<DTypeError>([&f] { masked_fill(f, zeros(Shape{3}), 1.0); }, "masked_fill");
  expect_throw_naming<ValueError>([&m] { masked_fill(Tensor(), m, 1.0); }, "masked_fill");
  expect_throw_naming<ValueError>([&f] { masked_fill(f, Tensor(), 1.0); }, "masked_fill");
  expect_throw_naming<ShapeError>([&f] { masked_fill(f, zeros(Shape{4, 2, 3}, DType::b8), 1.0); },
                                  "masked_fill");
  expect_throw_naming<ShapeError>([&f] { masked_fill(f, zeros(Shape{2}, DType::b8), 1.0); }, "masked_fill");
  expect_throw_naming<DTypeError>([&m] { masked_fill(zeros(Shape{3}, DType::u8), m, 1.0); }, "masked_fill");
  expect_throw_naming<ValueError>([&m] { masked_fill(zeros(Shape{3}, DType::i64), m, 1.5); }, "masked_fill");
  expect_throw_naming<ShapeError>([&f] { f.masked_fill_(zeros(Shape{2}, DType::b8), 1.0); }, "masked_fill_");
  expect_throw_naming<DTypeError>([&f] { f.masked_fill_(zeros(Shape{3}), 1.0); }, "masked_fill_");
  expect_throw_naming<DTypeError>(
      [&f, &m] { ops::masked_fill_into(f, zeros(Shape{3}, DType::f64), m, 1.0); }, "masked_fill_");
  expect_throw_naming<ShapeError>(
      [&f, &m] { ops::masked_fill_into(f, zeros(Shape{4, 3}), m, 1.0); }, "masked_fill_");
  expect_throw_naming<ValueError>([&f, &m] { ops::masked_fill_into(f, Tensor(), m, 1.0); }, "masked_fill_");
}

}  // namespace
}  // namespace cf
