// Dropout kernels. With AVX-512 (F + BW) and BMI2 the f32 forward evaluates 16 Philox counters at
// once (64 elements) and builds the keep mask with mask registers; otherwise, and for the tail,
// one counter at a time. Both give exactly the reference's mask.
#include "ops/dropout.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__BMI2__)
#include <immintrin.h>
#define CF_DROPOUT_AVX512 1
#endif

#include "ops/cpu/parallel.h"
#include "ops/random.h"

namespace cf::ops::cpu {
namespace {

constexpr int64_t kCountersPerBlock = 256;  // 1024 elements

// Counters [c0, c1) one at a time: mask and output of their elements below n.
void dropout_counters(const DropoutArgs<float>& a, uint32_t thr, float scale, int64_t c0,
                      int64_t c1) {
  for (int64_t c = c0; c < c1; ++c) {
    const auto w = philox(a.seed, a.base + static_cast<uint64_t>(c));
    for (int k = 0; k < 4 && 4 * c + k < a.n; ++k) {
      const int64_t i = 4 * c + k;
      a.mask[i] = (w[k] >> 8) >= thr;
      a.y[i] = a.x[i] * (a.mask[i] ? scale : 0.0f);  // x * 0 keeps NaN, as PyTorch's x * mask
    }
  }
}

#ifdef CF_DROPOUT_AVX512
// The full-mask forms below avoid the unmasked intrinsics' _mm512_undefined_epi32(), which
// GCC 12 reports as maybe-uninitialized once inlined.
constexpr __mmask8 kAll8 = 0xFF;
constexpr __mmask16 kAll16 = 0xFFFF;

// High 32 bits of the 16 products a * m (m broadcast).
inline __m512i mulhi_epu32(__m512i a, __m512i m) {
  const __m512i prod_even = _mm512_mask_mul_epu32(a, kAll8, a, m);
  const __m512i even = _mm512_mask_srli_epi64(a, kAll8, prod_even, 32);
  const __m512i odd = _mm512_mask_mul_epu32(a, kAll8, _mm512_mask_srli_epi64(a, kAll8, a, 32), m);
  return _mm512_mask_blend_epi32(0xAAAA, even, odd);
}

// 16 full counters c .. c + 15 (64 elements starting at 4 c, all below n).
void dropout_16_counters(const DropoutArgs<float>& a, __m512i thr, __m512 scale, int64_t c) {
  alignas(64) uint32_t lo[16], hi[16];
  for (int l = 0; l < 16; ++l) {
    const uint64_t ctr = a.base + static_cast<uint64_t>(c + l);
    lo[l] = static_cast<uint32_t>(ctr);
    hi[l] = static_cast<uint32_t>(ctr >> 32);
  }
  __m512i c0 = _mm512_load_si512(lo), c1 = _mm512_load_si512(hi);
  __m512i c2 = _mm512_setzero_si512(), c3 = _mm512_setzero_si512();
  __m512i k0 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(a.seed)));
  __m512i k1 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(a.seed >> 32)));
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m512i m1 = _mm512_set1_epi32(static_cast<int>(0xCD9E8D57u));
  const __m512i w0 = _mm512_set1_epi32(static_cast<int>(0x9E3779B9u));
  const __m512i w1 = _mm512_set1_epi32(static_cast<int>(0xBB67AE85u));
  for (int r = 0; r < 10; ++r) {
    const __m512i hi0 = mulhi_epu32(c0, m0), lo0 = _mm512_mullo_epi32(c0, m0);
    const __m512i hi1 = mulhi_epu32(c2, m1), lo1 = _mm512_mullo_epi32(c2, m1);
    c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), k0);
    c1 = lo1;
    c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), k1);
    c3 = lo0;
    k0 = _mm512_add_epi32(k0, w0);
    k1 = _mm512_add_epi32(k1, w1);
  }
  // Word k of counter l is element 4 l + k: spread each word's 16 keep bits to every 4th bit.
  auto keep = [thr](__m512i w) {
    return static_cast<uint64_t>(
        _mm512_cmpge_epu32_mask(_mm512_mask_srli_epi32(w, kAll16, w, 8), thr));
  };
  const uint64_t m =
      _pdep_u64(keep(c0), 0x1111111111111111ull) | _pdep_u64(keep(c1), 0x2222222222222222ull) |
      _pdep_u64(keep(c2), 0x4444444444444444ull) | _pdep_u64(keep(c3), 0x8888888888888888ull);
  const int64_t i = 4 * c;
  _mm512_storeu_si512(a.mask + i, _mm512_maskz_mov_epi8(m, _mm512_set1_epi8(1)));
  for (int j = 0; j < 4; ++j) {
    const __m512 f = _mm512_maskz_mov_ps(static_cast<__mmask16>(m >> (16 * j)), scale);
    _mm512_storeu_ps(a.y + i + 16 * j, _mm512_mul_ps(_mm512_loadu_ps(a.x + i + 16 * j), f));
  }
}
#endif

}  // namespace

void dropout_forward(const DropoutArgs<float>& a) {
  const uint32_t thr = dropout_threshold(a.p);
  const float scale = static_cast<float>(1.0 / (1.0 - a.p));
  const int64_t counters = (a.n + 3) / 4;
  const int64_t full = a.n / 4;  // counters whose 4 elements all exist
  const int64_t blocks = (counters + kCountersPerBlock - 1) / kCountersPerBlock;
  parallel_for(0, blocks, 8, [&a, thr, scale, counters, full](int64_t b, int64_t e) {
    for (int64_t blk = b; blk < e; ++blk) {
      int64_t c = blk * kCountersPerBlock;
      const int64_t c1 = std::min(counters, c + kCountersPerBlock);
#ifdef CF_DROPOUT_AVX512
      const __m512i thr_v = _mm512_set1_epi32(static_cast<int>(thr));
      const __m512 scale_v = _mm512_set1_ps(scale);
      for (; c + 16 <= std::min(c1, full); c += 16) dropout_16_counters(a, thr_v, scale_v, c);
#endif
      dropout_counters(a, thr, scale, c, c1);
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
