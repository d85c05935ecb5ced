// Kernels of gather, scatter_add, index_select and index_add.
#include "ops/index.h"

#include <atomic>
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

// Row-wise traversal of index's shape: rows of the last dim, W = index_shape[last] long.
template <class T> struct Rows {
  int last;
  int64_t W, rows;
  explicit Rows(const GatherArgs<T>& a) : last(a.ndim - 1), W(a.index_shape[a.ndim - 1]), rows(1) {
    for (int d = 0; d < last; ++d) rows *= a.index_shape[d];
  }
};

// Offsets of row r in the strided tensor ("x") and the out tensor, skipping `dim` for both.
template <class T> void row_bases(const GatherArgs<T>& a, int last, int64_t r, int64_t& xb, int64_t& ob) {
  xb = 0;
  ob = 0;
  for (int d = last - 1; d >= 0; --d) {
    const int64_t p = r % a.index_shape[d];
    r /= a.index_shape[d];
    xb += p * a.x_strides[d];
    if (d != a.dim) ob += p * a.out_strides[d];
  }
}

// Whether index value i is in [0, n) (one unsigned compare).
inline bool in_range(int64_t i, int64_t n) { return static_cast<uint64_t>(i) < static_cast<uint64_t>(n); }

template <class T> bool gather_forward(const GatherArgs<T>& a) {
  const Rows<T> g(a);
  if (g.rows == 0 || g.W == 0) return true;
  const int last = g.last;
  const int64_t W = g.W, sdim = a.x_strides[a.dim], n = a.dim_size;
  std::atomic<bool> ok{true};
  // x is contiguous (x_strides[last] == 1): along a row x offset = base + j + index * sdim, or
  // base + index when dim is the last dim.
  parallel_for(0, g.rows, std::max<int64_t>(1, kGrainSize / W), [&a, &ok, last, W, sdim, n](int64_t b, int64_t e) {
    bool good = true;
    for (int64_t r = b; r < e; ++r) {
      int64_t base = 0, rem = r;
      for (int d = last - 1; d >= 0; --d) {
        const int64_t p = rem % a.index_shape[d];
        rem /= a.index_shape[d];
        if (d != a.dim) base += p * a.x_strides[d];
      }
      const int64_t* idx = a.index + r * W;
      const T* x = a.x + base;
      T* out = a.out + r * W;
      for (int64_t j = 0; j < W; ++j) {
        const int64_t i = idx[j];
        if (!in_range(i, n)) {
          good = false;
          continue;
        }
        out[j] = last == a.dim ? x[i] : x[j + i * sdim];
      }
    }
    if (!good) ok = false;
  });
  return ok;
}

template <class T> bool gather_forward_ref(const GatherArgs<T>& a) {
  int64_t n = 1;
  for (int d = 0; d < a.ndim; ++d) n *= a.index_shape[d];
  bool ok = true;
  for (int64_t k = 0; k < n; ++k) {
    if (a.index[k] < 0 || a.index[k] >= a.dim_size) {
      ok = false;
      continue;
    }
    int64_t xo, oo;
    offsets(a, k, xo, oo);
    a.out[oo] = a.x[xo];
  }
  return ok;
}

template <class T> bool scatter_add_forward(const GatherArgs<T>& a) {
  const Rows<T> g(a);
  if (g.rows == 0 || g.W == 0) return true;
  const int last = g.last;
  const int64_t W = g.W, odim = a.out_strides[a.dim], n = a.dim_size;
  std::atomic<bool> ok{true};
  // out is contiguous (out_strides[last] == 1), src's last stride is 1 too.
  auto rows = [&a, &ok, last, W, odim, n](int64_t r0, int64_t r1, int64_t j0, int64_t j1) {
    bool good = true;
    for (int64_t r = r0; r < r1; ++r) {
      int64_t sb, ob;
      row_bases(a, last, r, sb, ob);
      const int64_t* idx = a.index + r * W;
      const T* src = a.x + sb;
      T* out = a.out + ob;
      for (int64_t j = j0; j < j1; ++j) {
        const int64_t i = idx[j];
        if (!in_range(i, n)) {
          good = false;
          continue;
        }
        out[last == a.dim ? i : j + i * odim] += src[j];
      }
    }
    if (!good) ok = false;
  };
  // Threads write disjoint outputs and each output sums in increasing position order: split the
  // dim-0 coordinate when dim != 0, else the columns of the last dim.
  if (a.dim != 0 && last > 0) {
    const int64_t per = g.rows / a.index_shape[0];
    parallel_for(0, a.index_shape[0], std::max<int64_t>(1, kGrainSize / std::max<int64_t>(per * W, 1)),
                 [&rows, per, W](int64_t b, int64_t e) { rows(b * per, e * per, 0, W); });
  } else if (last > 0) {
    parallel_for(0, W, std::max<int64_t>(1, kGrainSize / g.rows),
                 [&rows, &g](int64_t b, int64_t e) { rows(0, g.rows, b, e); });
  } else {
    rows(0, g.rows, 0, W);
  }
  return ok;
}

template <class T> bool scatter_add_forward_ref(const GatherArgs<T>& a) {
  int64_t n = 1;
  for (int d = 0; d < a.ndim; ++d) n *= a.index_shape[d];
  bool ok = true;
  for (int64_t k = 0; k < n; ++k) {
    if (a.index[k] < 0 || a.index[k] >= a.dim_size) {
      ok = false;
      continue;
    }
    int64_t flat = k, src_off = 0, out_off = 0;
    for (int d = a.ndim - 1; d >= 0; --d) {
      const int64_t c = flat % a.index_shape[d];
      flat /= a.index_shape[d];
      src_off += c * a.x_strides[d];
      if (d != a.dim) out_off += c * a.out_strides[d];
    }
    a.out[out_off + a.index[k] * a.out_strides[a.dim]] += a.x[src_off];
  }
  return ok;
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

template bool gather_forward<uint8_t>(const GatherArgs<uint8_t>&);
template bool gather_forward<uint16_t>(const GatherArgs<uint16_t>&);
template bool gather_forward<uint32_t>(const GatherArgs<uint32_t>&);
template bool gather_forward<uint64_t>(const GatherArgs<uint64_t>&);
template bool gather_forward_ref<uint8_t>(const GatherArgs<uint8_t>&);
template bool gather_forward_ref<uint16_t>(const GatherArgs<uint16_t>&);
template bool gather_forward_ref<uint32_t>(const GatherArgs<uint32_t>&);
template bool gather_forward_ref<uint64_t>(const GatherArgs<uint64_t>&);
template bool scatter_add_forward<float>(const GatherArgs<float>&);
template bool scatter_add_forward<double>(const GatherArgs<double>&);
template bool scatter_add_forward<int64_t>(const GatherArgs<int64_t>&);
template bool scatter_add_forward_ref<float>(const GatherArgs<float>&);
template bool scatter_add_forward_ref<double>(const GatherArgs<double>&);
template bool scatter_add_forward_ref<int64_t>(const GatherArgs<int64_t>&);
template void index_add_forward<float>(const IndexAddArgs<float>&);
template void index_add_forward<double>(const IndexAddArgs<double>&);
template void index_add_forward<int64_t>(const IndexAddArgs<int64_t>&);
template void index_add_forward_ref<float>(const IndexAddArgs<float>&);
template void index_add_forward_ref<double>(const IndexAddArgs<double>&);
template void index_add_forward_ref<int64_t>(const IndexAddArgs<int64_t>&);

}  // namespace cf::ops::cpu
