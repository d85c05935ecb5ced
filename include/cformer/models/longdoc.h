// The long-document classifier of issue 7: a pre-norm residual Transformer encoder whose
// self-attention is any of the library's kernels (dense, exact memory-efficient, Longformer,
// block-sparse, Performer), with a [CLS] token at position 0 whose final state feeds a linear
// classification head. Inputs are token ids (B, N) with a key padding mask; the first token must
// be [CLS] (the data pipeline puts it there). Layout and names follow torch.nn.TransformerEncoder
// with norm_first = true, so the dense variant is torch's layer plus embeddings and head:
//   x = dropout(embed_tokens(ids) + embed_positions(0..N-1))
//   per layer: x = x + dropout(self_attn(norm1(x)));  x = x + dropout(linear2(dropout(gelu(linear1(norm2(x))))))
//   logits = head(norm(x)[:, 0])
// The PyTorch twins of every variant are in tools/golden/gen_longdoc.py; measured runs in
// docs/long-documents.md.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cformer/efficient_attention.h"
#include "cformer/nn.h"
#include "cformer/random.h"
#include "cformer/tensor.h"

namespace cf::models {

struct LongDocConfig {
  int64_t vocab_size = 16;   ///< including the padding and [CLS] ids
  int64_t pad_id = 0;
  int64_t cls_id = 1;
  int64_t max_len = 2001;    ///< positions, [CLS] included
  int64_t num_classes = 10;
  int64_t d_model = 128;
  int64_t num_heads = 4;
  int64_t num_layers = 2;
  int64_t ffn_dim = 256;
  double dropout = 0.1;      ///< embeddings, residual branches, inside the feed-forward
  /// dense | memory_efficient | longformer | block_sparse | performer
  std::string attention = "memory_efficient";
  /// longformer: Hugging Face's attention_window (even; each side sees half of it); [CLS] is
  /// the global token, with its own projections (query_global, key_global, value_global).
  int64_t attention_window = 256;
  int64_t dilation = 1;  ///< longformer: window dilation (absent in older checkpoints: 1)
  /// block_sparse: fixed (Sparse Transformer) | strided (Sparse Transformer) | bigbird.
  std::string sparse_layout = "fixed";
  int64_t block_size = 64;
  int64_t local_blocks = 4;   ///< fixed: window blocks; strided: the stride in blocks
  int64_t global_blocks = 1;  ///< fixed: summary blocks per window; bigbird: global blocks
  int64_t window_blocks = 3;  ///< bigbird: odd sliding window of blocks
  int64_t random_blocks = 2;  ///< bigbird: random blocks per query block (drawn per head at init)
  /// performer: random features per head and training forwards between redraws (0: never).
  int64_t nb_features = 256;
  int64_t redraw_interval = 1000;

  /// Throws ValueError naming the bad field.
  void validate() const;
  std::string to_json() const;
  /// Throws FormatError on malformed JSON, a missing field or an invalid configuration.
  static LongDocConfig from_json(const std::string& text);
};

/// One layer's self-attention with the configured kernel. Parameters: in_proj_weight (3D, D),
/// in_proj_bias (3D) and out_proj as torch.nn.MultiheadAttention, except longformer, which holds
/// Hugging Face's query, key, value, query_global, key_global, value_global (Linear D -> D) and
/// out_proj. The other kernels run in `kernel` (nn::AttentionKernel), whose buffers are
/// kernel.layout (H, NB, NB) for block_sparse (built for max_len; shorter inputs use its top-left
/// corner) and kernel.projection_matrix (m, D / H) for performer (redrawn from the kernel's own
/// generator every redraw_interval training forwards).
class LongDocAttention : public nn::Module {
 public:
  LongDocAttention(const LongDocConfig& c, Generator& gen);
  /// x (B, N, D), key_padding_mask bool (B, N) (true = padding) -> (B, N, D).
  Tensor forward(const Tensor& x, const Tensor& key_padding_mask);
  void redraw_projection();
  std::string extra_repr() const override;

  LongDocConfig config;
  int64_t head_dim;
  Tensor* in_proj_weight = nullptr;  // not longformer
  Tensor* in_proj_bias = nullptr;
  std::shared_ptr<nn::Linear> query, key, value, query_global, key_global, value_global;  // longformer
  std::shared_ptr<nn::Linear> out_proj;
  std::shared_ptr<nn::AttentionKernel> kernel;  // not longformer
};

/// torch.nn.TransformerEncoderLayer(norm_first = true, activation = gelu) with LongDocAttention.
class LongDocLayer : public nn::Module {
 public:
  LongDocLayer(const LongDocConfig& c, Generator& gen, Generator* dropout_gen);
  Tensor forward(const Tensor& x, const Tensor& key_padding_mask);
  double dropout;
  Generator* dropout_gen;
  std::shared_ptr<LongDocAttention> self_attn;
  std::shared_ptr<nn::Linear> linear1, linear2;
  std::shared_ptr<nn::LayerNorm> norm1, norm2;
};

class LongDocClassifier : public nn::Module {
 public:
  /// Weights: embeddings normal(0, 0.02), Linear layers torch's default, in_proj xavier_uniform
  /// with zero biases (as torch.nn.MultiheadAttention), head zero bias. Throws ValueError on a
  /// bad configuration.
  LongDocClassifier(const LongDocConfig& c, uint64_t seed);
  /// ids i64 (B, N), N <= max_len, ids[:, 0] == cls_id; key_padding_mask bool (B, N) or
  /// undefined (no padding) -> logits (B, num_classes). Throws ShapeError / ValueError naming
  /// the argument.
  Tensor forward(const Tensor& ids, const Tensor& key_padding_mask = {});
  std::string config_json() const { return config.to_json(); }
  Generator& dropout_generator() { return dropout_gen_; }

  LongDocConfig config;
  std::shared_ptr<nn::Embedding> embed_tokens, embed_positions;
  std::vector<std::shared_ptr<LongDocLayer>> layers;
  std::shared_ptr<nn::LayerNorm> norm;
  std::shared_ptr<nn::Linear> head;

 private:
  Generator dropout_gen_;
};

}  // namespace cf::models
