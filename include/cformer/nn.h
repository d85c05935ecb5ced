// Modules (torch.nn): parameters and buffers under the PyTorch / Hugging Face dotted names
// ("h.0.attn.c_attn.weight"), submodules held by std::shared_ptr, train/eval, state_dict and a
// strict load_state_dict that names every missing, unexpected or mis-shaped key in one error.
// Layers call public ops only (cformer/ops.h), so they run wherever the ops run.
// Dimension letters: N batch, L target (query) length, S source (key) length, E embedding dim,
// H heads. Sequence-first (L, N, E) unless batch_first, as in torch.nn.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cformer/ops.h"
#include "cformer/random.h"
#include "cformer/tensor.h"

namespace cf::nn {

using NamedTensor = std::pair<std::string, Tensor>;
/// Ordered (name, tensor) pairs; io::NamedTensors::tensors has this type, so a safetensors file
/// loads straight into load_state_dict.
using StateDict = std::vector<NamedTensor>;

/// Keys that did not match, from a non-strict load_state_dict.
struct LoadResult {
  std::vector<std::string> missing_keys;
  std::vector<std::string> unexpected_keys;
};

/// The base of every layer. Not copyable; share it through std::shared_ptr.
class Module {
 public:
  explicit Module(std::string type_name);
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// "Linear", "MultiheadAttention", ...
  const std::string& type_name() const { return type_name_; }
  /// Configuration shown by summary(), e.g. "in_features=768, out_features=3072, bias=true".
  virtual std::string extra_repr() const { return ""; }

  // ---- registration (names: non-empty, no '.', unique within the module)
  /// Registers value as a parameter; it becomes a leaf that requires grad (when requires_grad
  /// and floating). An undefined value reserves the name (torch's None): it is skipped by
  /// named_parameters and state_dict until a tensor is assigned. Returns a reference to the
  /// registered handle, stable for the module's lifetime: layers keep it as their member, so
  /// assigning to the member replaces the parameter (weight tying:
  /// lm_head->weight = wte->weight). Throws ValueError on a bad or duplicate name.
  Tensor& register_parameter(const std::string& name, Tensor value, bool requires_grad = true);
  /// Registers a buffer (state that is not trained). Persistent buffers are part of state_dict.
  Tensor& register_buffer(const std::string& name, Tensor value, bool persistent = true);
  /// Registers a submodule under name and returns it.
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_module(name, m);
    return m;
  }
  void add_module(const std::string& name, std::shared_ptr<Module> module);

