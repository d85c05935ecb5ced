// Linear and Embedding (torch.nn.Linear, torch.nn.Embedding) with torch's default initialization.
#include <cmath>

#include "cformer/autograd.h"
#include "cformer/nn.h"
#include "util/check.h"

namespace cf::nn {

Linear::Linear(int64_t in, int64_t out, bool with_bias, Generator& gen, DType dtype)
    : UnaryModule("Linear"), in_features(in), out_features(out) {
  CF_CHECK(in >= 0 && out >= 0, ValueError,
           "Linear: in_features and out_features must be >= 0, got ", in, " and ", out);
  CF_CHECK(is_floating(dtype) && dtype != DType::bf16, DTypeError,
           "Linear: dtype must be f32 or f64, got ", dtype_name(dtype));
  Tensor w = empty(Shape{out, in}, dtype);
  Tensor b = with_bias ? empty(Shape{out}, dtype) : Tensor();
  // kaiming_uniform(a = sqrt(5)) has bound sqrt(1/3) * sqrt(3 / fan_in) = 1 / sqrt(fan_in).
  const double bound = in > 0 ? 1.0 / std::sqrt(static_cast<double>(in)) : 0.0;
  init::uniform_(w, -bound, bound, gen);
  if (b.defined()) init::uniform_(b, -bound, bound, gen);
  weight = register_parameter("weight", w);
  bias = register_parameter("bias", b);
}

Tensor Linear::forward(const Tensor& x) {
  CF_CHECK(x.defined() && x.dim() >= 1 && x.size(-1) == in_features, ShapeError,
           "Linear: input must have last dim ", in_features, ", got shape ",
           x.defined() ? x.shape().str() : std::string("undefined"));
  return linear(x, weight, bias);
}

std::string Linear::extra_repr() const {
  return detail::str_cat("in_features=", in_features, ", out_features=", out_features,
                         ", bias=", bias.defined() ? "true" : "false");
}

Embedding::Embedding(int64_t num, int64_t dim, Generator& gen, std::optional<int64_t> pad,
                     DType dtype)
    : UnaryModule("Embedding"), num_embeddings(num), embedding_dim(dim) {
  CF_CHECK(num >= 0 && dim >= 0, ValueError,
           "Embedding: num_embeddings and embedding_dim must be >= 0, got ", num, " and ", dim);
  CF_CHECK(is_floating(dtype) && dtype != DType::bf16, DTypeError,
           "Embedding: dtype must be f32 or f64, got ", dtype_name(dtype));
  if (pad) {
    CF_CHECK(*pad >= -num && *pad < num, ValueError, "Embedding: padding_idx must be in [", -num,
             ", ", num, "), got ", *pad);
    padding_idx = *pad < 0 ? *pad + num : *pad;
  }
  Tensor w = empty(Shape{num, dim}, dtype);
  init::normal_(w, 0.0, 1.0, gen);
  if (padding_idx) w.select(0, *padding_idx).zero_();
  weight = register_parameter("weight", w);
}

Tensor Embedding::forward(const Tensor& indices) {
  return embedding(indices, weight, padding_idx);
}

std::string Embedding::extra_repr() const {
  std::string s = detail::str_cat(num_embeddings, ", ", embedding_dim);
  if (padding_idx) s += detail::str_cat(", padding_idx=", *padding_idx);
  return s;
}

}  // namespace cf::nn
