#include <cmath>
#include <numbers>

#include "ops/cpu/parallel.h"
#include "ops/random.h"

namespace cf::ops::cpu {

void fill_uniform(float* out, int64_t n, uint64_t seed, uint64_t base) {
  const int64_t counters = static_cast<int64_t>(counters_uniform(n, false));
  parallel_for(0, counters, 4096, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const auto w = philox(seed, base + static_cast<uint64_t>(c));
      for (int k = 0; k < 4 && 4 * c + k < n; ++k) out[4 * c + k] = uniform_f32(w[k]);
    }
  });
}

void fill_uniform(double* out, int64_t n, uint64_t seed, uint64_t base) {
  const int64_t counters = static_cast<int64_t>(counters_uniform(n, true));
  parallel_for(0, counters, 4096, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const auto w = philox(seed, base + static_cast<uint64_t>(c));
      out[2 * c] = uniform_f64(w[0], w[1]);
      if (2 * c + 1 < n) out[2 * c + 1] = uniform_f64(w[2], w[3]);
    }
  });
}

// Box-Muller: one counter gives two normals. u1 is kept in (0, 1] so the log is finite.
template <class T> void fill_normal_t(T* out, int64_t n, uint64_t seed, uint64_t base) {
  const int64_t counters = static_cast<int64_t>(counters_normal(n));
  parallel_for(0, counters, 4096, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const auto w = philox(seed, base + static_cast<uint64_t>(c));
      double u1, u2;
      if constexpr (sizeof(T) == 4) {
        u1 = 1.0 - static_cast<double>(uniform_f32(w[0]));
        u2 = static_cast<double>(uniform_f32(w[1]));
      } else {
        u1 = 1.0 - uniform_f64(w[0], w[1]);
        u2 = uniform_f64(w[2], w[3]);
      }
      const double r = std::sqrt(-2.0 * std::log(u1));
      const double t = 2.0 * std::numbers::pi * u2;
      out[2 * c] = static_cast<T>(r * std::cos(t));
      if (2 * c + 1 < n) out[2 * c + 1] = static_cast<T>(r * std::sin(t));
    }
  });
}

void fill_normal(float* out, int64_t n, uint64_t seed, uint64_t base) { fill_normal_t(out, n, seed, base); }
void fill_normal(double* out, int64_t n, uint64_t seed, uint64_t base) { fill_normal_t(out, n, seed, base); }

}  // namespace cf::ops::cpu
