// Kernels of gather, scatter_add, index_select and index_add.
#include "ops/index.h"

#include <cstring>

#include "ops/cpu/parallel.h"

namespace cf::ops::cpu {
namespace {

// Offsets of position `flat` (row-major over index_shape) in x (dim replaced by the index value)
// and in out (dim kept).
template <class T> void offsets(const GatherArgs<T>& a, int64_t flat, int64_t& xo, int64_t& oo) {
  xo = 0;
  oo = 0;
  const int64_t k = flat;
  for (int d = a.ndim - 1; d >= 0; --d) {
    const int64_t p = flat % a.index_shape[d];
    flat /= a.index_shape[d];
    if (d != a.dim) xo += p * a.x_strides[d];
    oo += p * a.out_strides[d];
  }
  xo += a.index[k] * a.x_strides[a.dim];
}

}  // namespace

template <class T> void gather_forward(const GatherArgs<T>& a) {
  const int last = a.ndim - 1;
  const int64_t W = a.index_shape[last];
  int64_t rows = 1;
  for (int d = 0; d < last; ++d) rows *= a.index_shape[d];
  if (rows == 0 || W == 0) return;
  // Along each row of the last dim: x offset = row base + j * step + index * x_strides[dim].
  const int64_t step = last == a.dim ? 0 : a.x_strides[last];
  const int64_t sdim = a.x_strides[a.dim];
  parallel_for(0, rows, std::max<int64_t>(1, kGrainSize / W), [&a, last, W, step, sdim](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      int64_t base = 0, rem = r;
      for (int d = last - 1; d >= 0; --d) {
        const int64_t p = rem % a.index_shape[d];
        rem /= a.index_shape[d];
        if (d != a.dim) base += p * a.x_strides[d];
      }
      const int64_t* idx = a.index + r * W;
      T* out = a.out + r * W;
      for (int64_t j = 0; j < W; ++j) out[j] = a.x[base + j * step + idx[j] * sdim];
    }
  });
}

template <class T> void gather_forward_ref(const GatherArgs<T>& a) {
  int64_t n = 1;
  for (int d = 0; d < a.ndim; ++d) n *= a.index_shape[d];
  for (int64_t k = 0; k < n; ++k) {
    int64_t xo, oo;
    offsets(a, k, xo, oo);
    a.out[oo] = a.x[xo];
  }
}

template <class T> void scatter_add_forward(const GatherArgs<T>& a) {
  int64_t n = 1;
  for (int d = 0; d < a.ndim; ++d) n *= a.index_shape[d];
  if (n == 0) return;
  // Positions with different coordinates along a dim p != dim write disjoint outputs: threads
  // split p, and each output still receives its contributions in increasing position order.
  int p = -1;
  for (int d = 0; d < a.ndim; ++d)
    if (d != a.dim && (p < 0 || a.index_shape[d] > a.index_shape[p])) p = d;
  if (p < 0 || a.index_shape[p] < 2) {
    scatter_add_forward_ref(a);
    return;
  }
  const int64_t np = a.index_shape[p], per = n / np;
  int64_t idx_strides[kMaxDims];
  int64_t stride = 1;
  for (int d = a.ndim - 1; d >= 0; --d) {
    idx_strides[d] = stride;
    stride *= a.index_shape[d];
  }
  parallel_for(0, np, std::max<int64_t>(1, kGrainSize / per), [&a, &idx_strides, p, per](int64_t b, int64_t e) {
    for (int64_t v = b; v < e; ++v)
      for (int64_t k = 0; k < per; ++k) {
        // Position number k of the slice p = v, in row-major order over the other dims.
        int64_t rem = k, idx_off = 0, src_off = 0, out_off = 0;
        for (int d = a.ndim - 1; d >= 0; --d) {
          const int64_t c = d == p ? v : rem % a.index_shape[d];
          if (d != p) rem /= a.index_shape[d];
          idx_off += c * idx_strides[d];
          src_off += c * a.x_strides[d];
          if (d != a.dim) out_off += c * a.out_strides[d];
        }
        a.out[out_off + a.index[idx_off] * a.out_strides[a.dim]] += a.x[src_off];
      }
  });
}

template <class T> void scatter_add_forward_ref(const GatherArgs<T>& a) {
  int64_t n = 1;
  for (int d = 0; d < a.ndim; ++d) n *= a.index_shape[d];
  for (int64_t k = 0; k < n; ++k) {
    int64_t flat = k, src_off = 0, out_off = 0;
    for (int d = a.ndim - 1; d >= 0; --d) {
      const int64_t c = flat % a.index_shape[d];
      flat /= a.index_shape[d];
      src_off += c * a.x_strides[d];
      if (d != a.dim) out_off += c * a.out_strides[d];
    }
    a.out[out_off + a.index[k] * a.out_strides[a.dim]] += a.x[src_off];
  }
}

