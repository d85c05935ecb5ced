// Nodes, saved tensors, grad mode, and the recording helpers used by every op.
#include "autograd/node.h"

#include <atomic>

#include "util/check.h"

namespace cf {
namespace {
thread_local bool grad_enabled = true;
std::atomic<uint64_t> next_sequence_nr{0};
}  // namespace

bool is_grad_enabled() { return grad_enabled; }
void set_grad_enabled(bool enabled) { grad_enabled = enabled; }

namespace autograd {

Node::Node(std::string_view name, uint32_t num_outputs)
    : name_(name.data()), num_outputs_(num_outputs), sequence_nr_(next_sequence_nr++) {}

SavedTensor::SavedTensor(const Tensor& t) {
  if (!t.defined()) return;
  data_ = t.detach();
  version_ = t.version();
}

const Tensor& SavedTensor::get() const {
  if (data_.defined() && data_.version() != version_) {
    CF_THROW(AutogradError, "a tensor of shape ", data_.shape(),
             " saved for backward was modified by an in-place operation (its version is ",
             data_.version(), ", it was ", version_,
             " when saved); clone it before modifying it, or modify it after backward");
  }
  return data_;
}

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!is_grad_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

bool needs_grad(const TensorList& inputs) {
  if (!is_grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

namespace {

AutogradMeta& meta(const Tensor& t) {
  auto& m = t.impl()->autograd;
  if (!m) m = std::make_unique<AutogradMeta>();
  return *m;
}

}  // namespace

Edge gradient_edge(const Tensor& t) {
  AutogradMeta& m = meta(t);
  if (m.grad_fn) return Edge{m.grad_fn, m.output_nr};
  auto acc = m.grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<Node>("AccumulateGrad", 1);
    acc->leaf = t.impl_ptr();
    acc->mark_accumulator();
    m.grad_accumulator = acc;
  }
  return Edge{acc, 0};
}

std::shared_ptr<Node> record(const char* name, const TensorList& inputs,
                             const std::vector<Tensor*>& outputs, BackwardFn fn) {
  auto node = std::make_shared<Node>(name, static_cast<uint32_t>(outputs.size()));
  node->next_edges.reserve(inputs.size());
  node->input_meta.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    Edge e;
    InputMeta im;
    if (t.defined()) {
      im.shape = t.shape();
      im.dtype = t.dtype();
      if (t.requires_grad()) e = gradient_edge(t);
    }
    node->next_edges.push_back(std::move(e));
    node->input_meta.push_back(im);
  }
  node->fn = std::move(fn);
  node->retained.resize(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    CF_ASSERT(is_floating(outputs[i]->dtype()), "op ", name, " output ", i, " is not floating");
    AutogradMeta& m = meta(*outputs[i]);
    m.requires_grad = true;
    m.grad_fn = node;
    m.output_nr = static_cast<uint32_t>(i);
  }
  return node;
}

void check_inplace(const char* op, const Tensor& self, std::initializer_list<const Tensor*> others) {
  if (!is_grad_enabled()) return;
  CF_CHECK(!self.requires_grad(), AutogradError, op,
           ": in-place operation on a tensor that requires grad (shape ", self.shape(),
           "); use the out-of-place op, or wrap the update in NoGradGuard");
  for (const Tensor* o : others)
    CF_CHECK(!(o->defined() && o->requires_grad()), AutogradError, op,
             ": in-place operation with an argument that requires grad (shape ", o->shape(),
             ") would not be recorded; use the out-of-place op");
}

}  // namespace autograd

// ---------------------------------------------------------------- Tensor's autograd methods

bool Tensor::requires_grad() const {
  const auto& m = impl_->autograd;
  return m && m->requires_grad;
}

Tensor& Tensor::requires_grad_(bool requires_grad) {
  CF_CHECK(defined(), ValueError, "requires_grad_: the tensor is undefined");
  if (!is_leaf()) {
    CF_CHECK(requires_grad, AutogradError,
             "requires_grad_: cannot turn off requires_grad of a non-leaf tensor; use detach()");
    return *this;
  }
  CF_CHECK(!requires_grad || is_floating_point(), AutogradError,
           "requires_grad_: only floating-point tensors can require grad, got dtype ",
           dtype_name(dtype()));
  autograd::meta(*this).requires_grad = requires_grad;
  return *this;
}

Tensor Tensor::grad() const {
  const auto& m = impl_->autograd;
  return m ? m->grad : Tensor();
}

void Tensor::set_grad(const Tensor& g) const {
  if (g.defined()) {
    CF_CHECK(g.shape() == shape(), ShapeError, "set_grad: gradient shape ", g.shape(),
             " does not match tensor shape ", shape());
    CF_CHECK(g.dtype() == dtype(), DTypeError, "set_grad: gradient dtype ", dtype_name(g.dtype()),
             " does not match tensor dtype ", dtype_name(dtype()));
  }
  autograd::meta(*this).grad = g;
}

bool Tensor::is_leaf() const {
  const auto& m = impl_->autograd;
  return !m || !m->grad_fn;
}

std::shared_ptr<autograd::Node> Tensor::grad_fn() const {
  const auto& m = impl_->autograd;
  return m ? m->grad_fn : nullptr;
}

void Tensor::retain_grad() const {
  CF_CHECK(requires_grad(), AutogradError,
           "retain_grad: the tensor does not require grad, so it will never have a gradient");
  if (is_leaf()) return;
  auto& m = *impl_->autograd;
  m.grad_fn->retained[m.output_nr] = impl_;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  autograd::backward({*this}, {gradient}, retain_graph);
}

Tensor Tensor::detach() const {
  return make_view(*this, shape(), strides(), storage_offset());
}

}  // namespace cf
