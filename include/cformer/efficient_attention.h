// Efficient attention for long inputs (issue 7): exact, sparse and kernelized attention ops whose
// memory grows linearly with the sequence length, and the nn modules that use them. See each
// block's comments for the math and the papers; docs/efficient-attention.md for measurements.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cformer/nn.h"
#include "cformer/random.h"
#include "cformer/tensor.h"

namespace cf {

// --- effb: block-sparse attention (Sparse Transformer, BigBird) ---

/// Block-sparse attention: softmax(q k^T * scale + M) v where M keeps only the key blocks the
/// layout marks, with ONE softmax per query over all keys of all its attended blocks.
/// q (B, H, L, E), k (B, H, S, E), v (B, H, S, Ev), f32 or f64, no broadcasting of B or H.
/// layout: bool (NQ, NK) shared by the heads or (H, NQ, NK), NQ = ceil(L / block_size),
/// NK = ceil(S / block_size); layout[qb][kb] = query block qb attends key block kb.
/// key_padding_mask: bool (B, S), true = ignore that key (as nn::MultiheadAttention).
/// is_causal: key j > query i is masked (top-left aligned, as scaled_dot_product_attention).
/// scale: 1 / sqrt(E) by default. A query with no key left gets a zero output (the dense masked
/// form gives NaN there). Time and memory O(B H L * attended blocks * block_size): only the
/// scores of attended blocks exist. Returns (B, H, L, Ev). Throws ShapeError / DTypeError /
/// ValueError naming the argument.
Tensor block_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                              const Tensor& layout, int64_t block_size,
                              const Tensor& key_padding_mask = {}, bool is_causal = false,
                              std::optional<double> scale = std::nullopt);

/// Sparse Transformer "fixed" pattern (Child et al. 2019, sec. 4.3) at block granularity, as
/// DeepSpeed's / xformers' FixedSparsityConfig builds it: windows of `local_blocks` blocks
/// (l = local_blocks * block_size positions); a query block attends the blocks of its own window
/// (A1: floor(j / l) == floor(i / l)) and the last `global_blocks` blocks ("summary", c =
/// global_blocks * block_size positions) of every window (A2: j mod l >= l - c); a trailing
/// partial window gets its own summary blocks as DeepSpeed does. unidirectional keeps kb <= qb
/// (use with is_causal = true, which then gives exactly the paper's element pattern).
/// Returns bool (num_blocks, num_blocks). Throws ValueError for non-positive or inconsistent
/// sizes (global_blocks must be < local_blocks).
Tensor sparse_fixed_layout(int64_t num_blocks, int64_t local_blocks, int64_t global_blocks,
                           bool unidirectional);
/// Sparse Transformer "strided" pattern (Child et al. 2019, sec. 4.3, both heads merged) at block
/// granularity with stride l = stride_blocks * block_size: query block qb attends key block kb
/// when 0 <= qb - kb < stride_blocks (A1, the previous l positions) or (qb - kb) is a multiple of
/// stride_blocks (A2, every l-th position, rounded up to whole blocks). unidirectional = false
/// mirrors both conditions (|qb - kb|). Returns bool (num_blocks, num_blocks).
Tensor sparse_strided_layout(int64_t num_blocks, int64_t stride_blocks, bool unidirectional);
/// BigBird (Zaheer et al. 2020, ITC): every query block attends the `window_blocks` blocks
/// centred on it (window_blocks odd), the first `global_blocks` blocks, and `random_blocks`
/// further blocks drawn from `gen` without replacement among those not yet attended (fewer when
/// too few remain); the global blocks attend every block. num_heads = 0: one layout (NB, NB);
/// otherwise (num_heads, NB, NB) with each head's own random blocks.
Tensor bigbird_layout(int64_t num_blocks, int64_t window_blocks, int64_t global_blocks,
                      int64_t random_blocks, Generator& gen, int64_t num_heads = 0);

// --- effb: Performer FAVOR+ (Choromanski et al. 2021) ---

/// Normalized linear attention over non-negative features (Performer's D^-1 (q (k^T v))):
/// out_i = sum_j (q_i . k_j) v_j / sum_j (q_i . k_j), j over all keys or, when is_causal, j <= i
/// (prefix sums, L == S required). q_features (..., L, M), k_features (..., S, M),
/// v (..., S, Ev) with the same batch dims, f32 or f64; returns (..., L, Ev). Time O(L M Ev),
/// memory O(L M + M Ev) per batch element in forward and backward (no (L, M, Ev) prefix tensor).
/// A query whose normalizer is 0 gives inf / NaN. Throws ShapeError / DTypeError.
Tensor linear_attention(const Tensor& q_features, const Tensor& k_features, const Tensor& v,
                        bool is_causal = false);
