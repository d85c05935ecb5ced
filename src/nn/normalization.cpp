// LayerNorm and RMSNorm modules (torch.nn.LayerNorm, torch.nn.RMSNorm).
#include <limits>

#include "cformer/nn.h"
#include "util/check.h"

namespace cf::nn {
namespace {

Shape checked_shape(const char* op, const Shape& s, DType dtype) {
  CF_CHECK(!s.empty(), ValueError, op, ": normalized_shape must not be empty");
  for (int64_t d : s)
    CF_CHECK(d > 0, ValueError, op, ": normalized_shape must be positive, got ", s);
  CF_CHECK(dtype == DType::f32 || dtype == DType::f64, DTypeError, op,
           ": dtype must be f32 or f64, got ", dtype_name(dtype));
  return s;
}

}  // namespace

LayerNorm::LayerNorm(Shape shape, double eps_, bool affine, bool with_bias, DType dtype)
    : UnaryModule("LayerNorm"),
      normalized_shape(checked_shape("LayerNorm", shape, dtype)),
      eps(eps_),
      weight(register_parameter("weight", affine ? ones(shape, dtype) : Tensor())),
      bias(register_parameter("bias", affine && with_bias ? zeros(shape, dtype) : Tensor())) {}

Tensor LayerNorm::forward(const Tensor& x) {
  return layer_norm(x, normalized_shape, weight, bias, eps);
}

std::string LayerNorm::extra_repr() const {
  return detail::str_cat(normalized_shape, ", eps=", eps,
                         ", elementwise_affine=", weight.defined() ? "true" : "false");
}

RMSNorm::RMSNorm(Shape shape, std::optional<double> eps_, bool affine, DType dtype)
    : UnaryModule("RMSNorm"),
      normalized_shape(checked_shape("RMSNorm", shape, dtype)),
      eps(eps_),
      weight(register_parameter("weight", affine ? ones(shape, dtype) : Tensor())) {}

Tensor RMSNorm::forward(const Tensor& x) {
  const double e = eps ? *eps
                       : (x.dtype() == DType::f64 ? std::numeric_limits<double>::epsilon()
                                                  : std::numeric_limits<float>::epsilon());
  return rms_norm(x, normalized_shape, weight, e);
}

std::string RMSNorm::extra_repr() const {
  return detail::str_cat(normalized_shape, ", eps=", eps ? std::to_string(*eps) : "None",
                         ", elementwise_affine=", weight.defined() ? "true" : "false");
}

}  // namespace cf::nn