  // ---- mode
  /// Sets training mode on this module and every submodule.
  void train(bool mode = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // ---- traversal (own entries first in registration order, then each child's, as torch)
  /// Parameters with dotted names; a tensor registered under two names is listed once.
  StateDict named_parameters(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  /// Every buffer (persistent or not) with dotted names.
  StateDict named_buffers(bool recurse = true) const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const {
    return children_;
  }
  /// This module (name "") and every descendant, depth first.
  std::vector<std::pair<std::string, const Module*>> named_modules() const;

  // ---- state
  /// Parameters and persistent buffers (tensors shared with the module, not copies).
  StateDict state_dict() const;
  /// Copies every tensor of state into the module in place (no autograd history). Throws one
  /// ValueError listing every problem by name: keys missing from state or unexpected in it
  /// (only when strict), and wrong shapes or dtypes and duplicated keys (always). Nothing is
  /// copied unless every check passes. Returns the unmatched keys of a non-strict load.
  LoadResult load_state_dict(const StateDict& state, bool strict = true);

  /// Number of parameter elements (each shared tensor once).
  int64_t num_parameters(bool trainable_only = false) const;
  /// One line per module: name, type, configuration, own and total parameter counts.
  std::string summary() const;
  /// Clears (set_to_none) or zeroes every parameter's gradient.
  void zero_grad(bool set_to_none = true);

 private:
  struct Entry {
    std::string name;
    Tensor tensor;
    bool persistent = true;
  };
  void check_new_name(const std::string& name, const char* what) const;
  void collect(const std::string& prefix, bool recurse, bool params, bool persistent_only,
               StateDict& out) const;
  void summary_lines(const std::string& name, int depth, std::string& out) const;

  std::string type_name_;
  bool training_ = true;
  std::deque<Entry> params_;  // deque: references to entries stay valid as more are added
  std::deque<Entry> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

/// A module with one tensor in and one out; what Sequential chains.
class UnaryModule : public Module {
 public:
  using Module::Module;
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
};

// ======================================================================= layers

/// y = x W^T + b (torch.nn.Linear). weight (out, in): kaiming_uniform(a = sqrt(5)), i.e.
/// uniform(-1/sqrt(in), 1/sqrt(in)); bias (out): uniform(-1/sqrt(in), 1/sqrt(in)).
/// x (..., in) -> (..., out). Throws ShapeError when x's last dim is not in_features.
class Linear : public UnaryModule {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias, Generator& gen,
         DType dtype = DType::f32);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int64_t in_features, out_features;
  Tensor& weight;  // (out, in)
  Tensor& bias;    // (out) or undefined
};

/// Rows of weight (num_embeddings, embedding_dim) picked by i64 indices of any shape
/// (torch.nn.Embedding). weight ~ normal(0, 1); the padding_idx row (negative counts from the end)
/// is zero and receives no gradient.
class Embedding : public UnaryModule {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, Generator& gen,
            std::optional<int64_t> padding_idx = std::nullopt, DType dtype = DType::f32);
  Tensor forward(const Tensor& indices) override;
  std::string extra_repr() const override;
  int64_t num_embeddings, embedding_dim;
  std::optional<int64_t> padding_idx;  // normalized to [0, num_embeddings)
  Tensor& weight;                      // (num_embeddings, embedding_dim)
};

/// torch.nn.LayerNorm over the trailing normalized_shape dims; weight ones, bias zeros.
class LayerNorm : public UnaryModule {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
                     bool bias = true, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  Shape normalized_shape;
  double eps;
  Tensor& weight;  // normalized_shape, or undefined
  Tensor& bias;    // normalized_shape, or undefined
};

/// torch.nn.RMSNorm: x / sqrt(mean(x^2) + eps) * weight. eps nullopt means the machine epsilon
/// of the input's dtype, as torch.
class RMSNorm : public UnaryModule {
 public:
  explicit RMSNorm(Shape normalized_shape, std::optional<double> eps = std::nullopt,
                   bool elementwise_affine = true, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  Shape normalized_shape;
  std::optional<double> eps;
  Tensor& weight;  // normalized_shape, or undefined
};

/// Zeroes elements with probability p in training and scales the rest by 1/(1-p); identity in
/// eval or when p == 0. gen (owned by the model, outliving this module) is required when p > 0.
/// Throws ValueError when p is outside [0, 1] or gen is missing.
class Dropout : public UnaryModule {
 public:
  explicit Dropout(double p = 0.5, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  double p;
  Generator* gen;
};

class GELU : public UnaryModule {
 public:
  explicit GELU(GeluApproximation approximate = GeluApproximation::none);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  GeluApproximation approximate;
};

class ReLU : public UnaryModule {
 public:
  ReLU() : UnaryModule("ReLU") {}
  Tensor forward(const Tensor& x) override { return relu(x); }
};

class SiLU : public UnaryModule {
 public:
  SiLU() : UnaryModule("SiLU") {}
  Tensor forward(const Tensor& x) override { return silu(x); }
};

enum class Activation { relu, gelu, gelu_tanh, silu };
/// "relu", "gelu", "gelu_tanh" (also "gelu_new", "gelu_pytorch_tanh"), "silu" (also "swish").
/// Throws ValueError naming the accepted names.
Activation parse_activation(const std::string& name);
const char* activation_name(Activation a);
Tensor apply_activation(const Tensor& x, Activation a);
std::shared_ptr<UnaryModule> make_activation(Activation a);

/// fc1 -> activation -> dropout -> fc2 (names fc1, act, drop, fc2). in -> hidden -> out.
class MLP : public UnaryModule {
 public:
  MLP(int64_t in_features, int64_t hidden_features, int64_t out_features, Generator& gen,
      Activation activation = Activation::gelu, double dropout = 0.0,
      Generator* dropout_gen = nullptr, bool bias = true, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Linear> fc1;
  std::shared_ptr<UnaryModule> act;
  std::shared_ptr<Dropout> drop;
  std::shared_ptr<Linear> fc2;
};

/// Applies its modules in order; they are named "0", "1", ... as in torch.nn.Sequential.
class Sequential : public UnaryModule {
 public:
  Sequential() : UnaryModule("Sequential") {}
  explicit Sequential(std::vector<std::shared_ptr<UnaryModule>> modules);
  void push_back(std::shared_ptr<UnaryModule> module);
  Tensor forward(const Tensor& x) override;
  size_t size() const { return layers_.size(); }
  /// Throws IndexError when i >= size().
  const std::shared_ptr<UnaryModule>& operator[](size_t i) const;

