// Efficient attention for long inputs (issue 7): exact and sparse attention ops whose memory
// grows linearly with the sequence length, and the nn modules that use them.
#pragma once
#include <cstdint>
#include <optional>

#include "cformer/nn.h"
#include "cformer/random.h"
#include "cformer/tensor.h"

namespace cf {

// --- effa: memory-efficient attention, Longformer attention ---

/// Exact softmax(q k^T * scale + mask) v, computed in tiles with an online softmax
/// (FlashAttention) so the (L, S) score matrix never exists; backward recomputes it tile by tile.
/// q (B, H, L, E), k (B, H, S, E), v (B, H, S, Ev) -> (B, H, L, Ev); f32 or f64, one dtype.
/// key_padding_mask: bool (B, S), true = ignore that key (nn::MultiheadAttention's convention).
/// is_causal masks key j > query i (top-left aligned). scale defaults to 1 / sqrt(E).
/// A query row whose keys are all masked gives 0 (and zero gradients), not PyTorch's NaN.
/// Extra memory O(B H L) (the per-row logsumexp) plus O(threads * tile^2) scratch.
/// Throws DTypeError / ShapeError naming the argument.
Tensor memory_efficient_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                  const Tensor& key_padding_mask = {}, bool is_causal = false,
                                  std::optional<double> scale = std::nullopt);

/// Longformer self-attention (Beltagy et al. 2020) with Hugging Face's projections, over
/// q, k, qg, kg (B, H, N, E) and v, vg (B, H, N, Ev) -> (B, H, N, Ev). A local query i (not
/// global) attends with one softmax to the keys j = i + dilation * t, |t| <= window, 0 <= j < N,
/// and to every global key, using q_i . k_j and v_j (global keys use the ordinary k, v here and
/// count once even inside the window). A global query i attends to every key with qg_i . kg_j
/// and vg_j. global_mask: bool (B, N), true = global token (undefined: none).
/// key_padding_mask: bool (B, N), true = ignore that key; padded queries are computed as any
/// other (Hugging Face zeroes their output). A row with nothing to attend gives 0.
/// scale defaults to 1 / sqrt(E). Time and memory O(B H N (2 window + 1 + G)), G = the largest
/// number of global tokens in a batch row; never an (N, N) matrix.
/// Throws DTypeError / ShapeError / ValueError (window < 0, dilation < 1) naming the argument.
Tensor longformer_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& qg,
                            const Tensor& kg, const Tensor& vg, const Tensor& global_mask,
                            int64_t window, int64_t dilation = 1,
                            const Tensor& key_padding_mask = {},
                            std::optional<double> scale = std::nullopt);

namespace nn {

/// Hugging Face's LongformerSelfAttention: six Linear(D, D) projections named as in its
/// state_dict (query, key, value for the window, query_global, key_global, value_global for the
/// global rows), no output projection (HF keeps it in LongformerSelfOutput). attention_window is
/// HF's full window: even, > 0; each query sees attention_window / 2 keys on each side (times
/// dilation). Throws ValueError on a bad configuration.
class LongformerSelfAttention : public Module {
 public:
  LongformerSelfAttention(int64_t embed_dim, int64_t num_heads, int64_t attention_window,
                          Generator& gen, int64_t dilation = 1, DType dtype = DType::f32);
  /// x (B, N, D); global_mask bool (B, N), true = global token (undefined: none);
  /// key_padding_mask bool (B, N), true = padding -> (B, N, D). See longformer_attention.
  Tensor forward(const Tensor& x, const Tensor& global_mask = {},
                 const Tensor& key_padding_mask = {});
  std::string extra_repr() const override;

  int64_t embed_dim, num_heads, head_dim, attention_window, dilation;
  std::shared_ptr<Linear> query, key, value, query_global, key_global, value_global;
};

/// The attention kernel behind EfficientSelfAttention.
enum class AttentionVariant {
  dense,             ///< scaled_dot_product_attention: the (N, N) score matrix
  memory_efficient,  ///< memory_efficient_attention: exact, O(N) memory
  longformer,        ///< longformer_attention without global tokens: window only
};

struct EfficientSelfAttentionOptions {
  AttentionVariant variant = AttentionVariant::memory_efficient;
  bool causal = false;             ///< dense / memory_efficient only
  int64_t attention_window = 512;  ///< longformer: HF's full window (even, > 0)
  int64_t dilation = 1;            ///< longformer
  bool bias = true;
};

/// Batch-first multi-head self-attention whose kernel is chosen by configuration: packed
/// in_proj (3D, D) and out_proj as nn::MultiheadAttention (same names and init), so a dense
/// checkpoint loads into any variant. forward(x (B, N, D), key_padding_mask bool (B, N),
/// true = padding) -> (B, N, D). The dense and memory_efficient variants give equal outputs;
/// a row with every key masked gives NaN (dense) or 0 (the others).
class EfficientSelfAttention : public Module {
 public:
  EfficientSelfAttention(int64_t embed_dim, int64_t num_heads, Generator& gen,
                         EfficientSelfAttentionOptions options = {}, DType dtype = DType::f32);
  Tensor forward(const Tensor& x, const Tensor& key_padding_mask = {});
  std::string extra_repr() const override;

  int64_t embed_dim, num_heads, head_dim;
  EfficientSelfAttentionOptions options;
  Tensor& in_proj_weight;  // (3D, D)
  Tensor& in_proj_bias;    // (3D) or undefined
  std::shared_ptr<Linear> out_proj;
};

}  // namespace nn

}  // namespace cf
