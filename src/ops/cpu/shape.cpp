// Kernels of the shape ops: cat, remap (repeat / flip / pad), tril / triu, cumsum.
#include "ops/shape.h"

#include <cstring>
#include <vector>

#include "ops/cpu/parallel.h"

namespace cf::ops::cpu {
namespace {

char* at(void* p, int64_t elems, size_t es) { return static_cast<char*>(p) + elems * static_cast<int64_t>(es); }
const char* at(const void* p, int64_t elems, size_t es) {
  return static_cast<const char*>(p) + elems * static_cast<int64_t>(es);
}

void fill_bytes(char* dst, const void* value, int64_t n, size_t es) {
  for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * static_cast<int64_t>(es), value, es);
}

// A run of the last dim's map: out [o, o + len) comes from x [i, i + len), or is fill (i = -1).
struct Run {
  int64_t o, i, len;
};

std::vector<Run> runs_of(const int64_t* map, int64_t n) {
  std::vector<Run> runs;
  for (int64_t o = 0; o < n; ++o) {
    if (!runs.empty()) {
      Run& r = runs.back();
      const bool extends = r.i < 0 ? map[o] < 0 : map[o] == r.i + r.len;
      if (extends) {
        ++r.len;
        continue;
      }
    }
    runs.push_back({o, map[o] < 0 ? -1 : map[o], 1});
  }
  return runs;
}

// Input offset (elements) of output row `row` over dims [0, ndim - 1), or -1 when a map is -1.
int64_t row_offset(const RemapArgs& a, int64_t row, const int64_t* in_strides) {
  int64_t off = 0;
  for (int d = a.ndim - 2; d >= 0; --d) {
    const int64_t o = row % a.out_shape[d];
    row /= a.out_shape[d];
    const int64_t i = a.map[d][o];
    if (i < 0) return -1;
    off += i * in_strides[d];
  }
  return off;
}

void contiguous_strides(const int64_t* shape, int ndim, int64_t* strides) {
  int64_t s = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    strides[d] = s;
    s *= shape[d];
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------- cat

void cat_forward(const CatArgs& a) {
  const int64_t es = static_cast<int64_t>(a.elem_size);
  std::vector<int64_t> col(a.n);
  int64_t c = 0;
  for (int k = 0; k < a.n; ++k) {
    col[k] = c;
    c += a.inner[k];
  }
  const int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(a.out_inner, 1));
  parallel_for(0, a.outer, grain, [&a, &col, es](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o)
      for (int k = 0; k < a.n; ++k)
        if (a.inner[k] > 0)
          std::memcpy(at(a.out, o * a.out_inner + col[k], a.elem_size),
                      at(a.xs[k], o * a.inner[k], a.elem_size), a.inner[k] * es);
  });
}

void cat_forward_ref(const CatArgs& a) {
  for (int64_t o = 0; o < a.outer; ++o) {
    int64_t c = 0;
    for (int k = 0; k < a.n; ++k) {
      for (int64_t j = 0; j < a.inner[k]; ++j)
        std::memcpy(at(a.out, o * a.out_inner + c + j, a.elem_size),
                    at(a.xs[k], o * a.inner[k] + j, a.elem_size), a.elem_size);
      c += a.inner[k];
    }
  }
}

// -------------------------------------------------------------------------------------- remap

void remap_forward(const RemapArgs& a) {
  const int last = a.ndim - 1;
  const int64_t W = a.out_shape[last];
  int64_t rows = 1;
  for (int d = 0; d < last; ++d) rows *= a.out_shape[d];
  if (rows == 0 || W == 0) return;
  int64_t in_strides[kMaxDims];
  contiguous_strides(a.in_shape, a.ndim, in_strides);
  const std::vector<Run> runs = runs_of(a.map[last], W);
  const size_t es = a.elem_size;
  const int64_t grain = std::max<int64_t>(1, kGrainSize / W);
  parallel_for(0, rows, grain, [&a, &runs, &in_strides, W, es](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      char* out = at(a.out, r * W, es);
      const int64_t off = row_offset(a, r, in_strides);
      if (off < 0) {
        fill_bytes(out, a.fill, W, es);
        continue;
      }
      const char* x = at(a.x, off, es);
      for (const Run& run : runs) {
        if (run.i < 0) fill_bytes(out + run.o * es, a.fill, run.len, es);
        else std::memcpy(out + run.o * es, x + run.i * es, run.len * es);
      }
    }
  });
}

