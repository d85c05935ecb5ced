// Optimizer base: parameter groups, the step loop (no autograd history, versions bumped),
// zero_grad, and the state_dict / load_state_dict by parameter name.
#include <algorithm>
#include <map>
#include <set>

#include "cformer/autograd.h"
#include "cformer/optim.h"
#include "util/check.h"

namespace cf::optim {

std::vector<ParamGroup> weight_decay_groups(const std::vector<NamedTensor>& named_params,
                                            double weight_decay) {
  ParamGroup decay, no_decay;
  decay.weight_decay = weight_decay;
  no_decay.weight_decay = 0.0;
  for (const auto& nt : named_params) {
    if (!nt.second.defined() || !nt.second.requires_grad()) continue;
    (nt.second.dim() >= 2 ? decay : no_decay).params.push_back(nt);
  }
  std::vector<ParamGroup> out;
  if (!decay.params.empty()) out.push_back(std::move(decay));
  if (!no_decay.params.empty()) out.push_back(std::move(no_decay));
  return out;
}

Optimizer::Optimizer(const char* name, std::vector<ParamGroup> groups, double lr,
                     double weight_decay)
    : name_(name), default_lr_(lr), default_weight_decay_(weight_decay) {
  CF_CHECK(lr >= 0.0, ValueError, name_, ": lr must be >= 0, got ", lr);
  CF_CHECK(weight_decay >= 0.0, ValueError, name_, ": weight_decay must be >= 0, got ",
           weight_decay);
  size_t count = 0;
  for (ParamGroup& g : groups) {
    count += g.params.size();
    add_param_group(std::move(g));
  }
  CF_CHECK(count > 0, ValueError, name_, ": got an empty parameter list");
}

void Optimizer::add_param_group(ParamGroup g) {
  std::set<std::string> names;
  std::set<const TensorImpl*> impls;
  for (const ParamGroup& old : groups_)
    for (const auto& [pname, p] : old.params) {
      names.insert(pname);
      impls.insert(p.impl());
    }
  const size_t gi = groups_.size();
  if (!g.lr) g.lr = default_lr_;
  if (!g.weight_decay) g.weight_decay = default_weight_decay_;
  CF_CHECK(*g.lr >= 0.0 && *g.weight_decay >= 0.0, ValueError, name_, ": param group ", gi,
           " needs lr >= 0 and weight_decay >= 0, got ", *g.lr, " and ", *g.weight_decay);
  g.initial_lr = *g.lr;
  for (const auto& [pname, p] : g.params) {
    CF_CHECK(p.defined(), ValueError, name_, ": parameter '", pname, "' is undefined");
    CF_CHECK(p.dtype() == DType::f32 || p.dtype() == DType::f64, DTypeError, name_, ": parameter '",
             pname, "' must be f32 or f64, got ", dtype_name(p.dtype()));
    CF_CHECK(p.is_leaf(), ValueError, name_, ": parameter '", pname,
             "' is not a leaf tensor (it has autograd history)");
    CF_CHECK(p.is_contiguous(), ValueError, name_, ": parameter '", pname,
             "' must be contiguous, got shape ", p.shape(), " strides ", p.strides());
    CF_CHECK(names.insert(pname).second, ValueError, name_, ": parameter name '", pname,
             "' appears more than once");
    CF_CHECK(impls.insert(p.impl()).second, ValueError, name_, ": parameter '", pname,
             "' is the same tensor as another parameter");
  }
  groups_.push_back(std::move(g));
}

void Optimizer::step() {
  NoGradGuard no_grad;
  for (const ParamGroup& g : groups_)
    for (const auto& [pname, p] : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      CF_CHECK(grad.shape() == p.shape() && grad.dtype() == p.dtype(), ValueError, name_,
               ": gradient of '", pname, "' has shape ", grad.shape(), " dtype ",
               dtype_name(grad.dtype()), ", expected ", p.shape(), " ", dtype_name(p.dtype()));
      update(g, p, grad.contiguous(), state_[pname]);
      p.bump_version();
    }
}

void Optimizer::zero_grad(bool set_to_none) {
  for (const ParamGroup& g : groups_)
    for (const auto& [pname, p] : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (set_to_none) {
        p.set_grad(Tensor());
      } else {
        NoGradGuard no_grad;
        grad.zero_();
      }
    }
}

void Optimizer::set_lr(double lr) {
  CF_CHECK(lr >= 0.0, ValueError, name_, ": lr must be >= 0, got ", lr);
  for (ParamGroup& g : groups_) g.lr = lr;
}

const ParamState* Optimizer::state(const std::string& name) const {
  auto it = state_.find(name);
  return it == state_.end() ? nullptr : &it->second;
}

namespace {

Tensor& state_tensor(ParamState& s, const std::string& field) {
  if (field == "momentum_buffer") return s.momentum_buffer;
  if (field == "exp_avg") return s.exp_avg;
  if (field == "exp_avg_sq") return s.exp_avg_sq;
  if (field == "max_exp_avg_sq") return s.max_exp_avg_sq;
  CF_THROW(InternalError, "optimizer: unknown state tensor ", field);
}

}  // namespace

StateDict Optimizer::state_dict() const {
  StateDict out;
  for (size_t i = 0; i < groups_.size(); ++i) {
    const std::string p = "param_groups." + std::to_string(i) + ".";
    out.emplace_back(p + "lr", scalar_tensor(*groups_[i].lr, DType::f64));
    out.emplace_back(p + "weight_decay", scalar_tensor(*groups_[i].weight_decay, DType::f64));
    out.emplace_back(p + "initial_lr", scalar_tensor(groups_[i].initial_lr, DType::f64));
  }
  for (const ParamGroup& g : groups_)
    for (const auto& [pname, param] : g.params) {
      auto it = state_.find(pname);
      if (it == state_.end()) continue;
      ParamState s = it->second;
      out.emplace_back("state." + pname + ".step",
                       scalar_tensor(static_cast<double>(s.step), DType::i64));
      for (const auto& field : state_tensor_names())
        out.emplace_back("state." + pname + "." + field, state_tensor(s, field).clone());
    }
  return out;
}

void Optimizer::load_state_dict(const StateDict& state) {
  std::map<std::string, const Tensor*> params;
  for (const ParamGroup& g : groups_)
    for (const auto& [pname, p] : g.params) params[pname] = &p;
  const std::vector<std::string> fields = state_tensor_names();
  std::vector<std::string> problems;
  std::map<std::string, ParamState> new_state;
  std::map<std::string, std::set<std::string>> seen_fields;
  std::vector<double> lr(groups_.size(), -1.0), wd(groups_.size(), -1.0), ilr(groups_.size(), -1.0);
  std::set<std::string> keys;
  auto scalar_ok = [](const Tensor& t, DType d) {
    return t.defined() && t.numel() == 1 && t.dim() == 0 && t.dtype() == d;
  };
  for (const auto& [key, t] : state) {
    if (!keys.insert(key).second) {
      problems.push_back("duplicate key: " + key);
      continue;
    }
    const size_t dot = key.rfind('.');
    const std::string field = dot == std::string::npos ? "" : key.substr(dot + 1);
    if (key.rfind("param_groups.", 0) == 0 && dot != std::string::npos) {
      const std::string idx = key.substr(13, dot - 13);
      size_t gi = groups_.size();
      if (!idx.empty() && idx.find_first_not_of("0123456789") == std::string::npos &&
          idx.size() < 6)
        gi = std::stoul(idx);
      std::vector<double>* dst = field == "lr"             ? &lr
                                 : field == "weight_decay" ? &wd
                                 : field == "initial_lr"   ? &ilr
                                                           : nullptr;
      if (gi >= groups_.size() || !dst) {
        problems.push_back("unexpected key: " + key);
      } else if (!scalar_ok(t, DType::f64) || !(t.item() >= 0.0)) {
        problems.push_back("bad value for " + key + ": expected a 0-dim f64 >= 0, got " +
                           (t.defined() ? t.str() : std::string("undefined")));
      } else {
        (*dst)[gi] = t.item();
      }
      continue;
    }
    if (key.rfind("state.", 0) != 0 || dot == std::string::npos || dot <= 6) {
      problems.push_back("unexpected key: " + key);
      continue;
    }
    const std::string pname = key.substr(6, dot - 6);
    auto pit = params.find(pname);
    const bool known_field =
        field == "step" || std::find(fields.begin(), fields.end(), field) != fields.end();
    if (pit == params.end() || !known_field) {
      problems.push_back("unexpected key: " + key);
      continue;
    }
    const Tensor& p = *pit->second;
    seen_fields[pname].insert(field);
    if (field == "step") {
      if (!scalar_ok(t, DType::i64) || t.item() < 1.0) {
        problems.push_back("bad value for " + key + ": expected a 0-dim i64 >= 1, got " +
                           (t.defined() ? t.str(true) : std::string("undefined")));
      } else {
        new_state[pname].step = static_cast<int64_t>(t.item());
      }
    } else if (!t.defined() || t.shape() != p.shape()) {
      problems.push_back(detail::str_cat("shape mismatch for ", key, ": expected ", p.shape(),
                                         ", got ", t.defined() ? t.shape().str() : "undefined"));
    } else if (t.dtype() != p.dtype()) {
      problems.push_back(detail::str_cat("dtype mismatch for ", key, ": expected ",
                                         dtype_name(p.dtype()), ", got ", dtype_name(t.dtype())));
    } else {
      state_tensor(new_state[pname], field) = t.contiguous().clone();
    }
  }
  for (const auto& [pname, seen] : seen_fields) {
    if (!seen.count("step")) problems.push_back("missing key: state." + pname + ".step");
    for (const auto& f : fields)
      if (!seen.count(f)) problems.push_back("missing key: state." + pname + "." + f);
  }
  for (size_t i = 0; i < groups_.size(); ++i) {
    const std::string p = "param_groups." + std::to_string(i) + ".";
    if (!keys.count(p + "lr")) problems.push_back("missing key: " + p + "lr");
    if (!keys.count(p + "weight_decay")) problems.push_back("missing key: " + p + "weight_decay");
    if (!keys.count(p + "initial_lr")) problems.push_back("missing key: " + p + "initial_lr");
  }
  if (!problems.empty()) {
    std::string msg = detail::str_cat(name_, ".load_state_dict: ", problems.size(),
                                      problems.size() == 1 ? " problem:" : " problems:");
    for (const auto& s : problems) msg += "\n  " + s;
    throw ValueError(msg);
  }
  for (size_t i = 0; i < groups_.size(); ++i) {
    groups_[i].lr = lr[i];
    groups_[i].weight_decay = wd[i];
    groups_[i].initial_lr = ilr[i];
  }
  state_ = std::move(new_state);
}

}  // namespace cf::optim
