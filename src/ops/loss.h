// Losses (torch.nn.functional twins, PyTorch 1.13 semantics). Logits are (N, C, inner); a row r
// is (n, d) with target t (or ignore_index: loss 0), w the class weight (1 without), ls the label
// smoothing, W = sum of w[t] over rows not ignored (mean = sum / W; 0 / 0 = NaN).
//   cross_entropy: loss = (1-ls) w[t] (lse - x_t) + ls/C sum_c w_c (lse - x_c), lse = logsumexp
//   dx_c = g (p_c ((1-ls) w[t] + ls/C sum w) - ls/C w_c - (1-ls) w[t] [c == t]), p = softmax;
//   one fused kernel (no log_softmax tensor), saving the logits, target and lse (N, inner).
//   nll_loss: loss = -w[t] x_t.  Pointwise, x and t of one shape, weights broadcast to x:
//   mse (x-t)^2; binary_cross_entropy -w (t max(log x, -100) + (1-t) max(log(1-x), -100));
//   binary_cross_entropy_with_logits w ((1-t) x + (1 + (pw-1) t) softplus(-x));
//   kl_div xlogy(t, t) - t x, or exp(t) (t - x) with log_target. Kernels overwrite (=).
#pragma once
#include <cstdint>

namespace cf::ops::cpu {

template <class T>
struct CrossEntropyArgs {
  const T* x;             // (N, C, inner) logits, contiguous
  const int64_t* target;  // (N, inner), each in [0, C) or == ignore_index (checked)
  const T* weight;        // (C) class weights, or null (all 1)
  T* loss;                // (N, inner) per-row loss (=), 0 where ignored
  T* lse;                 // (N, inner) log-sum-exp over C (=), saved for backward
  int64_t N, C, inner;
  int64_t ignore_index;
  double label_smoothing;  // in [0, 1]
};
template <class T>
struct CrossEntropyBackwardArgs {
  const T* x;             // (N, C, inner)
  const int64_t* target;  // (N, inner)
  const T* weight;        // (C) or null
  const T* lse;           // (N, inner) from the forward
  const T* g;             // (N, inner) upstream gradient per row, or one value (g_stride 0)
  int64_t g_stride;       // 1 or 0
  double g_scale;         // the reduction's factor (1 / W for mean)
  T* dx;                  // (N, C, inner) (=)
  int64_t N, C, inner;
  int64_t ignore_index;
  double label_smoothing;
};
/// Optimized f32: OpenMP over rows, VecF along C (inner == 1) or along inner (inner > 1).
void cross_entropy_forward(const CrossEntropyArgs<float>& a);
void cross_entropy_backward(const CrossEntropyBackwardArgs<float>& a);
/// Reference (plain loops, double accumulation); also the f64 path.
template <class T>
void cross_entropy_forward_ref(const CrossEntropyArgs<T>& a);
template <class T>
void cross_entropy_backward_ref(const CrossEntropyBackwardArgs<T>& a);

template <class T>
struct NllLossArgs {
  const T* x;             // (N, C, inner) log-probabilities, contiguous
  const int64_t* target;  // (N, inner)
  const T* weight;        // (C) or null
  T* loss;                // (N, inner) (=)
  int64_t N, C, inner;
  int64_t ignore_index;
};
template <class T>
struct NllLossBackwardArgs {
  const int64_t* target;  // (N, inner)
  const T* weight;        // (C) or null
  const T* g;             // (N, inner), or one value (g_stride 0)
  int64_t g_stride;
  double g_scale;
  T* dx;  // (N, C, inner) (=): zero except at the targets
  int64_t N, C, inner;
  int64_t ignore_index;
};
/// A gather and a scatter: one plain kernel serves both dtypes (nothing to vectorize).
template <class T>
void nll_loss_forward(const NllLossArgs<T>& a);
template <class T>
void nll_loss_backward(const NllLossBackwardArgs<T>& a);

/// sum over rows of w[t_r] for targets != ignore_index (count when weight is null), in double.
template <class T>
double target_weight_sum(const int64_t* target, const T* weight, int64_t rows,
                         int64_t ignore_index);

enum class PointLoss { mse, bce, bce_logits, kl_div, kl_div_log_target };
template <class T>
struct PointLossArgs {
  const T* x;   // (n) input, contiguous
  const T* t;   // (n) target
  const T* w;   // (n) weight expanded to x, or null
  const T* pw;  // (n) pos_weight expanded to x (bce_logits), or null
  T* loss;      // (n) per-element loss (=)
  int64_t n;
};
template <class T>
struct PointLossBackwardArgs {
  const T* x;   // (n)
  const T* t;   // (n)
  const T* w;   // (n) or null
  const T* pw;  // (n) or null
  const T* g;   // (n) upstream, or one value (g_stride 0)
  int64_t g_stride;
  double g_scale;  // the reduction's factor
  T* dx;           // (n) (=), or null when not needed
  T* dt;           // (n) (=), or null when not needed
  int64_t n;
};
/// Optimized f32 (OpenMP, the element math in float) and the reference (double math; f64 path).
void point_loss_forward(PointLoss kind, const PointLossArgs<float>& a);
void point_loss_backward(PointLoss kind, const PointLossBackwardArgs<float>& a);
template <class T>
void point_loss_forward_ref(PointLoss kind, const PointLossArgs<T>& a);
template <class T>
void point_loss_backward_ref(PointLoss kind, const PointLossBackwardArgs<T>& a);

}  // namespace cf::ops::cpu
