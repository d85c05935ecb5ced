#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "ops/cpu/vec.h"

namespace cf::ops::cpu {
namespace {

float ulp_error(float got, double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0.0f : INFINITY;
  if (std::isinf(want)) return got == static_cast<float>(want) ? 0.0f : INFINITY;
  const float w = static_cast<float>(want);
  const float ulp = std::nextafter(std::fabs(w), INFINITY) - std::fabs(w);
  return static_cast<float>(std::fabs(got - want) / (w == 0.0f ? std::numeric_limits<float>::denorm_min() : ulp));
}

template <class F, class R>
float max_ulp(F vf, R ref, const std::vector<float>& xs) {
  float worst = 0.0f;
  for (size_t i = 0; i < xs.size(); i += VecF::kWidth) {
    const int n = static_cast<int>(std::min<size_t>(VecF::kWidth, xs.size() - i));
    float out[VecF::kWidth];
    vf(VecF::load(xs.data() + i, n, 1.0f)).store(out, n);
    for (int k = 0; k < n; ++k) worst = std::max(worst, ulp_error(out[k], ref(static_cast<double>(xs[i + k]))));
  }
  return worst;
}

TEST(Vec, ExpWithinFewUlpAndSpecialValues) {
  std::vector<float> xs;
  for (float x = -87.0f; x < 88.0f; x += 0.01337f) xs.push_back(x);
  xs.insert(xs.end(), {0.0f, -0.0f, 1e-8f, -1e-8f, -200.0f, 200.0f, INFINITY, -INFINITY, NAN});
  EXPECT_LE(max_ulp([](VecF v) { return VecF::exp(v); }, [](double x) { return std::exp(x); }, xs), 3.0f);
}

TEST(Vec, LogWithinFewUlpAndSpecialValues) {
  std::vector<float> xs;
  for (float x = 1e-30f; x < 1e30f; x *= 1.0137f) xs.push_back(x);
  xs.insert(xs.end(), {0.0f, -1.0f, 1.0f, INFINITY, NAN, 0.5f, 2.0f});
  EXPECT_LE(max_ulp([](VecF v) { return VecF::log(v); }, [](double x) { return std::log(x); }, xs), 3.0f);
}

std::vector<float> symmetric_range(float hi, float step) {
  std::vector<float> xs;
  for (float x = -hi; x < hi; x += step) xs.push_back(x);
  xs.insert(xs.end(), {0.0f, -0.0f, 1e-8f, -1e-8f, 1e-3f, -1e-3f, 0.6249f, 0.6251f, -0.6251f,
                       200.0f, -200.0f, INFINITY, -INFINITY, NAN});
  return xs;
}

TEST(Vec, TanhWithinFewUlpAndSpecialValues) {
  const std::vector<float> xs = symmetric_range(12.0f, 0.00731f);
  EXPECT_LE(max_ulp([](VecF v) { return VecF::tanh(v); }, [](double x) { return std::tanh(x); }, xs), 4.0f);
}

TEST(Vec, SigmoidWithinFewUlpAndSpecialValues) {
  const std::vector<float> xs = symmetric_range(80.0f, 0.01337f);
  EXPECT_LE(max_ulp([](VecF v) { return VecF::sigmoid(v); },
                    [](double x) { return 1.0 / (1.0 + std::exp(-x)); }, xs),
            4.0f);
}

TEST(Vec, ErfWithinAbsoluteErrorAndSpecialValues) {
  const std::vector<float> xs = symmetric_range(6.0f, 0.000731f);
  double worst = 0.0;
  for (size_t i = 0; i < xs.size(); i += VecF::kWidth) {
    const int n = static_cast<int>(std::min<size_t>(VecF::kWidth, xs.size() - i));
    float out[VecF::kWidth];
    VecF::erf(VecF::load(xs.data() + i, n)).store(out, n);
    for (int k = 0; k < n; ++k) {
      const double want = std::erf(static_cast<double>(xs[i + k]));
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(out[k])) << xs[i + k];
        continue;
      }
      worst = std::max(worst, std::fabs(out[k] - want));
    }
  }
  EXPECT_LE(worst, 4e-7);
  float tiny[1] = {1e-6f};
  VecF::erf(VecF::load(tiny, 1)).store(tiny, 1);
  EXPECT_NEAR(tiny[0], std::erf(1e-6), 1e-12);  // relative accuracy near 0
  float tails[4] = {3.95f, -3.95f, 40.0f, -INFINITY};
  VecF::erf(VecF::load(tails, 4)).store(tails, 4);
  EXPECT_EQ(tails[0], 1.0f);
  EXPECT_EQ(tails[1], -1.0f);
  EXPECT_EQ(tails[2], 1.0f);
  EXPECT_EQ(tails[3], -1.0f);
}

TEST(Vec, SelectComparesLaneByLane) {
  float a[VecF::kWidth], out[VecF::kWidth];
  for (int i = 0; i < VecF::kWidth; ++i) a[i] = static_cast<float>(i % 3) - 1.0f;  // -1, 0, 1, ...
  a[VecF::kWidth - 1] = NAN;
  VecF::select_gt(VecF::load(a), VecF(0.0f), VecF(1.0f), VecF(2.0f)).store(out);
  for (int i = 0; i < VecF::kWidth - 1; ++i) EXPECT_EQ(out[i], a[i] > 0.0f ? 1.0f : 2.0f) << i;
  EXPECT_EQ(out[VecF::kWidth - 1], 2.0f);
  VecF::select_ge(VecF::load(a), VecF(0.0f), VecF(1.0f), VecF(2.0f)).store(out);
  for (int i = 0; i < VecF::kWidth - 1; ++i) EXPECT_EQ(out[i], a[i] >= 0.0f ? 1.0f : 2.0f) << i;
  EXPECT_EQ(out[VecF::kWidth - 1], 2.0f);
}

TEST(Vec, SelectByBools) {
  bool c[VecF::kWidth];
  for (int i = 0; i < VecF::kWidth; ++i) c[i] = i % 3 == 0;
  float out[VecF::kWidth];
  VecF::select(c, VecF(1.0f), VecF(2.0f)).store(out);
  for (int i = 0; i < VecF::kWidth; ++i) EXPECT_EQ(out[i], c[i] ? 1.0f : 2.0f) << i;
  // The tail form reads only n bools: the lanes past n take f.
  VecF::select(c, 4, VecF(1.0f), VecF(2.0f)).store(out);
  for (int i = 0; i < VecF::kWidth; ++i) EXPECT_EQ(out[i], i < 4 && c[i] ? 1.0f : 2.0f) << i;
}

TEST(Vec, TailLoadsAndStoresTouchOnlyNLanes) {
  float in[VecF::kWidth], out[VecF::kWidth];
  for (int i = 0; i < VecF::kWidth; ++i) {
    in[i] = static_cast<float>(i);
    out[i] = -1.0f;
  }
  (VecF::load(in, 3, 0.0f) + VecF(1.0f)).store(out, 3);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[2], 3.0f);
  EXPECT_EQ(out[3], -1.0f);
  EXPECT_EQ(VecF::load(in, 3, 0.0f).reduce_add(), 3.0f);
}

}  // namespace
}  // namespace cf::ops::cpu
