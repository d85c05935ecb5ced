// torch.optim.Adam and AdamW (PyTorch 1.13), one fused kernel per parameter.
#include "cformer/optim.h"
#include "ops/optim.h"
#include "util/check.h"

namespace cf::optim {

Adam::Adam(const char* name, std::vector<ParamGroup> groups, AdamOptions o, bool decoupled)
    : Optimizer(name, std::move(groups), o.lr, o.weight_decay), options_(o), decoupled_(decoupled) {
  CF_CHECK(o.eps >= 0.0, ValueError, name, ": eps must be >= 0, got ", o.eps);
  CF_CHECK(o.beta1 >= 0.0 && o.beta1 < 1.0 && o.beta2 >= 0.0 && o.beta2 < 1.0, ValueError, name,
           ": betas must be in [0, 1), got (", o.beta1, ", ", o.beta2, ")");
}

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions o)
    : Adam("Adam", std::move(groups), o, false) {}

Adam::Adam(const std::vector<NamedTensor>& params, AdamOptions o)
    : Adam("Adam", std::vector<ParamGroup>{ParamGroup{params, std::nullopt, std::nullopt, 0.0}}, o,
           false) {}

AdamW::AdamW(std::vector<ParamGroup> groups, AdamOptions o)
    : Adam("AdamW", std::move(groups), o, true) {}

AdamW::AdamW(const std::vector<NamedTensor>& params, AdamOptions o)
    : Adam("AdamW", std::vector<ParamGroup>{ParamGroup{params, std::nullopt, std::nullopt, 0.0}}, o,
           true) {}

std::vector<std::string> Adam::state_tensor_names() const {
  if (options_.amsgrad) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  return {"exp_avg", "exp_avg_sq"};
}

void Adam::update(const ParamGroup& group, const Tensor& param, const Tensor& grad, ParamState& s) {
  if (!s.exp_avg.defined()) {
    s.exp_avg = zeros(param.shape(), param.dtype());
    s.exp_avg_sq = zeros(param.shape(), param.dtype());
    if (options_.amsgrad) s.max_exp_avg_sq = zeros(param.shape(), param.dtype());
  }
  ++s.step;
  auto run = [this, &group, &param, &grad, &s](auto* p) {
    using T = std::remove_pointer_t<decltype(p)>;
    ops::cpu::AdamArgs<T> a{param.data_ptr<T>(),
                            grad.data_ptr<T>(),
                            s.exp_avg.data_ptr<T>(),
                            s.exp_avg_sq.data_ptr<T>(),
                            options_.amsgrad ? s.max_exp_avg_sq.data_ptr<T>() : nullptr,
                            param.numel(),
                            s.step,
                            *group.lr,
                            options_.beta1,
                            options_.beta2,
                            options_.eps,
                            *group.weight_decay,
                            decoupled_,
                            options_.maximize};
    if constexpr (std::is_same_v<T, float>)
      ops::cpu::adam_step(a);
    else
      ops::cpu::adam_step_ref<T>(a);
  };
  switch (param.dtype()) {
    case DType::f32:
      return run(static_cast<float*>(nullptr));
    case DType::f64:
      return run(static_cast<double*>(nullptr));
    default:
      CF_THROW(DTypeError, name_, ": unsupported dtype ", dtype_name(param.dtype()));
  }
}

}  // namespace cf::optim
