// Pooling kernels. OpenMP over the P = N C planes (each plane belongs to one thread, so the
// backward scatters need no atomics). Per output row the cells whose windows are clipped by the
// padding go one at a time; the interior run goes per window offset over the whole run (16
// cells per AVX-512 step for strides 1 and 2). Adaptive bounds are tabulated once per call.
// The _ref kernels are plain loops with double accumulation.
#include <cmath>
#include <limits>
#include <vector>

#include "ops/cpu/parallel.h"
#include "ops/cpu/vec.h"
#include "ops/pool.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace cf::ops::cpu {
namespace {

// The first and one-past-last i with 0 <= start + i d < size, i in [0, k).
struct Range {
  int64_t lo, hi;
};
inline Range valid(int64_t start, int64_t k, int64_t d, int64_t size) {
  const int64_t lo = start < 0 ? (-start + d - 1) / d : 0;
  const int64_t hi = std::min<int64_t>(k, (size - start + d - 1) / d);
  return {lo, std::max(lo, hi)};
}

template <class F>
void for_planes(int64_t P, int64_t per_plane, const F& f) {
  parallel_for(0, P, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, per_plane)),
               [&f](int64_t b, int64_t e) {
                 for (int64_t p = b; p < e; ++p) f(p);
               });
}

template <class T>
inline bool takes_max(T v, T m) {
  return v > m || v != v;  // PyTorch: a NaN wins, and the first of equal maxima stays
}

// avg_pool2d's window for one output cell: the clipped bounds and the divisor.
struct AvgWindow {
  int64_t h0, h1, w0, w1;
  double divisor;
};
inline AvgWindow avg_window(const Pool2dGeom& g, int64_t oh, int64_t ow, bool count_include_pad,
                            int64_t divisor) {
  int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  int64_t h1 = std::min(h0 + g.kh, g.H + g.ph), w1 = std::min(w0 + g.kw, g.W + g.pw);
  const int64_t pool = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0);
  w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, g.H);
  w1 = std::min(w1, g.W);
  const int64_t n = std::max<int64_t>(h1 - h0, 0) * std::max<int64_t>(w1 - w0, 0);
  const double d =
      divisor ? static_cast<double>(divisor) : static_cast<double>(count_include_pad ? pool : n);
  return {h0, std::max(h0, h1), w0, std::max(w0, w1), d};
}

// The output columns [lo, hi) whose windows lie inside the input along w (no clipping).
struct Interior {
  int64_t lo, hi;
};
inline Interior interior(const Pool2dGeom& g) {
  const int64_t lo = std::min<int64_t>(g.Wo, (g.pw + g.sw - 1) / g.sw);
  // ow sw - pw + (kw - 1) dw <= W - 1
  const int64_t last = g.W - 1 + g.pw - (g.kw - 1) * g.dw;
  const int64_t hi = last < 0 ? 0 : std::min<int64_t>(g.Wo, last / g.sw + 1);
  return {lo, std::max(lo, hi)};
}

// adaptive_avg_pool2d's bounds: [floor(o in / out), ceil((o + 1) in / out)).
inline int64_t start_index(int64_t o, int64_t in, int64_t out) {
  return (o * in) / out;
}
inline int64_t end_index(int64_t o, int64_t in, int64_t out) {
  return ((o + 1) * in + out - 1) / out;
}

// The bounds of every output row and column, computed once per call (divisions are slow).
struct Bounds {
  std::vector<int64_t> h0, h1, w0, w1;
};
inline Bounds adaptive_bounds(int64_t H, int64_t W, int64_t Ho, int64_t Wo) {
  Bounds b{std::vector<int64_t>(Ho), std::vector<int64_t>(Ho), std::vector<int64_t>(Wo),
           std::vector<int64_t>(Wo)};
  for (int64_t o = 0; o < Ho; ++o) {
    b.h0[o] = start_index(o, H, Ho);
    b.h1[o] = end_index(o, H, Ho);
  }
  for (int64_t o = 0; o < Wo; ++o) {
    b.w0[o] = start_index(o, W, Wo);
    b.w1[o] = end_index(o, W, Wo);
  }
  return b;
}

// ---------------------------------------------------------------- interior runs
// A run of interior output cells [lo, hi) of one output row: every window column is inside the
// input, so each window offset (i, j) reads x[base + ow sw] for the whole run. With AVX-512 and
// sw <= 2 the run goes 16 cells at a time (a stride-2 read is two loads and an even-lane
// permute); otherwise plain loops over the run per offset.

