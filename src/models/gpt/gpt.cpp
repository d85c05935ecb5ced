#include "cformer/models/gpt.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <cmath>
#include <numeric>

#include <nlohmann/json.hpp>

#include "cformer/autograd.h"
#include "cformer/io.h"
#include "cformer/ops.h"
#include "util/check.h"

namespace cf::models {

void GptConfig::validate() const {
  CF_CHECK(n_layer >= 1, ValueError, "gpt config: n_layer must be >= 1, got ", n_layer);
  CF_CHECK(n_head >= 1, ValueError, "gpt config: n_head must be >= 1, got ", n_head);
  CF_CHECK(n_embd >= 1 && n_embd % n_head == 0, ValueError, "gpt config: n_embd (", n_embd,
           ") must be a positive multiple of n_head (", n_head, ")");
  CF_CHECK(block_size >= 1, ValueError, "gpt config: block_size must be >= 1, got ", block_size);
  CF_CHECK(vocab_size >= 1, ValueError, "gpt config: vocab_size must be >= 1, got ", vocab_size);
  CF_CHECK(dropout >= 0.0 && dropout < 1.0, ValueError, "gpt config: dropout must be in [0, 1), got ",
           dropout);
  attention.validate();
  CF_CHECK(attention.kind != "longformer", ValueError,
           "gpt config: attention kind 'longformer' has no causal form; GPT needs one (use dense, "
           "memory_efficient, block_sparse with the fixed or strided layout, or performer)");
  CF_CHECK(attention.kind != "block_sparse" || attention.sparse_layout != "bigbird", ValueError,
           "gpt config: the bigbird sparse layout has no causal form; GPT needs one (use the "
           "fixed or strided layout)");
}

std::string GptConfig::to_json() const {
  nlohmann::json j{{"n_layer", n_layer},       {"n_head", n_head},         {"n_embd", n_embd},
                   {"block_size", block_size}, {"vocab_size", vocab_size}, {"dropout", dropout},
                   {"bias", bias}, {"attention", nlohmann::json::parse(attention.to_json())}};
  return j.dump();
}

GptConfig GptConfig::from_json(const std::string& text) {
  GptConfig c;
  try {
    auto j = nlohmann::json::parse(text);
    c.n_layer = j.at("n_layer");
    c.n_head = j.at("n_head");
    c.n_embd = j.at("n_embd");
    c.block_size = j.at("block_size");
    c.vocab_size = j.at("vocab_size");
    c.dropout = j.at("dropout");
    c.bias = j.at("bias");
    if (j.contains("attention")) c.attention = nn::AttentionKernelOptions::from_json(j.at("attention").dump());
  } catch (const nlohmann::json::exception& e) {
    CF_THROW(FormatError, "gpt config: ", e.what());
  }
  try {
    c.validate();
  } catch (const ValueError& e) {
    CF_THROW(FormatError, e.what());
  }
  return c;
}

namespace {

// A node of the parameter hierarchy (wte, h.0.attn.c_attn, ...): GPT keeps direct handles to
// its tensors and registers each under its dotted Hugging Face path through these nodes.
class Node : public nn::Module {
 public:
  explicit Node(const std::string& type) : nn::Module(type) {}
  Tensor param(const std::string& name, Tensor t) { return register_parameter(name, std::move(t)); }
  std::shared_ptr<Node> child(const std::string& name, const std::string& type) {
    for (const auto& [n, m] : named_children())
      if (n == name) return std::static_pointer_cast<Node>(m);
    return register_module(name, std::make_shared<Node>(type));
  }
};

// The HF class name of the module at a path, for summary().
std::string node_type(const std::string& path) {
  if (path == "h") return "ModuleList";
  if (path.rfind("h.", 0) == 0 && path.find('.', 2) == std::string::npos) return "GPT2Block";
  const std::string last = path.substr(path.rfind('.') + 1);
  if (last == "wte" || last == "wpe") return "Embedding";
  if (last.rfind("ln", 0) == 0) return "LayerNorm";
  if (last == "attn") return "GPT2Attention";
  if (last == "mlp") return "GPT2MLP";
  return "Conv1D";
}

// The Node at a dotted path prefix ("h.0.attn") below root, created (with its parents) when
// missing.
std::shared_ptr<Node> node_at(nn::Module& root, const std::string& prefix) {
  std::shared_ptr<Node> node;
  size_t start = 0;
  while (start <= prefix.size()) {
    const size_t next = std::min(prefix.find('.', start), prefix.size());
    const std::string name = prefix.substr(start, next - start), path = prefix.substr(0, next);
    if (!node) {
      for (const auto& [n, m] : root.named_children())
        if (n == name) node = std::static_pointer_cast<Node>(m);
      if (!node) node = root.register_module(name, std::make_shared<Node>(node_type(path)));
    } else {
      node = node->child(name, node_type(path));
    }
    start = next + 1;
  }
  return node;
}

}  // namespace

Tensor Gpt::register_path(const std::string& path, Tensor t) {
  const size_t dot = path.rfind('.');
  if (dot == std::string::npos) return register_parameter(path, std::move(t));
  return node_at(*this, path.substr(0, dot))->param(path.substr(dot + 1), std::move(t));
}

void Gpt::register_module_path(const std::string& path, std::shared_ptr<nn::Module> m) {
  const size_t dot = path.rfind('.');
  CF_ASSERT(dot != std::string::npos, "gpt: a module path has a parent");
  node_at(*this, path.substr(0, dot))->add_module(path.substr(dot + 1), std::move(m));
}

Gpt::Gpt(const GptConfig& config, uint64_t seed)
    : nn::Module("GPT"), config_(config), dropout_gen_(seed + 1) {
  config_.validate();
  Generator gen(seed);
  const int64_t C = config_.n_embd, V = config_.vocab_size;
  const double proj_std = 0.02 / std::sqrt(2.0 * static_cast<double>(config_.n_layer));
  auto normal = [&gen](const Shape& s, double std) {
    Tensor t = empty(s);
    init::normal_(t, 0.0, std, gen);
    return t;
  };
  auto bias = [this](int64_t n) { return config_.bias ? zeros(Shape{n}) : Tensor(); };
  // The kernels draw (performer projection, nothing else in a causal model) from their own
  // stream, so a seed gives the same weights whatever the kernel.
  Generator kernel_gen(seed + 2);
  wte_ = register_path("wte.weight", normal(Shape{V, C}, 0.02));
  wpe_ = register_path("wpe.weight", normal(Shape{config_.block_size, C}, 0.02));
  for (int64_t l = 0; l < config_.n_layer; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    Block b;
    b.ln_1_w = register_path(p + "ln_1.weight", ones(Shape{C}));
    b.c_attn_w = register_path(p + "attn.c_attn.weight", normal(Shape{C, 3 * C}, 0.02));
    b.c_proj_w = register_path(p + "attn.c_proj.weight", normal(Shape{C, C}, proj_std));
    b.ln_2_w = register_path(p + "ln_2.weight", ones(Shape{C}));
    b.c_fc_w = register_path(p + "mlp.c_fc.weight", normal(Shape{C, 4 * C}, 0.02));
    b.mlp_proj_w = register_path(p + "mlp.c_proj.weight", normal(Shape{4 * C, C}, proj_std));
    if (config_.bias) {
      b.ln_1_b = register_path(p + "ln_1.bias", bias(C));
      b.c_attn_b = register_path(p + "attn.c_attn.bias", bias(3 * C));
      b.c_proj_b = register_path(p + "attn.c_proj.bias", bias(C));
      b.ln_2_b = register_path(p + "ln_2.bias", bias(C));
      b.c_fc_b = register_path(p + "mlp.c_fc.bias", bias(4 * C));
      b.mlp_proj_b = register_path(p + "mlp.c_proj.bias", bias(C));
    }
    b.kernel = std::make_shared<nn::AttentionKernel>(config_.attention, config_.n_head,
                                                     C / config_.n_head, config_.block_size,
                                                     /*causal=*/true, kernel_gen);
    register_module_path(p + "attn.kernel", b.kernel);
    blocks_.push_back(b);
  }
  ln_f_w_ = register_path("ln_f.weight", ones(Shape{C}));
  if (config_.bias) ln_f_b_ = register_path("ln_f.bias", bias(C));
}

std::vector<nn::AttentionKernel*> Gpt::attention_kernels() const {
  std::vector<nn::AttentionKernel*> k;
  for (const Block& b : blocks_) k.push_back(b.kernel.get());
  return k;
}

namespace {

// x (B, T, in) @ w (in, out) + b: HF's Conv1D. linear takes w^T (column-major) without a
// copy and fuses the bias into the GEMM.
Tensor conv1d(const Tensor& x, const Tensor& w, const Tensor& b) { return linear(x, w.t(), b); }

}  // namespace

Tensor Gpt::block_forward(const Block& b, const Tensor& x, KvCache* cache, size_t layer) {
  const int64_t B = x.size(0), T = x.size(1), C = config_.n_embd, NH = config_.n_head;
  const int64_t HS = C / NH;
  const double p = is_training() ? config_.dropout : 0.0;
  const double attn_p = config_.attention.kind == "dense" ? p : 0.0;  // see GptConfig::dropout
  Tensor h = layer_norm(x, Shape{C}, b.ln_1_w, b.ln_1_b);
  std::vector<Tensor> qkv = split(conv1d(h, b.c_attn_w, b.c_attn_b), C, 2);
  auto heads = [B, T, NH, HS](const Tensor& t) {
    return t.view(Shape{B, T, NH, HS}).transpose(1, 2);
  };
  Tensor q = heads(qkv[0]), k = heads(qkv[1]), v = heads(qkv[2]);
  Tensor y;
  if (cache) {
    // Append this step's keys/values, then attend over everything cached so far (exact
    // kernels only: generate() never passes a cache otherwise).
    const int64_t t0 = cache->len;
    cache->k[layer].narrow(2, t0, T).copy_(k);
    cache->v[layer].narrow(2, t0, T).copy_(v);
    Tensor ks = cache->k[layer].narrow(2, 0, t0 + T), vs = cache->v[layer].narrow(2, 0, t0 + T);
    y = scaled_dot_product_attention(q, ks, vs, Tensor(), 0.0, /*is_causal=*/t0 == 0 && T > 1);
  } else {
    y = b.kernel->forward(q, k, v, Tensor(), attn_p, &dropout_gen_);
  }
  y = conv1d(y.transpose(1, 2).reshape(Shape{B, T, C}), b.c_proj_w, b.c_proj_b);
  Tensor x1 = add(x, dropout(y, p, is_training(), dropout_gen_));
  Tensor m = gelu(conv1d(layer_norm(x1, Shape{C}, b.ln_2_w, b.ln_2_b), b.c_fc_w, b.c_fc_b),
                  GeluApproximation::tanh);
  m = conv1d(m, b.mlp_proj_w, b.mlp_proj_b);
  return add(x1, dropout(m, p, is_training(), dropout_gen_));
}

Tensor Gpt::hidden(const Tensor& idx, KvCache* cache) {
  CF_CHECK(idx.dtype() == DType::i64 && idx.dim() == 2, ShapeError,
           "gpt: input must be (B, T) i64 token ids, got ", idx.str());
  const int64_t T = idx.size(1), t0 = cache ? cache->len : 0;
  CF_CHECK(T >= 1 && t0 + T <= config_.block_size, ShapeError, "gpt: sequence of ", t0 + T,
           " tokens exceeds block_size ", config_.block_size);
  Tensor pos = arange(static_cast<double>(t0), static_cast<double>(t0 + T), 1.0, DType::i64);
  Tensor x = add(embedding(idx, wte_), embedding(pos, wpe_));
  x = dropout(x, is_training() ? config_.dropout : 0.0, is_training(), dropout_gen_);
  for (size_t l = 0; l < blocks_.size(); ++l) x = block_forward(blocks_[l], x, cache, l);
  if (cache) cache->len += T;
  return layer_norm(x, Shape{config_.n_embd}, ln_f_w_, ln_f_b_);
}

Tensor Gpt::forward(const Tensor& idx) { return linear(hidden(idx, nullptr), wte_); }

Tensor Gpt::loss(const Tensor& idx, const Tensor& targets) {
  CF_CHECK(targets.shape() == idx.shape(), ShapeError, "gpt: targets shape ", targets.shape(),
           " differs from input shape ", idx.shape());
  Tensor logits = forward(idx);
  return cross_entropy(logits.view(Shape{-1, config_.vocab_size}), targets.reshape(Shape{-1}));
}

Tensor Gpt::next_logits(const std::vector<int64_t>& context, KvCache* cache, int64_t new_tokens) {
  std::vector<int64_t> ids(context.end() - new_tokens, context.end());
  Tensor idx = from_vector(ids, Shape{1, new_tokens});
  Tensor h = hidden(idx, cache).select(1, new_tokens - 1);  // (1, C)
  return linear(h, wte_).select(0, 0);                       // (V)
}

std::vector<int64_t> Gpt::generate(const std::vector<int64_t>& prompt, const GptSampling& s,
                                   Generator& gen) {
  CF_CHECK(!prompt.empty(), ValueError, "generate: the prompt is empty");
  for (int64_t t : prompt)
    CF_CHECK(t >= 0 && t < config_.vocab_size, IndexError, "generate: prompt token ", t,
             " is outside the vocabulary [0, ", config_.vocab_size, ")");
  NoGradGuard ng;
  const bool was_training = is_training();
  eval();
  const int64_t bs = config_.block_size, C = config_.n_embd, NH = config_.n_head;
  std::vector<int64_t> seq = prompt;
  // Cached keys with dense attention over them reproduce only an exact kernel: block_sparse and
  // performer rerun the context through the kernel at every step.
  const bool use_cache = s.use_kv_cache && config_.attention.exact();
  KvCache cache;
  if (use_cache)
    for (int64_t l = 0; l < config_.n_layer; ++l) {
      cache.k.push_back(empty(Shape{1, NH, bs, C / NH}));
      cache.v.push_back(empty(Shape{1, NH, bs, C / NH}));
    }
  for (int64_t i = 0; i < s.max_new_tokens; ++i) {
    Tensor logits;
    const int64_t ctx = std::min<int64_t>(static_cast<int64_t>(seq.size()), bs);
    if (!use_cache) {
      std::vector<int64_t> window(seq.end() - ctx, seq.end());
      logits = next_logits(window, nullptr, ctx);
    } else if (cache.len == 0 || cache.len == bs) {
      // First step, or the window is full: (re)encode the last `ctx` tokens from position 0,
      // exactly what the cache-free path computes.
      cache.len = 0;
      std::vector<int64_t> window(seq.end() - ctx, seq.end());
      logits = next_logits(window, &cache, ctx);
    } else {
      logits = next_logits(seq, &cache, 1);
    }
    seq.push_back(sample_token(logits, s, gen));
  }
  train(was_training);
  return std::vector<int64_t>(seq.begin() + static_cast<int64_t>(prompt.size()), seq.end());
}

std::unique_ptr<Gpt> load_hf_gpt2(const std::string& path, std::optional<int64_t> n_head) {
  io::NamedTensors nt = io::load_safetensors(path);
  nn::StateDict state;
  Tensor lm_head;
  for (auto& [name, t] : nt.tensors) {
    std::string n = name.rfind("transformer.", 0) == 0 ? name.substr(12) : name;
    if (n == "lm_head.weight") {
      lm_head = t;
      continue;
    }
    const bool mask_buffer = n.size() > 9 && (n.ends_with(".attn.bias") || n.ends_with(".attn.masked_bias"));
    if (mask_buffer) continue;
    state.emplace_back(n, t);
  }
  auto find = [&state, &path](const std::string& n) -> const Tensor& {
    for (const auto& [k, t] : state)
      if (k == n) return t;
    CF_THROW(FormatError, path, ": not a GPT-2 checkpoint: no tensor '", n, "'");
  };
  GptConfig c;
  const Tensor& wte = find("wte.weight");
  const Tensor& wpe = find("wpe.weight");
  CF_CHECK(wte.dim() == 2 && wpe.dim() == 2 && wte.size(1) == wpe.size(1), FormatError, path,
           ": wte ", wte.shape(), " and wpe ", wpe.shape(), " do not fit together");
  c.vocab_size = wte.size(0);
  c.n_embd = wte.size(1);
  c.block_size = wpe.size(0);
  c.n_layer = 0;
  for (const auto& [k, t] : state)
    if (k.rfind("h.", 0) == 0 && k.ends_with(".ln_1.weight")) ++c.n_layer;
  c.bias = false;
  for (const auto& [k, t] : state) c.bias = c.bias || k == "h.0.attn.c_attn.bias";
  if (n_head) {
    c.n_head = *n_head;
  } else {
    const std::filesystem::path cfg_path = std::filesystem::path(path).parent_path() / "config.json";
    std::ifstream f(cfg_path);
    CF_CHECK(f.good(), IoError, path, ": n_head is not in the weights; put the model's config.json "
             "beside it or pass n_head");
    try {
      nlohmann::json j = nlohmann::json::parse(f);
      c.n_head = j.at("n_head");
      CF_CHECK(std::fabs(j.value("layer_norm_epsilon", 1e-5) - 1e-5) < 1e-12, FormatError,
               cfg_path.string(), ": layer_norm_epsilon other than 1e-5 is not supported");
    } catch (const nlohmann::json::exception& e) {
      CF_THROW(FormatError, cfg_path.string(), ": ", e.what());
    }
  }
  auto model = std::make_unique<Gpt>(c, 0);
  model->load_state_dict(state, true);
  if (lm_head.defined()) {
    CF_CHECK(lm_head.shape() == wte.shape() && max(abs(sub(lm_head.to(DType::f32), wte.to(DType::f32)))).item() == 0.0,
             FormatError, path, ": lm_head.weight is not tied to wte.weight; untied heads are not supported");
  }
  return model;
}

int64_t sample_token(const Tensor& logits, const GptSampling& s, Generator& gen) {
  CF_CHECK(s.temperature >= 0.0, ValueError, "sampling: temperature must be >= 0, got ", s.temperature);
  CF_CHECK(s.top_k >= 0, ValueError, "sampling: top_k must be >= 0, got ", s.top_k);
  CF_CHECK(s.top_p > 0.0 && s.top_p <= 1.0, ValueError, "sampling: top_p must be in (0, 1], got ", s.top_p);
  std::vector<double> l = logits.to(DType::f64).contiguous().to_vector<double>();
  const int64_t V = static_cast<int64_t>(l.size());
  if (s.temperature == 0.0) return std::max_element(l.begin(), l.end()) - l.begin();
  std::vector<int64_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&l](int64_t a, int64_t b) { return l[a] > l[b]; });
  int64_t keep = s.top_k > 0 ? std::min(s.top_k, V) : V;
  std::vector<double> p(keep);
  const double mx = l[order[0]];
  double z = 0.0;
  for (int64_t i = 0; i < keep; ++i) z += (p[i] = std::exp((l[order[i]] - mx) / s.temperature));
  if (s.top_p < 1.0) {  // smallest prefix whose probability reaches top_p
    double c = 0.0;
    int64_t n = 0;
    while (n < keep) {
      c += p[n++] / z;
      if (c >= s.top_p) break;
    }
    keep = n;
    z = 0.0;
    for (int64_t i = 0; i < keep; ++i) z += p[i];
  }
  const double u = rand(Shape{1}, gen, DType::f64).item() * z;
  double c = 0.0;
  for (int64_t i = 0; i < keep; ++i) {
    c += p[i];
    if (u < c) return order[i];
  }
  return order[keep - 1];
}

}  // namespace cf::models
