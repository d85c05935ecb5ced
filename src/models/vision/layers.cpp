// Building blocks of the image classifiers: Conv2d, BatchNorm2d, MaxPool2d (torch.nn names and
// default init), timm's drop_path, and the self-attention of ViT and ViTAE.
//   attention: q, k, v = split(x Wqkv^T + b), o = softmax(q k^T * scale) v, y = o Wp^T + bp
//   (+ v in T2T-ViT's token attention, whose input may have another width); the softmax part runs
//   in the configured nn::AttentionKernel. Dims: B, N tokens, NH heads, HS.
#include <cmath>

#include "cformer/autograd.h"
#include "cformer/models/vision.h"
#include "models/vision/common.h"
#include "util/check.h"

namespace cf::models {

void trunc_normal_linear(nn::Linear& l, Generator& gen) {
  NoGradGuard ng;
  init::trunc_normal_(l.weight, 0.0, 0.02, -2.0, 2.0, gen);
  if (l.bias.defined()) l.bias.zero_();
}

Conv2d::Conv2d(int64_t in, int64_t out, int64_t k, Generator& gen, int64_t stride_,
               int64_t padding_, int64_t dilation_, int64_t groups_, bool with_bias)
    : nn::UnaryModule("Conv2d"),
      in_channels(in),
      out_channels(out),
      kernel_size(k),
      stride(stride_),
      padding(padding_),
      dilation(dilation_),
      groups(groups_),
      weight(register_parameter("weight", Tensor())),
      bias(register_parameter("bias", Tensor())) {
  CF_CHECK(in > 0 && out > 0 && k > 0 && stride > 0 && padding >= 0 && dilation > 0 && groups > 0,
           ValueError, "Conv2d: sizes must be positive (padding >= 0), got in ", in, ", out ", out,
           ", kernel ", k, ", stride ", stride, ", padding ", padding, ", dilation ", dilation,
           ", groups ", groups);
  CF_CHECK(in % groups == 0 && out % groups == 0, ValueError, "Conv2d: groups (", groups,
           ") must divide in_channels (", in, ") and out_channels (", out, ")");
  // kaiming_uniform(a = sqrt(5)) of torch: bound 1 / sqrt(fan_in), the bias likewise.
  const double bound = 1.0 / std::sqrt(static_cast<double>(in / groups * k * k));
  weight = empty(Shape{out, in / groups, k, k});
  init::uniform_(weight, -bound, bound, gen);
  weight.requires_grad_(true);
  if (with_bias) {
    bias = empty(Shape{out});
    init::uniform_(bias, -bound, bound, gen);
    bias.requires_grad_(true);
  }
}

Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, weight, bias, Shape{stride, stride}, Shape{padding, padding},
                Shape{dilation, dilation}, groups);
}

std::string Conv2d::extra_repr() const {
  return detail::str_cat(in_channels, ", ", out_channels, ", kernel_size=", kernel_size,
                         ", stride=", stride, ", padding=", padding, ", dilation=", dilation,
                         ", groups=", groups, ", bias=", bias.defined() ? "true" : "false");
}

BatchNorm2d::BatchNorm2d(int64_t c, double eps_, double momentum_)
    : nn::UnaryModule("BatchNorm2d"),
      num_features(c),
      eps(eps_),
      momentum(momentum_),
      weight(register_parameter("weight", ones(Shape{c}))),
      bias(register_parameter("bias", zeros(Shape{c}))),
      running_mean(register_buffer("running_mean", zeros(Shape{c}))),
      running_var(register_buffer("running_var", ones(Shape{c}))),
      num_batches_tracked(register_buffer("num_batches_tracked", zeros(Shape{}, DType::i64))) {
  CF_CHECK(c > 0, ValueError, "BatchNorm2d: num_features must be positive, got ", c);
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  CF_CHECK(x.dim() == 4 && x.size(1) == num_features, ShapeError,
           "BatchNorm2d: input must be (B, ", num_features, ", H, W), got ", x.shape());
  if (is_training()) {
    num_batches_tracked.data_ptr<int64_t>()[0] += 1;
    num_batches_tracked.bump_version();
  }
  return batch_norm(x, running_mean, running_var, weight, bias, is_training(), momentum, eps);
}

std::string BatchNorm2d::extra_repr() const {
  return detail::str_cat(num_features, ", eps=", eps, ", momentum=", momentum);
}

MaxPool2d::MaxPool2d(int64_t k) : nn::UnaryModule("MaxPool2d"), kernel_size(k) {
  CF_CHECK(k > 0, ValueError, "MaxPool2d: kernel_size must be positive, got ", k);
}

Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, Shape{kernel_size}); }

std::string MaxPool2d::extra_repr() const { return detail::str_cat("kernel_size=", kernel_size); }