/// The FAVOR+ projection (m, d): orthogonal = true stacks ceil(m / d) blocks of d x d Gaussian
/// matrices orthogonalized by Gram-Schmidt (the Q of their QR), keeps the first m rows and scales
/// each by the norm of an independent Gaussian d-vector (chi(d)-distributed, so each row is
/// marginally Gaussian, as the paper's code with scaling = 0); orthogonal = false: iid Gaussian
/// rows. Drawn from gen; dtype f32 or f64. Throws ValueError for m < 1 or d < 1.
Tensor favor_projection(int64_t num_features, int64_t dim, Generator& gen, bool orthogonal = true,
                        DType dtype = DType::f32);
/// Positive random features phi(x) = (exp(w_r . x' - |x'|^2 / 2 - c) + eps) / sqrt(m), x' = x *
/// d^-1/4, for x (..., L, d) and projection w (m, d); returns (..., L, m). The stabilizer c follows
/// the paper's code (softmax_kernel_transformation): queries subtract their own max over features
/// (c per query row), keys the max over all features and positions (one c per batch element), so
/// c cancels in D^-1 (q (k^T v)) up to eps = 1e-6, the code's numerical stabilizer. c is not
/// detached: the gradient is that of the function computed (c's goes to its first maximal
/// element). Differentiable in x and projection. Throws DTypeError, ShapeError (also for m = 0).
Tensor favor_features(const Tensor& x, const Tensor& projection, bool is_query, double eps = 1e-6);
/// Performer attention: linear_attention(favor_features(q, W, true), favor_features(k, W, false),
/// v, is_causal): approximates softmax(q k^T / sqrt(d)) v in O(L m d). q (..., L, d),
/// k (..., S, d), v (..., S, Ev), projection (m, d). Differentiable in q, k, v and projection.
Tensor performer_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                           const Tensor& projection, bool is_causal = false, double eps = 1e-6);

namespace nn {

// --- effb: nn modules (Performer, axial attention) ---

struct PerformerAttentionOptions {
  int64_t nb_features = 256;      ///< m, random features per head
  bool causal = false;            ///< prefix-sum (unidirectional) form
  int64_t redraw_interval = 1000; ///< training forwards between projection redraws; 0: never
  bool orthogonal = true;         ///< orthogonal random features (false: iid Gaussian)
  bool bias = true;               ///< biases of to_q, to_k, to_v, to_out
};

/// Performer self-attention (FAVOR+), batch first: x (N, L, E) -> (N, L, E). Parameters under
/// performer-pytorch's names: to_q, to_k, to_v, to_out (Linear E -> E); the buffer
/// projection_matrix (nb_features, E / num_heads) is drawn from the module's own generator,
/// seeded from gen at construction. In training mode a new projection is drawn before a forward
/// once redraw_interval forwards have used the current one (as performer-pytorch's
/// feature_redraw_interval); eval mode never redraws. Throws ValueError when num_heads does not
/// divide embed_dim or nb_features < 1, ShapeError for x not (N, L, E).
class PerformerAttention : public Module {
 public:
  PerformerAttention(int64_t embed_dim, int64_t num_heads, Generator& gen,
                     PerformerAttentionOptions options = {}, DType dtype = DType::f32);
  Tensor forward(const Tensor& x);
  /// Draws a new projection_matrix from the module's generator (no autograd history).
  void redraw_projection();
  std::string extra_repr() const override;

  int64_t embed_dim, num_heads, head_dim;
  PerformerAttentionOptions options;
  Generator feature_gen;       // the projection's own stream (redraws continue it)
  Tensor& projection_matrix;  // (nb_features, head_dim), persistent buffer
  std::shared_ptr<Linear> to_q, to_k, to_v, to_out;
  int64_t calls_since_last_redraw = 0;
};

/// Axial attention for 2-D inputs (Ho et al. 2019): x (B, H, W, D) -> (B, H, W, D); full
/// multi-head self-attention along each row (over W, batch B * H), then along each column of the
/// result (over H, batch B * W), each a MultiheadAttention (batch_first) with its own
/// projections: row_attn, col_attn. No residual or normalization (the caller's block adds them).
/// Throws ShapeError for x not (B, H, W, embed_dim).
class AxialAttention : public Module {
 public:
  AxialAttention(int64_t embed_dim, int64_t num_heads, Generator& gen, DType dtype = DType::f32);
  Tensor forward(const Tensor& x);
  std::string extra_repr() const override;