 private:
  std::vector<std::shared_ptr<UnaryModule>> layers_;
};

/// A list of submodules named "0", "1", ... (torch.nn.ModuleList).
class ModuleList : public Module {
 public:
  ModuleList() : Module("ModuleList") {}
  void push_back(std::shared_ptr<Module> module);
  size_t size() const { return items_.size(); }
  /// Throws IndexError when i >= size().
  const std::shared_ptr<Module>& operator[](size_t i) const;
  /// The i-th module as M; throws IndexError out of range, ValueError when it is not an M.
  template <class M>
  std::shared_ptr<M> at(size_t i) const {
    auto m = std::dynamic_pointer_cast<M>((*this)[i]);
    if (!m)
      throw ValueError("ModuleList: item " + std::to_string(i) + " is a " +
                       (*this)[i]->type_name() + ", not the requested type");
    return m;
  }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<std::shared_ptr<Module>> items_;
};

// ======================================================================= attention

struct MultiheadAttentionOptions {
  double dropout = 0.0;              ///< on the attention weights, in training
  bool bias = true;                  ///< in_proj_bias and out_proj.bias
  bool batch_first = false;          ///< (N, L, E) instead of (L, N, E)
  int64_t kdim = 0;                  ///< key features; 0 means embed_dim
  int64_t vdim = 0;                  ///< value features; 0 means embed_dim
  Generator* dropout_gen = nullptr;  ///< required when dropout > 0
};

struct AttentionOutput {
  Tensor output;   ///< like query: (L, N, E), (N, L, E) when batch_first, or (L, E)
  Tensor weights;  ///< (N, L, S), or (N, H, L, S) without averaging; undefined unless need_weights
};

/// torch.nn.MultiheadAttention with its parameter names: in_proj_weight (3E, E) (or
/// q_proj_weight, k_proj_weight (E, kdim), v_proj_weight (E, vdim) when kdim/vdim differ from E),
/// in_proj_bias (3E), out_proj.weight (E, E), out_proj.bias (E). Init as torch: xavier_uniform
/// projections, zero biases, out_proj.weight as Linear.
class MultiheadAttention : public Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, Generator& gen,
                     MultiheadAttentionOptions options = {}, DType dtype = DType::f32);
  /// query (L, N, E), key (S, N, kdim), value (S, N, vdim) (batch first or unbatched likewise).
  /// key_padding_mask (N, S) (or (S) unbatched): bool, true = ignore that key; or float, added.
  /// attn_mask (L, S) or (N*H, L, S): bool, true = NOT allowed to attend (torch.nn's
  /// convention, the opposite of scaled_dot_product_attention's); or float, added to the scores.
  /// is_causal adds the causal mask (key j > query i masked) to any other mask.
  /// need_weights returns the attention probabilities, averaged over heads when
  /// average_attn_weights. A query row with every key masked gives NaN, as in torch.
  /// Throws ShapeError naming the argument on wrong shapes, DTypeError on wrong mask dtypes.
  AttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value,
                          const Tensor& key_padding_mask = {}, bool need_weights = true,
                          const Tensor& attn_mask = {}, bool average_attn_weights = true,
                          bool is_causal = false);
  std::string extra_repr() const override;
  /// Whether q, k and v share one packed in_proj_weight (kdim == vdim == embed_dim).
  bool packed() const { return kdim == embed_dim && vdim == embed_dim; }

