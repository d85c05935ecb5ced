// Fused optimizer updates: one pass over a parameter updates it and its state in place
// (PyTorch 1.13's single-tensor torch.optim paths, same operation order). n elements, all
// contiguous; the kernels overwrite (=) param and the state buffers.
//   sgd:  g = ±grad + wd p; buf = first ? g : momentum buf + (1 - dampening) g;
//         g = nesterov ? g + momentum buf : buf (when momentum != 0); p = p - lr g
//   adam: g = ±grad (+ wd p unless decoupled); p *= 1 - lr wd (decoupled);
//         m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g g; vmax = max(vmax, v) (amsgrad);
//         p = p - lr / (1 - b1^t) * m / (sqrt(v or vmax) / sqrt(1 - b2^t) + eps)
//   sum_squares: sum of g^2 (the squared L2 norm for clip_grad_norm_), double accumulation.
// <op>_ref: plain loops in double (the f64 path and the oracle); the f32 kernels use OpenMP
// and VecF.
#pragma once
#include <cstdint>

namespace cf::ops::cpu {

template <class T>
struct SgdArgs {
  T* param;         // (n)
  const T* grad;    // (n)
  T* momentum_buf;  // (n), null when momentum == 0
  int64_t n;
  double lr, momentum, dampening, weight_decay;
  bool nesterov, maximize;
  bool first;  // the buffer is initialized to g (torch clones it on the first step)
};

template <class T>
struct AdamArgs {
  T* param;           // (n)
  const T* grad;      // (n)
  T* exp_avg;         // (n)
  T* exp_avg_sq;      // (n)
  T* max_exp_avg_sq;  // (n), null unless amsgrad
  int64_t n;
  int64_t step;  // t, already incremented (>= 1)
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;  // AdamW
  bool maximize;
};

void sgd_step(const SgdArgs<float>& a);
template <class T>
void sgd_step_ref(const SgdArgs<T>& a);
void adam_step(const AdamArgs<float>& a);
template <class T>
void adam_step_ref(const AdamArgs<T>& a);

/// sum of x[i]^2 over x (n).
double sum_squares(const float* x, int64_t n);
template <class T>
double sum_squares_ref(const T* x, int64_t n);

}  // namespace cf::ops::cpu
