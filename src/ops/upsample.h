// 2-D resampling of x (N, C, H, W) -> y (N, C, Ho, Wo), torch.nn.functional.interpolate; the
// kernels see P = N C planes. The source coordinate of output o along a dim uses PyTorch's scale
// r = 1 / scale_factor when one was given, else in / out (align_corners: (in - 1) / (out - 1)).
//   nearest: i = min(floor(o r), in - 1), r in float as PyTorch (out == in: i = o; out == 2 in:
//     i = o / 2). Backward: dx[i] += g.
//   bilinear: s = o r (align_corners) or max(0, (o + 0.5) r - 0.5); i0 = floor(s),
//     i1 = min(i0 + 1, in - 1), l1 = s - i0, l0 = 1 - l1; y = sum of the four corners weighted
//     l0/l1 per dim (out == in: i0 = i1 = o). Backward: dx[corner] += weight g.
// Saves nothing but the geometry. Forward kernels overwrite (=); backward kernels overwrite dx
// (zeroing it first).
#pragma once
#include <cstdint>

namespace cf::ops::cpu {

template <class T>
struct UpsampleArgs {
  const T* x;  // (P, H, W) forward; g (P, Ho, Wo) backward
  T* y;        // (P, Ho, Wo) forward; dx (P, H, W) backward
  int64_t P, H, W, Ho, Wo;
  double scale_h, scale_w;  // the user's scale factors, or 0 when the size was given
  bool align_corners;       // bilinear only
};

void upsample_nearest2d_forward(const UpsampleArgs<float>& a);
template <class T>
void upsample_nearest2d_forward_ref(const UpsampleArgs<T>& a);
void upsample_nearest2d_backward(const UpsampleArgs<float>& a);
template <class T>
void upsample_nearest2d_backward_ref(const UpsampleArgs<T>& a);

void upsample_bilinear2d_forward(const UpsampleArgs<float>& a);
template <class T>
void upsample_bilinear2d_forward_ref(const UpsampleArgs<T>& a);
void upsample_bilinear2d_backward(const UpsampleArgs<float>& a);
template <class T>
void upsample_bilinear2d_backward_ref(const UpsampleArgs<T>& a);

}  // namespace cf::ops::cpu