// Row-major order of window offsets with a strict > keeps PyTorch's first maximum.
void max_run_loops(const float* x, const Pool2dGeom& g, int64_t h0, Range ri, int64_t lo,
                   int64_t hi, float* yr, int64_t* ir) {
  bool first = true;
  const int64_t sw = g.sw;
  for (int64_t i = ri.lo; i < ri.hi; ++i)
    for (int64_t j = 0; j < g.kw; ++j) {
      const int64_t base = (h0 + i * g.dh) * g.W - g.pw + j * g.dw;  // + ow sw >= 0
      if (first) {
#pragma omp simd
        for (int64_t ow = lo; ow < hi; ++ow) yr[ow] = x[base + ow * sw];
        if (ir)
          for (int64_t ow = lo; ow < hi; ++ow) ir[ow] = base + ow * sw;
        first = false;
      } else if (ir) {
#pragma omp simd
        for (int64_t ow = lo; ow < hi; ++ow) {
          const float v = x[base + ow * sw];
          const bool take = v > yr[ow] || v != v;
          yr[ow] = take ? v : yr[ow];
          ir[ow] = take ? base + ow * sw : ir[ow];
        }
      } else {
#pragma omp simd
        for (int64_t ow = lo; ow < hi; ++ow) {
          const float v = x[base + ow * sw];
          yr[ow] = v > yr[ow] || v != v ? v : yr[ow];
        }
      }
    }
}

void avg_run_loops(const float* x, const Pool2dGeom& g, const AvgWindow& w, int64_t lo, int64_t hi,
                   float* yr) {
  const int64_t sw = g.sw;
  for (int64_t ow = lo; ow < hi; ++ow) yr[ow] = 0.0f;
  for (int64_t ih = w.h0; ih < w.h1; ++ih)
    for (int64_t j = 0; j < g.kw; ++j) {
      const int64_t base = ih * g.W - g.pw + j;  // + ow sw >= 0
#pragma omp simd
      for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += x[base + ow * sw];
    }
  const float d = static_cast<float>(w.divisor);
#pragma omp simd
  for (int64_t ow = lo; ow < hi; ++ow) yr[ow] /= d;
}

// Within one (ih, j) pass the cells ow hit distinct inputs base + ow sw.
void avg_backward_run_loops(const float* gr, const Pool2dGeom& g, const AvgWindow& w, int64_t lo,
                            int64_t hi, float* dx) {
  const int64_t sw = g.sw;
  const float d = static_cast<float>(w.divisor);
  for (int64_t ih = w.h0; ih < w.h1; ++ih)
    for (int64_t j = 0; j < g.kw; ++j) {
      const int64_t base = ih * g.W - g.pw + j;
#pragma omp simd
      for (int64_t ow = lo; ow < hi; ++ow) dx[base + ow * sw] += gr[ow] / d;
    }
}

#if defined(__AVX512F__)

inline __mmask16 lanes_mask(int n) {
  return static_cast<__mmask16>((1u << n) - 1u);
}

// v[l] = p[l s] for l < n (s is 1 or 2); reads only p[0 .. (n - 1) s].
inline __m512 load_strided(const float* p, int64_t s, int n) {
  if (s == 1) return _mm512_maskz_loadu_ps(lanes_mask(n), p);
  const int e = 2 * n - 1;
  const __m512 lo = _mm512_maskz_loadu_ps(lanes_mask(std::min(e, 16)), p);
  const __m512 hi =
      e > 16 ? _mm512_maskz_loadu_ps(lanes_mask(e - 16), p + 16) : _mm512_setzero_ps();
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  return _mm512_permutex2var_ps(lo, even, hi);
}

