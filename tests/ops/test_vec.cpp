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
