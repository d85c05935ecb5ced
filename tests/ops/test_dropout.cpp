// Dropout has no PyTorch parity (different generators): the mask is checked statistically, for
// determinism (seed, thread count, dtype, layout), against the _ref kernel, and the backward
// against the forward's mask and by a fixed-seed gradcheck.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cformer/autograd.h"
#include "cformer/ops.h"
#include "cformer/runtime.h"
#include "ops/dropout.h"
#include "support/expect_close.h"
#include "support/gradcheck.h"

namespace cf {
namespace {

std::vector<float> floats(const Tensor& t) {
  return t.contiguous().to(DType::f32).to_vector<float>();
}

TEST(Dropout, KeptFractionAndMeanAreWithinFiveSigma) {
  const int64_t n = 1 << 20;
  for (double p : {0.1, 0.5, 0.9}) {
    SCOPED_TRACE("p " + std::to_string(p) + ", seed 42");
    Generator gen(42);
    Tensor y = dropout(ones(Shape{n}), p, true, gen);
    std::vector<float> v = floats(y);
    int64_t kept = 0;
    double total = 0.0;
    for (float f : v) {
      kept += f != 0.0f;
      total += f;
    }
    const double frac = static_cast<double>(kept) / n, sigma = std::sqrt(p * (1.0 - p) / n);
    EXPECT_NEAR(frac, 1.0 - p, 5.0 * sigma);
    // Each kept value is exactly 1 / (1 - p): the mean is (kept / n) / (1 - p), near 1.
    for (float f : v) ASSERT_TRUE(f == 0.0f || f == static_cast<float>(1.0 / (1.0 - p)));
    EXPECT_NEAR(total / n, 1.0, 5.0 * sigma / (1.0 - p));
  }
}

TEST(Dropout, OptimizedKernelMatchesRefOnEdgeSizes) {
  for (int64_t n : {0, 1, 3, 4, 5, 15, 17, 1000, 1025, 100003}) {
    SCOPED_TRACE("n " + std::to_string(n));
    Generator gen(n + 1);
    Tensor x = randn(Shape{n}, gen);
    std::vector<float> y(n), y_ref(n);
    std::vector<char> m(n + 1), m_ref(n + 1);  // char storage viewed as bool
    ops::cpu::DropoutArgs<float> a{
        x.data_ptr<float>(), y.data(), reinterpret_cast<bool*>(m.data()), n, 0.37, 1234, 77};
    ops::cpu::dropout_forward(a);
    a.y = y_ref.data();
    a.mask = reinterpret_cast<bool*>(m_ref.data());
    ops::cpu::dropout_forward_ref<float>(a);
    EXPECT_EQ(m, m_ref);
    for (int64_t i = 0; i < n; ++i) ASSERT_FLOAT_EQ(y[i], y_ref[i]) << "index " << i;
    Tensor g = randn(Shape{n}, gen);
    std::vector<float> dx(n), dx_ref(n);
    ops::cpu::DropoutBackwardArgs<float> b{g.data_ptr<float>(), reinterpret_cast<bool*>(m.data()),
                                           dx.data(), n, 1.0 / 0.63};
    ops::cpu::dropout_backward(b);
    b.dx = dx_ref.data();
    ops::cpu::dropout_backward_ref<float>(b);
    for (int64_t i = 0; i < n; ++i) ASSERT_FLOAT_EQ(dx[i], dx_ref[i]) << "index " << i;
  }
}

TEST(Dropout, OptimizedKernelMatchesRefAcrossTheCounterHighWord) {
  // A 64-bit seed and counters that cross 2^32 inside one 16-counter group.
  const int64_t n = 4099;
  Generator gen(2);
  Tensor x = randn(Shape{n}, gen);
  std::vector<float> y(n), y_ref(n);
  std::vector<char> m(n), m_ref(n);
  ops::cpu::DropoutArgs<float> a{
      x.data_ptr<float>(),   y.data(),     reinterpret_cast<bool*>(m.data()), n, 0.5,
      0x0123456789ABCDEFull, 0xFFFFFFF5ull};
  ops::cpu::dropout_forward(a);
  a.y = y_ref.data();
  a.mask = reinterpret_cast<bool*>(m_ref.data());
  ops::cpu::dropout_forward_ref<float>(a);
  EXPECT_EQ(m, m_ref);
  EXPECT_EQ(y, y_ref);
}

TEST(Dropout, SameSeedSameMaskForAnyThreadCountDtypeAndLayout) {
  const int before = get_num_threads();
  std::vector<std::vector<float>> runs;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    Generator gen(7);
    runs.push_back(floats(dropout(ones(Shape{300, 1001}), 0.3, true, gen)));
  }
  set_num_threads(before);
  EXPECT_EQ(runs[0], runs[1]);
  Generator g64(7);
  EXPECT_EQ(floats(dropout(ones(Shape{300, 1001}, DType::f64), 0.3, true, g64)), runs[0]);
  // A non-contiguous input draws the mask in its logical (row-major) order.
  Generator gen_a(9), gen_b(9), gen_x(1);
  Tensor x = randn(Shape{40, 30}, gen_x);
  Tensor xt = x.t().contiguous().t();
  EXPECT_EQ(floats(dropout(xt, 0.5, true, gen_a)), floats(dropout(x, 0.5, true, gen_b)));
}

TEST(Dropout, GeneratorAdvancesAndMasksDiffer) {
  Generator gen(3);
  Tensor a = dropout(ones(Shape{1001}), 0.5, true, gen);
  EXPECT_EQ(gen.offset(), 251u);  // (1001 + 3) / 4 counters
  Tensor b = dropout(ones(Shape{1001}), 0.5, true, gen);
  EXPECT_NE(floats(a), floats(b));
  gen.set_state(3, 0);
  EXPECT_EQ(floats(dropout(ones(Shape{1001}), 0.5, true, gen)), floats(a));
}

TEST(Dropout, IdentityZerosAndNoDraws) {
  Generator gen(1);
  Tensor x = randn(Shape{5, 3}, gen);
  const uint64_t offset = gen.offset();
  EXPECT_EQ(dropout(x, 0.0, true, gen).impl(), x.impl());
  EXPECT_EQ(dropout(x, 0.7, false, gen).impl(), x.impl());
  Tensor xg = x.clone().requires_grad_(true);
  Tensor z = dropout(xg, 1.0, true, gen);
  EXPECT_CLOSE(z, zeros(Shape{5, 3}), 0.0, 0.0);
  z.backward(ones(Shape{5, 3}));
  EXPECT_CLOSE(xg.grad(), zeros(Shape{5, 3}), 0.0, 0.0);
  EXPECT_EQ(gen.offset(), offset);
  Tensor e = dropout(zeros(Shape{0, 4}), 0.5, true, gen);
  EXPECT_EQ(e.shape(), (Shape{0, 4}));
}

TEST(Dropout, BackwardUsesTheForwardMask) {
  Generator gen(11);
  Tensor x = ones(Shape{64, 33}).requires_grad_(true);
  Tensor y = dropout(x, 0.25, true, gen);
  y.backward(ones(Shape{64, 33}));
  // With x = 1 and g = 1 both are mask / (1 - p).
  EXPECT_EQ(floats(x.grad()), floats(y));
  // A non-contiguous upstream gradient goes through the same mask.
  x.set_grad(Tensor());
  Generator g2(11);
  Tensor y2 = dropout(x, 0.25, true, g2);
  Tensor up = full(Shape{33, 64}, 2.0).t();
  y2.backward(up);
  EXPECT_CLOSE(x.grad(), mul(y, 2.0), 0.0, 0.0);
}

TEST(Dropout, GradcheckWithFixedSeed) {
  Generator init(5);
  Tensor x = randn(Shape{6, 7}, init, DType::f64).requires_grad_(true);
  EXPECT_TRUE(testing::gradcheck(
      [](const std::vector<Tensor>& in) {
        Generator gen(99);  // re-seeded per evaluation: every evaluation draws the same mask
        return dropout(in[0], 0.4, true, gen);
      },
      {x}));
  Tensor xs = testing::make_noncontiguous(x).requires_grad_(true);
  EXPECT_TRUE(testing::gradcheck(
      [](const std::vector<Tensor>& in) {
        Generator gen(99);
        return dropout(in[0], 0.4, true, gen);
      },
      {xs}));
}

TEST(Dropout, Errors) {
  Generator gen(0);
  Tensor x = ones(Shape{3});
  for (double p : {-0.1, 1.5, static_cast<double>(NAN)}) {
    try {
      dropout(x, p, true, gen);
      ADD_FAILURE() << "no error for p " << p;
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find("dropout: p must be in [0, 1]"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_THROW(dropout(x, 1.5, false, gen), ValueError);  // checked even when not training
  try {
    dropout(ones(Shape{3}, DType::i64), 0.5, true, gen);
    ADD_FAILURE() << "no error for i64";
  } catch (const DTypeError& e) {
    EXPECT_NE(std::string(e.what()).find("dropout: input must be f32 or f64, got i64"),
              std::string::npos);
  }
  EXPECT_THROW(dropout(Tensor(), 0.5, true, gen), ValueError);
}

}  // namespace
}  // namespace cf
