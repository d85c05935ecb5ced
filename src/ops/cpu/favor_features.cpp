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
  const double xscale = std::pow(static_cast<double>(d), -0.25);
  const float half = static_cast<float>(0.5 / std::sqrt(static_cast<double>(d)));
  const float s = static_cast<float>(1.0 / std::sqrt(static_cast<double>(m)));
  const float eps = static_cast<float>(a.eps);
  if (d > 0)
    gemm(false, true, rows, m, d, static_cast<float>(xscale), a.x, d, a.w, d, 0.0f, a.out, m);
  else
    std::fill(a.out, a.out + rows * m, 0.0f);
  const int64_t grain = std::max<int64_t>(1, kGrainSize / m);
  if (a.is_query) {
    parallel_for(0, rows, grain, [&a, m, d, half, s, eps](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        float* row = a.out + i * m;
        const float c = row_max(row, m, a.argmax + i);
        exp_row(row, m, half * sum_squares(a.x + i * d, d), c, eps, s);
      }
    });
    return;
  }
  std::vector<float> mx(rows);
  std::vector<int64_t> at(rows);
  parallel_for(0, rows, grain, [&a, &mx, &at, m](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) mx[i] = row_max(a.out + i * m, m, &at[i]);
  });
  std::vector<float> c(a.BH);
  for (int64_t bh = 0; bh < a.BH; ++bh) {
    int64_t best = bh * a.L;
    for (int64_t i = best + 1; i < (bh + 1) * a.L; ++i)
      if (mx[i] > mx[best]) best = i;
    c[bh] = mx[best];
    a.argmax[bh] = (best - bh * a.L) * m + at[best];
  }
  parallel_for(0, rows, grain, [&a, &c, m, d, half, s, eps](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      exp_row(a.out + i * m, m, half * sum_squares(a.x + i * d, d), c[i / a.L], eps, s);
  });
}

void favor_features_backward(const FavorFeaturesArgs<float>& a, const float* g, float* dx,
                             float* dw, float* ws) {
  const int64_t rows = a.BH * a.L, m = a.m, d = a.d;
  if (rows == 0 || d == 0) {
    if (dw) std::fill(dw, dw + m * d, 0.0f);
    return;
  }
  const double xscale = std::pow(static_cast<double>(d), -0.25);
  const float es = static_cast<float>(a.eps / std::sqrt(static_cast<double>(m)));
  std::vector<float> rowsum(rows);
  const int64_t grain = std::max<int64_t>(1, kGrainSize / m);
  parallel_for(0, rows, grain, [&a, &rowsum, g, ws, es, m](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      rowsum[i] = grad_row(g + i * m, a.out + i * m, es, m, ws + i * m);
      if (a.is_query) ws[i * m + a.argmax[i]] -= rowsum[i];
    }
  });
  if (!a.is_query)
    for (int64_t bh = 0; bh < a.BH; ++bh) {
      double total = 0.0;
      for (int64_t i = bh * a.L; i < (bh + 1) * a.L; ++i) total += rowsum[i];
      ws[bh * a.L * m + a.argmax[bh]] -= static_cast<float>(total);
    }
  if (dx) {
    gemm(false, false, rows, d, m, static_cast<float>(xscale), ws, m, a.w, d, 0.0f, dx, d);
    const float k = static_cast<float>(xscale * xscale);
    parallel_for(0, rows, std::max<int64_t>(1, kGrainSize / d),
                 [&a, &rowsum, dx, k, d](int64_t b, int64_t e) {
                   for (int64_t i = b; i < e; ++i) axpy(-k * rowsum[i], a.x + i * d, dx + i * d, d);
                 });
  }
  if (dw) gemm(true, false, m, d, rows, static_cast<float>(xscale), ws, m, a.x, d, 0.0f, dw, d);
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
