#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ops/cpu/gemm.h"
#include "ops/cpu/parallel.h"
#include "ops/cpu/vec.h"
#include "ops/favor_features.h"

namespace cf::ops::cpu {
namespace {

constexpr int kW = VecF::kWidth;
// Rows per block: the GEMM writes a (kRows, m) tile of dash that the row pass then reads from
// cache. One GEMM per block inside the parallel region (single-threaded there).
constexpr int64_t kRows = 128;

float sum_squares(const float* x, int64_t n) {
  VecF acc(0.0f);
  int64_t i = 0;
  for (; i + kW <= n; i += kW) {
    const VecF v = VecF::load(x + i);
    acc = VecF::fma(v, v, acc);
  }
  if (i < n) {
    const VecF v = VecF::load(x + i, static_cast<int>(n - i));
    acc = VecF::fma(v, v, acc);
  }
  return acc.reduce_add();
}

// The row's maximum and the index of its first occurrence.
float row_max(const float* x, int64_t n, int64_t* at) {
  VecF acc(-std::numeric_limits<float>::infinity());
  int64_t i = 0;
  for (; i + kW <= n; i += kW) acc = VecF::max(acc, VecF::load(x + i));
  if (i < n)
    acc = VecF::max(
        acc, VecF::load(x + i, static_cast<int>(n - i), -std::numeric_limits<float>::infinity()));
  const float mx = acc.reduce_max();
  int64_t r = 0;
  while (r + 1 < n && !(x[r] == mx)) ++r;
  *at = r;
  return mx;
}

// row = (exp((row - diag) - c) + eps) * s in place.
void exp_row(float* row, int64_t n, float diag, float c, float eps, float s) {
  const VecF vd(diag), vc(c), ve(eps), vs(s);
  int64_t i = 0;
  for (; i + kW <= n; i += kW)
    ((VecF::exp((VecF::load(row + i) - vd) - vc) + ve) * vs).store(row + i);
  if (i < n) {
    const int r = static_cast<int>(n - i);
    ((VecF::exp((VecF::load(row + i, r) - vd) - vc) + ve) * vs).store(row + i, r);
  }
}

// G = g * (phi - eps s) into G; returns sum(G).
float grad_row(const float* g, const float* phi, float es, int64_t n, float* G) {
  const VecF ves(es);
  VecF acc(0.0f);
  int64_t i = 0;
  for (; i + kW <= n; i += kW) {
    const VecF v = VecF::load(g + i) * (VecF::load(phi + i) - ves);
    v.store(G + i);
    acc = acc + v;
  }
  if (i < n) {
    const int r = static_cast<int>(n - i);
    const VecF v = VecF::load(g + i, r) * (VecF::load(phi + i, r) - ves);
    v.store(G + i, r);
    acc = acc + v;
  }
  return acc.reduce_add();
}

// y += s * x
void axpy(float s, const float* x, float* y, int64_t n) {
  const VecF vs(s);
  int64_t i = 0;
  for (; i + kW <= n; i += kW) VecF::fma(vs, VecF::load(x + i), VecF::load(y + i)).store(y + i);
  if (i < n) {
    const int r = static_cast<int>(n - i);
    VecF::fma(vs, VecF::load(x + i, r), VecF::load(y + i, r)).store(y + i, r);
  }
}

}  // namespace

void favor_features_forward(const FavorFeaturesArgs<float>& a) {
  const int64_t rows = a.BH * a.L, m = a.m, d = a.d;
  if (rows == 0) return;
  const float xscale = static_cast<float>(std::pow(static_cast<double>(d), -0.25));
  const float half = static_cast<float>(0.5 / std::sqrt(static_cast<double>(d)));
  const float s = static_cast<float>(1.0 / std::sqrt(static_cast<double>(m)));
  const float eps = static_cast<float>(a.eps);
  const int64_t blocks = (rows + kRows - 1) / kRows;
  std::vector<float> mx(a.is_query ? 0 : rows);
  std::vector<int64_t> at(a.is_query ? 0 : rows);
#pragma omp parallel for schedule(static) if (blocks > 1)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t r0 = blk * kRows, n = std::min(kRows, rows - r0);
    if (d > 0)
      gemm(false, true, n, m, d, xscale, a.x + r0 * d, d, a.w, d, 0.0f, a.out + r0 * m, m);
    else
      std::fill(a.out + r0 * m, a.out + (r0 + n) * m, 0.0f);
    for (int64_t i = r0; i < r0 + n; ++i) {
      float* row = a.out + i * m;
      if (a.is_query) {
        const float c = row_max(row, m, a.argmax + i);
        exp_row(row, m, half * sum_squares(a.x + i * d, d), c, eps, s);
      } else {
        mx[i] = row_max(row, m, &at[i]);
      }
    }
  }
  if (a.is_query) return;
  std::vector<float> c(a.BH);
  for (int64_t bh = 0; bh < a.BH; ++bh) {
    int64_t best = bh * a.L;
    for (int64_t i = best + 1; i < (bh + 1) * a.L; ++i)
      if (mx[i] > mx[best]) best = i;
    c[bh] = mx[best];
    a.argmax[bh] = (best - bh * a.L) * m + at[best];
  }
  parallel_for(0, rows, std::max<int64_t>(1, kGrainSize / m),
               [&a, &c, m, d, half, s, eps](int64_t b, int64_t e) {
                 for (int64_t i = b; i < e; ++i)
                   exp_row(a.out + i * m, m, half * sum_squares(a.x + i * d, d), c[i / a.L], eps,
                           s);
               });
}

