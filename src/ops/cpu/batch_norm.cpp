// batch_norm kernels. S >= 16: OpenMP over channels; per channel the N slices of S contiguous
// values are walked with VecF. S < 16 (e.g. (N, C) inputs): the N rows of J = C S contiguous
// values are summed per column (OpenMP over column chunks), the column sums folded per channel,
// and the normalization applied row by row. The _ref kernels are plain loops in double.
#include <cmath>
#include <vector>

#include "ops/batch_norm.h"
#include "ops/cpu/parallel.h"
#include "ops/cpu/vec.h"

namespace cf::ops::cpu {
namespace {

constexpr int kW = VecF::kWidth;

inline VecF ld(const float* p, int64_t i, int k, float fill = 0.0f) {
  return k == kW ? VecF::load(p + i) : VecF::load(p + i, k, fill);
}
inline void st(VecF v, float* p, int64_t i, int k) {
  if (k == kW)
    v.store(p + i);
  else
    v.store(p + i, k);
}
inline int lanes(int64_t S, int64_t i) {
  return static_cast<int>(std::min<int64_t>(kW, S - i));
}

template <class F>
void for_each_channel(int64_t N, int64_t C, int64_t S, const F& f) {
  parallel_for(0, C, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, N * S)),
               [&f](int64_t b, int64_t e) {
                 for (int64_t c = b; c < e; ++c) f(c);
               });
}

constexpr int64_t kColumnChunk = 256;

// out[j] = sum_n f(n, j) for the columns j of N rows of J values, in a fixed order per column.
template <class F>
void column_sums(int64_t N, int64_t J, float* out, const F& f) {
  const int64_t chunks = (J + kColumnChunk - 1) / kColumnChunk;
  parallel_for(0, chunks, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, N * kColumnChunk)),
               [&f, out, N, J](int64_t b, int64_t e) {
                 for (int64_t t = b; t < e; ++t) {
                   const int64_t j0 = t * kColumnChunk, j1 = std::min(J, j0 + kColumnChunk);
                   for (int64_t j = j0; j < j1; ++j) out[j] = 0.0f;
                   for (int64_t n = 0; n < N; ++n) {
#pragma omp simd
                     for (int64_t j = j0; j < j1; ++j) out[j] += f(n, j);
                   }
                 }
               });
}

// Per channel c: the sum of v over its S columns.
float channel_sum(const std::vector<float>& v, int64_t c, int64_t S) {
  float s = 0.0f;
  for (int64_t i = 0; i < S; ++i) s += v[c * S + i];
  return s;
}

void forward_columns(const BatchNormArgs<float>& a) {
  const int64_t N = a.N, C = a.C, S = a.S, J = C * S;
  const float* x = a.x;
  std::vector<float> acc(J), mean_j(J), scale_j(J), shift_j(J);
  if (a.training) {
    const float inv_p = 1.0f / static_cast<float>(N * S);
    column_sums(N, J, acc.data(), [x, J](int64_t n, int64_t j) { return x[n * J + j]; });
    for (int64_t c = 0; c < C; ++c) {
      a.mean[c] = channel_sum(acc, c, S) * inv_p;
      for (int64_t i = 0; i < S; ++i) mean_j[c * S + i] = a.mean[c];
    }
    const float* m = mean_j.data();
    column_sums(N, J, acc.data(), [x, m, J](int64_t n, int64_t j) {
      const float d = x[n * J + j] - m[j];
      return d * d;
    });
    for (int64_t c = 0; c < C; ++c) a.var[c] = channel_sum(acc, c, S) * inv_p;
  } else {
    for (int64_t c = 0; c < C; ++c) {
      a.mean[c] = a.running_mean[c];
      a.var[c] = a.running_var[c];
    }
  }
  for (int64_t c = 0; c < C; ++c) {
    a.rstd[c] = 1.0f / std::sqrt(a.var[c] + static_cast<float>(a.eps));
    for (int64_t i = 0; i < S; ++i) {
      mean_j[c * S + i] = a.mean[c];
      scale_j[c * S + i] = a.rstd[c] * (a.w ? a.w[c] : 1.0f);
      shift_j[c * S + i] = a.b ? a.b[c] : 0.0f;
    }
  }
  const float *m = mean_j.data(), *sc = scale_j.data(), *sh = shift_j.data();
  parallel_for(0, N, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, J)),
               [&a, m, sc, sh, J](int64_t b, int64_t e) {
                 for (int64_t n = b; n < e; ++n) {
                   const float* x = a.x + n * J;
                   float* y = a.y + n * J;
#pragma omp simd
                   for (int64_t j = 0; j < J; ++j) y[j] = (x[j] - m[j]) * sc[j] + sh[j];
                 }
               });
}

