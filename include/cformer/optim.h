// Optimizers (torch.optim SGD, Adam, AdamW as in PyTorch 1.13), parameter groups, learning-rate
// schedules and gradient clipping. Each parameter's update is one fused kernel (src/ops/optim.h)
// run outside the autograd tape. Parameters are identified by name (Module::named_parameters),
// so optimizer state_dicts map to checkpoints by name.
//
// Gradient accumulation: backward adds into .grad, so calling backward k times (on a loss
// divided by k) before one step() is exactly one step on the mean gradient; zero_grad() after
// each step() starts the next accumulation.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cformer/nn.h"
#include "cformer/tensor.h"

namespace cf::optim {

using nn::NamedTensor;
using nn::StateDict;

/// Parameters that share an lr and a weight decay. Unset values take the optimizer's defaults.
struct ParamGroup {
  std::vector<NamedTensor> params;
  std::optional<double> lr;
  std::optional<double> weight_decay;
  /// The lr the group started with; LRSchedule::apply scales it. Set by the optimizer.
  double initial_lr = 0.0;
};

/// The usual two groups (nanoGPT): weight decay on tensors with >= 2 dims (Linear and
/// Embedding weights), none on the rest (biases, norm weights). Parameters that do not
/// require grad are left out. Empty groups are dropped.
std::vector<ParamGroup> weight_decay_groups(const std::vector<NamedTensor>& named_params,
                                            double weight_decay);

/// State of one parameter; which tensors are defined depends on the optimizer.
struct ParamState {
  int64_t step = 0;
  Tensor momentum_buffer;  // SGD with momentum
  Tensor exp_avg;          // Adam / AdamW
  Tensor exp_avg_sq;
  Tensor max_exp_avg_sq;  // amsgrad
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// Updates every parameter that has a gradient (the others are skipped, as torch).
  void step();
  /// Clears (set_to_none, torch's default) or zeroes every parameter's gradient.
  void zero_grad(bool set_to_none = true);

  /// Adds a group (unset lr / weight_decay take the optimizer's defaults). Throws as the
  /// constructor does on a bad parameter, a name already present or a tensor already present.
  void add_param_group(ParamGroup group);
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  /// Sets every group's lr.
  void set_lr(double lr);
  /// The state of the parameter called name (nullptr before its first update).
  const ParamState* state(const std::string& name) const;

  /// "state.<param>.step" (i64, 0-dim) and "state.<param>.<tensor>" per updated parameter, and
  /// "param_groups.<i>.lr" / ".weight_decay" / ".initial_lr" (f64, 0-dim). Saves as safetensors.
  /// The tensors are copies.
  StateDict state_dict() const;
  /// Restores a state_dict of an optimizer of the same kind over parameters of the same names
  /// and shapes. Throws one ValueError listing every unknown key, missing group entry,
  /// incomplete parameter state and wrong shape or dtype; nothing changes unless all is well.
  void load_state_dict(const StateDict& state);

 protected:
  /// Validates the groups (unique names, floating leaves, no parameter twice) and fills defaults.
  Optimizer(const char* name, std::vector<ParamGroup> groups, double lr, double weight_decay);
  /// The moment tensors this optimizer keeps ("momentum_buffer", "exp_avg", ...).
  virtual std::vector<std::string> state_tensor_names() const = 0;
  virtual void update(const ParamGroup& group, const Tensor& param, const Tensor& grad,
                      ParamState& state) = 0;

  const char* name_;
  double default_lr_, default_weight_decay_;
  std::vector<ParamGroup> groups_;
  std::map<std::string, ParamState> state_;
};

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;  ///< L2: added to the gradient
  bool nesterov = false;
  bool maximize = false;
};

/// torch.optim.SGD: g = grad + wd p; with momentum, buf = g on the first step, else
/// buf = momentum buf + (1 - dampening) g, and g = g + momentum buf (nesterov) or buf;
/// p -= lr g. Throws ValueError on negative hyperparameters or nesterov without momentum or
/// with dampening.
class SGD : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, SGDOptions options);
  SGD(const std::vector<NamedTensor>& params, SGDOptions options);
  const SGDOptions& options() const { return options_; }

 protected:
  std::vector<std::string> state_tensor_names() const override;
  void update(const ParamGroup& group, const Tensor& param, const Tensor& grad,
              ParamState& state) override;

 private:
  SGDOptions options_;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  ///< Adam: L2 added to the gradient; AdamW: decoupled decay
  bool amsgrad = false;
  bool maximize = false;
};

