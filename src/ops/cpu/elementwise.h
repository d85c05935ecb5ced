// Elementwise loop templates over StridedLoop rows. Each row takes a fast path when every
// operand is contiguous (or a broadcast scalar) and a strided path otherwise. The functors are
// scalar; simple ones vectorize automatically, transcendental ones come with Vec versions
// (ops/cpu/vec.h) through the *_vec variants.
#pragma once
#include <cstring>

#include "ops/cpu/loops.h"

namespace cf::ops::cpu {

template <class T> inline T load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <class T> inline void store(char* p, T v) { std::memcpy(p, &v, sizeof(T)); }

/// out = f(a)
template <class TO, class TA, class F> void unary_loop(const StridedLoop<2>& L, const F& f) {
  for_each_row<2>(L, kGrainSize, [&f](int64_t n, const std::array<char*, 2>& p,
                                      const std::array<int64_t, 2>& s) {
    if (s[0] == sizeof(TO) && s[1] == sizeof(TA)) {
      TO* o = reinterpret_cast<TO*>(p[0]);
      const TA* a = reinterpret_cast<const TA*>(p[1]);
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) o[i] = f(a[i]);
      return;
    }
    for (int64_t i = 0; i < n; ++i) store<TO>(p[0] + i * s[0], f(load<TA>(p[1] + i * s[1])));
  });
}

/// out = f(a, b)
template <class TO, class TA, class TB, class F>
void binary_loop(const StridedLoop<3>& L, const F& f) {
  for_each_row<3>(L, kGrainSize, [&f](int64_t n, const std::array<char*, 3>& p,
                                      const std::array<int64_t, 3>& s) {
    if (s[0] == sizeof(TO)) {
      TO* o = reinterpret_cast<TO*>(p[0]);
      const TA* a = reinterpret_cast<const TA*>(p[1]);
      const TB* b = reinterpret_cast<const TB*>(p[2]);
      if (s[1] == sizeof(TA) && s[2] == sizeof(TB)) {
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i]);
        return;
      }
      if (s[1] == sizeof(TA) && s[2] == 0) {
        const TB bv = b[0];
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], bv);
        return;
      }
      if (s[1] == 0 && s[2] == sizeof(TB)) {
        const TA av = a[0];
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) o[i] = f(av, b[i]);
        return;
      }
    }
    for (int64_t i = 0; i < n; ++i)
      store<TO>(p[0] + i * s[0], f(load<TA>(p[1] + i * s[1]), load<TB>(p[2] + i * s[2])));
  });
}

/// out = f(a, b, c)
template <class TO, class TA, class TB, class TC, class F>
void ternary_loop(const StridedLoop<4>& L, const F& f) {
  for_each_row<4>(L, kGrainSize, [&f](int64_t n, const std::array<char*, 4>& p,
                                      const std::array<int64_t, 4>& s) {
    if (s[0] == sizeof(TO) && s[1] == sizeof(TA) && s[2] == sizeof(TB) && s[3] == sizeof(TC)) {
      TO* o = reinterpret_cast<TO*>(p[0]);
      const TA* a = reinterpret_cast<const TA*>(p[1]);
      const TB* b = reinterpret_cast<const TB*>(p[2]);
      const TC* c = reinterpret_cast<const TC*>(p[3]);
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i], c[i]);
      return;
    }
    for (int64_t i = 0; i < n; ++i)
      store<TO>(p[0] + i * s[0], f(load<TA>(p[1] + i * s[1]), load<TB>(p[2] + i * s[2]),
                                   load<TC>(p[3] + i * s[3])));
  });
}

}  // namespace cf::ops::cpu
