// VecF: a float vector register for CPU kernels. 16 lanes of AVX-512 where the compiler targets
// it, otherwise a portable 8-lane array the compiler vectorizes as it can. Kernels are written
// once against this type; tails use the masked load/store (n < kWidth lanes).
// exp and log follow Cephes' single-precision polynomials (range reduction to [-ln2/2, ln2/2]
// and to a mantissa in [sqrt(1/2), sqrt(2)) respectively); both agree with std::exp / std::log
// to a few ulp. tanh is Cephes' tanhf (odd polynomial below |x| = 0.625, 1 - 2 / (e^2|x| + 1)
// above), sigmoid 1 / (1 + e^-x), erf the Eigen/XLA rational approximation on [-4, 4]
// (absolute error below 4e-7). Accuracy: tests/ops/test_vec.cpp.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace cf::ops::cpu {

#if defined(__AVX512F__)

struct VecF {
  static constexpr int kWidth = 16;
  // Full-mask forms of the intrinsics whose unmasked forms start from _mm512_undefined_ps(),
  // which GCC 12 reports as maybe-uninitialized once inlined.
  static constexpr __mmask16 kAll = 0xFFFF;
  __m512 v;
  VecF() = default;
  explicit VecF(__m512 x) : v(x) {}
  explicit VecF(float s) : v(_mm512_set1_ps(s)) {}
  static VecF load(const float* p) { return VecF(_mm512_loadu_ps(p)); }
  /// Loads n < kWidth lanes (the rest are `fill`).
  static VecF load(const float* p, int n, float fill = 0.0f) {
    const __mmask16 m = static_cast<__mmask16>((1u << n) - 1u);
    return VecF(_mm512_mask_loadu_ps(_mm512_set1_ps(fill), m, p));
  }
  void store(float* p) const { _mm512_storeu_ps(p, v); }
  void store(float* p, int n) const {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1u), v);
  }
  friend VecF operator+(VecF a, VecF b) { return VecF(_mm512_add_ps(a.v, b.v)); }
  friend VecF operator-(VecF a, VecF b) { return VecF(_mm512_sub_ps(a.v, b.v)); }
  friend VecF operator*(VecF a, VecF b) { return VecF(_mm512_mul_ps(a.v, b.v)); }
  friend VecF operator/(VecF a, VecF b) { return VecF(_mm512_div_ps(a.v, b.v)); }
  friend VecF operator-(VecF a) { return VecF(_mm512_xor_ps(a.v, _mm512_set1_ps(-0.0f))); }
  /// a * b + c
  static VecF fma(VecF a, VecF b, VecF c) { return VecF(_mm512_fmadd_ps(a.v, b.v, c.v)); }
  static VecF max(VecF a, VecF b) { return VecF(_mm512_mask_max_ps(a.v, kAll, a.v, b.v)); }
  static VecF min(VecF a, VecF b) { return VecF(_mm512_mask_min_ps(a.v, kAll, a.v, b.v)); }
  static VecF sqrt(VecF a) { return VecF(_mm512_mask_sqrt_ps(a.v, kAll, a.v)); }
  static VecF abs(VecF a) { return VecF(_mm512_abs_ps(a.v)); }
  /// Lanes [8 i, 8 i + 8).
  __m256 half(int i) const {
    const __m512d d = _mm512_castps_pd(v);
    return _mm256_castpd_ps(i ? _mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xF, d, 1)
                              : _mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xF, d, 0));
  }
  // The same tree as _mm512_reduce_add_ps / _mm512_reduce_max_ps (256, 128, 64, 32 bits).
  float reduce_add() const {
    const __m256 s = _mm256_add_ps(half(1), half(0));
    __m128 t = _mm_add_ps(_mm256_extractf128_ps(s, 1), _mm256_castps256_ps128(s));
    t = _mm_add_ps(t, _mm_movehl_ps(t, t));
    return _mm_cvtss_f32(t) + _mm_cvtss_f32(_mm_movehdup_ps(t));
  }
  float reduce_max() const {
    const __m256 s = _mm256_max_ps(half(1), half(0));
    __m128 t = _mm_max_ps(_mm256_extractf128_ps(s, 1), _mm256_castps256_ps128(s));
    t = _mm_max_ps(t, _mm_movehl_ps(t, t));
    return std::max(_mm_cvtss_f32(t), _mm_cvtss_f32(_mm_movehdup_ps(t)));
  }

  static VecF exp(VecF x) {
    const __m512 c = max(min(x, VecF(88.7228394f)), VecF(-104.0f)).v;
    const __m512 t = _mm512_mul_ps(c, _mm512_set1_ps(1.44269504088896341f));
    const __m512 n =
        _mm512_mask_roundscale_ps(t, kAll, t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), c);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512 y = _mm512_mask_scalef_ps(p, kAll, p, n);  // p * 2^n, with correct overflow / underflow
    const __mmask16 nan = _mm512_cmp_ps_mask(x.v, x.v, _CMP_UNORD_Q);
    return VecF(_mm512_mask_blend_ps(nan, y, x.v));
  }

  static VecF log(VecF x) {
    // x = m * 2^e with m in [1, 2); fold m into [sqrt(1/2), sqrt(2)).
    __m512 e = _mm512_mask_getexp_ps(x.v, kAll, x.v);
    __m512 m = _mm512_mask_getmant_ps(x.v, kAll, x.v, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero);
    const __mmask16 big = _mm512_cmp_ps_mask(m, _mm512_set1_ps(1.41421356237f), _CMP_GT_OQ);
    m = _mm512_mask_mul_ps(m, big, m, _mm512_set1_ps(0.5f));
    e = _mm512_mask_add_ps(e, big, e, _mm512_set1_ps(1.0f));
    const __m512 f = _mm512_sub_ps(m, _mm512_set1_ps(1.0f));
    const __m512 z = _mm512_mul_ps(f, f);
    __m512 p = _mm512_set1_ps(7.0376836292e-2f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-1.1514610310e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.1676998740e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-1.2420140846e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.4249322787e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-1.6668057665e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.0000714765e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-2.4999993993e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(3.3333331174e-1f));
    __m512 y = _mm512_mul_ps(_mm512_mul_ps(p, f), z);
    y = _mm512_fmadd_ps(e, _mm512_set1_ps(-2.12194440e-4f), y);
    y = _mm512_fnmadd_ps(z, _mm512_set1_ps(0.5f), y);
    y = _mm512_add_ps(_mm512_add_ps(f, y), _mm512_mul_ps(e, _mm512_set1_ps(0.693359375f)));
    // Special values: log(0) = -inf, log(x < 0) = NaN, log(inf) = inf, NaN stays NaN.
    const __mmask16 zero = _mm512_cmp_ps_mask(x.v, _mm512_setzero_ps(), _CMP_EQ_OQ);
    const __mmask16 neg = _mm512_cmp_ps_mask(x.v, _mm512_setzero_ps(), _CMP_LT_OQ);
    const __mmask16 inf = _mm512_cmp_ps_mask(x.v, _mm512_set1_ps(INFINITY), _CMP_EQ_OQ);
    const __mmask16 nan = _mm512_cmp_ps_mask(x.v, x.v, _CMP_UNORD_Q);
    y = _mm512_mask_blend_ps(zero, y, _mm512_set1_ps(-INFINITY));
    y = _mm512_mask_blend_ps(neg | nan, y, _mm512_set1_ps(NAN));
    y = _mm512_mask_blend_ps(inf, y, _mm512_set1_ps(INFINITY));
    return VecF(y);
  }

  /// a > b ? t : f, lane by lane (false where a or b is NaN).
  static VecF select_gt(VecF a, VecF b, VecF t, VecF f) {
    return VecF(_mm512_mask_blend_ps(_mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ), f.v, t.v));
  }
  /// a >= b ? t : f, lane by lane (false where a or b is NaN).
  static VecF select_ge(VecF a, VecF b, VecF t, VecF f) {
    return VecF(_mm512_mask_blend_ps(_mm512_cmp_ps_mask(a.v, b.v, _CMP_GE_OQ), f.v, t.v));
  }

  /// c[i] ? t : f lane by lane, for kWidth bools at c (n < kWidth: the first n, the rest f).
  static VecF select(const bool* c, VecF t, VecF f) {
    const __m512i w =
        _mm512_maskz_cvtepu8_epi32(kAll, _mm_loadu_si128(reinterpret_cast<const __m128i*>(c)));
    return VecF(_mm512_mask_blend_ps(_mm512_test_epi32_mask(w, w), f.v, t.v));
  }
  static VecF select(const bool* c, int n, VecF t, VecF f) {
    alignas(16) bool buf[kWidth] = {};
    for (int i = 0; i < n; ++i) buf[i] = c[i];
    return select(buf, t, f);
  }

  static VecF tanh(VecF x) {
    const __m512 ax = _mm512_abs_ps(x.v);
    const __m512 z = _mm512_mul_ps(x.v, x.v);
    __m512 p = _mm512_set1_ps(-5.70498872745e-3f);
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(2.06390887954e-2f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-5.37397155531e-2f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.33314422036e-1f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-3.33332819422e-1f));
    const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), x.v, x.v);
    const __m512 e = exp(VecF(_mm512_add_ps(ax, ax))).v;
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 big = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
    const __mmask16 negative = _mm512_cmp_ps_mask(x.v, _mm512_setzero_ps(), _CMP_LT_OQ);
    big = _mm512_mask_sub_ps(big, negative, _mm512_setzero_ps(), big);
    const __mmask16 is_small = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.625f), _CMP_LT_OQ);
    return VecF(_mm512_mask_blend_ps(is_small, big, small));
  }

  static VecF sigmoid(VecF x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    return VecF(_mm512_div_ps(one, _mm512_add_ps(one, exp(-x).v)));
  }

  static VecF erf(VecF a) {
    const __m512 x = max(min(a, VecF(4.0f)), VecF(-4.0f)).v;
    const __m512 x2 = _mm512_mul_ps(x, x);
    __m512 p = _mm512_set1_ps(-2.72614225801306e-10f);
    p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(2.77068142495902e-08f));
    p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(-2.10102402082508e-06f));
    p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(-5.69250639462346e-05f));
    p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(-7.34990630326855e-04f));
    p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(-2.95459980854025e-03f));
    p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(-1.60960333262415e-02f));
    p = _mm512_mul_ps(x, p);
    __m512 q = _mm512_set1_ps(-1.45660718464996e-05f);
    q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(-2.13374055278905e-04f));
    q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(-1.68282697438203e-03f));
    q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(-7.37332916720468e-03f));
    q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(-1.42647390514189e-02f));
    // Beyond |x| = 3.92, 1 - |erf(x)| is below half an ulp of 1: saturate exactly.
    const __mmask16 sat = _mm512_cmp_ps_mask(_mm512_abs_ps(a.v), _mm512_set1_ps(3.92f), _CMP_GT_OQ);
    const __mmask16 neg = _mm512_cmp_ps_mask(a.v, _mm512_setzero_ps(), _CMP_LT_OQ);
    const __m512 sign = _mm512_mask_blend_ps(neg, _mm512_set1_ps(1.0f), _mm512_set1_ps(-1.0f));
    const __m512 y = _mm512_mask_blend_ps(sat, _mm512_div_ps(p, q), sign);
    const __mmask16 nan = _mm512_cmp_ps_mask(a.v, a.v, _CMP_UNORD_Q);
    return VecF(_mm512_mask_blend_ps(nan, y, a.v));
  }
};