void index_select_forward(const IndexSelectArgs& a) {
  const int64_t es = static_cast<int64_t>(a.elem_size);
  const int64_t row = a.inner * es;
  parallel_for(0, a.outer * a.m, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(a.inner, 1)),
               [&a, row](int64_t b, int64_t e) {
                 for (int64_t t = b; t < e; ++t) {
                   const int64_t o = t / a.m, i = t % a.m;
                   std::memcpy(static_cast<char*>(a.out) + t * row,
                               static_cast<const char*>(a.x) + (o * a.n + a.index[i]) * row, row);
                 }
               });
}

void index_select_forward_ref(const IndexSelectArgs& a) {
  const size_t es = a.elem_size;
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t i = 0; i < a.m; ++i)
      for (int64_t j = 0; j < a.inner; ++j)
        std::memcpy(static_cast<char*>(a.out) + ((o * a.m + i) * a.inner + j) * es,
                    static_cast<const char*>(a.x) + ((o * a.n + a.index[i]) * a.inner + j) * es, es);
}

template <class T> void index_add_forward(const IndexAddArgs<T>& a) {
  const int64_t inner = a.inner;
  const T alpha = a.alpha;
  // Split outer when it has enough rows, else blocks of columns: threads write disjoint outputs.
  constexpr int64_t kCols = 512;
  const int64_t col_blocks = a.outer >= 8 ? 1 : (inner + kCols - 1) / kCols;
  const int64_t cols = a.outer >= 8 ? inner : kCols;
  const int64_t work = std::max<int64_t>(1, a.m * cols);
  parallel_for(0, a.outer * col_blocks, std::max<int64_t>(1, kGrainSize / work),
               [&a, inner, alpha, col_blocks, cols](int64_t b, int64_t e) {
                 for (int64_t t = b; t < e; ++t) {
                   const int64_t o = t / col_blocks, c0 = (t % col_blocks) * cols;
                   const int64_t len = std::min(cols, inner - c0);
                   for (int64_t i = 0; i < a.m; ++i) {
                     T* out = a.out + (o * a.n + a.index[i]) * inner + c0;
                     const T* src = a.src + (o * a.m + i) * inner + c0;
                     if (alpha == T(1)) {
#pragma omp simd
                       for (int64_t j = 0; j < len; ++j) out[j] += src[j];
                     } else {
#pragma omp simd
                       for (int64_t j = 0; j < len; ++j) out[j] += alpha * src[j];
                     }
                   }
                 }
               });
}

template <class T> void index_add_forward_ref(const IndexAddArgs<T>& a) {
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t i = 0; i < a.m; ++i)
      for (int64_t j = 0; j < a.inner; ++j)
        a.out[(o * a.n + a.index[i]) * a.inner + j] += a.alpha * a.src[(o * a.m + i) * a.inner + j];
}

template void gather_forward<uint8_t>(const GatherArgs<uint8_t>&);
template void gather_forward<uint16_t>(const GatherArgs<uint16_t>&);
template void gather_forward<uint32_t>(const GatherArgs<uint32_t>&);
template void gather_forward<uint64_t>(const GatherArgs<uint64_t>&);
template void gather_forward_ref<uint8_t>(const GatherArgs<uint8_t>&);
template void gather_forward_ref<uint16_t>(const GatherArgs<uint16_t>&);
template void gather_forward_ref<uint32_t>(const GatherArgs<uint32_t>&);
template void gather_forward_ref<uint64_t>(const GatherArgs<uint64_t>&);
template void scatter_add_forward<float>(const GatherArgs<float>&);
template void scatter_add_forward<double>(const GatherArgs<double>&);
template void scatter_add_forward<int64_t>(const GatherArgs<int64_t>&);
template void scatter_add_forward_ref<float>(const GatherArgs<float>&);
template void scatter_add_forward_ref<double>(const GatherArgs<double>&);
template void scatter_add_forward_ref<int64_t>(const GatherArgs<int64_t>&);
template void index_add_forward<float>(const IndexAddArgs<float>&);
template void index_add_forward<double>(const IndexAddArgs<double>&);
template void index_add_forward<int64_t>(const IndexAddArgs<int64_t>&);
template void index_add_forward_ref<float>(const IndexAddArgs<float>&);
template void index_add_forward_ref<double>(const IndexAddArgs<double>&);
template void index_add_forward_ref<int64_t>(const IndexAddArgs<int64_t>&);

}  // namespace cf::ops::cpu
