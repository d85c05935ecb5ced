// The op library: tensor functions with autograd, named and defined as in PyTorch
// (torch.* and torch.nn.functional.*). Every op validates its arguments and throws a typed
// cf::Error naming the op and the shapes; float ops run on f32 (optimized kernels) and f64
// (reference kernels). The list of ops is src/ops/op_list.def.
#pragma once
#include <optional>
#include <utility>
#include <vector>

#include "cformer/random.h"
#include "cformer/tensor.h"

namespace cf {

/// The shape two shapes broadcast to (NumPy rules); throws ShapeError naming `op`.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op = "broadcast_shapes");

// ======================================================================= elementwise
// Binary ops broadcast; both tensors must have the same dtype (no implicit promotion), scalars
// take the tensor's dtype. Arithmetic supports f32, f64 and i64 (div: floating only).
Tensor add(const Tensor& a, const Tensor& b, double alpha = 1.0);  ///< a + alpha * b
Tensor add(const Tensor& a, double b);
Tensor sub(const Tensor& a, const Tensor& b, double alpha = 1.0);  ///< a - alpha * b
Tensor sub(const Tensor& a, double b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, double b);
Tensor pow(const Tensor& a, double exponent);
Tensor pow(const Tensor& a, const Tensor& exponent);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
enum class GeluApproximation { none, tanh };
/// x * Phi(x) with the exact erf form, or PyTorch's tanh approximation.
Tensor gelu(const Tensor& x, GeluApproximation approximate = GeluApproximation::none);
Tensor silu(const Tensor& x);
/// log(1 + exp(beta * x)) / beta, linear where beta * x > threshold.
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);
/// cond ? a : b, broadcasting all three; cond is bool.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
/// x with value where mask (bool, broadcast to x) is true.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

// Comparisons return bool tensors (no gradient).
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, double b);
Tensor ne(const Tensor& a, double b);
Tensor lt(const Tensor& a, double b);
Tensor le(const Tensor& a, double b);
Tensor gt(const Tensor& a, double b);
Tensor ge(const Tensor& a, double b);
/// Logical ops on bool tensors.
Tensor logical_not(const Tensor& a);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator-(const Tensor& a);

// ======================================================================= reductions
// dims: the dims to reduce (negative allowed); empty means all dims.
Tensor sum(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
/// Variance with Bessel-style correction (divide by N - correction), as torch.var.
Tensor var(const Tensor& x, const Dims& dims = {}, int64_t correction = 1, bool keepdim = false);
/// Standard deviation (torch.std); named std_dev to stay clear of namespace std.
Tensor std_dev(const Tensor& x, const Dims& dims = {}, int64_t correction = 1, bool keepdim = false);
struct ValuesIndices {
  Tensor values;
  Tensor indices;  // i64
};
/// Max over one dim: values and the index of the first maximum (torch.max(x, dim)).
ValuesIndices max(const Tensor& x, int dim, bool keepdim = false);
ValuesIndices min(const Tensor& x, int dim, bool keepdim = false);
/// Max / min of all elements (0-dim).
Tensor max(const Tensor& x);
Tensor min(const Tensor& x);
/// Index of the first maximum / minimum along dim, or of the flattened tensor when dim is empty.
Tensor argmax(const Tensor& x, std::optional<int> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& x, std::optional<int> dim = std::nullopt, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const Dims& dims, bool keepdim = false);
/// p-norm over dims (p = 2: Euclidean; p = inf: max abs), as torch.linalg.vector_norm.
Tensor norm(const Tensor& x, double p = 2.0, const Dims& dims = {}, bool keepdim = false);

// ======================================================================= linear algebra
/// torch.matmul: 1-D/2-D/batched with broadcasting of batch dims. Through the GEMM backend.
Tensor matmul(const Tensor& a, const Tensor& b);
/// (B, N, K) x (B, K, M) -> (B, N, M), no broadcasting.
Tensor bmm(const Tensor& a, const Tensor& b);
/// x (..., in) . weight (out, in)^T + bias (out).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

// ======================================================================= normalization, activations
Tensor softmax(const Tensor& x, int dim);
Tensor log_softmax(const Tensor& x, int dim);
/// Normalizes over the trailing dims given by normalized_shape; weight and bias optional.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = {},
                  const Tensor& bias = {}, double eps = 1e-5);
/// x / sqrt(mean(x^2) + eps) * weight over the trailing dims (torch.nn.functional.rms_norm).
Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = {},
                double eps = 1e-6);
