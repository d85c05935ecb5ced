// Comparisons eq, ne, lt, le, gt, ge (tensor-tensor with broadcasting, and tensor-scalar) and the
// logical ops not / and / or. The outputs are bool and carry no gradient (torch.eq, ...,
// torch.logical_and). Comparisons take f32, f64, i64 or bool operands of one dtype; a scalar is
// rounded to an f32 tensor's dtype (as PyTorch does), compared exactly with an i64 tensor when it
// is an integer and in double otherwise. Logical ops take bool tensors. NaN compares unequal to
// everything. Kernels overwrite (=).
#pragma once
#include "ops/strided_loop.h"

namespace cf::ops::cpu {

enum class Cmp { eq, ne, lt, le, gt, ge };

/// out = a cmp b over L (out bool, a, b of dtype).
void compare(Cmp op, const StridedLoop<3>& L, DType dtype);
/// out = a cmp s over L (out bool, a of dtype).
void compare_scalar(Cmp op, const StridedLoop<2>& L, DType dtype, double s);
/// Reference: both operands converted to double, element by element; T = float, double, int64_t
/// or bool.
template <class T> void compare_ref(Cmp op, const StridedLoop<3>& L);

enum class Logical { and_, or_ };
/// out = !a over L (out, a: bool).
void logical_not(const StridedLoop<2>& L);
/// out = a and / or b over L (out, a, b: bool).
void logical(Logical op, const StridedLoop<3>& L);

}  // namespace cf::ops::cpu