void backward_columns(const BatchNormBackwardArgs<float>& a) {
  const int64_t N = a.N, C = a.C, S = a.S, J = C * S;
  const float *x = a.x, *g = a.g;
  std::vector<float> sg(J), sgx(J), mean_j(J), rstd_j(J);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < S; ++i) {
      mean_j[c * S + i] = a.mean[c];
      rstd_j[c * S + i] = a.rstd[c];
    }
  const float *m = mean_j.data(), *r = rstd_j.data();
  column_sums(N, J, sg.data(), [g, J](int64_t n, int64_t j) { return g[n * J + j]; });
  column_sums(N, J, sgx.data(), [x, g, m, r, J](int64_t n, int64_t j) {
    return g[n * J + j] * ((x[n * J + j] - m[j]) * r[j]);
  });
  const float inv_p = 1.0f / static_cast<float>(N * S);
  std::vector<float> wr_j(J), c1_j(J), c2_j(J);
  for (int64_t c = 0; c < C; ++c) {
    const float sum_g = channel_sum(sg, c, S), sum_gx = channel_sum(sgx, c, S);
    if (a.dw) a.dw[c] = sum_gx;
    if (a.db) a.db[c] = sum_g;
    for (int64_t i = 0; i < S; ++i) {
      wr_j[c * S + i] = a.rstd[c] * (a.w ? a.w[c] : 1.0f);
      c1_j[c * S + i] = a.training ? sum_g * inv_p : 0.0f;
      c2_j[c * S + i] = a.training ? sum_gx * inv_p : 0.0f;
    }
  }
  if (!a.dx) return;
  const float *wr = wr_j.data(), *c1 = c1_j.data(), *c2 = c2_j.data();
  parallel_for(0, N, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, J)),
               [&a, m, r, wr, c1, c2, J](int64_t b, int64_t e) {
                 for (int64_t n = b; n < e; ++n) {
                   const float* x = a.x + n * J;
                   const float* g = a.g + n * J;
                   float* dx = a.dx + n * J;
#pragma omp simd
                   for (int64_t j = 0; j < J; ++j)
                     dx[j] = wr[j] * (g[j] - c1[j] - (x[j] - m[j]) * r[j] * c2[j]);
                 }
               });
}

}  // namespace

void batch_norm_forward(const BatchNormArgs<float>& a) {
  const int64_t N = a.N, C = a.C, S = a.S;
  const float eps = static_cast<float>(a.eps);
  if (S < kW) return forward_columns(a);
  for_each_channel(N, C, S, [&a, N, C, S, eps](int64_t c) {
    float mean, var;
    if (a.training) {
      const float inv_p = 1.0f / static_cast<float>(N * S);
      VecF s(0.0f);
      for (int64_t n = 0; n < N; ++n) {
        const float* x = a.x + (n * C + c) * S;
        for (int64_t i = 0; i < S; i += kW) s = s + ld(x, i, lanes(S, i));
      }
      mean = s.reduce_add() * inv_p;
      const VecF vm(mean);
      VecF q(0.0f);
      for (int64_t n = 0; n < N; ++n) {
        const float* x = a.x + (n * C + c) * S;
        for (int64_t i = 0; i < S; i += kW) {
          const VecF d = ld(x, i, lanes(S, i), mean) - vm;
          q = VecF::fma(d, d, q);
        }
      }
      var = q.reduce_add() * inv_p;
    } else {
      mean = a.running_mean[c];
      var = a.running_var[c];
    }
    const float rstd = 1.0f / std::sqrt(var + eps);
    a.mean[c] = mean;
    a.var[c] = var;
    a.rstd[c] = rstd;
    const VecF vs(rstd * (a.w ? a.w[c] : 1.0f)), vb(a.b ? a.b[c] : 0.0f), vm(mean);
    for (int64_t n = 0; n < N; ++n) {
      const float* x = a.x + (n * C + c) * S;
      float* y = a.y + (n * C + c) * S;
      for (int64_t i = 0; i < S; i += kW) {
        const int k = lanes(S, i);
        st(VecF::fma(ld(x, i, k) - vm, vs, vb), y, i, k);  // (x - mean) exact, then scale
      }
    }
  });
}

