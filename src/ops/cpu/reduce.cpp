// Reduction kernels over the (outer, R, inner) layout. The optimized f32 kernels take rows
// (inner == 1) with VecF along R and columns (inner > 1) with VecF across 16 columns at a time;
// work items are (outer, column block) pairs over OpenMP. Sums are special: rows are summed in
// fixed blocks of kBlock elements combined in order (thread-count independent), columns in
// contiguous chunks of 256 columns, four rows per update. The _ref kernels are plain loops in
// double.
#include <cmath>
#include <type_traits>
#include <vector>

#include "ops/cpu/parallel.h"
#include "ops/cpu/vec.h"
#include "ops/reduce.h"
#include "ops/cpu/slices.h"

namespace cf::ops::cpu {
namespace {

constexpr int64_t kBlock = 4096;
constexpr int64_t kColumnChunk = 256;
constexpr int kW = VecF::kWidth;

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

// The row sum as the split path computes it: blocks of kBlock summed in order (so the result
// does not depend on which path the thread count selects).
float sum_blocked(const float* x, int64_t n) {
  float s = 0.0f;
  for (int64_t start = 0; start < n; start += kBlock)
    s += sum_contiguous(x + start, std::min(kBlock, n - start));
  return s;
}



// Row sum with VecF accumulators (rows of a few hundred elements stay in L1 for the next pass).
inline float row_sum(const float* x, int64_t n) {
  VecF acc(0.0f);
  int64_t i = 0;
  for (; i + kW <= n; i += kW) acc = acc + VecF::load(x + i);
  if (i < n) acc = acc + VecF::load(x + i, static_cast<int>(n - i));
  return acc.reduce_add();
}

template <class T>
bool better(T v, T best, bool is_max) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(best)) return false;
    if (std::isnan(v)) return true;
  }
  return is_max ? v > best : v < best;
}

inline double sgn(double v) {
  return v > 0 ? 1.0 : v < 0 ? -1.0 : 0.0;
}

// The scalar factor of norm's backward for element x (|x| == y for the inf norms is decided
// by the caller through `share`).
inline double norm_grad(double x, double y, double g, double p, double share) {
  if (p == 0.0) return 0.0;
  if (p == 1.0) return sgn(x) * g;
  if (p == 2.0) return y == 0.0 ? 0.0 : x * (g / y);
  if (std::isinf(p)) return sgn(x) * share;
  const double ax = std::fabs(x);
  if (p < 1.0) return x == 0.0 ? 0.0 : sgn(x) * std::pow(ax, p - 1.0) * g * std::pow(y, 1.0 - p);
  const double scale = y == 0.0 ? 0.0 : g / std::pow(y, p - 1.0);
  if (p < 2.0) return sgn(x) * std::pow(ax, p - 1.0) * scale;
  return x * std::pow(ax, p - 2.0) * scale;
}

inline double norm_finish(double acc, double p, int64_t R) {
  if (std::isinf(p)) return R == 0 ? (p > 0 ? 0.0 : INFINITY) : acc;
  if (p == 0.0 || p == 1.0) return acc;
  if (p == 2.0) return std::sqrt(acc);
  return std::pow(acc, 1.0 / p);
}

inline double norm_step(double acc, double v, double p) {
  const double a = std::fabs(v);
  if (std::isnan(a)) return a;
  if (std::isinf(p)) return std::isnan(acc) ? acc : p > 0 ? std::max(acc, a) : std::min(acc, a);
  if (p == 0.0) return acc + (v != 0.0 ? 1.0 : 0.0);
  if (p == 1.0) return acc + a;
  if (p == 2.0) return acc + a * a;
  return acc + std::pow(a, p);
}

inline double norm_init(double p) {
  return p == -INFINITY ? INFINITY : 0.0;
}

}  // namespace

// ------------------------------------------------------------------------------------ sum

