// Copy with dtype conversion and fill: the kernels behind contiguous(), to(), copy_(), fill_().
// No autograd here; callers (tensor.cpp) record history.
#pragma once
#include "cformer/tensor.h"
#include "ops/strided_loop.h"

namespace cf::ops {

/// dst = convert(src) elementwise; src broadcasts to dst.shape(). Caller checked shapes.
void copy_into(const Tensor& dst, const Tensor& src);
/// Every element of dst = value (converted to dst's dtype).
void fill_into(const Tensor& dst, double value);

namespace cpu {
void copy_strided(const StridedLoop<2>& loop, DType dst, DType src);
void fill_strided(const StridedLoop<1>& loop, DType dtype, double value);
float bf16_to_float(BFloat16 v);
BFloat16 float_to_bf16(float v);
}  // namespace cpu

}  // namespace cf::ops