// p[l s] += v[l] for l < n (s is 1 or 2); touches only p[0 .. (n - 1) s].
inline void add_strided(float* p, int64_t s, int n, __m512 v) {
  if (s == 1) {
    const __mmask16 m = lanes_mask(n);
    _mm512_mask_storeu_ps(p, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, p), v));
    return;
  }
  const int e = 2 * n - 1;
  const __m512 zero = _mm512_setzero_ps();
  // v spread to the even lanes: lane 2k of lo = v[k], of hi = v[8 + k]; odd lanes 0.
  const __m512i lo_idx = _mm512_set_epi32(16, 7, 16, 6, 16, 5, 16, 4, 16, 3, 16, 2, 16, 1, 16, 0);
  const __m512i hi_idx =
      _mm512_set_epi32(16, 15, 16, 14, 16, 13, 16, 12, 16, 11, 16, 10, 16, 9, 16, 8);
  const __mmask16 m0 = lanes_mask(std::min(e, 16));
  _mm512_mask_storeu_ps(
      p, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, p), _mm512_permutex2var_ps(v, lo_idx, zero)));
  if (e > 16) {
    const __mmask16 m1 = lanes_mask(e - 16);
    _mm512_mask_storeu_ps(
        p + 16, m1,
        _mm512_add_ps(_mm512_maskz_loadu_ps(m1, p + 16), _mm512_permutex2var_ps(v, hi_idx, zero)));
  }
}

bool vector_runs(const Pool2dGeom& g) {
  return g.sw <= 2 && g.H * g.W < (int64_t(1) << 31);
}

void max_run(const float* x, const Pool2dGeom& g, int64_t h0, Range ri, int64_t lo, int64_t hi,
             float* yr, int64_t* ir) {
  if (!vector_runs(g)) return max_run_loops(x, g, h0, ri, lo, hi, yr, ir);
  const int64_t sw = g.sw;
  const __m512i lane_s =
      _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                         _mm512_set1_epi32(static_cast<int>(sw)));
  for (int64_t ow = lo; ow < hi; ow += 16) {
    const int n = static_cast<int>(std::min<int64_t>(16, hi - ow));
    __m512 m = _mm512_setzero_ps();
    __m512i mi = _mm512_setzero_si512();
    bool first = true;
    for (int64_t i = ri.lo; i < ri.hi; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t at = (h0 + i * g.dh) * g.W - g.pw + j * g.dw + ow * sw;  // >= 0
        const __m512 v = load_strided(x + at, sw, n);
        const __m512i vi = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(at)), lane_s);
        if (first) {
          m = v;
          mi = vi;
          first = false;
          continue;
        }
        const __mmask16 take =
            _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        m = _mm512_mask_blend_ps(take, m, v);
        mi = _mm512_mask_blend_epi32(take, mi, vi);
      }
    const __mmask16 mask = lanes_mask(n);
    _mm512_mask_storeu_ps(yr + ow, mask, m);
    if (ir) {
      // Masked (maskz) forms: GCC 12 flags the unmasked ones as maybe-uninitialized.
      const __m256i lo8 = _mm512_maskz_extracti64x4_epi64(0xF, mi, 0);
      const __m256i hi8 = _mm512_maskz_extracti64x4_epi64(0xF, mi, 1);
      _mm512_mask_storeu_epi64(ir + ow, static_cast<__mmask8>(mask),
                               _mm512_maskz_cvtepi32_epi64(0xFF, lo8));
      _mm512_mask_storeu_epi64(ir + ow + 8, static_cast<__mmask8>(mask >> 8),
                               _mm512_maskz_cvtepi32_epi64(0xFF, hi8));
    }
  }
}

void avg_run(const float* x, const Pool2dGeom& g, const AvgWindow& w, int64_t lo, int64_t hi,
             float* yr) {
  if (!vector_runs(g)) return avg_run_loops(x, g, w, lo, hi, yr);
  const __m512 d = _mm512_set1_ps(static_cast<float>(w.divisor));
  for (int64_t ow = lo; ow < hi; ow += 16) {
    const int n = static_cast<int>(std::min<int64_t>(16, hi - ow));
    __m512 s = _mm512_setzero_ps();
    for (int64_t ih = w.h0; ih < w.h1; ++ih)
      for (int64_t j = 0; j < g.kw; ++j)
        s = _mm512_add_ps(s, load_strided(x + (ih * g.W - g.pw + j + ow * g.sw), g.sw, n));
    _mm512_mask_storeu_ps(yr + ow, lanes_mask(n), _mm512_div_ps(s, d));
  }
}