template <class T>
void sum_forward(const ReduceArgs<T>& a) {
  static_assert(std::is_same_v<T, float>);
  const int64_t outer = a.outer, R = a.R, inner = a.inner;
  if (inner == 1) {
    const int64_t blocks = std::max<int64_t>(1, (R + kBlock - 1) / kBlock);
    if (blocks == 1 || outer >= omp_get_max_threads()) {
      parallel_for(0, outer, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(R, 1)),
                   [&a, R](int64_t b, int64_t e) {
                     for (int64_t o = b; o < e; ++o) a.y[o] = sum_blocked(a.x + o * R, R);
                   });
      return;
    }
    std::vector<float> partial(outer * blocks);
    parallel_for(0, outer * blocks, 1, [&a, &partial, blocks, R](int64_t b, int64_t e) {
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
  // Columns: add whole row pieces of up to 256 elements into y (contiguous streams; a 16-column
  // walk down the rows defeats the prefetcher and measured 2x slower at (2048, 768) over dim 0).
  const int64_t chunks = (inner + kColumnChunk - 1) / kColumnChunk;
  parallel_for(
      0, outer * chunks,
      std::max<int64_t>(1, kGrainSize / std::max<int64_t>(R * std::min(kColumnChunk, inner), 1)),
      [&a, R, inner, chunks](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
          const int64_t o = t / chunks, c0 = (t % chunks) * kColumnChunk;
          const int64_t len = std::min(kColumnChunk, inner - c0);
          float* y = a.y + o * inner + c0;
          for (int64_t j = 0; j < len; ++j) y[j] = 0.0f;
          const float* x = a.x + o * R * inner + c0;
          int64_t r = 0;
          for (; r + 4 <= R; r += 4) {  // four rows per update of y
            const float* x0 = x + r * inner;
#pragma omp simd
            for (int64_t j = 0; j < len; ++j)
              y[j] += (x0[j] + x0[j + inner]) + (x0[j + 2 * inner] + x0[j + 3 * inner]);
          }
          for (; r < R; ++r) {
#pragma omp simd
            for (int64_t j = 0; j < len; ++j) y[j] += x[r * inner + j];
          }
        }
      });
}

template <class T>
void sum_forward_ref(const ReduceArgs<T>& a) {
  using Acc = std::conditional_t<std::is_integral_v<T>, int64_t, double>;
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t i = 0; i < a.inner; ++i) {
      Acc acc = 0;
      for (int64_t r = 0; r < a.R; ++r) acc += static_cast<Acc>(a.x[(o * a.R + r) * a.inner + i]);
      a.y[o * a.inner + i] = static_cast<T>(acc);
    }
}

// ------------------------------------------------------------------------------- var / std

template <class T>
void var_forward(const VarArgs<T>& a) {
  static_assert(std::is_same_v<T, float>);
  const int64_t R = a.R, inner = a.inner;
  const float inv_n = 1.0f / static_cast<float>(R);
  const float div = static_cast<float>(std::max<int64_t>(R - a.correction, 0));
  const bool take_sqrt = a.take_sqrt;
  for_each_slice(a.outer, R, inner,
                 [&a, R, inner, inv_n, div, take_sqrt](int64_t o, int64_t c0, int n) {
                   const float* x = a.x + o * R * inner + c0;
                   if (inner == 1) {
                     const float m = row_sum(x, R) * inv_n;
                     const VecF vm(m);
                     VecF acc(0.0f);
                     int64_t i = 0;
                     for (; i + kW <= R; i += kW) {
                       const VecF d = VecF::load(x + i) - vm;
                       acc = VecF::fma(d, d, acc);
                     }
                     if (i < R) {
                       const int k = static_cast<int>(R - i);
                       const VecF d = VecF::load(x + i, k, m) - vm;
                       acc = VecF::fma(d, d, acc);
                     }
                     const float v = acc.reduce_add() / div;
                     a.mean[o] = m;
                     a.y[o] = take_sqrt ? std::sqrt(v) : v;
                     return;
                   }
                   VecF s(0.0f);
                   for (int64_t r = 0; r < R; ++r) s = s + load_n(x + r * inner, n);
                   const VecF m = s * VecF(inv_n);
                   VecF acc(0.0f);
                   for (int64_t r = 0; r < R; ++r) {
                     const VecF d = load_n(x + r * inner, n) - m;
                     acc = VecF::fma(d, d, acc);
                   }
                   VecF v = acc / VecF(div);
                   if (take_sqrt) v = VecF::sqrt(v);
                   store_n(m, a.mean + o * inner + c0, n);
                   store_n(v, a.y + o * inner + c0, n);
                 });
}

