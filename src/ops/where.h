// Selection ops (torch.where, Tensor.masked_fill).
//   where(cond, a, b):       out = cond ? a : b, all three broadcast; cond bool, a and b of one
//                            dtype (any). grads: g where cond else 0, g where !cond else 0, each
//                            summed to its input's shape. Saves cond.
//   masked_fill(x, mask, v): out = mask ? v : x, mask bool broadcast to x's shape; v rounded to
//                            x's dtype (f32, f64, i64: an integer, bool). grad: g where !mask.
// Kernels overwrite (=); out may alias a, b or x exactly.
#pragma once
#include <cstddef>

#include "ops/strided_loop.h"

namespace cf::ops::cpu {

/// out = cond ? a : b over L (out, cond bool, a, b), out / a / b of `element_size` bytes each.
void where_forward(const StridedLoop<4>& L, size_t element_size);
/// out = mask ? value : x over L (out, x, mask bool); dtype f32, f64, i64 or bool.
void masked_fill_forward(const StridedLoop<3>& L, DType dtype, double value);
/// dx = cond == take ? g : 0 over L (dx, g, cond bool); dtype f32 or f64.
void where_backward(const StridedLoop<3>& L, DType dtype, bool take);

}  // namespace cf::ops::cpu
