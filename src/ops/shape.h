// Shape ops: cat, stack, split, chunk, repeat, tril, triu, flip, pad, cumsum (torch.cat, ...,
// torch.nn.functional.pad, torch.cumsum). Data movement works on any dtype (byte copies).
//   cat:   out = [x_0 | x_1 | ...] along dim     grads: g narrowed back to each input
//   split / chunk: views of x (one node for all pieces)   grad: cat of the piece grads
//   repeat / flip / pad: out[o] = x[map_0(o_0), ..., map_k(o_k)], map = -1 gives the pad value;
//     grad: gx[map(o)] += g[o] (remap_backward; flip is its own inverse)
//   tril / triu over the last two dims (R, C): keep j - i <= diag / j - i >= diag; grad: same mask
//   cumsum: y_i = sum_{j<=i} x_j (double accumulation, as PyTorch on CPU); grad: reversed cumsum
// Nothing is saved for backward but shapes and maps. Kernels overwrite (=) except remap_backward.
// Byte copies (cat, remap, tri) are exact, so every dtype, f64 included, takes the fast kernel;
// arithmetic (remap_backward, cumsum) runs _ref for f64.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cformer/tensor.h"

namespace cf::ops::cpu {

struct CatArgs {
  int n;                      // number of inputs
  const void* const* xs;      // n contiguous inputs, each (outer, inner[i])
  const int64_t* inner;       // n row lengths in elements
  void* out;                  // (outer, out_inner), out_inner = sum(inner)
  int64_t outer, out_inner;
  size_t elem_size;
};
/// out rows are the concatenated input rows (=); memcpy of whole rows, OpenMP over outer.
void cat_forward(const CatArgs& a);
void cat_forward_ref(const CatArgs& a);

struct RemapArgs {
  const void* x;                  // contiguous, shape in_shape
  void* out;                      // contiguous, shape out_shape
  int ndim;                       // >= 1
  int64_t in_shape[kMaxDims];
  int64_t out_shape[kMaxDims];
  const int64_t* map[kMaxDims];   // per dim, out_shape[d] entries: input index, or -1 = fill
  const void* fill;               // one element of elem_size bytes, used where a map is -1
  size_t elem_size;
};
/// out[o] = x[map(o)] or fill (=): contiguous runs of the last map become memcpy.
void remap_forward(const RemapArgs& a);
void remap_forward_ref(const RemapArgs& a);
/// dx[map(o)] += g[o] over every o with no -1 (+=; x/out roles as in the forward, x = g).
/// Deterministic: each dx element sums its contributions in increasing o order.
template <class T> void remap_backward(const RemapArgs& a, T* dx);
template <class T> void remap_backward_ref(const RemapArgs& a, T* dx);

struct TriArgs {
  const void* x;     // (B, R, C) contiguous
  void* out;         // (B, R, C)
  int64_t B, R, C;
  int64_t diagonal;
  bool upper;        // triu when true, tril otherwise
  size_t elem_size;
};
void tri_forward(const TriArgs& a);
void tri_forward_ref(const TriArgs& a);

template <class T> struct CumsumArgs {
  const T* x;  // (outer, n, inner) contiguous
  T* y;        // (outer, n, inner)
  int64_t outer, n, inner;
};
template <class T> void cumsum_forward(const CumsumArgs<T>& a);
template <class T> void cumsum_forward_ref(const CumsumArgs<T>& a);

}  // namespace cf::ops::cpu
