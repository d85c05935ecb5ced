// batch_norm over x (N, C, S...) per channel C (torch.nn.functional.batch_norm); S is the
// product of the trailing dims and P = N S the values per channel.
//   training: mean, var = batch statistics (biased var) per channel; running_mean / running_var
//             (when defined) = (1 - momentum) running + momentum (mean, var P / (P - 1))
//   eval:     mean, var = running_mean, running_var
//   rstd = 1 / sqrt(var + eps), xhat = (x - mean) rstd, y = xhat w + b   (w, b optional)
//   dx = w rstd (g - mean(g) - xhat mean(g xhat)) in training, w rstd g in eval;
//   dw = sum g xhat, db = sum g (over N and S). Saves x, w, mean (C) and rstd (C).
// OpenMP over channels, VecF along S; every channel is summed in a fixed order by one thread.
// Kernels overwrite (=).
#pragma once
#include <cstdint>

namespace cf::ops::cpu {

template <class T>
struct BatchNormArgs {
  const T* x;             // (N, C, S)
  const T* w;             // (C) or null
  const T* b;             // (C) or null
  const T* running_mean;  // (C): used in eval only
  const T* running_var;   // (C): used in eval only
  T* y;                   // (N, C, S)
  T* mean;                // (C): the mean normalized with
  T* var;                 // (C): the (biased) variance normalized with
  T* rstd;                // (C)
  int64_t N, C, S;
  double eps;
  bool training;
};
template <class T>
struct BatchNormBackwardArgs {
  const T* x;     // (N, C, S)
  const T* w;     // (C) or null
  const T* mean;  // (C)
  const T* rstd;  // (C)
  const T* g;     // (N, C, S)
  T* dx;          // (N, C, S) or null: not needed
  T* dw;          // (C) or null
  T* db;          // (C) or null
  int64_t N, C, S;
  bool training;  // eval: mean and rstd are constants (the running statistics)
};

void batch_norm_forward(const BatchNormArgs<float>& a);
template <class T>
void batch_norm_forward_ref(const BatchNormArgs<T>& a);
void batch_norm_backward(const BatchNormBackwardArgs<float>& a);
template <class T>
void batch_norm_backward_ref(const BatchNormBackwardArgs<T>& a);

}  // namespace cf::ops::cpu
