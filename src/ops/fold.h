// unfold (im2col, torch.nn.functional.unfold) and fold (col2im, torch.nn.functional.fold), each
// the adjoint of the other. Image x (N, C, H, W); columns (N, C kh kw, L), L = Lh Lw sliding
// blocks, Lh = (H + 2 ph - dh (kh - 1) - 1) / sh + 1 (same for w). Column row c kh kw + i kw + j,
// block (bh, bw) holds x[n, c, bh sh - ph + i dh, bw sw - pw + j dw] (0 outside the image).
//   unfold: cols = gather(x); backward = fold(g).
//   fold:   x = sum of the columns at their positions; backward = unfold(g).
// Saves nothing but the geometry. unfold kernels overwrite (=) every column; fold kernels
// overwrite the image (zeroing it first, then +=). OpenMP over image planes (n, c).
#pragma once
#include <cstdint>

namespace cf::ops::cpu {

struct FoldGeom {
  int64_t N, C, H, W;  // image
  int64_t kh, kw, dh, dw, ph, pw, sh, sw;
  int64_t Lh, Lw;  // sliding blocks per dim
};

template <class T>
struct Im2ColArgs {
  const T* im;  // (N, C, H, W)
  T* col;       // (N, C kh kw, Lh Lw)
  FoldGeom g;
};
template <class T>
struct Col2ImArgs {
  const T* col;  // (N, C kh kw, Lh Lw)
  T* im;         // (N, C, H, W)
  FoldGeom g;
};

void unfold_forward(const Im2ColArgs<float>& a);
template <class T>
void unfold_forward_ref(const Im2ColArgs<T>& a);
void fold_forward(const Col2ImArgs<float>& a);
template <class T>
void fold_forward_ref(const Col2ImArgs<T>& a);

}  // namespace cf::ops::cpu
