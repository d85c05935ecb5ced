// 2-D pooling over x (N, C, H, W) -> y (N, C, Ho, Wo); the kernels see P = N C planes.
//   max_pool2d (F.max_pool2d): y = max over the window rows oh sh - ph + i dh, cols
//     ow sw - pw + j dw inside the input (padding is -inf); idx = the flat in-plane index of the
//     first maximum (a NaN wins). Backward: dx[idx] += g. Saves idx (i64, P Ho Wo).
//   avg_pool2d (F.avg_pool2d): window [oh sh - ph, + kh) clipped to the padded input gives n_pad
//     cells, clipped to the input n_in; y = sum / (divisor ? divisor : count_include_pad ? n_pad
//     : n_in), 0 for a window with no input cell. Backward: dx += g / divisor per cell. Saves
//     nothing but the geometry.
//   adaptive_avg_pool2d (F.adaptive_avg_pool2d): rows [floor(oh H / Ho), ceil((oh + 1) H / Ho)),
//     same for cols; y = mean. Backward spreads g / count. Saves nothing.
// Forward kernels overwrite (=); backward kernels overwrite dx (zeroing it first).
#pragma once
#include <array>
#include <cstdint>

#include "cformer/tensor.h"

namespace cf::ops {

/// A window argument of one value (both dims) or two (h, w); throws ValueError naming op and
/// arg otherwise. Used by pool, upsample and fold.
std::array<int64_t, 2> pair_arg(const char* op, const char* arg, const Shape& s);
/// Checks x is a defined f32 / f64 CPU tensor of rank `rank` with non-empty trailing dims.
void check_spatial_input(const char* op, const Tensor& x, int rank, const char* layout);

}  // namespace cf::ops

namespace cf::ops::cpu {

/// The geometry shared by max_pool2d and avg_pool2d (avg: dh = dw = 1).
struct Pool2dGeom {
  int64_t P;       // N C planes
  int64_t H, W;    // input plane
  int64_t Ho, Wo;  // output plane
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
};

template <class T>
struct MaxPool2dArgs {
  const T* x;    // (P, H, W)
  T* y;          // (P, Ho, Wo)
  int64_t* idx;  // (P, Ho, Wo): in-plane index of the maximum; null when not needed
  Pool2dGeom g;
};
template <class T>
struct MaxPool2dBackwardArgs {
  const T* g;          // (P, Ho, Wo)
  const int64_t* idx;  // (P, Ho, Wo)
  T* dx;               // (P, H, W)
  Pool2dGeom geom;
};

template <class T>
struct AvgPool2dArgs {
  const T* x;  // (P, H, W) forward; g (P, Ho, Wo) backward
  T* y;        // (P, Ho, Wo) forward; dx (P, H, W) backward
  Pool2dGeom g;
  bool count_include_pad;
  int64_t divisor;  // divisor_override, or 0 for none
};

template <class T>
struct AdaptiveAvgPool2dArgs {
  const T* x;  // (P, H, W) forward; g (P, Ho, Wo) backward
  T* y;        // (P, Ho, Wo) forward; dx (P, H, W) backward
  int64_t P, H, W, Ho, Wo;
};

void max_pool2d_forward(const MaxPool2dArgs<float>& a);
template <class T>
void max_pool2d_forward_ref(const MaxPool2dArgs<T>& a);
void max_pool2d_backward(const MaxPool2dBackwardArgs<float>& a);
template <class T>
void max_pool2d_backward_ref(const MaxPool2dBackwardArgs<T>& a);

void avg_pool2d_forward(const AvgPool2dArgs<float>& a);
template <class T>
void avg_pool2d_forward_ref(const AvgPool2dArgs<T>& a);
void avg_pool2d_backward(const AvgPool2dArgs<float>& a);
template <class T>
void avg_pool2d_backward_ref(const AvgPool2dArgs<T>& a);

void adaptive_avg_pool2d_forward(const AdaptiveAvgPool2dArgs<float>& a);
template <class T>
void adaptive_avg_pool2d_forward_ref(const AdaptiveAvgPool2dArgs<T>& a);
void adaptive_avg_pool2d_backward(const AdaptiveAvgPool2dArgs<float>& a);
template <class T>
void adaptive_avg_pool2d_backward_ref(const AdaptiveAvgPool2dArgs<T>& a);

}  // namespace cf::ops::cpu