void avg_backward_run(const float* gr, const Pool2dGeom& g, const AvgWindow& w, int64_t lo,
                      int64_t hi, float* dx) {
  if (!vector_runs(g)) return avg_backward_run_loops(gr, g, w, lo, hi, dx);
  const __m512 d = _mm512_set1_ps(static_cast<float>(w.divisor));
  for (int64_t ow = lo; ow < hi; ow += 16) {
    const int n = static_cast<int>(std::min<int64_t>(16, hi - ow));
    const __m512 v = _mm512_div_ps(_mm512_maskz_loadu_ps(lanes_mask(n), gr + ow), d);
    for (int64_t ih = w.h0; ih < w.h1; ++ih)
      for (int64_t j = 0; j < g.kw; ++j)
        add_strided(dx + (ih * g.W - g.pw + j + ow * g.sw), g.sw, n, v);
  }
}

#else

void max_run(const float* x, const Pool2dGeom& g, int64_t h0, Range ri, int64_t lo, int64_t hi,
             float* yr, int64_t* ir) {
  max_run_loops(x, g, h0, ri, lo, hi, yr, ir);
}
void avg_run(const float* x, const Pool2dGeom& g, const AvgWindow& w, int64_t lo, int64_t hi,
             float* yr) {
  avg_run_loops(x, g, w, lo, hi, yr);
}
void avg_backward_run(const float* gr, const Pool2dGeom& g, const AvgWindow& w, int64_t lo,
                      int64_t hi, float* dx) {
  avg_backward_run_loops(gr, g, w, lo, hi, dx);
}

#endif

}  // namespace

// ---------------------------------------------------------------- max_pool2d

void max_pool2d_forward(const MaxPool2dArgs<float>& a) {
  const Pool2dGeom g = a.g;
  const Interior in = interior(g);
  for_planes(g.P, g.H * g.W, [&a, g, in](int64_t p) {
    const float* x = a.x + p * g.H * g.W;
    float* y = a.y + p * g.Ho * g.Wo;
    int64_t* idx = a.idx ? a.idx + p * g.Ho * g.Wo : nullptr;
    for (int64_t oh = 0; oh < g.Ho; ++oh) {
      const int64_t h0 = oh * g.sh - g.ph;
      const Range ri = valid(h0, g.kh, g.dh, g.H);
      float* yr = y + oh * g.Wo;
      int64_t* ir = idx ? idx + oh * g.Wo : nullptr;
      // Edge cells (windows clipped by the padding): one at a time.
      auto cell = [x, g, h0, ri, yr, ir](int64_t ow) {
        const int64_t w0 = ow * g.sw - g.pw;
        const Range rj = valid(w0, g.kw, g.dw, g.W);
        float m = -std::numeric_limits<float>::infinity();
        int64_t mi = -1;
        for (int64_t i = ri.lo; i < ri.hi; ++i) {
          const int64_t row = (h0 + i * g.dh) * g.W + w0;
          for (int64_t j = rj.lo; j < rj.hi; ++j) {
            const float v = x[row + j * g.dw];
            if (takes_max(v, m) || mi < 0) {
              m = v;
              mi = row + j * g.dw;
            }
          }
        }
        yr[ow] = m;
        if (ir) ir[ow] = mi;
      };
      for (int64_t ow = 0; ow < in.lo; ++ow) cell(ow);
      for (int64_t ow = in.hi; ow < g.Wo; ++ow) cell(ow);
      // Interior cells: the whole run of them per window offset (i, j), in PyTorch's order.
      const int64_t lo = in.lo, hi = in.hi;
      if (lo >= hi) continue;
      if (ri.lo >= ri.hi) {
        for (int64_t ow = lo; ow < hi; ++ow) yr[ow] = -std::numeric_limits<float>::infinity();
        if (ir)
          for (int64_t ow = lo; ow < hi; ++ow) ir[ow] = -1;
        continue;
      }
      max_run(x, g, h0, ri, lo, hi, yr, ir);
    }
  });
}

template <class T>
void max_pool2d_forward_ref(const MaxPool2dArgs<T>& a) {
  const Pool2dGeom& g = a.g;
  for (int64_t p = 0; p < g.P; ++p)
    for (int64_t oh = 0; oh < g.Ho; ++oh)
      for (int64_t ow = 0; ow < g.Wo; ++ow) {
        T m = -std::numeric_limits<T>::infinity();
        int64_t mi = -1;
        for (int64_t i = 0; i < g.kh; ++i)
          for (int64_t j = 0; j < g.kw; ++j) {
            const int64_t ih = oh * g.sh - g.ph + i * g.dh, iw = ow * g.sw - g.pw + j * g.dw;
            if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
            const T v = a.x[(p * g.H + ih) * g.W + iw];
            if (takes_max(v, m) || mi < 0) {
              m = v;
              mi = ih * g.W + iw;
            }
          }
        const int64_t at = (p * g.Ho + oh) * g.Wo + ow;
        a.y[at] = m;
        if (a.idx) a.idx[at] = mi;
      }
}