Tensor drop_path(const Tensor& x, double p, bool training, Generator& gen) {
  if (!training || p == 0.0) return x;
  CF_CHECK(p > 0.0 && p < 1.0, ValueError, "drop_path: p must be in [0, 1), got ", p);
  Shape s(std::vector<int64_t>(static_cast<size_t>(x.dim()), 1));
  s[0] = x.size(0);
  Tensor keep = bernoulli(s, 1.0 - p, gen).to(x.dtype());
  return mul(x, div(keep, 1.0 - p));
}

SelfAttention::SelfAttention(int64_t dim_, int64_t heads, bool qkv_bias, double attn_drop_,
                             double proj_drop_, Generator& gen, Generator* dropout_gen_,
                             const nn::AttentionKernelOptions& attention, int64_t max_len,
                             Generator& kernel_gen, int64_t out_dim_, bool value_skip_)
    : nn::Module("Attention"),
      dim(dim_),
      num_heads(heads),
      out_dim(out_dim_ > 0 ? out_dim_ : dim_),
      value_skip(value_skip_),
      attn_drop(attn_drop_),
      proj_drop(proj_drop_),
      scale(0.0),
      dropout_gen(dropout_gen_) {
  CF_CHECK(dim > 0 && heads > 0 && dim % heads == 0 && out_dim % heads == 0, ValueError,
           "Attention: num_heads (", heads, ") must divide dim (", dim, ") and out_dim (", out_dim,
           ")");
  CF_CHECK((attn_drop == 0.0 && proj_drop == 0.0) || dropout_gen != nullptr, ValueError,
           "Attention: dropout needs a generator");
  CF_CHECK(attn_drop == 0.0 || attention.kind == "dense", ValueError, "Attention: the ",
           attention.kind, " kernel has no attention-probability dropout, got attn_drop ",
           attn_drop, "; set attn_drop_rate to 0 or use the dense kernel");
  scale = 1.0 / std::sqrt(static_cast<double>(dim / heads));
  qkv = register_module("qkv", std::make_shared<nn::Linear>(dim, 3 * out_dim, qkv_bias, gen));
  proj = register_module("proj", std::make_shared<nn::Linear>(out_dim, out_dim, true, gen));
  trunc_normal_linear(*qkv, gen);
  trunc_normal_linear(*proj, gen);
  kernel = register_module("kernel", std::make_shared<nn::AttentionKernel>(
                                         attention, heads, out_dim / heads, max_len,
                                         /*causal=*/false, kernel_gen));
}

Tensor SelfAttention::forward(const Tensor& x, Tensor* weights) {
  CF_CHECK(x.dim() == 3 && x.size(2) == dim, ShapeError, "Attention: input must be (B, N, ", dim,
           "), got ", x.shape());
  const int64_t B = x.size(0), N = x.size(1), NH = num_heads, HS = out_dim / NH;
  // (B, N, 3 out) -> (3, B, NH, N, HS) as timm's reshape + permute.
  Tensor qkv_t = qkv->forward(x).view(Shape{B, N, 3, NH, HS}).permute(Dims{2, 0, 3, 1, 4});
  Tensor q = qkv_t.select(0, 0), k = qkv_t.select(0, 1), v = qkv_t.select(0, 2);
  const bool train = is_training();
  Tensor o;
  if (weights) {
    CF_CHECK(kernel->options.exact(), ValueError, "Attention: the ", kernel->options.kind,
             " kernel never forms the attention probabilities (dense and memory_efficient do)");
    Tensor a = softmax(mul(matmul(q, k.transpose(-2, -1)), scale), -1);
    *weights = a.detach();
    if (train && attn_drop > 0.0) a = dropout(a, attn_drop, true, *dropout_gen);
    o = matmul(a, v);
  } else {
    o = kernel->forward(q, k, v, Tensor(), train ? attn_drop : 0.0, dropout_gen, scale);
  }
  Tensor y = proj->forward(o.transpose(1, 2).reshape(Shape{B, N, out_dim}));
  if (train && proj_drop > 0.0) y = dropout(y, proj_drop, true, *dropout_gen);
  if (value_skip) y = add(y, v.transpose(1, 2).reshape(Shape{B, N, out_dim}));
  return y;
}

void ImageClassifier::check_input(const char* model, const Tensor& x, int64_t channels,
                                  int64_t size) {
  CF_CHECK(x.defined() && x.dim() == 4, ShapeError, model,
           ": input must be images (B, C, H, W), got ",
           x.defined() ? x.shape().str() : std::string("undefined"));
  CF_CHECK(x.size(1) == channels, ShapeError, model, ": the model takes ", channels,
           " input channel(s), got ", x.size(1), " (input ", x.shape(), ")");
  CF_CHECK(x.size(2) == size && x.size(3) == size, ShapeError, model, ": the model takes ", size,
           "x", size, " images, got ", x.size(2), "x", x.size(3), " (input ", x.shape(), ")");
}

}  // namespace cf::models
