// OpenMP helpers for CPU kernels (the only place, with ops/cpu/*.cpp, where OpenMP appears).
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace cf::ops::cpu {

/// Work below this many elements runs on one thread.
inline constexpr int64_t kGrainSize = 32768;

/// Calls f(b, e) on disjoint subranges covering [begin, end), on up to all OpenMP threads, each
/// range at least `grain` long. Runs inline inside an enclosing parallel region.
template <class F> void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t max_tasks = (n + grain - 1) / grain;
  const int threads = static_cast<int>(std::min<int64_t>(omp_get_max_threads(), max_tasks));
  if (threads <= 1 || omp_in_parallel()) {
    f(begin, end);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int64_t nt = omp_get_num_threads();
    const int64_t tid = omp_get_thread_num();
    const int64_t chunk = (n + nt - 1) / nt;
    const int64_t b = begin + tid * chunk;
    const int64_t e = std::min(end, b + chunk);
    if (b < e) f(b, e);
  }
}

}  // namespace cf::ops::cpu
