// Autograd: grad mode and the backward entry point. Ops record their own nodes; see
// src/autograd/node.h and Note [autograd] in docs/notes/autograd.md.
#pragma once
#include <string>
#include <vector>

#include "cformer/tensor.h"

namespace cf {

/// Whether ops record autograd history on this thread (true by default).
bool is_grad_enabled();
void set_grad_enabled(bool enabled);

/// RAII: disables history recording on this thread for its lifetime.
class NoGradGuard {
 public:
  NoGradGuard() : prev_(is_grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

/// RAII: enables history recording on this thread for its lifetime.
class EnableGradGuard {
 public:
  EnableGradGuard() : prev_(is_grad_enabled()) { set_grad_enabled(true); }
  ~EnableGradGuard() { set_grad_enabled(prev_); }
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool prev_;
};

namespace autograd {

/// Backpropagates from several roots at once; grads[i] is the upstream gradient of roots[i]
/// (undefined: ones for a one-element root). Gradients accumulate into the .grad of leaves.
/// Throws AutogradError when a root has no history, a gradient has the wrong shape, or the
/// graph was already freed by an earlier backward without retain_graph.
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads = {},
              bool retain_graph = false);

/// The op name of a tensor's grad_fn ("" for leaves and tensors without history).
std::string grad_fn_name(const Tensor& t);

}  // namespace autograd
}  // namespace cf
