// Unary elementwise ops y = f(x) (same shape and dtype as x) and their fused backwards
// dx = g * f'(s), where s is the tensor the op saves: x, or y where f' is cheaper from it.
// Each enumerator names the math, the PyTorch twin's derivative and what is saved.
// f32 runs the optimized kernels (VecF, one pass, OpenMP over elements); f64 runs the _ref
// kernels (double math, element by element); neg, abs and clamp also take i64 (exact integer
// math). Kernels overwrite (=); out may alias x exactly.
#pragma once
#include "ops/strided_loop.h"

namespace cf::ops::cpu {

enum class Unary {
  neg,         // -x                                       dx = -g
  exp,         // e^x                          saves y      dx = g y
  log,         // ln x                         saves x      dx = g / x
  sqrt,        // sqrt x                       saves y      dx = g / (2 y)
  rsqrt,       // 1 / sqrt x                   saves y      dx = -g y^3 / 2
  abs,         // |x|                          saves x      dx = g sgn(x), 0 at 0
  tanh,        // tanh x                       saves y      dx = g (1 - y^2)
  sigmoid,     // 1 / (1 + e^-x)               saves y      dx = g y (1 - y)
  relu,        // max(x, 0)                    saves y      dx = g [y > 0]
  leaky_relu,  // x > 0 ? x : a x  (a = slope) saves x      dx = g (x > 0 ? 1 : a)
  gelu,        // x Phi(x) = x (1 + erf(x / sqrt 2)) / 2    saves x   dx = g (Phi(x) + x phi(x))
  gelu_tanh,   // x (1 + tanh(u)) / 2, u = sqrt(2/pi) (x + 0.044715 x^3)   saves x
  silu,        // x sigmoid(x)                 saves x      dx = g s (1 + x (1 - s))
  softplus,    // b x > t ? x : log(1 + e^(b x)) / b  (a = beta b, b = threshold t)   saves x
               //                                           dx = b x > t ? g : g sigmoid(b x)
  clamp,       // min(max(x, lo), hi)  (a = lo, b = hi; +-inf when absent)   saves x
               //                                           dx = g [lo <= x <= hi]
  pow,         // x^p  (a = p)                 saves x      dx = p == 0 ? 0 : g p x^(p - 1)
};

struct UnaryParams {
  double a = 0.0;  // slope (leaky_relu), beta (softplus), lo (clamp), exponent (pow)
  double b = 0.0;  // threshold (softplus), hi (clamp)
};

/// y = f(x) over L (operands: y, x), all of dtype (f32, f64; i64 for neg / abs / clamp).
void unary_forward(Unary op, const UnaryParams& p, const StridedLoop<2>& L, DType dtype);
/// dx = g * f'(s) over L (operands: dx, g, s), all of dtype (f32, f64).
void unary_backward(Unary op, const UnaryParams& p, const StridedLoop<3>& L, DType dtype);
/// Reference kernels: double math element by element; T = float or double.
template <class T> void unary_forward_ref(Unary op, const UnaryParams& p, const StridedLoop<2>& L);
template <class T> void unary_backward_ref(Unary op, const UnaryParams& p, const StridedLoop<3>& L);

}  // namespace cf::ops::cpu
