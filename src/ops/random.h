// Philox-4x32-10 counter-based random numbers (Salmon et al., "Parallel random numbers: as easy
// as 1, 2, 3", SC'11). Counter c -> four 32-bit words; the key is the seed. Element i of a random
// op is computed from counter offset + i / (words per element), so results are independent of
// the thread count and of how work is split.
#pragma once
#include <array>
#include <cstdint>

#include "cformer/random.h"

namespace cf::ops {

inline std::array<uint32_t, 4> philox(uint64_t seed, uint64_t counter) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0,
           c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    const uint64_t p0 = uint64_t{0xD2511F53} * c0, p1 = uint64_t{0xCD9E8D57} * c2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {c0, c1, c2, c3};
}

/// Uniform in [0, 1) from 24 / 53 random bits.
inline float uniform_f32(uint32_t w) { return static_cast<float>(w >> 8) * 0x1.0p-24f; }
inline double uniform_f64(uint32_t hi, uint32_t lo) {
  const uint64_t v = (static_cast<uint64_t>(hi) << 32 | lo) >> 11;
  return static_cast<double>(v) * 0x1.0p-53;
}

namespace cpu {
/// out[i] = uniform [0,1) for i < n (f32 or f64 pointer), counters from `base`.
void fill_uniform(float* out, int64_t n, uint64_t seed, uint64_t base);
void fill_uniform(double* out, int64_t n, uint64_t seed, uint64_t base);
void fill_normal(float* out, int64_t n, uint64_t seed, uint64_t base);
void fill_normal(double* out, int64_t n, uint64_t seed, uint64_t base);
}  // namespace cpu

/// Counters a fill of n elements uses (so the generator can be advanced past them).
inline uint64_t counters_uniform(int64_t n, bool f64) { return f64 ? (n + 1) / 2 : (n + 3) / 4; }
inline uint64_t counters_normal(int64_t n) { return (n + 1) / 2; }

/// Inverse error function (double precision), for truncated normals.
double erfinv(double y);

}  // namespace cf::ops
