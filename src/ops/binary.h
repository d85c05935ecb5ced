// Binary elementwise ops with broadcasting (tensor-scalar forms of add..div too).
//   add: a + alpha b      grads: g, alpha g        (each summed to its input's shape)
//   sub: a - alpha b      grads: g, -alpha g
//   mul: a b              grads: g b, g a
//   div: a / b            grads: g / b, -g a / b^2
//   pow: a^b              grads: b == 0 ? 0 : g b a^(b-1),  a == 0 && b >= 0 ? 0 : g a^b ln a
//   maximum / minimum (NaN propagates): the larger / smaller gets g, a tie gives g / 2 to each
// f32 / f64 / i64 (div, pow: floating only). Saved for backward: mul, div, pow, maximum,
// minimum keep a and b. Kernels overwrite (=); out may alias a or b exactly.
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

/// db = -g (a / b) / b over L (db, g, a, b): div's gradient for b before the sum to b's shape
/// (PyTorch's order of operations); floating dtype.
void div_backward_divisor(const StridedLoop<4>& L, DType dtype);

/// out = a^b over L (out, a, b), floating dtype.
void pow_forward(const StridedLoop<3>& L, DType dtype);
/// da = g * d(a^b)/da over L (da, g, a, b); db = g * d(a^b)/db over L (db, g, a, b).
void pow_backward_base(const StridedLoop<4>& L, DType dtype);
void pow_backward_exponent(const StridedLoop<4>& L, DType dtype);

/// out = max(a, b) (is_max) or min(a, b) over L (out, a, b), NaN propagating; f32 / f64 / i64.
void minmax_forward(bool is_max, const StridedLoop<3>& L, DType dtype);
/// d = g * w(self, other) over L (d, g, self, other): w = 1 where self wins, 1/2 on a tie,
/// else 0 (and 1 where either is NaN, as PyTorch's mask does); floating dtype.
void minmax_backward(bool is_max, const StridedLoop<4>& L, DType dtype);

/// References of the above: double math element by element; T = float or double.
template <class T> void div_backward_divisor_ref(const StridedLoop<4>& L);
template <class T> void pow_forward_ref(const StridedLoop<3>& L);
template <class T> void pow_backward_base_ref(const StridedLoop<4>& L);
template <class T> void pow_backward_exponent_ref(const StridedLoop<4>& L);
template <class T> void minmax_forward_ref(bool is_max, const StridedLoop<3>& L);
template <class T> void minmax_backward_ref(bool is_max, const StridedLoop<4>& L);

}  // namespace cf::ops::cpu
