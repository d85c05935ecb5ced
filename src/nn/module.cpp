// Module machinery: registration, traversal with dotted names, train/eval, state_dict and the
// strict load_state_dict (every problem reported at once, nothing copied unless all is well).
#include <map>
#include <set>
#include <sstream>

#include "cformer/autograd.h"
#include "cformer/nn.h"
#include "util/check.h"

namespace cf::nn {

Module::Module(std::string type_name) : type_name_(std::move(type_name)) {}

void Module::check_new_name(const std::string& name, const char* what) const {
  CF_CHECK(!name.empty(), ValueError, type_name_, ": ", what, " name must not be empty");
  CF_CHECK(name.find('.') == std::string::npos, ValueError, type_name_, ": ", what, " name '", name,
           "' must not contain '.'");
  bool taken = false;
  for (const Entry& e : params_) taken = taken || e.name == name;
  for (const Entry& e : buffers_) taken = taken || e.name == name;
  for (const auto& c : children_) taken = taken || c.first == name;
  CF_CHECK(!taken, ValueError, type_name_, ": ", what, " name '", name, "' is already registered");
}

Tensor& Module::register_parameter(const std::string& name, Tensor value, bool requires_grad) {
  check_new_name(name, "parameter");
  if (value.defined() && requires_grad && value.is_floating_point()) value.requires_grad_(true);
  params_.push_back({name, value, true});
  return params_.back().tensor;
}

Tensor& Module::register_buffer(const std::string& name, Tensor value, bool persistent) {
  check_new_name(name, "buffer");
  buffers_.push_back({name, value, persistent});
  return buffers_.back().tensor;
}

void Module::add_module(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name, "submodule");
  CF_CHECK(module != nullptr, ValueError, type_name_, ": submodule '", name, "' is null");
  CF_CHECK(module.get() != this, ValueError, type_name_, ": a module cannot contain itself");
  children_.emplace_back(name, std::move(module));
}

void Module::train(bool mode) {
  training_ = mode;
  for (auto& c : children_) c.second->train(mode);
}

void Module::collect(const std::string& prefix, bool recurse, bool params, bool persistent_only,
                     StateDict& out) const {
  for (const Entry& e : params ? params_ : buffers_)
    if (e.tensor.defined() && (!persistent_only || e.persistent))
      out.emplace_back(prefix + e.name, e.tensor);
  if (!recurse) return;
  for (const auto& [name, child] : children_)
    child->collect(prefix + name + ".", true, params, persistent_only, out);
}

namespace {

StateDict dedupe(StateDict all) {
  StateDict out;
  std::set<const TensorImpl*> seen;
  for (auto& nt : all)
    if (seen.insert(nt.second.impl()).second) out.push_back(std::move(nt));
  return out;
}

std::string with_commas(int64_t n) {
  std::string s = std::to_string(n), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

}  // namespace

StateDict Module::named_parameters(bool recurse) const {
  StateDict all;
  collect("", recurse, true, false, all);
  return dedupe(std::move(all));
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& nt : named_parameters(recurse)) out.push_back(nt.second);
  return out;
}

StateDict Module::named_buffers(bool recurse) const {
  StateDict all;
  collect("", recurse, false, false, all);
  return dedupe(std::move(all));
}

std::vector<std::pair<std::string, const Module*>> Module::named_modules() const {
  std::vector<std::pair<std::string, const Module*>> out{{"", this}};
  for (const auto& [name, child] : children_)
    for (auto& [sub, m] : child->named_modules())
      out.emplace_back(sub.empty() ? name : name + "." + sub, m);
  return out;
}

StateDict Module::state_dict() const {
  // Per module: parameters, then persistent buffers, then children (torch's order).
  StateDict out;
  for (const Entry& e : params_)
    if (e.tensor.defined()) out.emplace_back(e.name, e.tensor);
  for (const Entry& e : buffers_)
    if (e.tensor.defined() && e.persistent) out.emplace_back(e.name, e.tensor);
  for (const auto& [name, child] : children_)
    for (auto& [sub, t] : child->state_dict()) out.emplace_back(name + "." + sub, t);
  return out;
}

LoadResult Module::load_state_dict(const StateDict& state, bool strict) {
  const StateDict own = state_dict();
  std::map<std::string, const Tensor*> given;
  std::vector<std::string> problems;
  for (const auto& [name, t] : state) {
    if (!given.emplace(name, &t).second) problems.push_back("duplicate key: " + name);
  }
  LoadResult result;
  std::set<std::string> own_names;
  for (const auto& [name, dst] : own) {
    own_names.insert(name);
    auto it = given.find(name);
    if (it == given.end()) {
      result.missing_keys.push_back(name);
      continue;
    }
    const Tensor& src = *it->second;
    if (!src.defined()) {
      problems.push_back("undefined tensor for key: " + name);
    } else if (src.shape() != dst.shape()) {
      problems.push_back(detail::str_cat("shape mismatch for ", name, ": expected ", dst.shape(),
                                         ", got ", src.shape()));
    } else if (src.dtype() != dst.dtype()) {
      problems.push_back(detail::str_cat("dtype mismatch for ", name, ": expected ",
                                         dtype_name(dst.dtype()), ", got ",
                                         dtype_name(src.dtype())));
    }
  }
  for (const auto& [name, t] : state)
    if (!own_names.count(name)) result.unexpected_keys.push_back(name);
  if (strict) {
    for (const auto& k : result.missing_keys) problems.push_back("missing key: " + k);
    for (const auto& k : result.unexpected_keys) problems.push_back("unexpected key: " + k);
  }
  if (!problems.empty()) {
    std::string msg = detail::str_cat("load_state_dict: ", problems.size(),
                                      problems.size() == 1 ? " problem" : " problems",
                                      " loading into ", type_name_, ":");
    for (const auto& p : problems) msg += "\n  " + p;
    throw ValueError(msg);
  }
  NoGradGuard no_grad;
  for (const auto& [name, dst] : own) {
    auto it = given.find(name);
    if (it == given.end()) continue;
    Tensor d = dst;  // copy_ is a non-const member; the handle shares the module's storage
    d.copy_(*it->second);
  }
  return result;
}

int64_t Module::num_parameters(bool trainable_only) const {
  int64_t n = 0;
  for (const auto& [name, t] : named_parameters())
    if (!trainable_only || t.requires_grad()) n += t.numel();
  return n;
}

void Module::summary_lines(const std::string& name, int depth, std::string& out) const {
  int64_t own = 0;
  for (const Entry& e : params_)
    if (e.tensor.defined()) own += e.tensor.numel();
  out += std::string(2 * depth, ' ');
  if (!name.empty()) out += name + ": ";
  out += type_name_ + "(" + extra_repr() + ")";
  const int64_t total = num_parameters();
  if (total > 0) {
    out += "  params=" + with_commas(total);
    if (!children_.empty() && own > 0) out += " (own " + with_commas(own) + ")";
  }
  out += "\n";
  for (const auto& [child_name, child] : children_)
    child->summary_lines(child_name, depth + 1, out);
}

std::string Module::summary() const {
  std::string out;
  summary_lines("", 0, out);
  out += "total parameters: " + with_commas(num_parameters()) + " (trainable " +
         with_commas(num_parameters(true)) + ")\n";
  return out;
}

void Module::zero_grad(bool set_to_none) {
  for (const auto& [name, t] : named_parameters()) {
    if (!t.grad().defined()) continue;
    if (set_to_none) {
      t.set_grad(Tensor());
    } else {
      Tensor g = t.grad();
      g.zero_();
    }
  }
}

}  // namespace cf::nn