/// torch.optim.Adam: g = grad + wd p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
/// p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps) (v: its running max with amsgrad).
class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, AdamOptions options);
  Adam(const std::vector<NamedTensor>& params, AdamOptions options);
  const AdamOptions& options() const { return options_; }

 protected:
  Adam(const char* name, std::vector<ParamGroup> groups, AdamOptions options, bool decoupled);
  std::vector<std::string> state_tensor_names() const override;
  void update(const ParamGroup& group, const Tensor& param, const Tensor& grad,
              ParamState& state) override;

 private:
  AdamOptions options_;
  bool decoupled_;
};

/// torch.optim.AdamW: p *= 1 - lr wd, then Adam's update without the L2 term.
/// Default weight_decay 0.01 as torch.
class AdamW : public Adam {
 public:
  AdamW(std::vector<ParamGroup> groups, AdamOptions options = with_default_decay());
  AdamW(const std::vector<NamedTensor>& params, AdamOptions options = with_default_decay());
  static AdamOptions with_default_decay() {
    AdamOptions o;
    o.weight_decay = 0.01;
    return o;
  }
};

// ======================================================================= schedules

/// A learning-rate multiplier of the step (0-based count of optimizer steps taken), as
/// torch.optim.lr_scheduler.LambdaLR. The lr at step t is initial_lr * factor(t).
///   constant:      1
///   warmup_cosine: (t + 1) / warmup for t < warmup; then min_ratio + (1 - min_ratio) *
///                  0.5 (1 + cos(pi (t - warmup) / (total - warmup))); min_ratio after total
///   warmup_linear: (t + 1) / warmup for t < warmup; then linear from 1 to min_ratio at total;
///                  min_ratio after total
///   inverse_sqrt:  min(s / warmup, sqrt(warmup / s)) with s = t + 1: linear warm-up to 1 at
///                  s = warmup, then decay as s^-0.5 (fairseq's inverse_sqrt). With initial_lr =
///                  factor * d_model^-0.5 * warmup^-0.5 it is the schedule of "Attention Is All
///                  You Need" 5.3: lr = factor * d_model^-0.5 * min(s^-0.5, s * warmup^-1.5)
///                  (see inverse_sqrt_peak_lr); total_steps and min_ratio are unused
/// min_ratio = min_lr / max_lr (nanoGPT: 6e-5 / 6e-4 = 0.1).
struct LRSchedule {
  enum class Kind { constant, warmup_cosine, warmup_linear, inverse_sqrt };
  Kind kind = Kind::constant;
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;
  double min_ratio = 0.0;

  static LRSchedule constant() { return {}; }
  /// Throws ValueError unless 0 <= warmup_steps <= total_steps and 0 <= min_ratio <= 1.
  static LRSchedule warmup_cosine(int64_t warmup_steps, int64_t total_steps, double min_ratio);
  static LRSchedule warmup_linear(int64_t warmup_steps, int64_t total_steps, double min_ratio);
  /// Throws ValueError unless warmup_steps >= 1.
  static LRSchedule inverse_sqrt(int64_t warmup_steps);
  /// The peak lr (at step warmup_steps - 1) of the paper's schedule:
  /// factor * d_model^-0.5 * warmup_steps^-0.5. Throws ValueError unless all are positive.
  static double inverse_sqrt_peak_lr(double factor, int64_t d_model, int64_t warmup_steps);

  double factor(int64_t step) const;
  /// initial_lr * factor(step) for a base lr.
  double lr(double initial_lr, int64_t step) const { return initial_lr * factor(step); }
  /// Sets every group's lr to its initial_lr * factor(step).
  void apply(Optimizer& opt, int64_t step) const;
};

/// torch.nn.utils.clip_grad_norm_: the global L2 norm of all gradients (parameters without a
/// gradient are skipped); when it exceeds max_norm every gradient is scaled in place by
/// max_norm / (norm + 1e-6). Returns the norm before clipping (NaN/inf propagate, as torch).
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm);
/// The same L2 norm, without clipping.
double grad_norm(const std::vector<Tensor>& params);

}  // namespace cf::optim
