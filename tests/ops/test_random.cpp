// Random tensors and initializers: reproducible for a seed whatever the thread count, the
// generator state fully determines the stream, and the distributions have the right moments.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "cformer/cformer.h"
#include "ops/random.h"

namespace cf {
namespace {

// mean and standard deviation of all elements, in double.
std::pair<double, double> moments(const Tensor& t) {
  const std::vector<double> v = t.to(DType::f64).contiguous().to_vector<double>();
  const double m = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
  double s = 0.0;
  for (double x : v) s += (x - m) * (x - m);
  return {m, std::sqrt(s / v.size())};
}

TEST(Random, SameSeedSameStreamWhateverTheThreadCount) {
  const int before = get_num_threads();
  std::vector<float> r1, r2, n1, n2;
  {
    set_num_threads(1);
    Generator g(42);
    r1 = rand(Shape{100003}, g).to_vector<float>();
    n1 = randn(Shape{100003}, g).to_vector<float>();
  }
  {
    set_num_threads(2);
    Generator g(42);
    r2 = rand(Shape{100003}, g).to_vector<float>();
    n2 = randn(Shape{100003}, g).to_vector<float>();
  }
  set_num_threads(before);
  EXPECT_EQ(r1, r2);
  EXPECT_EQ(n1, n2);
  Generator other(43);
  EXPECT_NE(rand(Shape{16}, other).to_vector<float>(), std::vector<float>(r1.begin(), r1.begin() + 16));
}

TEST(Random, GeneratorStateResumesTheStream) {
  Generator g(7);
  rand(Shape{10}, g);
  const uint64_t seed = g.seed(), offset = g.offset();
  const auto next = randn(Shape{33}, g).to_vector<float>();
  Generator h(0);
  h.set_state(seed, offset);
  EXPECT_EQ(randn(Shape{33}, h).to_vector<float>(), next);
  // Consecutive calls never reuse counters.
  Generator a(1);
  const auto x = rand(Shape{8}, a).to_vector<float>(), y = rand(Shape{8}, a).to_vector<float>();
  EXPECT_NE(x, y);
}

TEST(Random, DistributionsHaveTheRightMoments) {
  Generator g(3);
  const auto [um, us] = moments(rand(Shape{1 << 18}, g));
  EXPECT_NEAR(um, 0.5, 0.005);
  EXPECT_NEAR(us, std::sqrt(1.0 / 12.0), 0.005);
  const auto [nm, ns] = moments(randn(Shape{1 << 18}, g, DType::f64));
  EXPECT_NEAR(nm, 0.0, 0.01);
  EXPECT_NEAR(ns, 1.0, 0.01);
  Tensor u = rand(Shape{1 << 16}, g);
  EXPECT_GE(min(u).item(), 0.0);
  EXPECT_LT(max(u).item(), 1.0);
  Tensor ri = randint(-3, 4, Shape{70000}, g);
  EXPECT_EQ(min(ri).item(), -3.0);
  EXPECT_EQ(max(ri).item(), 3.0);
  EXPECT_NEAR(moments(ri).first, 0.0, 0.03);
  Tensor b = bernoulli(Shape{1 << 16}, 0.3, g);
  EXPECT_EQ(b.dtype(), DType::b8);
  EXPECT_NEAR(moments(b).first, 0.3, 0.01);
  Tensor bp = bernoulli(full(Shape{1 << 16}, 0.8), g);
  EXPECT_NEAR(moments(bp).first, 0.8, 0.01);
}

TEST(Random, RandpermIsAPermutation) {
  Generator g(11);
  std::vector<int64_t> p = randperm(1000, g).to_vector<int64_t>();
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_NE(p, sorted);
  EXPECT_EQ(randperm(0, g).numel(), 0);
}

TEST(Random, Initializers) {
  Generator g(5);
  Tensor w = empty(Shape{256, 512});
  init::uniform_(w, -2.0, 2.0, g);
  EXPECT_GE(min(w).item(), -2.0);
  EXPECT_LT(max(w).item(), 2.0);
  init::normal_(w, 1.0, 0.5, g);
  EXPECT_NEAR(moments(w).first, 1.0, 0.01);
  EXPECT_NEAR(moments(w).second, 0.5, 0.01);
  init::trunc_normal_(w, 0.0, 1.0, -0.5, 0.5, g);
  EXPECT_GE(min(w).item(), -0.5);
  EXPECT_LE(max(w).item(), 0.5);
  // Truncated to +-0.5 sigma the standard deviation is 0.2863 (closed form).
  EXPECT_NEAR(moments(w).second, 0.2863, 0.005);
  init::xavier_uniform_(w, g);  // bound sqrt(6 / (512 + 256))
  EXPECT_LE(max(abs(w)).item(), std::sqrt(6.0 / 768.0));
  EXPECT_NEAR(moments(w).second, std::sqrt(2.0 / 768.0), 0.001);
  init::kaiming_normal_(w, g);  // std sqrt(2 / fan_in)
  EXPECT_NEAR(moments(w).second, std::sqrt(2.0 / 512.0), 0.001);
  init::kaiming_uniform_(w, g, 0.0, init::FanMode::fan_out);
  EXPECT_LE(max(abs(w)).item(), std::sqrt(6.0 / 256.0));
  Tensor v = empty(Shape{4});
  EXPECT_THROW(init::xavier_uniform_(v, g), ShapeError);
  EXPECT_THROW(init::trunc_normal_(w, 0, 1, 1, -1, g), ValueError);
  EXPECT_THROW(rand(Shape{2}, g, DType::i64), DTypeError);
  EXPECT_THROW(randint(3, 3, Shape{2}, g), ValueError);
  EXPECT_THROW(bernoulli(Shape{2}, 1.5, g), ValueError);
  EXPECT_THROW(randperm(-1, g), ValueError);
}

TEST(Random, ErfinvInvertsErf) {
  for (double x : {-3.0, -1.0, -0.1, 0.0, 0.3, 1.7, 2.9}) EXPECT_NEAR(ops::erfinv(std::erf(x)), x, 1e-9);
}

}  // namespace
}  // namespace cf
