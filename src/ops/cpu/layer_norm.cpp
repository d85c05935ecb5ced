// layer_norm kernels: OpenMP over rows (forward) or fixed blocks of rows (backward, which also
// sums dw / db per block); VecF along each row. The _ref kernels are plain loops in double.
#include <cmath>
#include <vector>

#include "ops/cpu/parallel.h"
#include "ops/cpu/vec.h"
#include "ops/layer_norm.h"

namespace cf::ops::cpu {
namespace {

constexpr int kW = VecF::kWidth;

// Rows per block of the backward's dw / db partial sums: a function of M only (determinism),
// at least 32 rows, at most 32 blocks (few partials to allocate and combine: measured 1.5x faster
// than 256 blocks at (12288, 256)).
int64_t rows_per_block(int64_t M) {
  return std::max<int64_t>(32, (M + 31) / 32);
}

inline VecF ld(const float* p, int64_t i, int k, float fill = 0.0f) {
  return k == kW ? VecF::load(p + i) : VecF::load(p + i, k, fill);
}
inline void st(VecF v, float* p, int64_t i, int k) {
  if (k == kW)
    v.store(p + i);
  else
    v.store(p + i, k);
}

void forward_row(const float* x, const float* w, const float* b, float* y, int64_t N, float eps,
                 float* mean_out, float* rstd_out) {
  VecF s0(0.0f), s1(0.0f);
  int64_t i = 0;
  for (; i + 2 * kW <= N; i += 2 * kW) {
    s0 = s0 + VecF::load(x + i);
    s1 = s1 + VecF::load(x + i + kW);
  }
  for (; i < N; i += kW) s0 = s0 + ld(x, i, static_cast<int>(std::min<int64_t>(kW, N - i)));
  const float mean = (s0 + s1).reduce_add() / static_cast<float>(N);
  const VecF vm(mean);
  VecF q0(0.0f), q1(0.0f);
  for (i = 0; i + 2 * kW <= N; i += 2 * kW) {
    const VecF d0 = VecF::load(x + i) - vm, d1 = VecF::load(x + i + kW) - vm;
    q0 = VecF::fma(d0, d0, q0);
    q1 = VecF::fma(d1, d1, q1);
  }
  for (; i < N; i += kW) {
    const VecF d = ld(x, i, static_cast<int>(std::min<int64_t>(kW, N - i)), mean) - vm;
    q0 = VecF::fma(d, d, q0);
  }
  const float var = (q0 + q1).reduce_add() / static_cast<float>(N);
  const float rstd = 1.0f / std::sqrt(var + eps);
  *mean_out = mean;
  *rstd_out = rstd;
  const VecF a(rstd), c(mean);
  for (i = 0; i < N; i += kW) {
    const int k = static_cast<int>(std::min<int64_t>(kW, N - i));
    VecF v =
        (ld(x, i, k) - c) * a;  // (x - mean) rstd: exact centring, unlike fma(x, rstd, -mean rstd)
    if (w) v = v * ld(w, i, k);
    if (b) v = v + ld(b, i, k);
    st(v, y, i, k);
  }
}

// dx for one row (when dx is not null) and the row's g xhat / g added into dwp / dbp.
void backward_row(const float* x, const float* w, const float* g, float mean, float rstd, float* dx,
                  float* dwp, float* dbp, int64_t N) {
  const VecF a(rstd), c(mean);
  VecF s1(0.0f), s2(0.0f);
  for (int64_t i = 0; i < N; i += kW) {
    const int k = static_cast<int>(std::min<int64_t>(kW, N - i));
    const VecF gv = ld(g, i, k);
    const VecF xhat = (ld(x, i, k) - c) * a;
    const VecF gw = w ? gv * ld(w, i, k) : gv;
    s1 = s1 + gw;
    s2 = VecF::fma(gw, xhat, s2);
    if (dwp) st(VecF::fma(gv, xhat, ld(dwp, i, k)), dwp, i, k);
    if (dbp) st(ld(dbp, i, k) + gv, dbp, i, k);
  }
  if (!dx) return;
  const float inv_n = 1.0f / static_cast<float>(N);
  const VecF c1(rstd * s1.reduce_add() * inv_n), c2(rstd * s2.reduce_add() * inv_n);
  for (int64_t i = 0; i < N; i += kW) {
    const int k = static_cast<int>(std::min<int64_t>(kW, N - i));
    const VecF gv = ld(g, i, k);
    const VecF xhat = (ld(x, i, k) - c) * a;
    const VecF gw = w ? gv * ld(w, i, k) : gv;
    st(VecF::fma(a, gw, -VecF::fma(xhat, c2, c1)), dx, i, k);
  }
}

}  // namespace

void layer_norm_forward(const LayerNormArgs<float>& a) {
  const int64_t N = a.N;
  const float eps = static_cast<float>(a.eps);
  if (N == 0) {  // empty rows: nothing to normalize
    for (int64_t m = 0; m < a.M; ++m) a.mean[m] = a.rstd[m] = NAN;
    return;
  }
  parallel_for(0, a.M, std::max<int64_t>(1, kGrainSize / N), [&a, N, eps](int64_t b, int64_t e) {
    for (int64_t m = b; m < e; ++m)
      forward_row(a.x + m * N, a.w, a.b, a.y + m * N, N, eps, a.mean + m, a.rstd + m);
  });
}

void layer_norm_backward(const LayerNormBackwardArgs<float>& a) {
  const int64_t M = a.M, N = a.N;
  const int64_t rows = rows_per_block(M), blocks = (M + rows - 1) / rows;
  const bool partials = a.dw || a.db;
  std::vector<float> dwp(a.dw ? blocks * N : 0, 0.0f), dbp(a.db ? blocks * N : 0, 0.0f);
  parallel_for(0, blocks, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, rows * N)),
               [&a, &dwp, &dbp, M, N, rows](int64_t b, int64_t e) {
                 for (int64_t blk = b; blk < e; ++blk) {
                   float* pw = a.dw ? dwp.data() + blk * N : nullptr;
                   float* pb = a.db ? dbp.data() + blk * N : nullptr;
                   for (int64_t m = blk * rows; m < std::min(M, (blk + 1) * rows); ++m)
                     backward_row(a.x + m * N, a.w, a.g + m * N, a.mean[m], a.rstd[m],
                                  a.dx ? a.dx + m * N : nullptr, pw, pb, N);
                 }
               });
  if (!partials) return;
  parallel_for(0, N, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(blocks, 1)),
               [&a, &dwp, &dbp, N, blocks](int64_t b, int64_t e) {
                 for (int64_t j = b; j < e; ++j) {
                   float sw = 0.0f, sb = 0.0f;
                   for (int64_t k = 0; k < blocks; ++k) {
                     if (a.dw) sw += dwp[k * N + j];
                     if (a.db) sb += dbp[k * N + j];
                   }
                   if (a.dw) a.dw[j] = sw;
                   if (a.db) a.db[j] = sb;
                 }
               });
}

