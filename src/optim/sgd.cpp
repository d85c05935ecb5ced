// torch.optim.SGD (PyTorch 1.13), one fused kernel per parameter.
#include "cformer/optim.h"
#include "ops/optim.h"
#include "util/check.h"

namespace cf::optim {

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions o)
    : Optimizer("SGD", std::move(groups), o.lr, o.weight_decay), options_(o) {
  CF_CHECK(o.momentum >= 0.0, ValueError, "SGD: momentum must be >= 0, got ", o.momentum);
  CF_CHECK(!o.nesterov || (o.momentum > 0.0 && o.dampening == 0.0), ValueError,
           "SGD: nesterov needs momentum > 0 and dampening 0, got momentum ", o.momentum,
           " and dampening ", o.dampening);
}

SGD::SGD(const std::vector<NamedTensor>& params, SGDOptions o)
    : SGD(std::vector<ParamGroup>{ParamGroup{params, std::nullopt, std::nullopt, 0.0}}, o) {}

std::vector<std::string> SGD::state_tensor_names() const {
  if (options_.momentum == 0.0) return {};
  return {"momentum_buffer"};
}

void SGD::update(const ParamGroup& group, const Tensor& param, const Tensor& grad, ParamState& s) {
  const bool first = options_.momentum != 0.0 && !s.momentum_buffer.defined();
  if (first) s.momentum_buffer = zeros(param.shape(), param.dtype());
  ++s.step;
  auto run = [this, &group, &param, &grad, &s, first](auto* p) {
    using T = std::remove_pointer_t<decltype(p)>;
    ops::cpu::SgdArgs<T> a{param.data_ptr<T>(),
                           grad.data_ptr<T>(),
                           s.momentum_buffer.defined() ? s.momentum_buffer.data_ptr<T>() : nullptr,
                           param.numel(),
                           *group.lr,
                           options_.momentum,
                           options_.dampening,
                           *group.weight_decay,
                           options_.nesterov,
                           options_.maximize,
                           first};
    if constexpr (std::is_same_v<T, float>)
      ops::cpu::sgd_step(a);
    else
      ops::cpu::sgd_step_ref<T>(a);
  };
  switch (param.dtype()) {
    case DType::f32:
      return run(static_cast<float*>(nullptr));
    case DType::f64:
      return run(static_cast<double*>(nullptr));
    default:
      CF_THROW(DTypeError, "SGD: unsupported dtype ", dtype_name(param.dtype()));
  }
}

}  // namespace cf::optim