void favor_features_backward(const FavorFeaturesArgs<float>& a, const float* g, float* dx,
                             float* dw) {
  const int64_t rows = a.BH * a.L, m = a.m, d = a.d;
  if (rows == 0 || d == 0) {
    if (dw) std::fill(dw, dw + m * d, 0.0f);
    return;
  }
  const float xscale = static_cast<float>(std::pow(static_cast<double>(d), -0.25));
  const float k2 = xscale * xscale;
  const float es = static_cast<float>(a.eps / std::sqrt(static_cast<double>(m)));
  const int64_t blocks = (rows + kRows - 1) / kRows;
  const int threads = omp_get_max_threads();
  std::vector<float> rowsum(rows), dw_part(dw ? threads * m * d : 0, 0.0f);
#pragma omp parallel if (blocks > 1)
  {
    std::vector<float> G(kRows * m);  // this block's dL/d dash
    float* dwt = dw ? dw_part.data() + omp_get_thread_num() * m * d : nullptr;
#pragma omp for schedule(static)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t r0 = blk * kRows, n = std::min(kRows, rows - r0);
      for (int64_t i = r0; i < r0 + n; ++i) {
        float* Gi = G.data() + (i - r0) * m;
        rowsum[i] = grad_row(g + i * m, a.out + i * m, es, m, Gi);
        if (a.is_query) Gi[a.argmax[i]] -= rowsum[i];
      }
      if (dx) {
        gemm(false, false, n, d, m, xscale, G.data(), m, a.w, d, 0.0f, dx + r0 * d, d);
        for (int64_t i = r0; i < r0 + n; ++i) axpy(-k2 * rowsum[i], a.x + i * d, dx + i * d, d);
      }
      if (dw) gemm(true, false, m, d, n, xscale, G.data(), m, a.x + r0 * d, d, 1.0f, dwt, d);
    }
  }
  if (!a.is_query)  // c's gradient at its argmax (i, r): a rank-1 term in dx row i and dw row r
    for (int64_t bh = 0; bh < a.BH; ++bh) {
      double total = 0.0;
      for (int64_t i = bh * a.L; i < (bh + 1) * a.L; ++i) total += rowsum[i];
      const int64_t i = bh * a.L + a.argmax[bh] / m, r = a.argmax[bh] % m;
      const float delta = -xscale * static_cast<float>(total);
      if (dx) axpy(delta, a.w + r * d, dx + i * d, d);
      if (dw) axpy(delta, a.x + i * d, dw_part.data() + r * d, d);
    }
  if (dw) {
    std::copy(dw_part.begin(), dw_part.begin() + m * d, dw);
    for (int t = 1; t < threads; ++t) axpy(1.0f, dw_part.data() + t * m * d, dw, m * d);
  }
}

