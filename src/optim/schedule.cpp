// Learning-rate schedules and gradient-norm clipping.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "cformer/autograd.h"
#include "cformer/optim.h"
#include "ops/optim.h"
#include "util/check.h"

namespace cf::optim {
namespace {

LRSchedule make(LRSchedule::Kind kind, int64_t warmup, int64_t total, double min_ratio,
                const char* name) {
  CF_CHECK(warmup >= 0 && total >= warmup, ValueError, name,
           ": need 0 <= warmup_steps <= total_steps, got ", warmup, " and ", total);
  CF_CHECK(min_ratio >= 0.0 && min_ratio <= 1.0, ValueError, name,
           ": min_ratio must be in [0, 1], got ", min_ratio);
  return LRSchedule{kind, warmup, total, min_ratio};
}

}  // namespace

LRSchedule LRSchedule::warmup_cosine(int64_t warmup, int64_t total, double min_ratio) {
  return make(Kind::warmup_cosine, warmup, total, min_ratio, "LRSchedule::warmup_cosine");
}

LRSchedule LRSchedule::warmup_linear(int64_t warmup, int64_t total, double min_ratio) {
  return make(Kind::warmup_linear, warmup, total, min_ratio, "LRSchedule::warmup_linear");
}

LRSchedule LRSchedule::inverse_sqrt(int64_t warmup) {
  CF_CHECK(warmup >= 1, ValueError, "LRSchedule::inverse_sqrt: warmup_steps must be >= 1, got ",
           warmup);
  return LRSchedule{Kind::inverse_sqrt, warmup, 0, 0.0};
}

double LRSchedule::inverse_sqrt_peak_lr(double factor, int64_t d_model, int64_t warmup) {
  CF_CHECK(factor > 0.0 && d_model >= 1 && warmup >= 1, ValueError,
           "LRSchedule::inverse_sqrt_peak_lr: factor, d_model and warmup_steps must be positive, "
           "got ", factor, ", ", d_model, " and ", warmup);
  return factor / std::sqrt(static_cast<double>(d_model)) / std::sqrt(static_cast<double>(warmup));
}

double LRSchedule::factor(int64_t step) const {
  if (kind == Kind::constant) return 1.0;
  if (kind == Kind::inverse_sqrt) {
    const double s = static_cast<double>(step + 1), w = static_cast<double>(warmup_steps);
    return std::min(s / w, std::sqrt(w / s));
  }
  if (step < warmup_steps) return static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  if (step >= total_steps) return min_ratio;
  const double progress =
      static_cast<double>(step - warmup_steps) / static_cast<double>(total_steps - warmup_steps);
  const double shape = kind == Kind::warmup_cosine
                           ? 0.5 * (1.0 + std::cos(std::numbers::pi * progress))
                           : 1.0 - progress;
  return min_ratio + (1.0 - min_ratio) * shape;
}

void LRSchedule::apply(Optimizer& opt, int64_t step) const {
  const double f = factor(step);
  for (ParamGroup& g : opt.param_groups()) g.lr = g.initial_lr * f;
}

double grad_norm(const std::vector<Tensor>& params) {
  double sq = 0.0;
  for (const Tensor& p : params) {
    if (!p.defined()) continue;
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    const Tensor c = g.contiguous();
    switch (c.dtype()) {
      case DType::f32:
        sq += ops::cpu::sum_squares(c.data_ptr<float>(), c.numel());
        break;
      case DType::f64:
        sq += ops::cpu::sum_squares_ref(c.data_ptr<double>(), c.numel());
        break;
      default:
        CF_THROW(DTypeError, "clip_grad_norm_: gradients must be f32 or f64, got ",
                 dtype_name(c.dtype()));
    }
  }
  return std::sqrt(sq);
}

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm) {
  CF_CHECK(max_norm >= 0.0, ValueError, "clip_grad_norm_: max_norm must be >= 0, got ", max_norm);
  const double total = grad_norm(params);
  const double coef = max_norm / (total + 1e-6);
  if (!(coef >= 1.0)) {  // also when the norm is NaN or inf: the gradients then carry it, as torch
    NoGradGuard no_grad;
    for (const Tensor& p : params) {
      if (!p.defined()) continue;
      Tensor g = p.grad();
      if (g.defined()) g.mul_(coef);
    }
  }
  return total;
}

}  // namespace cf::optim
