// Autograd nodes, saved tensors, and the helpers ops use to record history.
// A node is created by an op when grad mode is on and an input requires grad. It holds one
// edge per op input (to the producer's node, a leaf's accumulator, or nothing) and the backward
// function, which receives one gradient per op output (undefined: none flowed) and returns one
// per op input (undefined: zero / not needed). The engine accumulates; backwards never do.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "cformer/autograd.h"
#include "cformer/tensor.h"

namespace cf::autograd {

using TensorList = std::vector<Tensor>;
/// needs[i]: whether input i wants a gradient; backwards skip the work for the others.
using Needs = std::vector<bool>;
using BackwardFn = std::function<TensorList(const TensorList& grad_outputs, const Needs& needs)>;

class Node;

struct Edge {
  std::shared_ptr<Node> fn;  // null: this input needs no gradient
  uint32_t output_nr = 0;    // which output of fn the input is
};

/// What the engine checks a returned gradient against.
struct InputMeta {
  Shape shape;
  DType dtype = DType::f32;
};

class Node {
 public:
  Node(std::string_view name, uint32_t num_outputs);
  const char* name() const { return name_; }
  uint32_t num_outputs() const { return num_outputs_; }
  uint64_t sequence_nr() const { return sequence_nr_; }

  std::vector<Edge> next_edges;         // one per op input
  std::vector<InputMeta> input_meta;    // one per op input
  BackwardFn fn;                        // empty once released
  bool released = false;
  std::weak_ptr<TensorImpl> leaf;       // set on a leaf's gradient accumulator only
  std::vector<std::weak_ptr<TensorImpl>> retained;  // outputs whose grad is kept (retain_grad)

  bool is_accumulator() const { return !leaf.expired() || is_accumulator_; }
  void mark_accumulator() { is_accumulator_ = true; }

 private:
  const char* name_;
  uint32_t num_outputs_;
  uint64_t sequence_nr_;
  bool is_accumulator_ = false;
};

struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;       // null for leaves
  uint32_t output_nr = 0;
  std::weak_ptr<Node> grad_accumulator;  // leaves: the node that accumulates into .grad
};

/// A tensor kept for backward, with the storage version it had when saved. get() throws
/// AutogradError when the tensor was modified in place since.
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t);
  const Tensor& get() const;
  bool defined() const { return data_.defined(); }

 private:
  Tensor data_;  // a detached alias: no history, so no reference cycle through grad_fn
  uint64_t version_ = 0;
};
inline SavedTensor save(const Tensor& t) { return SavedTensor(t); }

/// True when grad mode is on and a defined input requires grad.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
inline bool needs_grad(const Tensor& a) { return needs_grad({&a}); }
inline bool needs_grad(const Tensor& a, const Tensor& b) { return needs_grad({&a, &b}); }
inline bool needs_grad(const Tensor& a, const Tensor& b, const Tensor& c) {
  return needs_grad({&a, &b, &c});
}
bool needs_grad(const TensorList& inputs);

/// Records a node named `name` (a static string) for an op with these inputs (undefined allowed)
/// and outputs; the outputs get it as grad_fn and require grad. Call only when needs_grad().
std::shared_ptr<Node> record(const char* name, const TensorList& inputs,
                             const std::vector<Tensor*>& outputs, BackwardFn fn);
inline std::shared_ptr<Node> record(const char* name, const TensorList& inputs, Tensor& output,
                                    BackwardFn fn) {
  return record(name, inputs, std::vector<Tensor*>{&output}, std::move(fn));
}

/// The edge a gradient for t flows along: its grad_fn, or its accumulator when t is a leaf.
Edge gradient_edge(const Tensor& t);

/// Throws AutogradError when an in-place op named `op` would write into a tensor whose history
/// autograd would need (see Note [in-place ops]).
void check_inplace(const char* op, const Tensor& self, std::initializer_list<const Tensor*> others);

}  // namespace cf::autograd
