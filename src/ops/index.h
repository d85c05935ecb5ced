// Index ops (torch.gather, torch.scatter_add, torch.index_select, torch.index_add), all out of
// place, with i64 indices validated before any kernel reads through them.
//   gather:       out[p] = x[p with p_dim := index[p]]               (out has index's shape)
//                 grad x = scatter_add(zeros(x), dim, index, g)
//   scatter_add:  out = x; out[p with p_dim := index[p]] += src[p]   over p in index's shape
//                 grad x = g; grad src = gather(g, dim, index) (zero outside index's shape)
//   index_select: out[.., i, ..] = x[.., index[i], ..]               grad x = index_add(0, g)
//   index_add:    out = x; out[.., index[i], ..] += alpha src[.., i, ..]
//                 grad x = g; grad src = alpha index_select(g, dim, index)
// Repeated indices accumulate in increasing position order (deterministic for any thread count).
// Saved for backward: index. Kernels overwrite (=) gather/index_select outputs and accumulate
// (+=) into scatter_add/index_add outputs, which the op pre-fills with x.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cformer/tensor.h"

namespace cf::ops {

/// Throws IndexError naming op and arg unless every value of the i64 tensor index lies in
/// [0, size); the message gives the offending value and the valid range.
void check_index_range(const char* op, const Tensor& index, int64_t size, const char* what);

namespace cpu {

template <class T> struct GatherArgs {
  T* out;                        // index's shape, contiguous (scatter: x's shape, pre-filled)
  const T* x;                    // gather: x contiguous; scatter: src contiguous
  const int64_t* index;          // index's shape, contiguous
  int ndim;                      // >= 1
  int dim;
  int64_t dim_size;              // valid index values are [0, dim_size)
  int64_t index_shape[kMaxDims];
  int64_t x_strides[kMaxDims];   // gather: of x; scatter: of src
  int64_t out_strides[kMaxDims]; // gather: of out (= index's); scatter: of out (= x's)
};
/// Gather (=): T is any type of the element's size (data is only copied). The range check is
/// fused: positions with an index outside [0, dim_size) are skipped and the result is false
/// (the op then throws), so nothing is read out of bounds and the index is read once.
template <class T> bool gather_forward(const GatherArgs<T>& a);
template <class T> bool gather_forward_ref(const GatherArgs<T>& a);
/// out[p with p_dim := index[p]] += x[p] (+=); the same fused range check.
template <class T> bool scatter_add_forward(const GatherArgs<T>& a);
template <class T> bool scatter_add_forward_ref(const GatherArgs<T>& a);

struct IndexSelectArgs {
  void* out;             // (outer, m, inner)
  const void* x;         // (outer, n, inner) contiguous
  const int64_t* index;  // (m), values in [0, n)
  int64_t outer, n, m, inner;
  size_t elem_size;
};
void index_select_forward(const IndexSelectArgs& a);
void index_select_forward_ref(const IndexSelectArgs& a);

template <class T> struct IndexAddArgs {
  T* out;                // (outer, n, inner), pre-filled with x
  const T* src;          // (outer, m, inner) contiguous
  const int64_t* index;  // (m), values in [0, n)
  int64_t outer, n, m, inner;
  T alpha;
};
/// out[o, index[i], j] += alpha * src[o, i, j] (+=), i in increasing order for each element.
template <class T> void index_add_forward(const IndexAddArgs<T>& a);
template <class T> void index_add_forward_ref(const IndexAddArgs<T>& a);

}  // namespace cpu
}  // namespace cf::ops
