// The backward engine: collects the graph reachable from the roots, counts each node's
// dependencies, then runs nodes in topological order (most recently created first among the
// ready ones), summing the gradients that reach each node output. Accumulators add into .grad.
#include <queue>
#include <unordered_map>

#include "autograd/node.h"
#include "cformer/ops.h"
#include "util/check.h"

namespace cf::autograd {


namespace {

struct Later {
  bool operator()(const Node* a, const Node* b) const { return a->sequence_nr() < b->sequence_nr(); }
};

void accumulate(Tensor& slot, const Tensor& g) {
  slot = slot.defined() ? add(slot, g) : g;
}

bool can_steal(const Tensor& g) {
  return g.impl_ptr().use_count() == 1 && g.impl()->storage.use_count() == 1 && g.is_contiguous();
}

void accumulate_into_leaf(TensorImpl* leaf_impl, const Tensor& g) {
  auto& m = leaf_impl->autograd;
  CF_ASSERT(m != nullptr);
  if (!m->grad.defined()) {
    m->grad = can_steal(g) ? g : g.detach().clone();
  } else {
    m->grad.add_(g);
  }
}

}  // namespace

void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
  CF_CHECK(grads.empty() || grads.size() == roots.size(), ValueError, "backward: got ",
           roots.size(), " roots but ", grads.size(), " gradients");
  std::unordered_map<Node*, TensorList> buffers;
  std::unordered_map<Node*, int> deps;
  std::vector<std::shared_ptr<Node>> root_nodes;

  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    CF_CHECK(r.defined(), ValueError, "backward: root ", i, " is undefined");
    CF_CHECK(r.requires_grad(), AutogradError, "backward: root ", i, " of shape ", r.shape(),
             " does not require grad and has no grad_fn");
    Tensor g = grads.empty() ? Tensor() : grads[i];
    if (!g.defined()) {
      CF_CHECK(r.numel() == 1, AutogradError, "backward: a gradient can be implied only for a ",
               "one-element output; root ", i, " has shape ", r.shape());
      g = ones(r.shape(), r.dtype());
    }
    CF_CHECK(g.shape() == r.shape(), ShapeError, "backward: gradient ", i, " has shape ", g.shape(),
             ", root has shape ", r.shape());
    CF_CHECK(g.dtype() == r.dtype(), DTypeError, "backward: gradient ", i, " has dtype ",
             dtype_name(g.dtype()), ", root has dtype ", dtype_name(r.dtype()));
    Edge e = gradient_edge(r);
    auto& buf = buffers[e.fn.get()];
    buf.resize(e.fn->num_outputs());
    accumulate(buf[e.output_nr], g.detach());
    root_nodes.push_back(e.fn);
  }

  // Dependencies: how many edges of the reachable graph point at each node.
  std::vector<Node*> stack;
  std::unordered_map<Node*, bool> seen;
  for (auto& n : root_nodes)
    if (!seen[n.get()]) {
      seen[n.get()] = true;
      stack.push_back(n.get());
    }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges) {
      if (!e.fn) continue;
      deps[e.fn.get()]++;
      if (!seen[e.fn.get()]) {
        seen[e.fn.get()] = true;
        stack.push_back(e.fn.get());
      }
    }
  }

  NoGradGuard no_grad;
  std::priority_queue<Node*, std::vector<Node*>, Later> ready;
  for (auto& [n, b] : buffers)
    if (deps[n] == 0) ready.push(n);

  while (!ready.empty()) {
    Node* node = ready.top();
    ready.pop();
    TensorList in = std::move(buffers[node]);
    buffers.erase(node);
    in.resize(node->num_outputs());

    if (node->is_accumulator()) {
      auto leaf = node->leaf.lock();
      if (leaf && in[0].defined()) accumulate_into_leaf(leaf.get(), in[0]);
      continue;
    }
    CF_CHECK(!node->released, AutogradError, "backward: trying to backward through the graph a ",
             "second time (node ", node->name(), "): its saved tensors were freed by the first ",
             "backward; pass retain_graph=true to the first backward to keep them");
    for (uint32_t k = 0; k < node->num_outputs(); ++k) {
      auto t = node->retained[k].lock();
      if (t && in[k].defined()) {
        auto& m = t->autograd;
        m->grad = m->grad.defined() ? add(m->grad, in[k]) : in[k].detach().clone();
      }
    }

    bool any = false;
    for (const Tensor& g : in) any = any || g.defined();
    TensorList out;
    if (any) {
      Needs needs(node->next_edges.size());
      for (size_t j = 0; j < needs.size(); ++j) needs[j] = node->next_edges[j].fn != nullptr;
      try {
        out = node->fn(in, needs);
      } catch (const AutogradError& e) {
        CF_THROW(AutogradError, "backward of ", node->name(), ": ", e.what());
      }
      CF_ASSERT(out.size() == node->next_edges.size(), "backward of ", node->name(), " returned ",
                out.size(), " gradients for ", node->next_edges.size(), " inputs");
    }
    if (!retain_graph) {
      node->fn = nullptr;
      node->released = true;
    }
    for (size_t j = 0; j < node->next_edges.size(); ++j) {
      const Edge& e = node->next_edges[j];
      if (!e.fn) continue;
      if (any && out[j].defined()) {
        const InputMeta& im = node->input_meta[j];
        CF_ASSERT(out[j].shape() == im.shape, "backward of ", node->name(), " returned a gradient of ",
                  "shape ", out[j].shape(), " for input ", j, " of shape ", im.shape);
        CF_ASSERT(out[j].dtype() == im.dtype, "backward of ", node->name(), " returned dtype ",
                  dtype_name(out[j].dtype()), " for input ", j, " of dtype ", dtype_name(im.dtype));
        auto& buf = buffers[e.fn.get()];
        buf.resize(e.fn->num_outputs());
        accumulate(buf[e.output_nr], out[j]);
      }
      if (--deps[e.fn.get()] == 0) ready.push(e.fn.get());
    }
  }
}

std::string grad_fn_name(const Tensor& t) {
  auto fn = t.defined() ? t.grad_fn() : nullptr;
  return fn ? fn->name() : "";
}

}  // namespace cf::autograd
