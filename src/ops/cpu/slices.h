// Helpers shared by the (outer, R, inner) row/column kernels (reductions, softmax).
#pragma once
#include <algorithm>
#include <cstdint>

#include "ops/cpu/parallel.h"
#include "ops/cpu/vec.h"

namespace cf::ops::cpu {

/// A full vector when n == kWidth, else a masked partial one (the rest is `fill`).
inline VecF load_n(const float* p, int n, float fill = 0.0f) {
  return n == VecF::kWidth ? VecF::load(p) : VecF::load(p, n, fill);
}
inline void store_n(VecF v, float* p, int n) {
  if (n == VecF::kWidth)
    v.store(p);
  else
    v.store(p, n);
}

/// Calls f(o, c0, n) for every outer index o and block of n <= kWidth columns starting at c0,
/// in parallel; with inner == 1 each call is one whole row (c0 = 0, n = 1).
inline constexpr int64_t kSliceWidth = VecF::kWidth;

template <class F>
void for_each_slice(int64_t outer, int64_t R, int64_t inner, const F& f) {
  constexpr int64_t kW = kSliceWidth;
  const int64_t blocks = (inner + kW - 1) / kW;
  const int64_t work = std::max<int64_t>(1, R * std::min<int64_t>(inner, kW));
  parallel_for(0, outer * blocks, std::max<int64_t>(1, kGrainSize / work),
               [&f, blocks, inner](int64_t b, int64_t e) {
                 for (int64_t t = b; t < e; ++t) {
                   const int64_t o = t / blocks, c0 = (t % blocks) * kSliceWidth;
                   f(o, c0, static_cast<int>(std::min<int64_t>(kSliceWidth, inner - c0)));
                 }
               });
}

}  // namespace cf::ops::cpu
