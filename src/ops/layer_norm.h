// layer_norm over the trailing dims normalized_shape (torch.nn.functional.layer_norm): M rows of
// N elements each.
//   mean = sum x / N, rstd = 1 / sqrt(sum (x - mean)^2 / N + eps), xhat = (x - mean) rstd
//   y = xhat w + b                      (w, b of shape normalized_shape, optional)
//   dx = rstd (gw - mean(gw) - xhat mean(gw xhat)), gw = g w;   dw = sum_rows g xhat, db = sum_rows
//   g
// Saves x, w, mean (M) and rstd (M). One parallel pass per row each way (the row stays in L1);
// dw / db are summed per fixed block of rows and the blocks combined in order, so the result
// does not depend on the thread count. Kernels overwrite (=).
#pragma once
#include <cstdint>

namespace cf::ops::cpu {

template <class T>
struct LayerNormArgs {
  const T* x;  // (M, N)
  const T* w;  // (N) or null
  const T* b;  // (N) or null
  T* y;        // (M, N)
  T* mean;     // (M)
  T* rstd;     // (M)
  int64_t M, N;
  double eps;
};
template <class T>
struct LayerNormBackwardArgs {
  const T* x;     // (M, N)
  const T* w;     // (N) or null
  const T* mean;  // (M)
  const T* rstd;  // (M)
  const T* g;     // (M, N)
  T* dx;          // (M, N) or null: not needed
  T* dw;          // (N) or null
  T* db;          // (N) or null
  int64_t M, N;
};

void layer_norm_forward(const LayerNormArgs<float>& a);
template <class T>
void layer_norm_forward_ref(const LayerNormArgs<T>& a);
void layer_norm_backward(const LayerNormBackwardArgs<float>& a);
template <class T>
void layer_norm_backward_ref(const LayerNormBackwardArgs<T>& a);

}  // namespace cf::ops::cpu
