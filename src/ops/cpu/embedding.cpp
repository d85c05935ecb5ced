// Embedding gather / scatter-add kernels and one_hot.
#include "ops/embedding.h"

#include <cstring>

#include "ops/cpu/parallel.h"

namespace cf::ops::cpu {

template <class T> void embedding_forward(const EmbeddingArgs<T>& a) {
  const int64_t D = a.D;
  parallel_for(0, a.N, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(D, 1)),
               [&a, D](int64_t b, int64_t e) {
                 for (int64_t n = b; n < e; ++n)
                   std::memcpy(a.out + n * D, a.weight + a.indices[n] * D, D * sizeof(T));
               });
}

template <class T> void embedding_forward_ref(const EmbeddingArgs<T>& a) {
  for (int64_t n = 0; n < a.N; ++n)
    for (int64_t j = 0; j < a.D; ++j) a.out[n * a.D + j] = a.weight[a.indices[n] * a.D + j];
}

template <class T> void embedding_backward(const EmbeddingBackwardArgs<T>& a) {
  const int64_t D = a.D;
  parallel_for(0, a.V, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(D, 1)),
               [&a, D](int64_t b, int64_t e) {
                 std::memset(a.dweight + b * D, 0, (e - b) * D * sizeof(T));
               });
  // Blocks of 64 columns (a few cache lines per row): every thread walks all indices in order,
  // so each dweight element sums its rows in increasing n whatever the thread count.
  constexpr int64_t kCols = 64;
  const int64_t blocks = (D + kCols - 1) / kCols;
  parallel_for(0, blocks, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(a.N * kCols, 1)),
               [&a, D](int64_t b, int64_t e) {
                 const int64_t c0 = b * kCols, c1 = std::min(D, e * kCols);
                 const int64_t len = c1 - c0;
                 for (int64_t n = 0; n < a.N; ++n) {
                   const int64_t v = a.indices[n];
                   if (v == a.padding_idx) continue;
                   T* dw = a.dweight + v * D + c0;
                   const T* g = a.dout + n * D + c0;
#pragma omp simd
                   for (int64_t j = 0; j < len; ++j) dw[j] += g[j];
                 }
               });
}

template <class T> void embedding_backward_ref(const EmbeddingBackwardArgs<T>& a) {
  for (int64_t k = 0; k < a.V * a.D; ++k) a.dweight[k] = T(0);
  for (int64_t n = 0; n < a.N; ++n) {
    if (a.indices[n] == a.padding_idx) continue;
    for (int64_t j = 0; j < a.D; ++j) a.dweight[a.indices[n] * a.D + j] += a.dout[n * a.D + j];
  }
}

void one_hot_forward(const int64_t* indices, int64_t N, int64_t C, int64_t* out) {
  parallel_for(0, N, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(C, 1)),
               [indices, C, out](int64_t b, int64_t e) {
                 std::memset(out + b * C, 0, (e - b) * C * sizeof(int64_t));
                 for (int64_t n = b; n < e; ++n) out[n * C + indices[n]] = 1;
               });
}

template void embedding_forward<float>(const EmbeddingArgs<float>&);
template void embedding_forward_ref<float>(const EmbeddingArgs<float>&);
template void embedding_forward_ref<double>(const EmbeddingArgs<double>&);
template void embedding_backward<float>(const EmbeddingBackwardArgs<float>&);
template void embedding_backward_ref<float>(const EmbeddingBackwardArgs<float>&);
template void embedding_backward_ref<double>(const EmbeddingBackwardArgs<double>&);

}  // namespace cf::ops::cpu