template <class T>
void var_forward_ref(const VarArgs<T>& a) {
  const double div = static_cast<double>(std::max<int64_t>(a.R - a.correction, 0));
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t i = 0; i < a.inner; ++i) {
      double s = 0.0;
      for (int64_t r = 0; r < a.R; ++r) s += a.x[(o * a.R + r) * a.inner + i];
      const double m = s / static_cast<double>(a.R);
      double m2 = 0.0;
      for (int64_t r = 0; r < a.R; ++r) {
        const double d = a.x[(o * a.R + r) * a.inner + i] - m;
        m2 += d * d;
      }
      const double v = m2 / div;
      a.mean[o * a.inner + i] = static_cast<T>(m);
      a.y[o * a.inner + i] = static_cast<T>(a.take_sqrt ? std::sqrt(v) : v);
    }
}

// Per-output coefficient c such that dx = c (x - mean).
template <class T>
double var_coef(const VarBackwardArgs<T>& a, int64_t k) {
  const double div = static_cast<double>(a.R - a.correction);
  const double g = a.g[k];
  if (!a.is_std) return 2.0 * g / div;
  const double y = a.y[k];
  return y == 0.0 ? 0.0 : g / (y * div);
}

template <class T>
void var_backward(const VarBackwardArgs<T>& a) {
  static_assert(std::is_same_v<T, float>);
  const int64_t R = a.R, inner = a.inner;
  for_each_slice(a.outer, R, inner, [&a, R, inner](int64_t o, int64_t c0, int n) {
    float coef[kW] = {}, mean[kW] = {};
    for (int j = 0; j < n; ++j) {
      coef[j] = static_cast<float>(var_coef(a, o * inner + c0 + j));
      mean[j] = a.mean[o * inner + c0 + j];
    }
    const float* x = a.x + o * R * inner + c0;
    float* dx = a.dx + o * R * inner + c0;
    if (inner == 1) {
      const VecF c(coef[0]), m(mean[0]);
      int64_t i = 0;
      for (; i + kW <= R; i += kW) (c * (VecF::load(x + i) - m)).store(dx + i);
      if (i < R)
        (c * (VecF::load(x + i, static_cast<int>(R - i)) - m))
            .store(dx + i, static_cast<int>(R - i));
      return;
    }
    const VecF c = load_n(coef, n), m = load_n(mean, n);
    for (int64_t r = 0; r < R; ++r) store_n(c * (load_n(x + r * inner, n) - m), dx + r * inner, n);
  });
}

template <class T>
void var_backward_ref(const VarBackwardArgs<T>& a) {
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t i = 0; i < a.inner; ++i) {
      const int64_t k = o * a.inner + i;
      const double c = var_coef(a, k), m = a.mean[k];
      for (int64_t r = 0; r < a.R; ++r) {
        const int64_t at = (o * a.R + r) * a.inner + i;
        a.dx[at] = static_cast<T>(c * (static_cast<double>(a.x[at]) - m));
      }
    }
}

// ------------------------------------------------------------------------- max / min / arg

