// nn::MoEFeedForward (see cformer/efficient_attention.h): router softmax, top-k routing with an
// optional expert capacity, one fc1/fc2 GEMM pair per expert over its gathered tokens, gated
// index_add back to token order; Switch's load-balancing loss and ST-MoE's router z-loss.
// Dimension letters: T tokens (all leading dims flattened), D embed_dim, F ffn_dim, E experts,
// K top_k, A kept assignments. Public ops only, as every layer.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "cformer/autograd.h"
#include "cformer/efficient_attention.h"
#include "util/check.h"

namespace cf::nn {
namespace {

MoEOptions checked(int64_t d, int64_t f, int64_t e, const MoEOptions& o, DType dtype) {
  CF_CHECK(dtype == DType::f32 || dtype == DType::f64, DTypeError,
           "MoEFeedForward: dtype must be f32 or f64, got ", dtype_name(dtype));
  CF_CHECK(d >= 1 && f >= 1 && e >= 1, ValueError,
           "MoEFeedForward: embed_dim, ffn_dim and num_experts must be >= 1, got ", d, ", ", f,
           " and ", e);
  CF_CHECK(o.top_k >= 1 && o.top_k <= e, ValueError, "MoEFeedForward: top_k must be in [1, ", e,
           "] (num_experts), got ", o.top_k);
  CF_CHECK(std::isfinite(o.capacity_factor) && o.capacity_factor >= 0.0, ValueError,
           "MoEFeedForward: capacity_factor must be finite and >= 0, got ", o.capacity_factor);
  return o;
}

// x (A, D) split along dim 0 into pieces of the given sizes by split_with_sizes nodes of at most
// 8 pieces (a Shape holds 8 sizes), nested when there are more: the backward is one cat per node,
// O(A D log8(E)), where a narrow per piece would zero-fill an (A, D) gradient E times.
std::vector<Tensor> split_rows(const Tensor& x, const std::vector<int64_t>& sizes) {
  constexpr size_t kFan = 8;
  if (sizes.size() <= kFan) return split_with_sizes(x, Shape(std::span<const int64_t>(sizes)), 0);
  const size_t per = (sizes.size() + kFan - 1) / kFan;  // sizes per chunk: at most kFan chunks
  std::vector<int64_t> chunk_rows;
  for (size_t i = 0; i < sizes.size(); i += per)
    chunk_rows.push_back(std::accumulate(
        sizes.begin() + static_cast<std::ptrdiff_t>(i),
        sizes.begin() + static_cast<std::ptrdiff_t>(std::min(i + per, sizes.size())), int64_t{0}));
  const std::vector<Tensor> chunks =
      split_with_sizes(x, Shape(std::span<const int64_t>(chunk_rows)), 0);
  std::vector<Tensor> out;
  for (size_t c = 0; c < chunks.size(); ++c) {
    const size_t b = c * per, e = std::min(b + per, sizes.size());
    const std::vector<Tensor> parts =
        split_rows(chunks[c], std::vector<int64_t>(sizes.begin() + static_cast<std::ptrdiff_t>(b),
                                                   sizes.begin() + static_cast<std::ptrdiff_t>(e)));
    out.insert(out.end(), parts.begin(), parts.end());
  }
  return out;
}

}  // namespace

MoEFeedForward::MoEFeedForward(int64_t d, int64_t f, int64_t e, Generator& gen, MoEOptions o,
                               DType dtype)
    : UnaryModule("MoEFeedForward"),
      embed_dim(d),
      ffn_dim(f),
      num_experts(e),
      options(checked(d, f, e, o, dtype)),
      expert_counts(static_cast<size_t>(e), 0) {
  router = register_module("router", std::make_shared<Linear>(d, e, false, gen, dtype));
  experts = register_module("experts", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < e; ++i)
    experts->push_back(
        std::make_shared<MLP>(d, f, d, gen, o.activation, 0.0, nullptr, true, dtype));
}

int64_t MoEFeedForward::expert_capacity(int64_t tokens) const {
  if (options.capacity_factor == 0.0) return 0;
  // The same double expression as the PyTorch twin, so both round alike.
  const double c = options.capacity_factor * static_cast<double>(tokens) *
                   static_cast<double>(options.top_k) / static_cast<double>(num_experts);
  return static_cast<int64_t>(std::ceil(c));
}

Tensor MoEFeedForward::forward(const Tensor& x) {
  CF_CHECK(x.defined() && x.dim() >= 1 && x.size(-1) == embed_dim, ShapeError,
           "MoEFeedForward: x must have shape (..., ", embed_dim, "), got ",
           x.defined() ? x.shape().str() : std::string("undefined"));
  const DType dtype = router->weight.dtype();
  CF_CHECK(x.dtype() == dtype, DTypeError, "MoEFeedForward: x must have the module's dtype ",
           dtype_name(dtype), ", got ", dtype_name(x.dtype()));
  const int64_t D = embed_dim, E = num_experts, K = options.top_k;
  const int64_t T = x.numel() / D;
  std::fill(expert_counts.begin(), expert_counts.end(), 0);
  dropped = 0;
  if (T == 0) {
    aux_loss = zeros(Shape{}, dtype);
    z_loss = zeros(Shape{}, dtype);
    return zeros(x.shape(), dtype);
  }
  const Tensor x2 = x.reshape(Shape{T, D});
  const Tensor logits = router->forward(x2);  // (T, E)
  const Tensor probs = softmax(logits, -1);
  const ValuesIndices top = topk(probs, K, -1);  // (T, K) each, largest first
  Tensor gates = top.values;
  if (options.normalize_gates) gates = div(gates, sum(gates, {-1}, true));

  // Routing: expert e takes the assignments (t, j) listed in tokens[e] / slots[e] (slot t*K + j
  // of gates), first choices of all tokens first, then second choices, each in token order.
  const std::vector<int64_t> choice = top.indices.contiguous().to_vector<int64_t>();  // (T*K)
  const int64_t capacity = expert_capacity(T);
  std::vector<std::vector<int64_t>> tokens(static_cast<size_t>(E)), slots(static_cast<size_t>(E));
  for (int64_t j = 0; j < K; ++j)
    for (int64_t t = 0; t < T; ++t) {
      const int64_t e = choice[static_cast<size_t>(t * K + j)];
      auto& list = tokens[static_cast<size_t>(e)];
      if (capacity > 0 && static_cast<int64_t>(list.size()) >= capacity) {
        ++dropped;
        continue;
      }
      list.push_back(t);
      slots[static_cast<size_t>(e)].push_back(t * K + j);
    }
  std::vector<int64_t> all_tokens, all_slots;
  all_tokens.reserve(static_cast<size_t>(T * K));
  all_slots.reserve(static_cast<size_t>(T * K));
  for (int64_t e = 0; e < E; ++e) {
    expert_counts[static_cast<size_t>(e)] =
        static_cast<int64_t>(tokens[static_cast<size_t>(e)].size());
    all_tokens.insert(all_tokens.end(), tokens[static_cast<size_t>(e)].begin(),
                      tokens[static_cast<size_t>(e)].end());
    all_slots.insert(all_slots.end(), slots[static_cast<size_t>(e)].begin(),
                     slots[static_cast<size_t>(e)].end());
  }

  Tensor out = zeros(Shape{T, D}, dtype);
  if (!all_tokens.empty()) {
    const int64_t A = static_cast<int64_t>(all_tokens.size());
    const Tensor token_index = from_vector(all_tokens);  // (A)
    const Tensor xs = index_select(x2, 0, token_index);  // (A, D), grouped by expert
    const std::vector<Tensor> groups = split_rows(xs, expert_counts);
    std::vector<Tensor> ys;
    for (int64_t e = 0; e < E; ++e)
      if (expert_counts[static_cast<size_t>(e)] > 0)
        ys.push_back(
            experts->at<MLP>(static_cast<size_t>(e))->forward(groups[static_cast<size_t>(e)]));
    const Tensor y = ys.size() == 1 ? ys[0] : cat(ys, 0);  // (A, D)
    const Tensor g = index_select(gates.reshape(Shape{T * K}), 0, from_vector(all_slots));  // (A)
    out = index_add(out, 0, token_index, mul(y, g.view(Shape{A, 1})));
  }

  // f_e: fraction of tokens whose top-1 expert is e (a count: no gradient); P_e: mean probability.
  std::vector<double> top1(static_cast<size_t>(E), 0.0);
  for (int64_t t = 0; t < T; ++t)
    top1[static_cast<size_t>(choice[static_cast<size_t>(t * K)])] += 1.0;
  for (double& v : top1) v /= static_cast<double>(T);
  const Tensor f = from_vector(top1).to(dtype);
  aux_loss = mul(sum(mul(f, mean(probs, {0}))), static_cast<double>(E));
  z_loss = mean(pow(logsumexp(logits, {-1}), 2.0));
  return out.view(x.shape());
}

std::string MoEFeedForward::extra_repr() const {
  return "embed_dim=" + std::to_string(embed_dim) + ", ffn_dim=" + std::to_string(ffn_dim) +
         ", num_experts=" + std::to_string(num_experts) +
         ", top_k=" + std::to_string(options.top_k) +
         ", capacity_factor=" + std::to_string(options.capacity_factor) +
         ", normalize_gates=" + (options.normalize_gates ? "true" : "false") +
         ", activation=" + activation_name(options.activation);
}

}  // namespace cf::nn