/// x (N, C, ...). Training: batch statistics, and running_mean / running_var (if defined) are
/// updated in place with momentum (unbiased variance). Eval: the running statistics are used.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum = 0.1,
                  double eps = 1e-5);
/// Zeroes elements with probability p and scales the rest by 1 / (1 - p); identity unless training.
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen);
/// weight (num_embeddings, dim) rows picked by i64 indices of any shape; the padding_idx row
/// gets no gradient.
Tensor embedding(const Tensor& indices, const Tensor& weight,
                 std::optional<int64_t> padding_idx = std::nullopt);
/// i64 indices -> i64 one-hot with a trailing dim of num_classes (-1: max index + 1).
Tensor one_hot(const Tensor& indices, int64_t num_classes = -1);

// ======================================================================= losses
enum class Reduction { none, mean, sum, batchmean };
/// logits (N, C) or (N, C, d1, ...) or (C); target i64 class indices (N) / (N, d1, ...) / ().
/// weight (C) optional; ignore_index targets contribute nothing; label_smoothing in [0, 1].
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight = {},
                     int64_t ignore_index = -100, Reduction reduction = Reduction::mean,
                     double label_smoothing = 0.0);
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight = {},
                int64_t ignore_index = -100, Reduction reduction = Reduction::mean);
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                            Reduction reduction = Reduction::mean);
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const Tensor& weight = {}, const Tensor& pos_weight = {},
                                        Reduction reduction = Reduction::mean);
/// input: log-probabilities; target: probabilities (or log-probabilities with log_target).
Tensor kl_div(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean,
              bool log_target = false);

// ======================================================================= shape and indexing
Tensor cat(const std::vector<Tensor>& tensors, int dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int dim = 0);
/// Pieces of split_size along dim (the last may be smaller).
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int dim = 0);
std::vector<Tensor> split_with_sizes(const Tensor& x, const Shape& sizes, int dim = 0);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int dim = 0);
/// out[i][j] = x[index[i][j]][j] for dim 0 (torch.gather); index i64 of x's rank.
Tensor gather(const Tensor& x, int dim, const Tensor& index);
/// x with src added at index along dim (torch.scatter_add, out of place).
Tensor scatter_add(const Tensor& x, int dim, const Tensor& index, const Tensor& src);
/// Entries of x at the i64 1-D index along dim.
Tensor index_select(const Tensor& x, int dim, const Tensor& index);
/// x with alpha * src added at the 1-D index along dim (torch.index_add, out of place).
Tensor index_add(const Tensor& x, int dim, const Tensor& index, const Tensor& src,
                 double alpha = 1.0);
Tensor repeat(const Tensor& x, const Shape& repeats);
Tensor tril(const Tensor& x, int64_t diagonal = 0);
Tensor triu(const Tensor& x, int64_t diagonal = 0);
Tensor flip(const Tensor& x, const Dims& dims);
enum class PadMode { constant, reflect, replicate, circular };
/// torch.nn.functional.pad: pad = (last_left, last_right, prev_left, prev_right, ...).
Tensor pad(const Tensor& x, const Shape& pad, PadMode mode = PadMode::constant, double value = 0.0);
/// k largest (or smallest) along dim; values and i64 indices.
ValuesIndices topk(const Tensor& x, int64_t k, int dim = -1, bool largest = true, bool sorted = true);
/// Stable sort along dim.
ValuesIndices sort(const Tensor& x, int dim = -1, bool descending = false);
Tensor cumsum(const Tensor& x, int dim);
/// [start, end) with step; dtype i64 when all three are integral values and dtype is not given.
Tensor arange(double start, double end, double step = 1.0, std::optional<DType> dtype = std::nullopt);
Tensor arange(double end);
Tensor linspace(double start, double end, int64_t steps, DType dtype = DType::f32);

// ======================================================================= attention
/// softmax(q k^T * scale + mask) v over (..., L, E), (..., S, E), (..., S, Ev) -> (..., L, Ev).
/// attn_mask: bool (true = attend) or float (added), broadcast to (..., L, S). is_causal masks
/// keys after the query (the top-left aligned lower triangle). scale defaults to 1/sqrt(E).
/// dropout_p > 0 needs gen. An all-masked row gives NaN, as in PyTorch.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& attn_mask = {}, double dropout_p = 0.0,
                                    bool is_causal = false,
                                    std::optional<double> scale = std::nullopt,
                                    Generator* gen = nullptr);

