// Strided N-operand loops: the machinery behind elementwise ops, copies and conversions.
// Operands are described by byte strides over a common (broadcast) shape; dims are coalesced,
// and the work is split over threads by linear element index, so one long row or many short
// rows both parallelize. The kernel sees rows: inner(n, ptrs, strides) with byte strides.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>

#include "ops/cpu/parallel.h"
#include "ops/strided_loop.h"

namespace cf::ops::cpu {

/// Drops size-1 dims and merges dims that are contiguous with each other in every operand.
template <int N> void coalesce(StridedLoop<N>& L) {
  int out = 0;
  for (int d = 0; d < L.ndim; ++d) {
    if (L.sizes[d] == 1) continue;
    if (out > 0) {
      bool mergeable = true;
      for (int k = 0; k < N; ++k)
        if (L.strides[k][out - 1] != L.strides[k][d] * L.sizes[d]) mergeable = false;
      if (mergeable) {
        L.sizes[out - 1] *= L.sizes[d];
        for (int k = 0; k < N; ++k) L.strides[k][out - 1] = L.strides[k][d];
        continue;
      }
    }
    L.sizes[out] = L.sizes[d];
    for (int k = 0; k < N; ++k) L.strides[k][out] = L.strides[k][d];
    ++out;
  }
  if (out == 0) {  // a single element (or a 0-dim tensor)
    out = 1;
    L.sizes[0] = L.ndim == 0 || L.numel() != 0 ? 1 : 0;
    for (int k = 0; k < N; ++k) L.strides[k][0] = 0;
  }
  L.ndim = out;
}

/// Runs inner(n, ptrs, strides) over every row of the coalesced loop, in parallel.
/// ptrs[k] points at operand k's first element of the row; strides[k] is its byte stride.
template <int N, class Inner>
void for_each_row(StridedLoop<N> loop, int64_t grain, const Inner& inner) {
  for (int d = 0; d < loop.ndim; ++d)
    if (loop.sizes[d] == 0) return;
  coalesce(loop);
  const int64_t total = loop.numel();
  if (total == 0) return;
  const int last = loop.ndim - 1;
  std::array<int64_t, N> inner_strides{};
  for (int k = 0; k < N; ++k) inner_strides[k] = loop.strides[k][last];
  parallel_for(0, total, grain, [&](int64_t begin, int64_t end) {
    std::array<int64_t, kMaxDims> idx{};
    int64_t rem = begin;
    for (int d = last; d >= 0; --d) {
      idx[d] = rem % loop.sizes[d];
      rem /= loop.sizes[d];
    }
    int64_t i = begin;
    while (i < end) {
      std::array<char*, N> ptrs;
      for (int k = 0; k < N; ++k) {
        char* p = loop.base[k];
        for (int d = 0; d <= last; ++d) p += idx[d] * loop.strides[k][d];
        ptrs[k] = p;
      }
      const int64_t n = std::min(end - i, loop.sizes[last] - idx[last]);
      inner(n, ptrs, inner_strides);
      i += n;
      idx[last] += n;
      for (int d = last; d > 0 && idx[d] == loop.sizes[d]; --d) {
        idx[d] = 0;
        idx[d - 1]++;
      }
    }
  });
}

}  // namespace cf::ops::cpu
