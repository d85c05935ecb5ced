// LRSchedule::inverse_sqrt against the formula of "Attention Is All You Need" 5.3:
// lr = factor * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5), step counted from 1.
#include <cmath>

#include <gtest/gtest.h>

#include "cformer/cformer.h"
#include "cformer/optim.h"

namespace cf::optim {
namespace {

double paper_lr(double factor, double d_model, double warmup, double step) {
  return factor * std::pow(d_model, -0.5) * std::min(std::pow(step, -0.5), step * std::pow(warmup, -1.5));
}

TEST(TranslateSchedule, InverseSqrtMatchesThePaper) {
  const LRSchedule s = LRSchedule::inverse_sqrt(4000);
  const double peak = LRSchedule::inverse_sqrt_peak_lr(1.0, 512, 4000);
  EXPECT_NEAR(peak, std::pow(512.0, -0.5) * std::pow(4000.0, -0.5), 1e-18);
  for (int64_t t : {0, 1, 99, 3998, 3999, 4000, 4001, 10000, 100000}) {
    const double want = paper_lr(1.0, 512, 4000, static_cast<double>(t + 1));
    EXPECT_NEAR(s.lr(peak, t), want, 1e-12 * want) << "step " << t;
  }
  EXPECT_DOUBLE_EQ(s.factor(3999), 1.0);  // the peak is reached at the warm-up's last step
  EXPECT_LT(s.factor(3998), 1.0);
  EXPECT_LT(s.factor(4000), 1.0);
  EXPECT_DOUBLE_EQ(s.factor(0), 1.0 / 4000.0);
  EXPECT_DOUBLE_EQ(s.factor(4 * 4000 - 1), 0.5);  // sqrt(w / 4w)
  const double peak2 = LRSchedule::inverse_sqrt_peak_lr(2.0, 256, 100);
  EXPECT_NEAR(LRSchedule::inverse_sqrt(100).lr(peak2, 499), paper_lr(2.0, 256, 100, 500), 1e-15);
}

TEST(TranslateSchedule, InverseSqrtRejectsBadArguments) {
  EXPECT_THROW(LRSchedule::inverse_sqrt(0), ValueError);
  EXPECT_THROW(LRSchedule::inverse_sqrt_peak_lr(0.0, 512, 10), ValueError);
  EXPECT_THROW(LRSchedule::inverse_sqrt_peak_lr(1.0, 0, 10), ValueError);
  try {
    LRSchedule::inverse_sqrt(-3);
    FAIL() << "no throw";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("LRSchedule::inverse_sqrt"), std::string::npos) << e.what();
  }
}

TEST(TranslateSchedule, InverseSqrtAppliesToEveryGroup) {
  Tensor w = from_vector<float>({0.5f, -1.0f});
  w.requires_grad_();
  Adam opt(std::vector<nn::NamedTensor>{{"w", w}}, AdamOptions{0.5, 0.9, 0.98, 1e-9, 0.0});
  LRSchedule::inverse_sqrt(10).apply(opt, 39);  // s = 40: sqrt(10 / 40) = 0.5
  EXPECT_DOUBLE_EQ(*opt.param_groups()[0].lr, 0.25);
}

}  // namespace
}  // namespace cf::optim