// --- vision: convolution ---
/// torch.nn.functional.conv2d: x (N, C, H, W) or unbatched (C, H, W); weight (O, C / groups,
/// kH, kW); bias (O) optional -> (N, O, OH, OW) (or (O, OH, OW)), OH = (H + 2 padding - dilation
/// (kH - 1) - 1) / stride + 1. stride, padding, dilation: one value or (h, w); padding is
/// symmetric zero padding (no 'same' / 'valid' strings). f32 / f64. Throws ShapeError on a
/// channel mismatch or a kernel larger than the padded input, ValueError on bad groups / stride.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
              const Shape& stride = {1, 1}, const Shape& padding = {0, 0},
              const Shape& dilation = {1, 1}, int64_t groups = 1);
/// torch.nn.functional.conv_transpose2d (the gradient of conv2d with respect to its input):
/// x (N, C, H, W) or (C, H, W); weight (C, O / groups, kH, kW); bias (O) optional ->
/// (N, O, OH, OW), OH = (H - 1) stride - 2 padding + dilation (kH - 1) + output_padding + 1.
/// output_padding must be smaller than stride or dilation (per dim). Throws as conv2d.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
                        const Shape& stride = {1, 1}, const Shape& padding = {0, 0},
                        const Shape& output_padding = {0, 0}, int64_t groups = 1,
                        const Shape& dilation = {1, 1});

// --- vision: pooling/resampling ---
// x (N, C, H, W). Window arguments (kernel_size, stride, padding, dilation, output sizes) take one
// value for both spatial dims or two (h, w); an empty stride means stride = kernel_size.
// Throw ShapeError for a non-4-D input or an output size below 1, ValueError for bad windows.
/// torch.nn.functional.max_pool2d: the padding counts as -inf and is at most half the kernel;
/// Ho = floor((H + 2 ph - dh (kh - 1) - 1) / sh) + 1 (ceil with ceil_mode, as PyTorch: the last
/// window starts inside the input or the left padding). The gradient goes to the first maximum.
Tensor max_pool2d(const Tensor& x, const Shape& kernel_size, const Shape& stride = {},
                  const Shape& padding = {0}, const Shape& dilation = {1}, bool ceil_mode = false);
/// torch.nn.functional.avg_pool2d: the sum of a window divided by divisor_override if given, else
/// by the window's size clipped to the padded input (count_include_pad) or to the input.
Tensor avg_pool2d(const Tensor& x, const Shape& kernel_size, const Shape& stride = {},
                  const Shape& padding = {0}, bool ceil_mode = false, bool count_include_pad = true,
                  std::optional<int64_t> divisor_override = std::nullopt);
/// torch.nn.functional.adaptive_avg_pool2d: output cell o averages the inputs
/// [floor(o H / Ho), ceil((o + 1) H / Ho)) along each dim.
Tensor adaptive_avg_pool2d(const Tensor& x, const Shape& output_size);
/// F.interpolate(x, size or scale_factor, mode="nearest"): exactly one of size (Ho, Wo) and
/// scale_factor (Ho = floor(H s_h)) is given; source index floor(o / s) (s = Ho / H without a
/// scale factor), clamped to the input.
Tensor upsample_nearest2d(const Tensor& x, const Shape& size,
                          const std::vector<double>& scale_factor = {});
/// F.interpolate(..., mode="bilinear", align_corners): PyTorch's source indices, o (H - 1) /
/// (Ho - 1) with align_corners, else max(0, (o + 0.5) / s - 0.5).
Tensor upsample_bilinear2d(const Tensor& x, const Shape& size, bool align_corners,
                           const std::vector<double>& scale_factor = {});
/// torch.nn.functional.unfold (im2col): (N, C, H, W) -> (N, C kh kw, L), L the number of
/// sliding blocks; row c kh kw + i kw + j holds input (c, i dh + bh sh - ph, j dw + bw sw - pw).
Tensor unfold(const Tensor& x, const Shape& kernel_size, const Shape& dilation = {1},
              const Shape& padding = {0}, const Shape& stride = {1});
/// torch.nn.functional.fold (col2im, the adjoint of unfold): (N, C kh kw, L) -> (N, C, H, W)
/// with (H, W) = output_size, overlapping blocks summed. L must equal the number of blocks.
Tensor fold(const Tensor& x, const Shape& output_size, const Shape& kernel_size,
            const Shape& dilation = {1}, const Shape& padding = {0}, const Shape& stride = {1});

}  // namespace cf