// The extremum of a float row by VecF, then a scan for its first index; rows holding a NaN or
// an infinity (x * 0 is NaN) take the exact scalar path.
bool float_row_extremum(const float* x, int64_t R, bool is_max, float* value, int64_t* index) {
  VecF m = VecF::load(x, static_cast<int>(std::min<int64_t>(kW, R)), x[0]), bad(0.0f);
  const VecF zero(0.0f);
  for (int64_t i = 0; i < R; i += kW) {
    const int k = static_cast<int>(std::min<int64_t>(kW, R - i));
    const VecF v = k == kW ? VecF::load(x + i) : VecF::load(x + i, k, x[0]);
    m = is_max ? VecF::max(m, v) : VecF::min(m, v);
    bad = VecF::fma(v, zero, bad);
  }
  if (std::isnan(bad.reduce_add())) return false;
  float best;
  if (is_max) {
    best = m.reduce_max();
  } else {
    best = -((-m).reduce_max());
  }
  int64_t i = 0;
  while (x[i] != best) ++i;
  *value = x[i];  // the element itself (the sign of a zero maximum)
  *index = i;
  return true;
}

template <class T>
void arg_reduce(const ArgReduceArgs<T>& a) {
  const int64_t R = a.R, inner = a.inner;
  const bool is_max = a.is_max;
  for_each_slice(a.outer, R, inner, [&a, R, inner, is_max](int64_t o, int64_t c0, int n) {
    if constexpr (std::is_same_v<T, float>) {
      float v;
      int64_t idx;
      if (inner == 1 && float_row_extremum(a.x + o * R, R, is_max, &v, &idx)) {
        if (a.values) a.values[o] = v;
        if (a.indices) a.indices[o] = idx;
        return;
      }
    }
    T best[kW];
    int64_t idx[kW] = {};
    const T* x = a.x + o * R * inner + c0;
    for (int j = 0; j < n; ++j) best[j] = x[j];
    for (int64_t r = 1; r < R; ++r) {
      const T* row = x + r * inner;
      for (int j = 0; j < n; ++j)
        if (better(row[j], best[j], is_max)) {
          best[j] = row[j];
          idx[j] = r;
        }
    }
    for (int j = 0; j < n; ++j) {
      if (a.values) a.values[o * inner + c0 + j] = best[j];
      if (a.indices) a.indices[o * inner + c0 + j] = idx[j];
    }
  });
}

template <class T>
void arg_reduce_ref(const ArgReduceArgs<T>& a) {
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t i = 0; i < a.inner; ++i) {
      int64_t bi = 0;
      for (int64_t r = 1; r < a.R; ++r)
        if (better(a.x[(o * a.R + r) * a.inner + i], a.x[(o * a.R + bi) * a.inner + i], a.is_max))
          bi = r;
      if (a.values) a.values[o * a.inner + i] = a.x[(o * a.R + bi) * a.inner + i];
      if (a.indices) a.indices[o * a.inner + i] = bi;
    }
}

template <class T>
void index_backward(const IndexBackwardArgs<T>& a) {
  const int64_t R = a.R, inner = a.inner;
  parallel_for(0, a.outer, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, R * inner)),
               [&a, R, inner](int64_t b, int64_t e) {
                 for (int64_t o = b; o < e; ++o) {
                   T* dx = a.dx + o * R * inner;
                   std::fill(dx, dx + R * inner, T(0));
                   for (int64_t i = 0; i < inner; ++i)
                     dx[a.indices[o * inner + i] * inner + i] = a.g[o * inner + i];
                 }
               });
}

template <class T>
void tie_backward(const TieBackwardArgs<T>& a) {
  const bool nan = std::isnan(a.value);
  auto hit = [&a, nan](T v) { return nan ? std::isnan(v) : v == a.value; };
  int64_t ties = 0;
  for (int64_t i = 0; i < a.n; ++i) ties += hit(a.x[i]) ? 1 : 0;
  const T share = a.g / static_cast<T>(ties);
  for (int64_t i = 0; i < a.n; ++i) a.dx[i] = hit(a.x[i]) ? share : T(0);
}

