// rms_norm kernels: OpenMP over rows (forward) or fixed blocks of rows (backward, which also
// sums dw per block); VecF along each row. The _ref kernels are plain loops in double.
#include <cmath>
#include <vector>

#include "ops/cpu/parallel.h"
#include "ops/cpu/vec.h"
#include "ops/rms_norm.h"

namespace cf::ops::cpu {
namespace {

constexpr int kW = VecF::kWidth;

// Rows per block of the backward's dw partial sums: a function of M only (determinism), at least
// 32 rows, at most 32 blocks (as layer_norm).
int64_t rows_per_block(int64_t M) {
  return std::max<int64_t>(32, (M + 31) / 32);
}

inline VecF ld(const float* p, int64_t i, int k) {
  return k == kW ? VecF::load(p + i) : VecF::load(p + i, k);
}
inline void st(VecF v, float* p, int64_t i, int k) {
  if (k == kW)
    v.store(p + i);
  else
    v.store(p + i, k);
}
inline int lanes(int64_t N, int64_t i) {
  return static_cast<int>(std::min<int64_t>(kW, N - i));
}

void forward_row(const float* x, const float* w, float* y, int64_t N, float eps, float* rstd_out) {
  VecF q0(0.0f), q1(0.0f);
  int64_t i = 0;
  for (; i + 2 * kW <= N; i += 2 * kW) {
    const VecF a = VecF::load(x + i), b = VecF::load(x + i + kW);
    q0 = VecF::fma(a, a, q0);
    q1 = VecF::fma(b, b, q1);
  }
  for (; i < N; i += kW) {
    const VecF a = ld(x, i, lanes(N, i));
    q0 = VecF::fma(a, a, q0);
  }
  const float rstd = 1.0f / std::sqrt((q0 + q1).reduce_add() / static_cast<float>(N) + eps);
  *rstd_out = rstd;
  const VecF r(rstd);
  for (i = 0; i < N; i += kW) {
    const int k = lanes(N, i);
    VecF v = ld(x, i, k) * r;
    if (w) v = v * ld(w, i, k);
    st(v, y, i, k);
  }
}

void backward_row(const float* x, const float* w, const float* g, float rstd, float* dx, float* dwp,
                  int64_t N) {
  const VecF r(rstd);
  VecF s(0.0f);
  for (int64_t i = 0; i < N; i += kW) {
    const int k = lanes(N, i);
    const VecF gv = ld(g, i, k), xhat = ld(x, i, k) * r;
    s = VecF::fma(w ? gv * ld(w, i, k) : gv, xhat, s);
    if (dwp) st(VecF::fma(gv, xhat, ld(dwp, i, k)), dwp, i, k);
  }
  if (!dx) return;
  const VecF c(rstd * s.reduce_add() / static_cast<float>(N));
  for (int64_t i = 0; i < N; i += kW) {
    const int k = lanes(N, i);
    const VecF gv = ld(g, i, k), xhat = ld(x, i, k) * r;
    const VecF gw = w ? gv * ld(w, i, k) : gv;
    st(r * gw - xhat * c, dx, i, k);
  }
}

}  // namespace

void rms_norm_forward(const RmsNormArgs<float>& a) {
  const int64_t N = a.N;
  const float eps = static_cast<float>(a.eps);
  if (N == 0) {  // empty rows: nothing to normalize
    for (int64_t m = 0; m < a.M; ++m) a.rstd[m] = NAN;
    return;
  }
  parallel_for(0, a.M, std::max<int64_t>(1, kGrainSize / N), [&a, N, eps](int64_t b, int64_t e) {
    for (int64_t m = b; m < e; ++m) forward_row(a.x + m * N, a.w, a.y + m * N, N, eps, a.rstd + m);
  });
}

void rms_norm_backward(const RmsNormBackwardArgs<float>& a) {
  const int64_t M = a.M, N = a.N;
  const int64_t rows = rows_per_block(M), blocks = (M + rows - 1) / rows;
  std::vector<float> dwp(a.dw ? blocks * N : 0, 0.0f);
  parallel_for(0, blocks, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, rows * N)),
               [&a, &dwp, M, N, rows](int64_t b, int64_t e) {
                 for (int64_t blk = b; blk < e; ++blk) {
                   float* pw = a.dw ? dwp.data() + blk * N : nullptr;
                   for (int64_t m = blk * rows; m < std::min(M, (blk + 1) * rows); ++m)
                     backward_row(a.x + m * N, a.w, a.g + m * N, a.rstd[m],
                                  a.dx ? a.dx + m * N : nullptr, pw, N);
                 }
               });
  if (!a.dw) return;
  parallel_for(0, N, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(blocks, 1)),
               [&a, &dwp, N, blocks](int64_t b, int64_t e) {
                 for (int64_t j = b; j < e; ++j) {
                   float s = 0.0f;
                   for (int64_t k = 0; k < blocks; ++k) s += dwp[k * N + j];
                   a.dw[j] = s;
                 }
               });
}

template <class T>
void rms_norm_forward_ref(const RmsNormArgs<T>& a) {
  for (int64_t m = 0; m < a.M; ++m) {
    const T* x = a.x + m * a.N;
    double q = 0.0;
    for (int64_t i = 0; i < a.N; ++i) q += static_cast<double>(x[i]) * x[i];
    const double rstd = 1.0 / std::sqrt(q / static_cast<double>(a.N) + a.eps);
    for (int64_t i = 0; i < a.N; ++i)
      a.y[m * a.N + i] = static_cast<T>(x[i] * rstd * (a.w ? a.w[i] : T(1)));
    a.rstd[m] = static_cast<T>(rstd);
  }
}

template <class T>
void rms_norm_backward_ref(const RmsNormBackwardArgs<T>& a) {
  std::vector<double> dw(a.N, 0.0);
  for (int64_t m = 0; m < a.M; ++m) {
    const T* x = a.x + m * a.N;
    const T* g = a.g + m * a.N;
    const double rstd = a.rstd[m];
    double s = 0.0;
    for (int64_t i = 0; i < a.N; ++i) {
      const double xhat = x[i] * rstd;
      s += g[i] * (a.w ? static_cast<double>(a.w[i]) : 1.0) * xhat;
      dw[i] += g[i] * xhat;
    }
    if (!a.dx) continue;
    for (int64_t i = 0; i < a.N; ++i) {
      const double gw = g[i] * (a.w ? static_cast<double>(a.w[i]) : 1.0);
      a.dx[m * a.N + i] = static_cast<T>(rstd * (gw - x[i] * rstd * s / static_cast<double>(a.N)));
    }
  }
  if (a.dw)
    for (int64_t i = 0; i < a.N; ++i) a.dw[i] = static_cast<T>(dw[i]);
}

template void rms_norm_forward_ref<float>(const RmsNormArgs<float>&);
template void rms_norm_forward_ref<double>(const RmsNormArgs<double>&);
template void rms_norm_backward_ref<float>(const RmsNormBackwardArgs<float>&);
template void rms_norm_backward_ref<double>(const RmsNormBackwardArgs<double>&);

}  // namespace cf::ops::cpu
