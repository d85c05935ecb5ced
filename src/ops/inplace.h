// Kernel entry points that write into a given output tensor (which may alias an input exactly).
// They back the Tensor in-place methods and the optimizers. They check shapes and dtypes
// (the output's shape is fixed: inputs must broadcast to it) but record no autograd history.
#pragma once
#include <optional>

#include "cformer/tensor.h"

namespace cf::ops {

/// out = a + alpha * b
void add_into(const Tensor& out, const Tensor& a, const Tensor& b, double alpha);
/// out = a + value
void add_scalar_into(const Tensor& out, const Tensor& a, double value);
/// out = a * b
void mul_into(const Tensor& out, const Tensor& a, const Tensor& b);
/// out = a * value
void mul_scalar_into(const Tensor& out, const Tensor& a, double value);
/// out = where(mask, value, a)
void masked_fill_into(const Tensor& out, const Tensor& a, const Tensor& mask, double value);
/// out = clamp(a, min, max)
void clamp_into(const Tensor& out, const Tensor& a, std::optional<double> min,
                std::optional<double> max);

}  // namespace cf::ops