void max_pool2d_backward(const MaxPool2dBackwardArgs<float>& a) {
  const Pool2dGeom g = a.geom;
  for_planes(g.P, g.H * g.W, [&a, g](int64_t p) {
    float* dx = a.dx + p * g.H * g.W;
    const float* gy = a.g + p * g.Ho * g.Wo;
    const int64_t* idx = a.idx + p * g.Ho * g.Wo;
    for (int64_t i = 0; i < g.H * g.W; ++i) dx[i] = 0.0f;
    for (int64_t o = 0; o < g.Ho * g.Wo; ++o)
      if (idx[o] >= 0) dx[idx[o]] += gy[o];
  });
}

template <class T>
void max_pool2d_backward_ref(const MaxPool2dBackwardArgs<T>& a) {
  const Pool2dGeom& g = a.geom;
  for (int64_t i = 0; i < g.P * g.H * g.W; ++i) a.dx[i] = T(0);
  for (int64_t p = 0; p < g.P; ++p)
    for (int64_t o = 0; o < g.Ho * g.Wo; ++o) {
      const int64_t k = a.idx[p * g.Ho * g.Wo + o];
      if (k >= 0) a.dx[p * g.H * g.W + k] += a.g[p * g.Ho * g.Wo + o];
    }
}

// ---------------------------------------------------------------- avg_pool2d

void avg_pool2d_forward(const AvgPool2dArgs<float>& a) {
  const Pool2dGeom g = a.g;
  const Interior in = interior(g);
  for_planes(g.P, g.H * g.W, [&a, g, in](int64_t p) {
    const float* x = a.x + p * g.H * g.W;
    float* y = a.y + p * g.Ho * g.Wo;
    for (int64_t oh = 0; oh < g.Ho; ++oh) {
      float* yr = y + oh * g.Wo;
      auto cell = [&a, x, g, oh, yr](int64_t ow) {
        const AvgWindow w = avg_window(g, oh, ow, a.count_include_pad, a.divisor);
        float s = 0.0f;
        for (int64_t ih = w.h0; ih < w.h1; ++ih)
          for (int64_t iw = w.w0; iw < w.w1; ++iw) s += x[ih * g.W + iw];
        yr[ow] = w.h0 < w.h1 && w.w0 < w.w1 ? s / static_cast<float>(w.divisor) : 0.0f;
      };
      for (int64_t ow = 0; ow < in.lo; ++ow) cell(ow);
      for (int64_t ow = in.hi; ow < g.Wo; ++ow) cell(ow);
      const int64_t lo = in.lo, hi = in.hi;
      if (lo >= hi) continue;
      // Interior cells share the row extent, hence the divisor.
      const AvgWindow w = avg_window(g, oh, lo, a.count_include_pad, a.divisor);
      if (w.h0 == w.h1) {
        for (int64_t ow = lo; ow < hi; ++ow) yr[ow] = 0.0f;
        continue;
      }
      avg_run(x, g, w, lo, hi, yr);
    }
  });
}

template <class T>
void avg_pool2d_forward_ref(const AvgPool2dArgs<T>& a) {
  const Pool2dGeom& g = a.g;
  for (int64_t p = 0; p < g.P; ++p)
    for (int64_t oh = 0; oh < g.Ho; ++oh)
      for (int64_t ow = 0; ow < g.Wo; ++ow) {
        const AvgWindow w = avg_window(g, oh, ow, a.count_include_pad, a.divisor);
        double s = 0.0;
        for (int64_t ih = w.h0; ih < w.h1; ++ih)
          for (int64_t iw = w.w0; iw < w.w1; ++iw) s += a.x[(p * g.H + ih) * g.W + iw];
        const bool empty = w.h0 == w.h1 || w.w0 == w.w1;
        a.y[(p * g.Ho + oh) * g.Wo + ow] = static_cast<T>(empty ? 0.0 : s / w.divisor);
      }
}

