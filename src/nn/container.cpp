// Sequential and ModuleList: submodules named by their position, as in torch.nn.
#include "cformer/nn.h"
#include "util/check.h"

namespace cf::nn {

Sequential::Sequential(std::vector<std::shared_ptr<UnaryModule>> modules)
    : UnaryModule("Sequential") {
  for (auto& m : modules) push_back(std::move(m));
}

void Sequential::push_back(std::shared_ptr<UnaryModule> module) {
  add_module(std::to_string(layers_.size()), module);
  layers_.push_back(std::move(module));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (auto& m : layers_) y = m->forward(y);
  return y;
}

const std::shared_ptr<UnaryModule>& Sequential::operator[](size_t i) const {
  CF_CHECK(i < layers_.size(), IndexError, "Sequential: index ", i, " out of range for ",
           layers_.size(), " modules");
  return layers_[i];
}

void ModuleList::push_back(std::shared_ptr<Module> module) {
  add_module(std::to_string(items_.size()), module);
  items_.push_back(std::move(module));
}

const std::shared_ptr<Module>& ModuleList::operator[](size_t i) const {
  CF_CHECK(i < items_.size(), IndexError, "ModuleList: index ", i, " out of range for ",
           items_.size(), " modules");
  return items_[i];
}

}  // namespace cf::nn
