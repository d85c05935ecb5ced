// nn::LongformerSelfAttention (Hugging Face's projections over longformer_attention) and
// nn::EfficientSelfAttention (packed-projection self-attention with a configurable kernel).
#include "cformer/autograd.h"
#include "cformer/efficient_attention.h"
#include "util/check.h"

namespace cf::nn {
namespace {

int64_t checked_heads(const char* who, int64_t d, int64_t h) {
  CF_CHECK(d > 0 && h > 0 && d % h == 0, ValueError, who,
           ": embed_dim must be a positive multiple of num_heads, got embed_dim ", d,
           " and num_heads ", h);
  return d / h;
}

void check_input(const char* who, const Tensor& x, int64_t d) {
  CF_CHECK(x.defined() && x.dim() == 3 && x.size(2) == d, ShapeError, who,
           ": x must have shape (B, N, ", d, "), got ",
           x.defined() ? x.shape().str() : std::string("undefined"));
}

// (B, N, D) -> (B, H, N, D / H)
Tensor split_heads(const Tensor& t, int64_t h) {
  return t.view(Shape{t.size(0), t.size(1), h, t.size(2) / h}).transpose(1, 2);
}

Tensor merge_heads(const Tensor& t) {
  return t.transpose(1, 2).reshape(Shape{t.size(0), t.size(2), t.size(1) * t.size(3)});
}

}  // namespace

LongformerSelfAttention::LongformerSelfAttention(int64_t d, int64_t h, int64_t window,
                                                 Generator& gen, int64_t dil, DType dtype)
    : Module("LongformerSelfAttention"),
      embed_dim(d),
      num_heads(h),
      head_dim(checked_heads("LongformerSelfAttention", d, h)),
      attention_window(window),
      dilation(dil) {
  CF_CHECK(window > 0 && window % 2 == 0, ValueError,
           "LongformerSelfAttention: attention_window must be even and positive, got ", window);
  CF_CHECK(dil >= 1, ValueError, "LongformerSelfAttention: dilation must be >= 1, got ", dil);
  query = register_module("query", std::make_shared<Linear>(d, d, true, gen, dtype));
  key = register_module("key", std::make_shared<Linear>(d, d, true, gen, dtype));
  value = register_module("value", std::make_shared<Linear>(d, d, true, gen, dtype));
  query_global = register_module("query_global", std::make_shared<Linear>(d, d, true, gen, dtype));
  key_global = register_module("key_global", std::make_shared<Linear>(d, d, true, gen, dtype));
  value_global = register_module("value_global", std::make_shared<Linear>(d, d, true, gen, dtype));
}

Tensor LongformerSelfAttention::forward(const Tensor& x, const Tensor& global_mask,
                                        const Tensor& key_padding_mask) {
  check_input("LongformerSelfAttention", x, embed_dim);
  const int64_t h = num_heads;
  Tensor o = longformer_attention(
      split_heads(query->forward(x), h), split_heads(key->forward(x), h),
      split_heads(value->forward(x), h), split_heads(query_global->forward(x), h),
      split_heads(key_global->forward(x), h), split_heads(value_global->forward(x), h),
      global_mask, attention_window / 2, dilation, key_padding_mask);
  return merge_heads(o);
}

std::string LongformerSelfAttention::extra_repr() const {
  return detail::str_cat("embed_dim=", embed_dim, ", num_heads=", num_heads,
                         ", attention_window=", attention_window, ", dilation=", dilation);
}

namespace {

Tensor xavier(const Shape& shape, Generator& gen, DType dtype) {
  Tensor t = empty(shape, dtype);
  init::xavier_uniform_(t, gen);
  return t;
}

}  // namespace

EfficientSelfAttention::EfficientSelfAttention(int64_t d, int64_t h, Generator& gen,
                                               EfficientSelfAttentionOptions o, DType dtype)
    : Module("EfficientSelfAttention"),
      embed_dim(d),
      num_heads(h),
      head_dim(checked_heads("EfficientSelfAttention", d, h)),
      options(o),
      in_proj_weight(register_parameter("in_proj_weight", xavier(Shape{3 * d, d}, gen, dtype))),
      in_proj_bias(
          register_parameter("in_proj_bias", o.bias ? zeros(Shape{3 * d}, dtype) : Tensor())) {
  kernel = register_module("kernel", std::make_shared<AttentionKernel>(o.kernel, h, head_dim,
                                                                      o.max_len, o.causal, gen,
                                                                      dtype));
  out_proj = register_module("out_proj", std::make_shared<Linear>(d, d, o.bias, gen, dtype));
  if (o.bias) {
    NoGradGuard no_grad;
    out_proj->bias.zero_();
  }
}

Tensor EfficientSelfAttention::forward(const Tensor& x, const Tensor& key_padding_mask) {
  check_input("EfficientSelfAttention", x, embed_dim);
  const std::vector<Tensor> qkv = chunk(linear(x, in_proj_weight, in_proj_bias), 3, -1);
  const Tensor o = kernel->forward(split_heads(qkv[0], num_heads), split_heads(qkv[1], num_heads),
                                   split_heads(qkv[2], num_heads), key_padding_mask);
  return out_proj->forward(merge_heads(o));
}

std::string EfficientSelfAttention::extra_repr() const {
  return detail::str_cat("embed_dim=", embed_dim, ", num_heads=", num_heads,
                         ", kernel=", options.kernel.kind, ", causal=", options.causal);
}

}  // namespace cf::nn
