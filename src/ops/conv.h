// conv2d (torch.nn.functional.conv2d) and conv_transpose2d (F.conv_transpose2d) over NCHW.
//   x (N, C, H, W), w (O, C/G, KH, KW), y (N, O, OH, OW), OH = (H + 2 PH - DH (KH-1) - 1) / SH + 1
//   y[n, o, oh, ow] = b[o] + sum_{c, i, j} w[o, c, i, j] x[n, g C/G + c, oh SH - PH + i DH, ...]
// with g = o / (O/G); out-of-range input positions read zero. Three kernels cover both ops:
//   forward          x, w, b -> y
//   backward_input   dy, w   -> dx (+ a bias per input channel: conv_transpose2d's forward)
//   backward_weight  x, dy   -> dw, db
// conv_transpose2d(x, w) is conv2d's backward_input with x as dy (w (C, O/G, KH, KW) read as a
// conv2d weight of a conv from O to C channels); its backward is conv2d's forward (dx) and
// backward_weight with the roles of x and dy exchanged. conv2d saves x and w.
// f32: oneDNN's convolution primitives or im2col + GEMM (ops/cpu/gemm.h) / direct loops for
// depthwise, chosen per shape (ConvPath). See Note [conv] in docs/notes/conv.md. Kernels
// overwrite (=).
#pragma once
#include <cstdint>
#include <string>

namespace cf::ops::cpu {

/// The shapes of one conv2d (for conv_transpose2d: the conv2d whose input gradient it is).
struct Conv2dGeometry {
  int64_t N, C, H, W;  // input (N, C, H, W)
  int64_t O, KH, KW;   // weight (O, C / G, KH, KW)
  int64_t OH, OW;      // output (N, O, OH, OW)
  int64_t SH, SW;      // stride
  int64_t PH, PW;      // zero padding on both sides
  int64_t DH, DW;      // dilation
  int64_t G;           // groups: C and O are multiples of G
};

template <class T>
struct Conv2dArgs {
  const T* x;  // (N, C, H, W)
  const T* w;  // (O, C / G, KH, KW)
  const T* b;  // (O) or null
  T* y;        // (N, O, OH, OW)
  Conv2dGeometry g;
};
template <class T>
struct Conv2dBackwardInputArgs {
  const T* dy;  // (N, O, OH, OW)
  const T* w;   // (O, C / G, KH, KW)
  const T* b;   // (C) or null: added to every dx[n, c]
  T* dx;        // (N, C, H, W)
  Conv2dGeometry g;
};
template <class T>
struct Conv2dBackwardWeightArgs {
  const T* x;   // (N, C, H, W)
  const T* dy;  // (N, O, OH, OW)
  T* dw;        // (O, C / G, KH, KW) or null: not needed
  T* db;        // (O) or null
  Conv2dGeometry g;
};

/// Which kernels conv2d's f32 passes run: oneDNN's convolution primitives, cformer's own
/// (im2col + GEMM, direct loops for depthwise), or per shape by the measured rule in
/// ops/cpu/conv.cpp (automatic, the default). CFORMER_CONV=onednn|im2col|auto sets it at
/// start-up; tests and benchmarks switch it. Throws ValueError for an unknown CFORMER_CONV.
enum class ConvPath { automatic, onednn, im2col };
void set_conv_path(ConvPath path);
ConvPath conv_path();
/// "auto" (or empty), "onednn" or "im2col"; throws ValueError for anything else.
ConvPath conv_path_from_name(const std::string& name);

void conv2d_forward(const Conv2dArgs<float>& a);
void conv2d_backward_input(const Conv2dBackwardInputArgs<float>& a);
void conv2d_backward_weight(const Conv2dBackwardWeightArgs<float>& a);
template <class T>
void conv2d_forward_ref(const Conv2dArgs<T>& a);
template <class T>
void conv2d_backward_input_ref(const Conv2dBackwardInputArgs<T>& a);
template <class T>
void conv2d_backward_weight_ref(const Conv2dBackwardWeightArgs<T>& a);

}  // namespace cf::ops::cpu