void avg_pool2d_backward(const AvgPool2dArgs<float>& a) {
  const Pool2dGeom g = a.g;
  const Interior in = interior(g);
  for_planes(g.P, g.H * g.W, [&a, g, in](int64_t p) {
    const float* gy = a.x + p * g.Ho * g.Wo;
    float* dx = a.y + p * g.H * g.W;
    for (int64_t i = 0; i < g.H * g.W; ++i) dx[i] = 0.0f;
    for (int64_t oh = 0; oh < g.Ho; ++oh) {
      const float* gr = gy + oh * g.Wo;
      auto cell = [&a, dx, g, oh, gr](int64_t ow) {
        const AvgWindow w = avg_window(g, oh, ow, a.count_include_pad, a.divisor);
        const float v = gr[ow] / static_cast<float>(w.divisor);
        for (int64_t ih = w.h0; ih < w.h1; ++ih)
          for (int64_t iw = w.w0; iw < w.w1; ++iw) dx[ih * g.W + iw] += v;
      };
      for (int64_t ow = 0; ow < in.lo; ++ow) cell(ow);
      for (int64_t ow = in.hi; ow < g.Wo; ++ow) cell(ow);
      const int64_t lo = in.lo, hi = in.hi;
      if (lo >= hi) continue;
      const AvgWindow w = avg_window(g, oh, lo, a.count_include_pad, a.divisor);
      avg_backward_run(gr, g, w, lo, hi, dx);
    }
  });
}

template <class T>
void avg_pool2d_backward_ref(const AvgPool2dArgs<T>& a) {
  const Pool2dGeom& g = a.g;
  for (int64_t i = 0; i < g.P * g.H * g.W; ++i) a.y[i] = T(0);
  for (int64_t p = 0; p < g.P; ++p)
    for (int64_t oh = 0; oh < g.Ho; ++oh)
      for (int64_t ow = 0; ow < g.Wo; ++ow) {
        const AvgWindow w = avg_window(g, oh, ow, a.count_include_pad, a.divisor);
        const double v = a.x[(p * g.Ho + oh) * g.Wo + ow] / w.divisor;
        for (int64_t ih = w.h0; ih < w.h1; ++ih)
          for (int64_t iw = w.w0; iw < w.w1; ++iw)
            a.y[(p * g.H + ih) * g.W + iw] = static_cast<T>(a.y[(p * g.H + ih) * g.W + iw] + v);
      }
}

// ---------------------------------------------------------------- adaptive_avg_pool2d

void adaptive_avg_pool2d_forward(const AdaptiveAvgPool2dArgs<float>& a) {
  const int64_t H = a.H, W = a.W, Ho = a.Ho, Wo = a.Wo;
  if (Ho == 1 && Wo == 1) {  // global pooling: the mean of each contiguous plane
    const int64_t S = H * W;
    const float count = static_cast<float>(S);
    for_planes(a.P, S, [&a, S, count](int64_t p) {
      const float* x = a.x + p * S;
      VecF acc(0.0f);
      int64_t i = 0;
      for (; i + VecF::kWidth <= S; i += VecF::kWidth) acc = acc + VecF::load(x + i);
      if (i < S) acc = acc + VecF::load(x + i, static_cast<int>(S - i));
      a.y[p] = acc.reduce_add() / count;
    });
    return;
  }
  const Bounds b = adaptive_bounds(H, W, Ho, Wo);
  for_planes(a.P, H * W, [&a, &b, H, W, Ho, Wo](int64_t p) {
    const float* x = a.x + p * H * W;
    float* y = a.y + p * Ho * Wo;
    for (int64_t oh = 0; oh < Ho; ++oh) {
      const int64_t h0 = b.h0[oh], h1 = b.h1[oh];
      for (int64_t ow = 0; ow < Wo; ++ow) {
        const int64_t w0 = b.w0[ow], w1 = b.w1[ow];
        float s = 0.0f;
        for (int64_t ih = h0; ih < h1; ++ih) {
          const float* r = x + ih * W;
#pragma omp simd reduction(+ : s)
          for (int64_t iw = w0; iw < w1; ++iw) s += r[iw];
        }
        y[oh * Wo + ow] = s / static_cast<float>((h1 - h0) * (w1 - w0));
      }
    }
  });
}