// ------------------------------------------------------------------------------ logsumexp

template <class T>
void logsumexp_forward(const ReduceArgs<T>& a) {
  static_assert(std::is_same_v<T, float>);
  const int64_t R = a.R, inner = a.inner;
  for_each_slice(a.outer, R, inner, [&a, R, inner](int64_t o, int64_t c0, int n) {
    const float* x = a.x + o * R * inner + c0;
    if (inner == 1) {
      // A NaN the vector max misses still reaches the sum through exp(NaN - m).
      VecF vmax(-INFINITY);
      int64_t i = 0;
      for (; i + kW <= R; i += kW) vmax = VecF::max(vmax, VecF::load(x + i));
      if (i < R) vmax = VecF::max(vmax, VecF::load(x + i, static_cast<int>(R - i), -INFINITY));
      float m = vmax.reduce_max();
      if (std::isinf(m)) m = 0.0f;
      const VecF vm(m);
      VecF acc(0.0f);
      for (i = 0; i + kW <= R; i += kW) acc = acc + VecF::exp(VecF::load(x + i) - vm);
      if (i < R) acc = acc + VecF::exp(VecF::load(x + i, static_cast<int>(R - i), -INFINITY) - vm);
      a.y[o] = m + std::log(acc.reduce_add());
      return;
    }
    float m[kW];
    for (int j = 0; j < kW; ++j) m[j] = -INFINITY;
    for (int64_t r = 0; r < R; ++r)
      for (int j = 0; j < n; ++j) m[j] = std::max(m[j], x[r * inner + j]);
    for (int j = 0; j < n; ++j)
      if (std::isinf(m[j])) m[j] = 0.0f;
    const VecF vm = load_n(m, n);
    VecF acc(0.0f);
    for (int64_t r = 0; r < R; ++r) acc = acc + VecF::exp(load_n(x + r * inner, n) - vm);
    float s[kW];
    acc.store(s);
    for (int j = 0; j < n; ++j) a.y[o * inner + c0 + j] = m[j] + std::log(s[j]);
  });
}

template <class T>
void logsumexp_forward_ref(const ReduceArgs<T>& a) {
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t i = 0; i < a.inner; ++i) {
      double m = -INFINITY;
      for (int64_t r = 0; r < a.R; ++r)
        m = std::max(m, static_cast<double>(a.x[(o * a.R + r) * a.inner + i]));
      if (std::isinf(m)) m = 0.0;
      double s = 0.0;
      for (int64_t r = 0; r < a.R; ++r) s += std::exp(a.x[(o * a.R + r) * a.inner + i] - m);
      a.y[o * a.inner + i] = static_cast<T>(m + std::log(s));
    }
}

template <class T>
void logsumexp_backward(const PointwiseBackwardArgs<T>& a) {
  static_assert(std::is_same_v<T, float>);
  const int64_t R = a.R, inner = a.inner;
  for_each_slice(a.outer, R, inner, [&a, R, inner](int64_t o, int64_t c0, int n) {
    const float* x = a.x + o * R * inner + c0;
    float* dx = a.dx + o * R * inner + c0;
    if (inner == 1) {
      const VecF y(a.y[o]), g(a.g[o]);
      int64_t i = 0;
      for (; i + kW <= R; i += kW) (g * VecF::exp(VecF::load(x + i) - y)).store(dx + i);
      if (i < R) {
        const int k = static_cast<int>(R - i);
        (g * VecF::exp(VecF::load(x + i, k) - y)).store(dx + i, k);
      }
      return;
    }
    const VecF y = load_n(a.y + o * inner + c0, n), g = load_n(a.g + o * inner + c0, n);
    for (int64_t r = 0; r < R; ++r)
      store_n(g * VecF::exp(load_n(x + r * inner, n) - y), dx + r * inner, n);
  });
}

