// Sort / topk kernels: per row, an index array ordered by (value, index); partial_sort when only
// the first k < n are wanted. Rows are split over threads.
#include "ops/sort.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/cpu/parallel.h"

namespace cf::ops::cpu {
namespace {

template <class T> bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}

// Strict order of values: ascending with NaN last, or descending with NaN first.
template <class T> bool before(T a, T b, bool descending) {
  if (descending) return a > b || (is_nan(a) && !is_nan(b));
  return a < b || (!is_nan(a) && is_nan(b));
}

}  // namespace

template <class T> void sort_forward(const SortArgs<T>& a) {
  const int64_t n = a.n, inner = a.inner, k = a.k;
  if (k == 0) return;
  parallel_for(0, a.outer * inner, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(n * 8, 1)),
               [&a, n, inner, k](int64_t b, int64_t e) {
                 std::vector<int64_t> order(n);
                 std::vector<T> row(n);
                 for (int64_t t = b; t < e; ++t) {
                   const int64_t o = t / inner, j = t % inner;
                   const T* x = a.x + o * n * inner + j;
                   for (int64_t i = 0; i < n; ++i) {
                     row[i] = x[i * inner];
                     order[i] = i;
                   }
                   const bool desc = a.descending;
                   auto cmp = [&row, desc](int64_t p, int64_t q) {
                     if (before(row[p], row[q], desc)) return true;
                     if (before(row[q], row[p], desc)) return false;
                     return p < q;
                   };
                   if (k < n) std::partial_sort(order.begin(), order.begin() + k, order.end(), cmp);
                   else std::sort(order.begin(), order.end(), cmp);
                   T* v = a.values + o * k * inner + j;
                   int64_t* ix = a.indices + o * k * inner + j;
                   for (int64_t i = 0; i < k; ++i) {
                     v[i * inner] = row[order[i]];
                     ix[i * inner] = order[i];
                   }
                 }
               });
}

template <class T> void sort_forward_ref(const SortArgs<T>& a) {
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t j = 0; j < a.inner; ++j) {
      const T* x = a.x + o * a.n * a.inner + j;
      for (int64_t i = 0; i < a.n; ++i) {
        int64_t rank = 0;
        for (int64_t q = 0; q < a.n; ++q) {
          const bool equal = !before(x[q * a.inner], x[i * a.inner], a.descending) &&
                             !before(x[i * a.inner], x[q * a.inner], a.descending);
          if (before(x[q * a.inner], x[i * a.inner], a.descending) || (equal && q < i)) ++rank;
        }
        if (rank < a.k) {
          a.values[(o * a.k + rank) * a.inner + j] = x[i * a.inner];
          a.indices[(o * a.k + rank) * a.inner + j] = i;
        }
      }
    }
}

template void sort_forward<float>(const SortArgs<float>&);
template void sort_forward<double>(const SortArgs<double>&);
template void sort_forward<int64_t>(const SortArgs<int64_t>&);
template void sort_forward_ref<float>(const SortArgs<float>&);
template void sort_forward_ref<double>(const SortArgs<double>&);
template void sort_forward_ref<int64_t>(const SortArgs<int64_t>&);

}  // namespace cf::ops::cpu