void batch_norm_backward(const BatchNormBackwardArgs<float>& a) {
  const int64_t N = a.N, C = a.C, S = a.S;
  if (S < kW) return backward_columns(a);
  for_each_channel(N, C, S, [&a, N, C, S](int64_t c) {
    const float mean = a.mean[c], rstd = a.rstd[c];
    const VecF vr(rstd), vm(mean);
    VecF sg(0.0f), sgx(0.0f);
    for (int64_t n = 0; n < N; ++n) {
      const float* x = a.x + (n * C + c) * S;
      const float* g = a.g + (n * C + c) * S;
      for (int64_t i = 0; i < S; i += kW) {
        const int k = lanes(S, i);
        const VecF gv = ld(g, i, k);
        sg = sg + gv;
        sgx = VecF::fma(gv, (ld(x, i, k) - vm) * vr, sgx);
      }
    }
    const float sum_g = sg.reduce_add(), sum_gx = sgx.reduce_add();
    if (a.dw) a.dw[c] = sum_gx;
    if (a.db) a.db[c] = sum_g;
    if (!a.dx) return;
    const float wr = rstd * (a.w ? a.w[c] : 1.0f);
    const float inv_p = 1.0f / static_cast<float>(N * S);
    // training: dx = wr (g - sum_g / P - xhat sum_gx / P); eval: dx = wr g
    const VecF vw(wr), c1(a.training ? sum_g * inv_p : 0.0f),
        c2(a.training ? sum_gx * inv_p : 0.0f);
    for (int64_t n = 0; n < N; ++n) {
      const float* x = a.x + (n * C + c) * S;
      const float* g = a.g + (n * C + c) * S;
      float* dx = a.dx + (n * C + c) * S;
      for (int64_t i = 0; i < S; i += kW) {
        const int k = lanes(S, i);
        const VecF xhat = (ld(x, i, k) - vm) * vr;
        st(vw * (ld(g, i, k) - VecF::fma(xhat, c2, c1)), dx, i, k);
      }
    }
  });
}

template <class T>
void batch_norm_forward_ref(const BatchNormArgs<T>& a) {
  const double P = static_cast<double>(a.N * a.S);
  for (int64_t c = 0; c < a.C; ++c) {
    double mean, var;
    if (a.training) {
      double s = 0.0;
      for (int64_t n = 0; n < a.N; ++n)
        for (int64_t i = 0; i < a.S; ++i) s += a.x[(n * a.C + c) * a.S + i];
      mean = s / P;
      double q = 0.0;
      for (int64_t n = 0; n < a.N; ++n)
        for (int64_t i = 0; i < a.S; ++i) {
          const double d = a.x[(n * a.C + c) * a.S + i] - mean;
          q += d * d;
        }
      var = q / P;
    } else {
      mean = a.running_mean[c];
      var = a.running_var[c];
    }
    const double rstd = 1.0 / std::sqrt(var + a.eps);
    a.mean[c] = static_cast<T>(mean);
    a.var[c] = static_cast<T>(var);
    a.rstd[c] = static_cast<T>(rstd);
    for (int64_t n = 0; n < a.N; ++n)
      for (int64_t i = 0; i < a.S; ++i) {
        const int64_t at = (n * a.C + c) * a.S + i;
        double v = (a.x[at] - mean) * rstd;
        if (a.w) v *= a.w[c];
        if (a.b) v += a.b[c];
        a.y[at] = static_cast<T>(v);
      }
  }
}

template <class T>
void batch_norm_backward_ref(const BatchNormBackwardArgs<T>& a) {
  const double P = static_cast<double>(a.N * a.S);
  for (int64_t c = 0; c < a.C; ++c) {
    const double mean = a.mean[c], rstd = a.rstd[c];
    double sg = 0.0, sgx = 0.0;
    for (int64_t n = 0; n < a.N; ++n)
      for (int64_t i = 0; i < a.S; ++i) {
        const int64_t at = (n * a.C + c) * a.S + i;
        sg += a.g[at];
        sgx += a.g[at] * (a.x[at] - mean) * rstd;
      }
    if (a.dw) a.dw[c] = static_cast<T>(sgx);
    if (a.db) a.db[c] = static_cast<T>(sg);
    if (!a.dx) continue;
    const double wr = rstd * (a.w ? static_cast<double>(a.w[c]) : 1.0);
    for (int64_t n = 0; n < a.N; ++n)
      for (int64_t i = 0; i < a.S; ++i) {
        const int64_t at = (n * a.C + c) * a.S + i;
        const double xhat = (a.x[at] - mean) * rstd;
        const double d = a.training ? a.g[at] - sg / P - xhat * sgx / P : a.g[at];
        a.dx[at] = static_cast<T>(wr * d);
      }
  }
}

template void batch_norm_forward_ref<float>(const BatchNormArgs<float>&);
template void batch_norm_forward_ref<double>(const BatchNormArgs<double>&);
template void batch_norm_backward_ref<float>(const BatchNormBackwardArgs<float>&);
template void batch_norm_backward_ref<double>(const BatchNormBackwardArgs<double>&);

}  // namespace cf::ops::cpu