template <class T>
void logsumexp_backward_ref(const PointwiseBackwardArgs<T>& a) {
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t r = 0; r < a.R; ++r)
      for (int64_t i = 0; i < a.inner; ++i) {
        const int64_t k = o * a.inner + i, at = (o * a.R + r) * a.inner + i;
        a.dx[at] =
            static_cast<T>(static_cast<double>(a.g[k]) *
                           std::exp(static_cast<double>(a.x[at]) - static_cast<double>(a.y[k])));
      }
}

// ----------------------------------------------------------------------------------- norm

template <class T>
void norm_forward(const NormArgs<T>& a) {
  static_assert(std::is_same_v<T, float>);
  const int64_t R = a.R, inner = a.inner;
  const double p = a.p;
  const bool fast = p == 2.0 || p == 1.0;
  for_each_slice(a.outer, R, inner, [&a, R, inner, p, fast](int64_t o, int64_t c0, int n) {
    const float* x = a.x + o * R * inner + c0;
    if (fast) {  // VecF sums of x^2 or |x|
      VecF acc(0.0f);
      auto step = [p](VecF acc, VecF v) {
        return p == 2.0 ? VecF::fma(v, v, acc) : acc + VecF::abs(v);
      };
      if (inner == 1) {
        int64_t i = 0;
        for (; i + kW <= R; i += kW) acc = step(acc, VecF::load(x + i));
        if (i < R) acc = step(acc, VecF::load(x + i, static_cast<int>(R - i)));
        const float s = acc.reduce_add();
        a.y[o] = p == 2.0 ? std::sqrt(s) : s;
        return;
      }
      for (int64_t r = 0; r < R; ++r) acc = step(acc, load_n(x + r * inner, n));
      if (p == 2.0) acc = VecF::sqrt(acc);
      store_n(acc, a.y + o * inner + c0, n);
      return;
    }
    for (int j = 0; j < n; ++j) {
      double acc = norm_init(p);
      for (int64_t r = 0; r < R; ++r) acc = norm_step(acc, x[r * inner + j], p);
      a.y[o * inner + c0 + j] = static_cast<float>(norm_finish(acc, p, R));
    }
  });
}

template <class T>
void norm_forward_ref(const NormArgs<T>& a) {
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t i = 0; i < a.inner; ++i) {
      double acc = norm_init(a.p);
      for (int64_t r = 0; r < a.R; ++r) acc = norm_step(acc, a.x[(o * a.R + r) * a.inner + i], a.p);
      a.y[o * a.inner + i] = static_cast<T>(norm_finish(acc, a.p, a.R));
    }
}

namespace {
// The inf norms' gradient share g / ties for output k (ties: |x| == y, or NaN).
template <class T>
double inf_share(const PointwiseBackwardArgs<T>& a, int64_t o, int64_t i) {
  const int64_t k = o * a.inner + i;
  int64_t ties = 0;
  for (int64_t r = 0; r < a.R; ++r) {
    const double ax = std::fabs(static_cast<double>(a.x[(o * a.R + r) * a.inner + i]));
    ties += (ax == static_cast<double>(a.y[k]) || std::isnan(ax)) ? 1 : 0;
  }
  return static_cast<double>(a.g[k]) / static_cast<double>(ties);
}
template <class T>
bool inf_hit(T x, T y) {
  const T ax = std::fabs(x);
  return ax == y || std::isnan(ax);
}
}  // namespace

