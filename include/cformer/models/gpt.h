// GPT-2 (Radford et al. 2019): learned positions, pre-norm blocks, GELU (tanh) MLP, causal
// self-attention, LM head tied to the token embedding. Parameter names and shapes are Hugging
// Face GPT-2's (Conv1D weights are (in, out)), so an HF GPT-2 safetensors file loads as is.
// Dims: B batch, T time, C = n_embd, NH = n_head, HS = C / NH, V = vocab_size.
// The PyTorch twin is tools/golden/gpt_twin.py. The attention kernel is chosen by
// configuration (nn::AttentionKernel, causal); docs/gpt.md says what each kind computes.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cformer/efficient_attention.h"
#include "cformer/nn.h"
#include "cformer/random.h"
#include "cformer/tensor.h"

namespace cf::models {

struct GptConfig {
  int64_t n_layer = 4;
  int64_t n_head = 4;
  int64_t n_embd = 256;
  int64_t block_size = 128;
  int64_t vocab_size = 256;
  /// Embedding, residual and (dense kernel only) attention-probability dropout. The other
  /// kernels have no attention-probability dropout: with them this rate applies to the
  /// embeddings and the residual branches only.
  double dropout = 0.0;
  bool bias = true;
  /// The kernel of every attention layer, built causal with max_len = block_size. JSON object
  /// "attention"; absent (checkpoints before it existed) = dense. longformer and the bigbird
  /// layout have no causal form and are rejected.
  nn::AttentionKernelOptions attention;
  /// Throws ValueError naming the bad field (n_embd % n_head != 0, non-positive sizes, an
  /// attention kind without a causal form, ...).
  void validate() const;
  std::string to_json() const;
  /// Throws FormatError on malformed JSON or missing fields ("attention" may be absent).
  static GptConfig from_json(const std::string& json);
};

struct GptSampling {
  int64_t max_new_tokens = 100;
  double temperature = 1.0;  // 0: greedy (argmax)
  int64_t top_k = 0;         // 0: off
  double top_p = 1.0;        // 1: off
  /// Exact kernels (dense, memory_efficient) only: block_sparse and performer always recompute
  /// the (cropped) context through the kernel, since dense attention over cached keys is not
  /// what they compute.
  bool use_kv_cache = true;
};

class Gpt : public nn::Module {
 public:
  /// Parameters initialized as GPT-2 does: N(0, 0.02), residual projections N(0, 0.02/sqrt(2L)),
  /// biases 0, LayerNorms 1/0; dropout masks come from the model's own generator (seed + 1).
  Gpt(const GptConfig& config, uint64_t seed);
  const GptConfig& config() const { return config_; }

  /// idx (B, T) i64 with T <= block_size -> logits (B, T, V).
  Tensor forward(const Tensor& idx);
  /// Mean cross-entropy of next-token predictions: idx, targets (B, T) i64.
  Tensor loss(const Tensor& idx, const Tensor& targets);
  /// Continues each prompt (a list of token ids) by max_new_tokens tokens, in eval mode without
  /// gradients; a KV cache is used unless disabled or the kernel is not exact (then every step
  /// runs the whole context, at most block_size tokens, through the kernel). gen draws the
  /// samples.
  std::vector<int64_t> generate(const std::vector<int64_t>& prompt, const GptSampling& s,
                                Generator& gen);

  Generator& dropout_generator() { return dropout_gen_; }
  /// The attention kernel of each layer ("h.{i}.attn.kernel").
  std::vector<nn::AttentionKernel*> attention_kernels() const;

 private:
  struct Block {
    Tensor ln_1_w, ln_1_b, c_attn_w, c_attn_b, c_proj_w, c_proj_b;
    Tensor ln_2_w, ln_2_b, c_fc_w, c_fc_b, mlp_proj_w, mlp_proj_b;
    std::shared_ptr<nn::AttentionKernel> kernel;
  };
  struct KvCache {
    std::vector<Tensor> k, v;  // per layer (1, NH, block_size, HS)
    int64_t len = 0;
  };
  /// Registers t under a dotted path ("h.0.attn.c_attn.weight"), creating the submodules.
  Tensor register_path(const std::string& path, Tensor t);
  /// Registers m under a dotted path ("h.0.attn.kernel"), creating the submodules.
  void register_module_path(const std::string& path, std::shared_ptr<nn::Module> m);
  Tensor hidden(const Tensor& idx, KvCache* cache);  // -> (B, T, C) after ln_f
  Tensor block_forward(const Block& b, const Tensor& x, KvCache* cache, size_t layer);
  Tensor next_logits(const std::vector<int64_t>& context, KvCache* cache, int64_t new_tokens);

  GptConfig config_;
  Generator dropout_gen_;
  Tensor wte_, wpe_, ln_f_w_, ln_f_b_;
  std::vector<Block> blocks_;
};

/// Loads a Hugging Face GPT-2 safetensors file (model.safetensors of GPT2Model or
/// GPT2LMHeadModel): an optional "transformer." prefix is stripped, the attn.bias /
/// attn.masked_bias causal-mask buffers and a tied lm_head.weight are skipped, and the config is
/// read from the tensor shapes plus n_head (and layer_norm_epsilon is checked to be 1e-5) from
/// the config.json beside the file, unless n_head is given. Throws FormatError / IoError with
/// the path when something does not fit.
std::unique_ptr<Gpt> load_hf_gpt2(const std::string& path, std::optional<int64_t> n_head = std::nullopt);

/// Samples a token from logits (V) with temperature / top-k / top-p; temperature 0 is argmax.
int64_t sample_token(const Tensor& logits, const GptSampling& s, Generator& gen);

}  // namespace cf::models
