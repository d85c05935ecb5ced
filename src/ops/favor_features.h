// favor_features: FAVOR+ positive random features (Choromanski et al. 2021), fused.
//   dash = x W^T d^-1/4 (BH, L, m), diag_i = |x_i|^2 d^-1/2 / 2, phi = (exp(dash - diag - c) +
//   eps) / sqrt(m); c = max_r dash_ir per query row, max_{i,r} dash_ir per (BH) slice for keys.
// PyTorch twin: softmax_kernel_transformation of the paper's code with the max not detached
// (tools/golden/gen_effattn_b.py favor). c's gradient goes to its first maximal element (row-major
// order), as max(dim).values of the composite this op replaces (tests/ops/test_favor_features.cpp).
// Backward, s = 1 / sqrt(m): G = g (phi - eps s) (= dL/d dash through exp); dc = -sum G over c's
// group, added to G at c's argmax; ddiag_i = -sum_r G_ir; dx = d^-1/4 G W + d^-1/2 ddiag_i x_i;
// dW = d^-1/4 G^T x. Saved: x, W, phi (the output) and c's argmax (int64 per row or per slice).
#pragma once
#include <cstdint>

namespace cf::ops::cpu {

template <class T>
struct FavorFeaturesArgs {
  const T* x;       // (BH, L, d) contiguous
  const T* w;       // (m, d) contiguous
  T* out;           // (BH, L, m) contiguous: phi
  int64_t* argmax;  // query: (BH, L) column r of each row's max; key: (BH) flat i * m + r
  int64_t BH, L, d, m;
  bool is_query;
  double eps;
};

/// Fills a.out and a.argmax (=). m >= 1.
void favor_features_forward(const FavorFeaturesArgs<float>& a);
/// dx (BH, L, d) and dw (m, d) (=, each may be null: not needed) from g (BH, L, m); reads a.x,
/// a.w, a.out, a.argmax. Per-thread scratch: one (128, m) block of dL/d dash and, for dw, an
/// (m, d) partial sum.
void favor_features_backward(const FavorFeaturesArgs<float>& a, const float* g, float* dx,
                             float* dw);
/// Reference kernels (plain loops, double accumulation): the f64 path and the oracle.
template <class T>
void favor_features_forward_ref(const FavorFeaturesArgs<T>& a);
template <class T>
void favor_features_backward_ref(const FavorFeaturesArgs<T>& a, const T* g, T* dx, T* dw);

}  // namespace cf::ops::cpu
