// add, sub, mul, div (tensor-tensor with broadcasting, and tensor-scalar).
//   add: a + alpha b      grads: g, alpha g        (each summed to its input's shape)
//   sub: a - alpha b      grads: g, -alpha g
//   mul: a b              grads: g b, g a
//   div: a / b            grads: g / b, -g a / b^2
// f32 / f64 / i64 (div: floating only). Kernels overwrite (=); out may alias a or b exactly.
#pragma once
#include "ops/strided_loop.h"

namespace cf::ops::cpu {

enum class Arith { add, sub, mul, div };
/// out = a op (alpha * b) over L (operands: out, a, b), all of dtype.
void arith(Arith op, const StridedLoop<3>& L, DType dtype, double alpha);
/// out = a op s over L (operands: out, a).
void arith_scalar(Arith op, const StridedLoop<2>& L, DType dtype, double s);
/// Reference: the same in plain double arithmetic, element by element.
void arith_ref(Arith op, const StridedLoop<3>& L, DType dtype, double alpha);

}  // namespace cf::ops::cpu