void remap_forward_ref(const RemapArgs& a) {
  int64_t in_strides[kMaxDims];
  contiguous_strides(a.in_shape, a.ndim, in_strides);
  int64_t n = 1;
  for (int d = 0; d < a.ndim; ++d) n *= a.out_shape[d];
  for (int64_t flat = 0; flat < n; ++flat) {
    int64_t rem = flat, off = 0;
    bool fill = false;
    for (int d = a.ndim - 1; d >= 0; --d) {
      const int64_t o = rem % a.out_shape[d];
      rem /= a.out_shape[d];
      const int64_t i = a.map[d][o];
      if (i < 0) fill = true;
      else off += i * in_strides[d];
    }
    std::memcpy(at(a.out, flat, a.elem_size), fill ? a.fill : at(a.x, off, a.elem_size),
                a.elem_size);
  }
}

template <class T> void remap_backward(const RemapArgs& a, T* dx) {
  const int last = a.ndim - 1;
  const int64_t W = a.out_shape[last];
  int64_t rows = 1;
  for (int d = 0; d < last; ++d) rows *= a.out_shape[d];
  if (rows == 0 || W == 0) return;
  int64_t in_strides[kMaxDims];
  contiguous_strides(a.in_shape, a.ndim, in_strides);
  const T* g = static_cast<const T*>(a.x);
  const int64_t* m = a.map[last];
  auto do_rows = [&a, &in_strides, g, dx, m, W](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t off = row_offset(a, r, in_strides);
      if (off < 0) continue;
      const T* gr = g + r * W;
      T* d = dx + off;
      for (int64_t o = 0; o < W; ++o)
        if (m[o] >= 0) d[m[o]] += gr[o];
    }
  };
  // Rows of different dim-0 outputs write disjoint dx rows when the dim-0 map is injective, so
  // threads split dim 0 and every dx element still sums in increasing o order.
  bool injective = last > 0;
  if (injective) {
    std::vector<char> hit(a.in_shape[0], 0);
    for (int64_t o = 0; o < a.out_shape[0] && injective; ++o) {
      const int64_t i = a.map[0][o];
      if (i < 0) continue;
      injective = !hit[i];
      hit[i] = 1;
    }
  }
  if (!injective) {
    do_rows(0, rows);
    return;
  }
  const int64_t per0 = rows / a.out_shape[0];
  parallel_for(0, a.out_shape[0], std::max<int64_t>(1, kGrainSize / std::max<int64_t>(per0 * W, 1)),
               [&do_rows, per0](int64_t b, int64_t e) { do_rows(b * per0, e * per0); });
}

template <class T> void remap_backward_ref(const RemapArgs& a, T* dx) {
  int64_t in_strides[kMaxDims];
  contiguous_strides(a.in_shape, a.ndim, in_strides);
  const T* g = static_cast<const T*>(a.x);
  int64_t n = 1;
  for (int d = 0; d < a.ndim; ++d) n *= a.out_shape[d];
  for (int64_t flat = 0; flat < n; ++flat) {
    int64_t rem = flat, off = 0;
    bool skip = false;
    for (int d = a.ndim - 1; d >= 0; --d) {
      const int64_t o = rem % a.out_shape[d];
      rem /= a.out_shape[d];
      const int64_t i = a.map[d][o];
      if (i < 0) skip = true;
      else off += i * in_strides[d];
    }
    if (!skip) dx[off] += g[flat];
  }
}

template void remap_backward<float>(const RemapArgs&, float*);
template void remap_backward<double>(const RemapArgs&, double*);
template void remap_backward_ref<float>(const RemapArgs&, float*);
template void remap_backward_ref<double>(const RemapArgs&, double*);

// ---------------------------------------------------------------------------------- tril/triu

namespace {
// Columns [lo, hi) of row i are kept.
void kept_columns(const TriArgs& a, int64_t i, int64_t& lo, int64_t& hi) {
  if (a.upper) {
    lo = std::clamp<int64_t>(i + a.diagonal, 0, a.C);
    hi = a.C;
  } else {
    lo = 0;
    hi = std::clamp<int64_t>(i + a.diagonal + 1, 0, a.C);
  }
}
}  // namespace