template <class T>
void favor_features_forward_ref(const FavorFeaturesArgs<T>& a) {
  const int64_t L = a.L, m = a.m, d = a.d;
  const double xscale = std::pow(static_cast<double>(d), -0.25);
  const double s = 1.0 / std::sqrt(static_cast<double>(m));
  std::vector<double> dash(L * m), diag(L);
  for (int64_t bh = 0; bh < a.BH; ++bh) {
    const T* x = a.x + bh * L * d;
    for (int64_t i = 0; i < L; ++i) {
      double sq = 0.0;
      for (int64_t e = 0; e < d; ++e) sq += static_cast<double>(x[i * d + e]) * x[i * d + e];
      diag[i] = 0.5 * xscale * xscale * sq;
      for (int64_t r = 0; r < m; ++r) {
        double acc = 0.0;
        for (int64_t e = 0; e < d; ++e) acc += static_cast<double>(x[i * d + e]) * a.w[r * d + e];
        dash[i * m + r] = static_cast<double>(static_cast<T>(xscale * acc));
      }
    }
    int64_t best = 0;  // key: flat index of the first maximum
    for (int64_t f = 1; f < L * m; ++f)
      if (dash[f] > dash[best]) best = f;
    if (!a.is_query && L > 0) a.argmax[bh] = best;
    for (int64_t i = 0; i < L; ++i) {
      double c = dash[best];
      if (a.is_query) {
        int64_t r0 = 0;
        for (int64_t r = 1; r < m; ++r)
          if (dash[i * m + r] > dash[i * m + r0]) r0 = r;
        a.argmax[bh * L + i] = r0;
        c = dash[i * m + r0];
      }
      for (int64_t r = 0; r < m; ++r)
        a.out[(bh * L + i) * m + r] =
            static_cast<T>((std::exp(dash[i * m + r] - diag[i] - c) + a.eps) * s);
    }
  }
}

template <class T>
void favor_features_backward_ref(const FavorFeaturesArgs<T>& a, const T* g, T* dx, T* dw) {
  const int64_t L = a.L, m = a.m, d = a.d;
  const double xscale = std::pow(static_cast<double>(d), -0.25);
  const double es = a.eps / std::sqrt(static_cast<double>(m));
  std::vector<double> G(L * m), ddiag(L), gw(m * d, 0.0);
  for (int64_t bh = 0; bh < a.BH; ++bh) {
    const T* x = a.x + bh * L * d;
    double total = 0.0;
    for (int64_t i = 0; i < L; ++i) {
      double rs = 0.0;
      for (int64_t r = 0; r < m; ++r) {
        const int64_t f = (bh * L + i) * m + r;
        G[i * m + r] = static_cast<double>(g[f]) * (static_cast<double>(a.out[f]) - es);
        rs += G[i * m + r];
      }
      ddiag[i] = -rs;
      total += rs;
      if (a.is_query) G[i * m + a.argmax[bh * L + i]] -= rs;
    }
    if (!a.is_query && L > 0) G[a.argmax[bh]] -= total;
    for (int64_t i = 0; i < L; ++i)
      for (int64_t e = 0; e < d; ++e) {
        double acc = 0.0;
        for (int64_t r = 0; r < m; ++r) acc += G[i * m + r] * a.w[r * d + e];
        if (dx)
          dx[(bh * L + i) * d + e] =
              static_cast<T>(xscale * acc + xscale * xscale * ddiag[i] * x[i * d + e]);
        for (int64_t r = 0; r < m && dw; ++r) gw[r * d + e] += xscale * G[i * m + r] * x[i * d + e];
      }
  }
  if (dw)
    for (int64_t f = 0; f < m * d; ++f) dw[f] = static_cast<T>(gw[f]);
}

template void favor_features_forward_ref<float>(const FavorFeaturesArgs<float>&);
template void favor_features_forward_ref<double>(const FavorFeaturesArgs<double>&);
template void favor_features_backward_ref<float>(const FavorFeaturesArgs<float>&, const float*,
                                                 float*, float*);
template void favor_features_backward_ref<double>(const FavorFeaturesArgs<double>&, const double*,
                                                  double*, double*);

}  // namespace cf::ops::cpu
