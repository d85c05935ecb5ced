#include "ops/dropout.h"

#include "ops/cpu/parallel.h"
#include "ops/random.h"

namespace cf::ops::cpu {
namespace {
constexpr int64_t kCountersPerBlock = 256;  // 1024 elements
}  // namespace

void dropout_forward(const DropoutArgs<float>& a) {
  const uint32_t thr = dropout_threshold(a.p);
  const float scale = static_cast<float>(1.0 / (1.0 - a.p));
  const int64_t counters = (a.n + 3) / 4;
  const int64_t blocks = (counters + kCountersPerBlock - 1) / kCountersPerBlock;
  parallel_for(0, blocks, 8, [&a, thr, scale, counters](int64_t b, int64_t e) {
    for (int64_t blk = b; blk < e; ++blk) {
      const int64_t c0 = blk * kCountersPerBlock, c1 = std::min(counters, c0 + kCountersPerBlock);
      const int64_t i0 = 4 * c0, i1 = std::min(a.n, 4 * c1);
      for (int64_t c = c0; c < c1; ++c) {
        const auto w = philox(a.seed, a.base + static_cast<uint64_t>(c));
        for (int k = 0; k < 4 && 4 * c + k < a.n; ++k) a.mask[4 * c + k] = (w[k] >> 8) >= thr;
      }
#pragma omp simd
      for (int64_t i = i0; i < i1; ++i)
        a.y[i] = a.x[i] * (a.mask[i] ? scale : 0.0f);  // NaN * 0: NaN
    }
  });
}

void dropout_backward(const DropoutBackwardArgs<float>& a) {
  const float scale = static_cast<float>(a.scale);
  parallel_for(0, a.n, kGrainSize, [&a, scale](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) a.dx[i] = a.g[i] * (a.mask[i] ? scale : 0.0f);
  });
}

template <class T>
void dropout_forward_ref(const DropoutArgs<T>& a) {
  const uint32_t thr = dropout_threshold(a.p);
  const double scale = 1.0 / (1.0 - a.p);
  for (int64_t i = 0; i < a.n; ++i) {
    const uint32_t w = philox(a.seed, a.base + static_cast<uint64_t>(i / 4))[i % 4];
    a.mask[i] = (w >> 8) >= thr;
    a.y[i] = static_cast<T>(static_cast<double>(a.x[i]) * (a.mask[i] ? scale : 0.0));
  }
}

template <class T>
void dropout_backward_ref(const DropoutBackwardArgs<T>& a) {
  for (int64_t i = 0; i < a.n; ++i)
    a.dx[i] = static_cast<T>(static_cast<double>(a.g[i]) * (a.mask[i] ? a.scale : 0.0));
}

template void dropout_forward_ref<float>(const DropoutArgs<float>&);
template void dropout_forward_ref<double>(const DropoutArgs<double>&);
template void dropout_backward_ref<float>(const DropoutBackwardArgs<float>&);
template void dropout_backward_ref<double>(const DropoutBackwardArgs<double>&);

}  // namespace cf::ops::cpu
