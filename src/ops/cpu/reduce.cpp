// Sum kernels. Rows (inner == 1) are split into fixed blocks of kBlock elements whose partial
// sums are combined in a fixed order, so the result does not depend on the thread count.
#include "ops/reduce.h"

#include <vector>

#include "ops/cpu/parallel.h"

namespace cf::ops::cpu {
namespace {

constexpr int64_t kBlock = 4096;

// Sum of n contiguous floats with 4 x 16 independent accumulators (the compiler keeps them in
// vector registers), which also bounds the rounding error's growth.
float sum_contiguous(const float* x, int64_t n) {
  float acc[64] = {};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
#pragma omp simd
    for (int j = 0; j < 64; ++j) acc[j] += x[i + j];
  }
  float tail = 0.0f;
  for (; i < n; ++i) tail += x[i];
  for (int w = 32; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
  return acc[0] + tail;
}

}  // namespace

template <class T> void sum_forward(const ReduceArgs<T>& a) {
  const int64_t outer = a.outer, R = a.R, inner = a.inner;
  if (inner == 1) {
    const int64_t blocks = std::max<int64_t>(1, (R + kBlock - 1) / kBlock);
    if (blocks == 1 || outer >= omp_get_max_threads()) {
      parallel_for(0, outer, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(R, 1)),
                   [&](int64_t b, int64_t e) {
                     for (int64_t o = b; o < e; ++o) a.y[o] = sum_contiguous(a.x + o * R, R);
                   });
      return;
    }
    std::vector<float> partial(outer * blocks);
    parallel_for(0, outer * blocks, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t o = t / blocks, k = t % blocks;
        const int64_t start = k * kBlock, len = std::min(kBlock, R - start);
        partial[t] = sum_contiguous(a.x + o * R + start, len);
      }
    });
    for (int64_t o = 0; o < outer; ++o) {
      float s = 0.0f;
      for (int64_t k = 0; k < blocks; ++k) s += partial[o * blocks + k];
      a.y[o] = s;
    }
    return;
  }
  // Columns: accumulate whole rows of `inner` elements, vectorized along inner.
  const int64_t chunk = 256;
  const int64_t chunks = (inner + chunk - 1) / chunk;
  parallel_for(0, outer * chunks, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(R * chunk, 1)),
               [&](int64_t b, int64_t e) {
                 for (int64_t t = b; t < e; ++t) {
                   const int64_t o = t / chunks, c0 = (t % chunks) * chunk;
                   const int64_t len = std::min(chunk, inner - c0);
                   T* y = a.y + o * inner + c0;
                   for (int64_t j = 0; j < len; ++j) y[j] = T(0);
                   for (int64_t r = 0; r < R; ++r) {
                     const T* x = a.x + (o * R + r) * inner + c0;
#pragma omp simd
                     for (int64_t j = 0; j < len; ++j) y[j] += x[j];
                   }
                 }
               });
}

template <class T> void sum_forward_ref(const ReduceArgs<T>& a) {
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t i = 0; i < a.inner; ++i) {
      double acc = 0.0;
      for (int64_t r = 0; r < a.R; ++r) acc += static_cast<double>(a.x[(o * a.R + r) * a.inner + i]);
      a.y[o * a.inner + i] = static_cast<T>(acc);
    }
}

template void sum_forward<float>(const ReduceArgs<float>&);
template void sum_forward_ref<float>(const ReduceArgs<float>&);
template void sum_forward_ref<double>(const ReduceArgs<double>&);
template void sum_forward_ref<int64_t>(const ReduceArgs<int64_t>&);

}  // namespace cf::ops::cpu