void tri_forward(const TriArgs& a) {
  const int64_t es = static_cast<int64_t>(a.elem_size);
  const int64_t C = a.C;
  parallel_for(0, a.B * a.R, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(C, 1)),
               [&a, es, C](int64_t b, int64_t e) {
                 for (int64_t row = b; row < e; ++row) {
                   int64_t lo, hi;
                   kept_columns(a, row % a.R, lo, hi);
                   char* out = at(a.out, row * C, a.elem_size);
                   const char* x = at(a.x, row * C, a.elem_size);
                   std::memset(out, 0, lo * es);
                   if (hi > lo) std::memcpy(out + lo * es, x + lo * es, (hi - lo) * es);
                   std::memset(out + hi * es, 0, (C - hi) * es);
                 }
               });
}

void tri_forward_ref(const TriArgs& a) {
  for (int64_t b = 0; b < a.B; ++b)
    for (int64_t i = 0; i < a.R; ++i)
      for (int64_t j = 0; j < a.C; ++j) {
        const int64_t k = (b * a.R + i) * a.C + j;
        const bool keep = a.upper ? j - i >= a.diagonal : j - i <= a.diagonal;
        if (keep) std::memcpy(at(a.out, k, a.elem_size), at(a.x, k, a.elem_size), a.elem_size);
        else std::memset(at(a.out, k, a.elem_size), 0, a.elem_size);
      }
}

// -------------------------------------------------------------------------------------- cumsum

// Double accumulators for floats (PyTorch's CPU cumsum accumulates float in double too).
template <class T> using CumAcc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
constexpr int64_t kChunk = 256;

template <class T> void cumsum_forward(const CumsumArgs<T>& a) {
  const int64_t n = a.n, inner = a.inner;
  if (inner == 1) {
    parallel_for(0, a.outer, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(n, 1)),
                 [&a, n](int64_t b, int64_t e) {
                   for (int64_t o = b; o < e; ++o) {
                     CumAcc<T> acc = 0;
                     const T* x = a.x + o * n;
                     T* y = a.y + o * n;
                     for (int64_t i = 0; i < n; ++i) {
                       acc += x[i];
                       y[i] = static_cast<T>(acc);
                     }
                   }
                 });
    return;
  }
  // Columns: a block of running sums advanced one row at a time, vectorized along inner.
  const int64_t chunks = (inner + kChunk - 1) / kChunk;
  parallel_for(0, a.outer * chunks,
               std::max<int64_t>(1, kGrainSize / std::max<int64_t>(n * kChunk, 1)),
               [&a, n, inner, chunks](int64_t b, int64_t e) {
                 CumAcc<T> acc[kChunk];
                 for (int64_t t = b; t < e; ++t) {
                   const int64_t o = t / chunks, c0 = (t % chunks) * kChunk;
                   const int64_t len = std::min(kChunk, inner - c0);
                   for (int64_t j = 0; j < len; ++j) acc[j] = 0;
                   for (int64_t i = 0; i < n; ++i) {
                     const T* x = a.x + (o * n + i) * inner + c0;
                     T* y = a.y + (o * n + i) * inner + c0;
#pragma omp simd
                     for (int64_t j = 0; j < len; ++j) {
                       acc[j] += x[j];
                       y[j] = static_cast<T>(acc[j]);
                     }
                   }
                 }
               });
}

template <class T> void cumsum_forward_ref(const CumsumArgs<T>& a) {
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t j = 0; j < a.inner; ++j) {
      CumAcc<T> acc = 0;
      for (int64_t i = 0; i < a.n; ++i) {
        const int64_t k = (o * a.n + i) * a.inner + j;
        acc += a.x[k];
        a.y[k] = static_cast<T>(acc);
      }
    }
}

template void cumsum_forward<float>(const CumsumArgs<float>&);
template void cumsum_forward<double>(const CumsumArgs<double>&);
template void cumsum_forward<int64_t>(const CumsumArgs<int64_t>&);
template void cumsum_forward_ref<float>(const CumsumArgs<float>&);
template void cumsum_forward_ref<double>(const CumsumArgs<double>&);
template void cumsum_forward_ref<int64_t>(const CumsumArgs<int64_t>&);

}  // namespace cf::ops::cpu