  int64_t embed_dim, num_heads;
  std::shared_ptr<MultiheadAttention> row_attn, col_attn;
};

}  // namespace nn

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

}  // namespace nn

// --- moe: Mixture-of-Experts feed-forward ---

namespace nn {

struct MoEOptions {
  int64_t top_k = 1;             ///< experts per token: 1 = Switch, 2 = GShard / Mixtral
  double capacity_factor = 0.0;  ///< 0: no token dropping; > 0: Switch's expert capacity
  bool normalize_gates = false;  ///< renormalize the k selected probabilities (Mixtral); false:
                                 ///< the raw softmax probability is the gate (Switch)
  Activation activation = Activation::gelu;  ///< inside each expert
};

/// Mixture-of-Experts feed-forward (Switch Transformer, Fedus et al. 2021; GShard; Mixtral):
/// x (..., D) -> (..., D). Parameters: router.weight (E, D) (Linear without bias, computed in the
/// module's dtype, f32 or f64) and, per expert i, experts.{i}.fc1.weight (F, D), .fc1.bias (F),
/// .fc2.weight (D, F), .fc2.bias (D) (an nn::MLP). p = softmax(router(x)); each token goes to its
/// top_k experts with gate p_e (normalize_gates: p_e / sum of the k selected). capacity_factor
/// > 0: each expert takes at most C = ceil(capacity_factor * T * top_k / E) assignments of the
/// T tokens, granted in order of choice rank, then token order (every token's first choice
/// before any second choice, as GShard); a dropped assignment contributes 0 (the caller's
/// residual carries the token). No router jitter. out_t = sum over kept (t, e) of
/// gate * expert_e(x_t), computed by grouping the tokens of each expert (one GEMM pair per
/// expert): cost O(T top_k D F). After each forward: aux_loss = E * sum_e f_e P_e (Switch load
/// balancing; f_e the fraction of tokens whose top-1 expert is e, before dropping, P_e the mean
/// router probability; the gradient flows through P only), z_loss = mean_t logsumexp(logits_t)^2
/// (ST-MoE), both 0-dim; expert_counts[e] the assignments expert e processed, dropped the
/// assignments dropped. Throws ValueError on a bad configuration (sizes < 1, top_k outside
/// [1, num_experts], capacity_factor < 0), DTypeError for a dtype other than f32 / f64,
/// ShapeError / DTypeError for x not (..., D) of the module's dtype.
class MoEFeedForward : public UnaryModule {
 public:
  MoEFeedForward(int64_t embed_dim, int64_t ffn_dim, int64_t num_experts, Generator& gen,
                 MoEOptions options = {}, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) override;
  /// Assignments an expert may take in a forward of `tokens` tokens; 0 = unlimited.
  int64_t expert_capacity(int64_t tokens) const;
  std::string extra_repr() const override;

  int64_t embed_dim, ffn_dim, num_experts;
  MoEOptions options;
  std::shared_ptr<Linear> router;       // (E, D), no bias
  std::shared_ptr<ModuleList> experts;  // num_experts nn::MLP (fc1, act, drop, fc2)
  Tensor aux_loss;                      // 0-dim, of the last forward
  Tensor z_loss;                        // 0-dim, of the last forward
  std::vector<int64_t> expert_counts;   // (E), of the last forward
  int64_t dropped = 0;                  // assignments dropped in the last forward
};


// --- kernel: the attention kernel every Transformer of the library selects by configuration ---

/// Which kernel computes softmax attention over projected q, k, v, and its parameters. Models
/// keep one in their configuration (JSON object "attention"); the CLI's --attention flags fill it.
struct AttentionKernelOptions {
  /// dense | memory_efficient | longformer | block_sparse | performer
  std::string kind = "dense";
  int64_t attention_window = 256;  ///< longformer: Hugging Face's window (even; half per side)
  int64_t dilation = 1;            ///< longformer
  std::string sparse_layout = "fixed";  ///< block_sparse: fixed | strided | bigbird
  int64_t block_size = 64;
  int64_t local_blocks = 4;   ///< fixed: window blocks; strided: the stride in blocks
  int64_t global_blocks = 1;  ///< fixed: summary blocks per window; bigbird: global blocks
  int64_t window_blocks = 3;  ///< bigbird: odd sliding window of blocks
  int64_t random_blocks = 2;  ///< bigbird: random blocks per query block (drawn at init)
  int64_t nb_features = 256;  ///< performer: random features per head
  int64_t redraw_interval = 1000;  ///< performer: training forwards between redraws (0: never)