template <class T>
void layer_norm_forward_ref(const LayerNormArgs<T>& a) {
  for (int64_t m = 0; m < a.M; ++m) {
    const T* x = a.x + m * a.N;
    double s = 0.0;
    for (int64_t i = 0; i < a.N; ++i) s += x[i];
    const double mean = s / static_cast<double>(a.N);
    double q = 0.0;
    for (int64_t i = 0; i < a.N; ++i) q += (x[i] - mean) * (x[i] - mean);
    const double rstd = 1.0 / std::sqrt(q / static_cast<double>(a.N) + a.eps);
    for (int64_t i = 0; i < a.N; ++i) {
      double v = (x[i] - mean) * rstd;
      if (a.w) v *= a.w[i];
      if (a.b) v += a.b[i];
      a.y[m * a.N + i] = static_cast<T>(v);
    }
    a.mean[m] = static_cast<T>(mean);
    a.rstd[m] = static_cast<T>(rstd);
  }
}

template <class T>
void layer_norm_backward_ref(const LayerNormBackwardArgs<T>& a) {
  std::vector<double> dw(a.N, 0.0), db(a.N, 0.0);
  for (int64_t m = 0; m < a.M; ++m) {
    const T* x = a.x + m * a.N;
    const T* g = a.g + m * a.N;
    const double mean = a.mean[m], rstd = a.rstd[m];
    double s1 = 0.0, s2 = 0.0;
    for (int64_t i = 0; i < a.N; ++i) {
      const double xhat = (x[i] - mean) * rstd;
      const double gw = a.w ? g[i] * static_cast<double>(a.w[i]) : g[i];
      s1 += gw;
      s2 += gw * xhat;
      dw[i] += g[i] * xhat;
      db[i] += g[i];
    }
    if (!a.dx) continue;
    for (int64_t i = 0; i < a.N; ++i) {
      const double xhat = (x[i] - mean) * rstd;
      const double gw = a.w ? g[i] * static_cast<double>(a.w[i]) : g[i];
      a.dx[m * a.N + i] = static_cast<T>(rstd * (gw - (s1 + xhat * s2) / static_cast<double>(a.N)));
    }
  }
  for (int64_t i = 0; i < a.N; ++i) {
    if (a.dw) a.dw[i] = static_cast<T>(dw[i]);
    if (a.db) a.db[i] = static_cast<T>(db[i]);
  }
}

template void layer_norm_forward_ref<float>(const LayerNormArgs<float>&);
template void layer_norm_forward_ref<double>(const LayerNormArgs<double>&);
template void layer_norm_backward_ref<float>(const LayerNormBackwardArgs<float>&);
template void layer_norm_backward_ref<double>(const LayerNormBackwardArgs<double>&);

}  // namespace cf::ops::cpu