template <class T>
void norm_backward(const PointwiseBackwardArgs<T>& a) {
  static_assert(std::is_same_v<T, float>);
  const int64_t R = a.R, inner = a.inner;
  const double p = a.p;
  for_each_slice(a.outer, R, inner, [&a, R, inner, p](int64_t o, int64_t c0, int n) {
    const float* x = a.x + o * R * inner + c0;
    float* dx = a.dx + o * R * inner + c0;
    for (int j = 0; j < n; ++j) {
      const int64_t k = o * inner + c0 + j;
      const float y = a.y[k], g = a.g[k];
      if (p == 2.0) {
        const float s = y == 0.0f ? 0.0f : g / y;
        for (int64_t r = 0; r < R; ++r) dx[r * inner + j] = x[r * inner + j] * s;
      } else if (std::isinf(p)) {
        const double share = inf_share(a, o, c0 + j);
        for (int64_t r = 0; r < R; ++r) {
          const float v = x[r * inner + j];
          dx[r * inner + j] = inf_hit(v, y) ? static_cast<float>(sgn(v) * share) : 0.0f;
        }
      } else {
        for (int64_t r = 0; r < R; ++r)
          dx[r * inner + j] = static_cast<float>(norm_grad(x[r * inner + j], y, g, p, 0.0));
      }
    }
  });
}

template <class T>
void norm_backward_ref(const PointwiseBackwardArgs<T>& a) {
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t i = 0; i < a.inner; ++i) {
      const int64_t k = o * a.inner + i;
      const double share = std::isinf(a.p) ? inf_share(a, o, i) : 0.0;
      for (int64_t r = 0; r < a.R; ++r) {
        const int64_t at = (o * a.R + r) * a.inner + i;
        const double v = a.x[at];
        double d = norm_grad(v, a.y[k], a.g[k], a.p, share);
        if (std::isinf(a.p) && !inf_hit(a.x[at], a.y[k])) d = 0.0;
        a.dx[at] = static_cast<T>(d);
      }
    }
}

template void sum_forward<float>(const ReduceArgs<float>&);
template void sum_forward_ref<float>(const ReduceArgs<float>&);
template void sum_forward_ref<double>(const ReduceArgs<double>&);
template void sum_forward_ref<int64_t>(const ReduceArgs<int64_t>&);
template void var_forward<float>(const VarArgs<float>&);
template void var_forward_ref<float>(const VarArgs<float>&);
template void var_forward_ref<double>(const VarArgs<double>&);
template void var_backward<float>(const VarBackwardArgs<float>&);
template void var_backward_ref<float>(const VarBackwardArgs<float>&);
template void var_backward_ref<double>(const VarBackwardArgs<double>&);
template void arg_reduce<float>(const ArgReduceArgs<float>&);
template void arg_reduce<double>(const ArgReduceArgs<double>&);
template void arg_reduce<int64_t>(const ArgReduceArgs<int64_t>&);
template void arg_reduce_ref<float>(const ArgReduceArgs<float>&);
template void arg_reduce_ref<double>(const ArgReduceArgs<double>&);
template void arg_reduce_ref<int64_t>(const ArgReduceArgs<int64_t>&);
template void index_backward<float>(const IndexBackwardArgs<float>&);
template void index_backward<double>(const IndexBackwardArgs<double>&);
template void tie_backward<float>(const TieBackwardArgs<float>&);
template void tie_backward<double>(const TieBackwardArgs<double>&);
template void logsumexp_forward<float>(const ReduceArgs<float>&);
template void logsumexp_forward_ref<float>(const ReduceArgs<float>&);
template void logsumexp_forward_ref<double>(const ReduceArgs<double>&);
template void logsumexp_backward<float>(const PointwiseBackwardArgs<float>&);
template void logsumexp_backward_ref<float>(const PointwiseBackwardArgs<float>&);
template void logsumexp_backward_ref<double>(const PointwiseBackwardArgs<double>&);
template void norm_forward<float>(const NormArgs<float>&);
template void norm_forward_ref<float>(const NormArgs<float>&);
template void norm_forward_ref<double>(const NormArgs<double>&);
template void norm_backward<float>(const PointwiseBackwardArgs<float>&);
template void norm_backward_ref<float>(const PointwiseBackwardArgs<float>&);
template void norm_backward_ref<double>(const PointwiseBackwardArgs<double>&);

}  // namespace cf::ops::cpu
