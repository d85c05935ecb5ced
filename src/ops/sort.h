// sort (stable) and topk along one dim (torch.sort(stable=True), torch.topk).
//   sort:  values = x in ascending (or descending) order along dim, equal values keep their
//          order; indices = their positions in x (i64). NaN sorts above every number.
//   topk:  the first k of the descending (largest) or ascending order, ties broken by the lower
//          index; sorted=false returns the same sorted result (PyTorch leaves the order open).
//   grad:  gx = scatter_add(zeros(x), dim, indices, g)   (indices are distinct within a row)
// Saved for backward: indices. f32 / f64 / i64. Kernels overwrite (=).
#pragma once
#include <cstdint>

namespace cf::ops::cpu {

template <class T> struct SortArgs {
  const T* x;         // (outer, n, inner) contiguous
  T* values;          // (outer, k, inner)
  int64_t* indices;   // (outer, k, inner)
  int64_t outer, n, inner, k;
  bool descending;    // topk: largest
};
/// The first k entries of the stable order of each row (k = n: a full sort).
template <class T> void sort_forward(const SortArgs<T>& a);
/// Reference: every element's rank counted against every other (O(n^2) per row).
template <class T> void sort_forward_ref(const SortArgs<T>& a);

}  // namespace cf::ops::cpu