  /// Throws ValueError naming the bad field.
  void validate() const;
  /// Whether the kernel computes softmax attention exactly (dense, memory_efficient).
  bool exact() const { return kind == "dense" || kind == "memory_efficient"; }
  std::string to_json() const;
  /// Missing fields keep their defaults; throws FormatError on malformed JSON or a bad value.
  static AttentionKernelOptions from_json(const std::string& text);
};

/// The configured attention kernel over projected heads: forward(q (B, H, L, E), k (B, H, S, E),
/// v (B, H, S, Ev), key_padding_mask bool (B, S), true = padding) -> (B, H, L, Ev), equal to
/// scaled_dot_product_attention for dense and memory_efficient, and each efficient kernel's own
/// pattern otherwise:
///   longformer:   longformer_attention with the window only (no global tokens, so q, k, v serve
///                 as their own global projections); self-attention (L == S), not causal;
///   block_sparse: block_sparse_attention with the buffer `layout` (H, NB, NB) built at
///                 construction for max_len (shorter inputs use its top-left corner); causal uses
///                 the unidirectional fixed / strided layouts (BigBird has no causal form);
///   performer:    FAVOR+ with the buffer `projection_matrix` (nb_features, E), redrawn from the
///                 module's own generator every redraw_interval training forwards (dtype: the
///                 constructor's, f32 or f64); padded keys
///                 get zero features; causal is the prefix-sum form.
/// `causal` is fixed at construction (the block-sparse layout depends on it). A custom scale is
/// applied to q for performer (FAVOR+ assumes 1 / sqrt(E)). Attention-probability dropout exists
/// only for dense: the others throw ValueError when dropout_p > 0. A query with every key masked
/// gives NaN (dense) or 0 (the others). Throws ValueError on a bad configuration or an input
/// longer than max_len (block_sparse), ShapeError on shapes.
class AttentionKernel : public Module {
 public:
  AttentionKernel(const AttentionKernelOptions& options, int64_t num_heads, int64_t head_dim,
                  int64_t max_len, bool causal, Generator& gen, DType dtype = DType::f32);
  Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v,
                 const Tensor& key_padding_mask = {}, double dropout_p = 0.0,
                 Generator* dropout_gen = nullptr, std::optional<double> scale = std::nullopt);
  void redraw_projection();
  std::string extra_repr() const override;

  AttentionKernelOptions options;
  int64_t num_heads, head_dim, max_len;
  bool causal;
  Tensor* layout = nullptr;             // block_sparse: bool (H, NB, NB)
  Tensor* projection_matrix = nullptr;  // performer: (nb_features, head_dim)
  Generator feature_gen;
  int64_t calls_since_last_redraw = 0;
};

/// Options of EfficientSelfAttention: the kernel (memory_efficient unless set), whether it is
/// causal, and max_len, the longest input (needed by block_sparse for its layout).
struct EfficientSelfAttentionOptions {
  AttentionKernelOptions kernel{.kind = "memory_efficient"};
  bool causal = false;
  int64_t max_len = 0;
  bool bias = true;
};

/// Batch-first multi-head self-attention whose kernel is chosen by configuration: packed
/// in_proj (3D, D) and out_proj as nn::MultiheadAttention (same names and init), so a dense
/// checkpoint loads into any kernel without buffers (dense, memory_efficient, longformer); the
/// nn::AttentionKernel `kernel` holds block_sparse's layout and performer's projection.
/// forward(x (B, N, D), key_padding_mask bool (B, N), true = padding) -> (B, N, D). dense and
/// memory_efficient give equal outputs; a row with every key masked gives NaN (dense) or 0 (the
/// others). Throws ValueError on a bad configuration (see AttentionKernel).
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
  std::shared_ptr<AttentionKernel> kernel;
  std::shared_ptr<Linear> out_proj;
};

}  // namespace nn

}  // namespace cf
