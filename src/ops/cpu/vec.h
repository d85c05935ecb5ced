// VecF: a float vector register for CPU kernels. 16 lanes of AVX-512 where the compiler targets
// it, otherwise a portable 8-lane array the compiler vectorizes as it can. Kernels are written
// once against this type; tails use the masked load/store (n < kWidth lanes).
// exp and log follow Cephes' single-precision polynomials (range reduction to [-ln2/2, ln2/2]
// and to a mantissa in [sqrt(1/2), sqrt(2)) respectively); both agree with std::exp / std::log
// to a few ulp (tests/ops/test_vec.cpp).
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace cf::ops::cpu {

#if defined(__AVX512F__)

struct VecF {
  static constexpr int kWidth = 16;
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
  static VecF max(VecF a, VecF b) { return VecF(_mm512_maskz_max_ps(0xFFFF, a.v, b.v)); }
  static VecF min(VecF a, VecF b) { return VecF(_mm512_maskz_min_ps(0xFFFF, a.v, b.v)); }
  static VecF sqrt(VecF a) { return VecF(_mm512_maskz_sqrt_ps(0xFFFF, a.v)); }
  static VecF abs(VecF a) { return VecF(_mm512_abs_ps(a.v)); }
  // Through memory: GCC 12.2's _mm512_reduce_* and extract intrinsics use _mm*_undefined_*,
  // which trips -Wmaybe-uninitialized (GCC PR 105593); the same holds for the plain forms of
  // roundscale/getexp/getmant/scalef, hence the zero-masked forms below.
  float reduce_add() const {
    alignas(64) float t[16];
    _mm512_store_ps(t, v);
    float s = 0.0f;
    for (float x : t) s += x;
    return s;
  }
  float reduce_max() const {
    alignas(64) float t[16];
    _mm512_store_ps(t, v);
    float m = t[0];
    for (float x : t) m = x > m ? x : m;
    return m;
  }

  static VecF exp(VecF x) {
    const __m512 c = _mm512_maskz_max_ps(0xFFFF, _mm512_maskz_min_ps(0xFFFF, x.v, _mm512_set1_ps(88.7228394f)),
                                   _mm512_set1_ps(-104.0f));
    const __m512 n = _mm512_maskz_roundscale_ps(0xFFFF, _mm512_mul_ps(c, _mm512_set1_ps(1.44269504088896341f)),
                                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), c);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512 y = _mm512_maskz_scalef_ps(0xFFFF, p, n);  // p * 2^n, with correct overflow / underflow
    const __mmask16 nan = _mm512_cmp_ps_mask(x.v, x.v, _CMP_UNORD_Q);
    return VecF(_mm512_mask_blend_ps(nan, y, x.v));
  }

  static VecF log(VecF x) {
    // x = m * 2^e with m in [1, 2); fold m into [sqrt(1/2), sqrt(2)).
    __m512 e = _mm512_maskz_getexp_ps(0xFFFF, x.v);
    __m512 m = _mm512_maskz_getmant_ps(0xFFFF, x.v, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero);
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
};

#endif

}  // namespace cf::ops::cpu
