// rms_norm over the trailing dims normalized_shape (torch.nn.functional.rms_norm of later
// PyTorch; its golden twin is the explicit formula): M rows of N elements each.
//   rstd = 1 / sqrt(sum x^2 / N + eps), xhat = x rstd, y = xhat w     (w optional)
//   dx = rstd (gw - xhat mean(gw xhat)), gw = g w;   dw = sum_rows g xhat
// Saves x, w and rstd (M). One parallel pass per row each way; dw is summed per fixed block of
// rows and the blocks combined in order (thread-count independent). Kernels overwrite (=).
#pragma once
#include <cstdint>

namespace cf::ops::cpu {

template <class T>
struct RmsNormArgs {
  const T* x;  // (M, N)
  const T* w;  // (N) or null
  T* y;        // (M, N)
  T* rstd;     // (M)
  int64_t M, N;
  double eps;
};
template <class T>
struct RmsNormBackwardArgs {
  const T* x;     // (M, N)
  const T* w;     // (N) or null
  const T* rstd;  // (M)
  const T* g;     // (M, N)
  T* dx;          // (M, N) or null: not needed
  T* dw;          // (N) or null
  int64_t M, N;
};

void rms_norm_forward(const RmsNormArgs<float>& a);
template <class T>
void rms_norm_forward_ref(const RmsNormArgs<T>& a);
void rms_norm_backward(const RmsNormBackwardArgs<float>& a);
template <class T>
void rms_norm_backward_ref(const RmsNormBackwardArgs<T>& a);

}  // namespace cf::ops::cpu