  int64_t embed_dim, num_heads, head_dim, kdim, vdim;
  double dropout;
  bool batch_first;
  Generator* dropout_gen;
  Tensor& in_proj_weight;  // (3E, E), or undefined when kdim/vdim != E
  Tensor& q_proj_weight;   // (E, E), defined when kdim/vdim != E
  Tensor& k_proj_weight;   // (E, kdim), likewise
  Tensor& v_proj_weight;   // (E, vdim), likewise
  Tensor& in_proj_bias;    // (3E), or undefined
  std::shared_ptr<Linear> out_proj;
};

struct TransformerLayerOptions {
  int64_t dim_feedforward = 2048;
  double dropout = 0.1;
  Activation activation = Activation::relu;
  double layer_norm_eps = 1e-5;
  bool batch_first = false;
  bool norm_first = false;  ///< pre-norm when true, post-norm (the original paper) when false
  bool bias = true;
  Generator* dropout_gen = nullptr;  ///< required when dropout > 0
};

/// torch.nn.TransformerEncoderLayer: self_attn, linear1, dropout, linear2, norm1, norm2,
/// dropout1, dropout2. src (L, N, E) / (N, L, E) batch first / (L, E).
class TransformerEncoderLayer : public Module {
 public:
  TransformerEncoderLayer(int64_t d_model, int64_t nhead, Generator& gen,
                          TransformerLayerOptions options = {}, DType dtype = DType::f32);
  Tensor forward(const Tensor& src, const Tensor& src_mask = {},
                 const Tensor& src_key_padding_mask = {}, bool is_causal = false);
  std::string extra_repr() const override;

  TransformerLayerOptions options;
  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1;
  std::shared_ptr<Dropout> dropout;
  std::shared_ptr<Linear> linear2;
  std::shared_ptr<LayerNorm> norm1, norm2;
  std::shared_ptr<Dropout> dropout1, dropout2;

 private:
  Tensor sa_block(const Tensor& x, const Tensor& mask, const Tensor& kpm, bool is_causal);
  Tensor ff_block(const Tensor& x);
};

/// torch.nn.TransformerDecoderLayer: self_attn, multihead_attn (cross attention over memory),
/// linear1, dropout, linear2, norm1..3, dropout1..3.
class TransformerDecoderLayer : public Module {
 public:
  TransformerDecoderLayer(int64_t d_model, int64_t nhead, Generator& gen,
                          TransformerLayerOptions options = {}, DType dtype = DType::f32);
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {},
                 const Tensor& memory_mask = {}, const Tensor& tgt_key_padding_mask = {},
                 const Tensor& memory_key_padding_mask = {}, bool tgt_is_causal = false,
                 bool memory_is_causal = false);
  std::string extra_repr() const override;

  TransformerLayerOptions options;
  std::shared_ptr<MultiheadAttention> self_attn, multihead_attn;
  std::shared_ptr<Linear> linear1;
  std::shared_ptr<Dropout> dropout;
  std::shared_ptr<Linear> linear2;
  std::shared_ptr<LayerNorm> norm1, norm2, norm3;
  std::shared_ptr<Dropout> dropout1, dropout2, dropout3;

 private:
  Tensor ff_block(const Tensor& x);
};

// ======================================================================= positions

/// x + pe[offset : offset + T] with pe[t, 2i] = sin(t / 10000^(2i/E)), pe[t, 2i+1] = cos(...)
/// ("Attention is all you need", 3.5). pe (max_len, E) is a non-persistent buffer (a pure
/// function of the configuration, so not saved). x (T, N, E), (N, T, E) when batch_first, or
/// (T, E). Throws ShapeError when offset + T > max_len or the last dim is not E.
class SinusoidalPositionalEncoding : public Module {
 public:
  SinusoidalPositionalEncoding(int64_t d_model, int64_t max_len = 5000, bool batch_first = false,
                               DType dtype = DType::f32);
  Tensor forward(const Tensor& x, int64_t offset = 0);
  std::string extra_repr() const override;
  int64_t d_model, max_len;
  bool batch_first;
  Tensor& pe;  // (max_len, E)
};

/// x + weight[offset : offset + T] with a trained weight (max_len, E) ~ normal(0, init_std)
/// (GPT-2's wpe uses 0.02). Layouts and errors as SinusoidalPositionalEncoding.
class LearnedPositionalEncoding : public Module {
 public:
  LearnedPositionalEncoding(int64_t max_len, int64_t d_model, Generator& gen,
                            bool batch_first = false, double init_std = 0.02,
                            DType dtype = DType::f32);
  Tensor forward(const Tensor& x, int64_t offset = 0);
  std::string extra_repr() const override;
  int64_t max_len, d_model;
  bool batch_first;
  Tensor& weight;  // (max_len, E)
};

}  // namespace cf::nn