#else  // portable fallback

struct VecF {
  static constexpr int kWidth = 8;
  float v[kWidth];
  VecF() = default;
  explicit VecF(float s) {
    for (float& x : v) x = s;
  }
  static VecF load(const float* p) {
    VecF r;
    for (int i = 0; i < kWidth; ++i) r.v[i] = p[i];
    return r;
  }
  static VecF load(const float* p, int n, float fill = 0.0f) {
    VecF r(fill);
    for (int i = 0; i < n; ++i) r.v[i] = p[i];
    return r;
  }
  void store(float* p) const {
    for (int i = 0; i < kWidth; ++i) p[i] = v[i];
  }
  void store(float* p, int n) const {
    for (int i = 0; i < n; ++i) p[i] = v[i];
  }
  template <class F> static VecF map(VecF a, F f) {
    for (float& x : a.v) x = f(x);
    return a;
  }
  template <class F> static VecF zip(VecF a, VecF b, F f) {
    for (int i = 0; i < kWidth; ++i) a.v[i] = f(a.v[i], b.v[i]);
    return a;
  }
  friend VecF operator+(VecF a, VecF b) { return zip(a, b, [](float x, float y) { return x + y; }); }
  friend VecF operator-(VecF a, VecF b) { return zip(a, b, [](float x, float y) { return x - y; }); }
  friend VecF operator*(VecF a, VecF b) { return zip(a, b, [](float x, float y) { return x * y; }); }
  friend VecF operator/(VecF a, VecF b) { return zip(a, b, [](float x, float y) { return x / y; }); }
  friend VecF operator-(VecF a) { return map(a, [](float x) { return -x; }); }
  static VecF fma(VecF a, VecF b, VecF c) {
    for (int i = 0; i < kWidth; ++i) a.v[i] = std::fma(a.v[i], b.v[i], c.v[i]);
    return a;
  }
  static VecF max(VecF a, VecF b) { return zip(a, b, [](float x, float y) { return x > y ? x : y; }); }
  static VecF min(VecF a, VecF b) { return zip(a, b, [](float x, float y) { return x < y ? x : y; }); }
  static VecF sqrt(VecF a) { return map(a, [](float x) { return std::sqrt(x); }); }
  static VecF abs(VecF a) { return map(a, [](float x) { return std::fabs(x); }); }
  float reduce_add() const {
    float s = 0.0f;
    for (float x : v) s += x;
    return s;
  }
  float reduce_max() const {
    float m = v[0];
    for (float x : v) m = x > m ? x : m;
    return m;
  }
  static VecF exp(VecF a) { return map(a, [](float x) { return std::exp(x); }); }
  static VecF log(VecF a) { return map(a, [](float x) { return std::log(x); }); }
  static VecF select_gt(VecF a, VecF b, VecF t, VecF f) {
    for (int i = 0; i < kWidth; ++i) t.v[i] = a.v[i] > b.v[i] ? t.v[i] : f.v[i];
    return t;
  }
  static VecF select_ge(VecF a, VecF b, VecF t, VecF f) {
    for (int i = 0; i < kWidth; ++i) t.v[i] = a.v[i] >= b.v[i] ? t.v[i] : f.v[i];
    return t;
  }
  static VecF select(const bool* c, VecF t, VecF f) {
    for (int i = 0; i < kWidth; ++i) t.v[i] = c[i] ? t.v[i] : f.v[i];
    return t;
  }
  static VecF select(const bool* c, int n, VecF t, VecF f) {
    for (int i = 0; i < kWidth; ++i) t.v[i] = i < n && c[i] ? t.v[i] : f.v[i];
    return t;
  }
  static VecF tanh(VecF a) { return map(a, [](float x) { return std::tanh(x); }); }
  static VecF sigmoid(VecF a) {
    return map(a, [](float x) { return 1.0f / (1.0f + std::exp(-x)); });
  }
  static VecF erf(VecF a) { return map(a, [](float x) { return std::erf(x); }); }
};

#endif

}  // namespace cf::ops::cpu
