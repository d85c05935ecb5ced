// Linear and Embedding (torch.nn.Linear, torch.nn.Embedding) with torch's default initialization.
#include <cmath>

#include "cformer/autograd.h"
#include "cformer/nn.h"
#include "util/check.h"

namespace cf::nn {

namespace {

/// Checks the sizes and dtype; returns torch's init bound 1/sqrt(fan_in): kaiming_uniform with
/// a = sqrt(5) has bound sqrt(1/3) * sqrt(3 / fan_in) = 1 / sqrt(fan_in).
double linear_bound(int64_t in, int64_t out, DType dtype) {
  CF_CHECK(in >= 0 && out >= 0, ValueError,
           "Linear: in_features and out_features must be >= 0, got ", in, " and ", out);
  CF_CHECK(dtype == DType::f32 || dtype == DType::f64, DTypeError,
           "Linear: dtype must be f32 or f64, got ", dtype_name(dtype));
  return in > 0 ? 1.0 / std::sqrt(static_cast<double>(in)) : 0.0;
}

Tensor uniform_tensor(const Shape& shape, double bound, Generator& gen, DType dtype) {
  Tensor t = empty(shape, dtype);
  init::uniform_(t, -bound, bound, gen);
  return t;
}

std::optional<int64_t> checked_padding(std::optional<int64_t> pad, int64_t num, int64_t dim,
                                       DType dtype) {
  CF_CHECK(num >= 0 && dim >= 0, ValueError,
           "Embedding: num_embeddings and embedding_dim must be >= 0, got ", num, " and ", dim);
  CF_CHECK(dtype == DType::f32 || dtype == DType::f64, DTypeError,
           "Embedding: dtype must be f32 or f64, got ", dtype_name(dtype));
  if (!pad) return pad;
  CF_CHECK(*pad >= -num && *pad < num, ValueError, "Embedding: padding_idx must be in [", -num,
           ", ", num, "), got ", *pad);
  return *pad < 0 ? *pad + num : *pad;
}

}  // namespace

Linear::Linear(int64_t in, int64_t out, bool with_bias, Generator& gen, DType dtype)
    : UnaryModule("Linear"),
      in_features(in),
      out_features(out),
      weight(register_parameter(
          "weight", uniform_tensor(Shape{out, in}, linear_bound(in, out, dtype), gen, dtype))),
      bias(register_parameter(
          "bias", with_bias ? uniform_tensor(Shape{out}, linear_bound(in, out, dtype), gen, dtype)
                            : Tensor())) {}

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
    : UnaryModule("Embedding"),
      num_embeddings(num),
      embedding_dim(dim),
      padding_idx(checked_padding(pad, num, dim, dtype)),
      weight(register_parameter("weight", empty(Shape{num, dim}, dtype))) {
  init::normal_(weight, 0.0, 1.0, gen);
  if (padding_idx) {
    NoGradGuard no_grad;
    weight.select(0, *padding_idx).zero_();
  }
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