template <class T>
void adaptive_avg_pool2d_forward_ref(const AdaptiveAvgPool2dArgs<T>& a) {
  for (int64_t p = 0; p < a.P; ++p)
    for (int64_t oh = 0; oh < a.Ho; ++oh)
      for (int64_t ow = 0; ow < a.Wo; ++ow) {
        const int64_t h0 = start_index(oh, a.H, a.Ho), h1 = end_index(oh, a.H, a.Ho);
        const int64_t w0 = start_index(ow, a.W, a.Wo), w1 = end_index(ow, a.W, a.Wo);
        double s = 0.0;
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) s += a.x[(p * a.H + ih) * a.W + iw];
        a.y[(p * a.Ho + oh) * a.Wo + ow] =
            static_cast<T>(s / static_cast<double>((h1 - h0) * (w1 - w0)));
      }
}

void adaptive_avg_pool2d_backward(const AdaptiveAvgPool2dArgs<float>& a) {
  const int64_t H = a.H, W = a.W, Ho = a.Ho, Wo = a.Wo;
  const Bounds b = adaptive_bounds(H, W, Ho, Wo);
  for_planes(a.P, H * W, [&a, &b, H, W, Ho, Wo](int64_t p) {
    const float* gy = a.x + p * Ho * Wo;
    float* dx = a.y + p * H * W;
    if (Ho == 1 && Wo == 1) {  // global pooling: one value for the whole plane
      const float v = gy[0] / static_cast<float>(H * W);
#pragma omp simd
      for (int64_t i = 0; i < H * W; ++i) dx[i] = v;
      return;
    }
    for (int64_t i = 0; i < H * W; ++i) dx[i] = 0.0f;
    for (int64_t oh = 0; oh < Ho; ++oh) {
      const int64_t h0 = b.h0[oh], h1 = b.h1[oh];
      for (int64_t ow = 0; ow < Wo; ++ow) {
        const int64_t w0 = b.w0[ow], w1 = b.w1[ow];
        const float v = gy[oh * Wo + ow] / static_cast<float>((h1 - h0) * (w1 - w0));
        for (int64_t ih = h0; ih < h1; ++ih) {
          float* r = dx + ih * W;
#pragma omp simd
          for (int64_t iw = w0; iw < w1; ++iw) r[iw] += v;
        }
      }
    }
  });
}

template <class T>
void adaptive_avg_pool2d_backward_ref(const AdaptiveAvgPool2dArgs<T>& a) {
  for (int64_t i = 0; i < a.P * a.H * a.W; ++i) a.y[i] = T(0);
  for (int64_t p = 0; p < a.P; ++p)
    for (int64_t oh = 0; oh < a.Ho; ++oh)
      for (int64_t ow = 0; ow < a.Wo; ++ow) {
        const int64_t h0 = start_index(oh, a.H, a.Ho), h1 = end_index(oh, a.H, a.Ho);
        const int64_t w0 = start_index(ow, a.W, a.Wo), w1 = end_index(ow, a.W, a.Wo);
        const double v =
            a.x[(p * a.Ho + oh) * a.Wo + ow] / static_cast<double>((h1 - h0) * (w1 - w0));
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) {
            T& d = a.y[(p * a.H + ih) * a.W + iw];
            d = static_cast<T>(d + v);
          }
      }
}

template void max_pool2d_forward_ref<float>(const MaxPool2dArgs<float>&);
template void max_pool2d_forward_ref<double>(const MaxPool2dArgs<double>&);
template void max_pool2d_backward_ref<float>(const MaxPool2dBackwardArgs<float>&);
template void max_pool2d_backward_ref<double>(const MaxPool2dBackwardArgs<double>&);
template void avg_pool2d_forward_ref<float>(const AvgPool2dArgs<float>&);
template void avg_pool2d_forward_ref<double>(const AvgPool2dArgs<double>&);
template void avg_pool2d_backward_ref<float>(const AvgPool2dArgs<float>&);
template void avg_pool2d_backward_ref<double>(const AvgPool2dArgs<double>&);
template void adaptive_avg_pool2d_forward_ref<float>(const AdaptiveAvgPool2dArgs<float>&);
template void adaptive_avg_pool2d_forward_ref<double>(const AdaptiveAvgPool2dArgs<double>&);
template void adaptive_avg_pool2d_backward_ref<float>(const AdaptiveAvgPool2dArgs<float>&);
template void adaptive_avg_pool2d_backward_ref<double>(const AdaptiveAvgPool2dArgs<double>&);

}  // namespace cf::ops::cpu
