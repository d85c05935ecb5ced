#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "ops/cpu/gemm.h"
#include "ops/cpu/vec.h"
#include "ops/longformer_attention.h"

namespace cf::ops::cpu {
namespace {

constexpr int W = VecF::kWidth;

float dot(const float* x, const float* y, int64_t n) {
  VecF acc(0.0f);
  int64_t j = 0;
  for (; j + W <= n; j += W) acc = VecF::fma(VecF::load(x + j), VecF::load(y + j), acc);
  if (j < n) {
    const int r = static_cast<int>(n - j);
    acc = VecF::fma(VecF::load(x + j, r), VecF::load(y + j, r), acc);
  }
  return acc.reduce_add();
}

// y += c x
void axpy(float c, const float* x, float* y, int64_t n) {
  const VecF vc(c);
  int64_t j = 0;
  for (; j + W <= n; j += W) VecF::fma(vc, VecF::load(x + j), VecF::load(y + j)).store(y + j);
  if (j < n) {
    const int r = static_cast<int>(n - j);
    VecF::fma(vc, VecF::load(x + j, r), VecF::load(y + j, r)).store(y + j, r);
  }
}

float row_max(const float* x, int64_t n) {
  VecF m(-INFINITY);
  int64_t j = 0;
  for (; j + W <= n; j += W) m = VecF::max(m, VecF::load(x + j));
  if (j < n) m = VecF::max(m, VecF::load(x + j, static_cast<int>(n - j), -INFINITY));
  return m.reduce_max();
}

// x <- e^(x - m), exactly 0 where x = -inf; returns the sum.
float row_exp(float* x, int64_t n, float m) {
  const VecF vm(m), ninf(-INFINITY), zero(0.0f);
  VecF acc(0.0f);
  int64_t j = 0;
  for (; j + W <= n; j += W) {
    const VecF s = VecF::load(x + j);
    const VecF e = VecF::select_gt(s, ninf, VecF::exp(s - vm), zero);
    e.store(x + j);
    acc = acc + e;
  }
  if (j < n) {
    const int r = static_cast<int>(n - j);
    const VecF s = VecF::load(x + j, r, -INFINITY);
    const VecF e = VecF::select_gt(s, ninf, VecF::exp(s - vm), zero);
    e.store(x + j, r);
    acc = acc + e;
  }
  return acc.reduce_add();
}

void row_scale(float* x, int64_t n, float c) {
  const VecF vc(c);
  int64_t j = 0;
  for (; j + W <= n; j += W) (VecF::load(x + j) * vc).store(x + j);
  if (j < n) (VecF::load(x + j, static_cast<int>(n - j)) * vc).store(x + j, static_cast<int>(n - j));
}

// ds <- p (dp - sum(p dp)) scale, in place over dp (which holds do . v).
void softmax_grad(const float* p, float* dp, int64_t n, float dsum, float scale) {
  const VecF d(dsum), sc(scale);
  int64_t j = 0;
  for (; j + W <= n; j += W) (VecF::load(p + j) * (VecF::load(dp + j) - d) * sc).store(dp + j);
  if (j < n) {
    const int r = static_cast<int>(n - j);
    (VecF::load(p + j, r) * (VecF::load(dp + j, r) - d) * sc).store(dp + j, r);
  }
}

bool padded(const LongformerArgs<float>& a, int64_t b, int64_t j) {
  return a.kpm && a.kpm[b * a.N + j];
}

// Key of band slot t of query i, or -1 when the slot is outside [0, N).
int64_t band_key(const LongformerArgs<float>& a, int64_t i, int64_t t) {
  const int64_t j = i + a.d * (t - a.w);
  return j >= 0 && j < a.N ? j : -1;
}

void local_row(const LongformerArgs<float>& a, int64_t bh, int64_t i, float* o,
               const LongformerProbs& p) {
  const int64_t b = bh / a.NH, wb = 2 * a.w + 1;
  const float* qi = a.q + (bh * a.N + i) * a.E;
  const float* kh = a.k + bh * a.N * a.E;
  const float* vh = a.v + bh * a.N * a.Ev;
  const int64_t* gi = a.gidx + b * a.G;
  float* band = p.band + (bh * a.N + i) * wb;
  float* pg = p.glob + (bh * a.N + i) * a.G;
  float* oi = o + (bh * a.N + i) * a.Ev;
  for (int64_t t = 0; t < wb; ++t) {
    const int64_t j = band_key(a, i, t);
    const bool ok = j >= 0 && !a.global[b * a.N + j] && !padded(a, b, j);
    band[t] = ok ? a.scale * dot(qi, kh + j * a.E, a.E) : -INFINITY;
  }
  for (int64_t g = 0; g < a.G; ++g) {
    const int64_t j = gi[g];
    pg[g] = j >= 0 && !padded(a, b, j) ? a.scale * dot(qi, kh + j * a.E, a.E) : -INFINITY;
  }
  std::memset(oi, 0, sizeof(float) * a.Ev);
  const float m = std::max(row_max(band, wb), row_max(pg, a.G));
  if (m == -INFINITY) {  // nothing to attend: P = 0, o = 0
    std::memset(band, 0, sizeof(float) * wb);
    std::memset(pg, 0, sizeof(float) * a.G);
    return;
  }
  const float inv = 1.0f / (row_exp(band, wb, m) + row_exp(pg, a.G, m));
  row_scale(band, wb, inv);
  row_scale(pg, a.G, inv);
  for (int64_t t = 0; t < wb; ++t)
    if (band[t] != 0.0f) axpy(band[t], vh + band_key(a, i, t) * a.Ev, oi, a.Ev);
  for (int64_t g = 0; g < a.G; ++g)
    if (pg[g] != 0.0f) axpy(pg[g], vh + gi[g] * a.Ev, oi, a.Ev);
}

// Global row g of head bh: softmax over every unpadded key with qg, kg, vg.
void global_row(const LongformerArgs<float>& a, int64_t bh, int64_t g, float* o,
                const LongformerProbs& p) {
  const int64_t b = bh / a.NH, i = a.gidx[b * a.G + g];
  float* row = p.rows + (bh * a.G + g) * a.N;
  if (i < 0) {
    std::memset(row, 0, sizeof(float) * a.N);
    return;
  }
  float* oi = o + (bh * a.N + i) * a.Ev;
  gemm(false, true, 1, a.N, a.E, a.scale, a.qg + (bh * a.N + i) * a.E, a.E, a.kg + bh * a.N * a.E,
       a.E, 0.0f, row, a.N);
  if (a.kpm)
    for (int64_t j = 0; j < a.N; ++j)
      if (a.kpm[b * a.N + j]) row[j] = -INFINITY;
  const float m = row_max(row, a.N);
  if (m == -INFINITY) {
    std::memset(row, 0, sizeof(float) * a.N);
    std::memset(oi, 0, sizeof(float) * a.Ev);
    return;
  }
  row_scale(row, a.N, 1.0f / row_exp(row, a.N, m));
  gemm(false, false, 1, a.Ev, a.N, 1.0f, row, a.N, a.vg + bh * a.N * a.Ev, a.Ev, 0.0f, oi, a.Ev);
}

}  // namespace

void longformer_forward(const LongformerArgs<float>& a, float* o, const LongformerProbs& p) {
  const int64_t heads = a.B * a.NH, wb = 2 * a.w + 1;
  if (heads * a.N == 0) return;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < heads * a.N; ++r) {
    const int64_t bh = r / a.N, i = r % a.N;
    if (a.global[(bh / a.NH) * a.N + i]) {  // the global pass below writes o; P stays 0 here
      std::memset(p.band + r * wb, 0, sizeof(float) * wb);
      std::memset(p.glob + r * a.G, 0, sizeof(float) * a.G);
    } else {
      local_row(a, bh, i, o, p);
    }
  }
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t r = 0; r < heads * a.G; ++r) global_row(a, r / a.G, r % a.G, o, p);
}

void longformer_backward(const LongformerArgs<float>& a, const LongformerProbs& p,
                         const LongformerProbs& ds, const float* dout, float* dq, float* dk,
                         float* dv, float* dqg, float* dkg, float* dvg) {
  const int64_t heads = a.B * a.NH, wb = 2 * a.w + 1, N = a.N, G = a.G;
  if (heads * N == 0) return;
  // Pass 1, per query row: dS (stored) and dq / dqg.
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < heads * N; ++r) {
    const int64_t bh = r / N, b = bh / a.NH, i = r % N;
    const float* go = dout + r * a.Ev;
    const float* vh = a.v + bh * N * a.Ev;
    const float* kh = a.k + bh * N * a.E;
    const int64_t* gi = a.gidx + b * G;
    const float* pb = p.band + r * wb;
    const float* pg = p.glob + r * G;
    float* sb = ds.band + r * wb;
    float* sg = ds.glob + r * G;
    float dsum = 0.0f;
    for (int64_t t = 0; t < wb; ++t) {
      sb[t] = pb[t] != 0.0f ? dot(go, vh + band_key(a, i, t) * a.Ev, a.Ev) : 0.0f;
      dsum += pb[t] * sb[t];
    }
    for (int64_t g = 0; g < G; ++g) {
      sg[g] = pg[g] != 0.0f ? dot(go, vh + gi[g] * a.Ev, a.Ev) : 0.0f;
      dsum += pg[g] * sg[g];
    }
    softmax_grad(pb, sb, wb, dsum, a.scale);
    softmax_grad(pg, sg, G, dsum, a.scale);
    if (dq) {
      float* gq = dq + r * a.E;
      std::memset(gq, 0, sizeof(float) * a.E);
      for (int64_t t = 0; t < wb; ++t)
        if (sb[t] != 0.0f) axpy(sb[t], kh + band_key(a, i, t) * a.E, gq, a.E);
      for (int64_t g = 0; g < G; ++g)
        if (sg[g] != 0.0f) axpy(sg[g], kh + gi[g] * a.E, gq, a.E);
    }
    if (dqg) std::memset(dqg + r * a.E, 0, sizeof(float) * a.E);
  }
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t r = 0; r < heads * G; ++r) {
    const int64_t bh = r / G, i = a.gidx[(bh / a.NH) * G + r % G];
    float* srow = ds.rows + r * N;
    const float* prow = p.rows + r * N;
    if (i < 0) {
      std::memset(srow, 0, sizeof(float) * N);
      continue;
    }
    gemm(false, true, 1, N, a.Ev, 1.0f, dout + (bh * N + i) * a.Ev, a.Ev, a.vg + bh * N * a.Ev,
         a.Ev, 0.0f, srow, N);
    softmax_grad(prow, srow, N, dot(prow, srow, N), a.scale);
    if (dqg)
      gemm(false, false, 1, a.E, N, 1.0f, srow, N, a.kg + bh * N * a.E, a.E, 0.0f,
           dqg + (bh * N + i) * a.E, a.E);
  }
  // Pass 2, per key: gather dk, dv (local rows) and dkg, dvg (global rows).
  std::vector<int64_t> ginv(a.B * N, -1);
  for (int64_t b = 0; b < a.B; ++b)
    for (int64_t g = 0; g < G; ++g)
      if (a.gidx[b * G + g] >= 0) ginv[b * N + a.gidx[b * G + g]] = g;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < heads * N; ++r) {
    const int64_t bh = r / N, b = bh / a.NH, j = r % N, gj = ginv[b * N + j];
    const float* qh = a.q + bh * N * a.E;
    const float* gh = dout + bh * N * a.Ev;
    float* gk = dk ? dk + r * a.E : nullptr;
    float* gv = dv ? dv + r * a.Ev : nullptr;
    if (gk) std::memset(gk, 0, sizeof(float) * a.E);
    if (gv) std::memset(gv, 0, sizeof(float) * a.Ev);
    if (gj < 0) {  // a local key: the rows whose band holds it
      for (int64_t t = 0; t < wb; ++t) {
        const int64_t i = j - a.d * (t - a.w);
        if (i < 0 || i >= N) continue;
        const int64_t x = (bh * N + i) * wb + t;
        if (gk && ds.band[x] != 0.0f) axpy(ds.band[x], qh + i * a.E, gk, a.E);
        if (gv && p.band[x] != 0.0f) axpy(p.band[x], gh + i * a.Ev, gv, a.Ev);
      }
    } else {  // a global key: every local row
      for (int64_t i = 0; i < N; ++i) {
        const int64_t x = (bh * N + i) * G + gj;
        if (gk && ds.glob[x] != 0.0f) axpy(ds.glob[x], qh + i * a.E, gk, a.E);
        if (gv && p.glob[x] != 0.0f) axpy(p.glob[x], gh + i * a.Ev, gv, a.Ev);
      }
    }
    float* gkg = dkg ? dkg + r * a.E : nullptr;
    float* gvg = dvg ? dvg + r * a.Ev : nullptr;
    if (gkg) std::memset(gkg, 0, sizeof(float) * a.E);
    if (gvg) std::memset(gvg, 0, sizeof(float) * a.Ev);
    for (int64_t g = 0; g < G; ++g) {
      const int64_t i = a.gidx[b * G + g];
      if (i < 0) break;
      const int64_t x = (bh * G + g) * N + j;
      if (gkg && ds.rows[x] != 0.0f) axpy(ds.rows[x], a.qg + (bh * N + i) * a.E, gkg, a.E);
      if (gvg && p.rows[x] != 0.0f) axpy(p.rows[x], gh + i * a.Ev, gvg, a.Ev);
    }
  }
}

namespace {

template <class T> bool attends(const LongformerArgs<T>& a, int64_t b, int64_t i, int64_t j) {
  if (a.kpm && a.kpm[b * a.N + j]) return false;
  if (a.global[b * a.N + i] || a.global[b * a.N + j]) return true;
  const int64_t off = j - i;
  return off % a.d == 0 && std::abs(off) <= a.d * a.w;
}

// Row i's probabilities (0 where not attended) and whether it uses the global projections.
template <class T>
bool ref_probs(const LongformerArgs<T>& a, int64_t bh, int64_t i, std::vector<double>& p) {
  const int64_t b = bh / a.NH;
  const bool gl = a.global[b * a.N + i];
  const T* qi = (gl ? a.qg : a.q) + (bh * a.N + i) * a.E;
  const T* kh = (gl ? a.kg : a.k) + bh * a.N * a.E;
  double mx = -INFINITY;
  for (int64_t j = 0; j < a.N; ++j) {
    if (!attends(a, b, i, j)) continue;
    double s = 0.0;
    for (int64_t e = 0; e < a.E; ++e) s += static_cast<double>(qi[e]) * kh[j * a.E + e];
    p[j] = s * static_cast<double>(a.scale);
    mx = std::max(mx, p[j]);
  }
  double z = 0.0;
  for (int64_t j = 0; j < a.N; ++j) z += p[j] = attends(a, b, i, j) ? std::exp(p[j] - mx) : 0.0;
  for (int64_t j = 0; j < a.N; ++j) p[j] = z > 0.0 ? p[j] / z : 0.0;
  return gl;
}

}  // namespace

template <class T> void longformer_forward_ref(const LongformerArgs<T>& a, T* o) {
  std::vector<double> p(a.N);
  for (int64_t bh = 0; bh < a.B * a.NH; ++bh)
    for (int64_t i = 0; i < a.N; ++i) {
      const T* vh = (ref_probs(a, bh, i, p) ? a.vg : a.v) + bh * a.N * a.Ev;
      for (int64_t e = 0; e < a.Ev; ++e) {
        double acc = 0.0;
        for (int64_t j = 0; j < a.N; ++j) acc += p[j] * vh[j * a.Ev + e];
        o[(bh * a.N + i) * a.Ev + e] = static_cast<T>(acc);
      }
    }
}

template <class T>
void longformer_backward_ref(const LongformerArgs<T>& a, const T* dout, T* dq, T* dk, T* dv,
                             T* dqg, T* dkg, T* dvg) {
  const int64_t N = a.N, E = a.E, Ev = a.Ev;
  std::vector<double> p(N), gq(E), gk[2] = {std::vector<double>(N * E), std::vector<double>(N * E)},
                              gv[2] = {std::vector<double>(N * Ev), std::vector<double>(N * Ev)};
  for (int64_t bh = 0; bh < a.B * a.NH; ++bh) {
    for (int x = 0; x < 2; ++x) {
      std::fill(gk[x].begin(), gk[x].end(), 0.0);
      std::fill(gv[x].begin(), gv[x].end(), 0.0);
    }
    for (int64_t i = 0; i < N; ++i) {
      const int gl = ref_probs(a, bh, i, p) ? 1 : 0;
      const T* qi = (gl ? a.qg : a.q) + (bh * N + i) * E;
      const T* kh = (gl ? a.kg : a.k) + bh * N * E;
      const T* vh = (gl ? a.vg : a.v) + bh * N * Ev;
      const T* go = dout + (bh * N + i) * Ev;
      std::vector<double> dp(N, 0.0);
      double dsum = 0.0;
      for (int64_t j = 0; j < N; ++j) {
        if (p[j] == 0.0) continue;
        for (int64_t e = 0; e < Ev; ++e) {
          dp[j] += static_cast<double>(go[e]) * vh[j * Ev + e];
          gv[gl][j * Ev + e] += p[j] * go[e];
        }
        dsum += p[j] * dp[j];
      }
      std::fill(gq.begin(), gq.end(), 0.0);
      for (int64_t j = 0; j < N; ++j) {
        if (p[j] == 0.0) continue;
        const double ds = p[j] * (dp[j] - dsum) * static_cast<double>(a.scale);
        for (int64_t e = 0; e < E; ++e) {
          gq[e] += ds * kh[j * E + e];
          gk[gl][j * E + e] += ds * qi[e];
        }
      }
      T* gqo = gl ? dqg : dq;
      T* zero = gl ? dq : dqg;
      for (int64_t e = 0; e < E; ++e) {
        if (gqo) gqo[(bh * N + i) * E + e] = static_cast<T>(gq[e]);
        if (zero) zero[(bh * N + i) * E + e] = T(0);
      }
    }
    T* outs_k[2] = {dk, dkg};
    T* outs_v[2] = {dv, dvg};
    for (int x = 0; x < 2; ++x) {
      if (outs_k[x])
        for (int64_t y = 0; y < N * E; ++y) outs_k[x][bh * N * E + y] = static_cast<T>(gk[x][y]);
      if (outs_v[x])
        for (int64_t y = 0; y < N * Ev; ++y) outs_v[x][bh * N * Ev + y] = static_cast<T>(gv[x][y]);
    }
  }
}

template void longformer_forward_ref<float>(const LongformerArgs<float>&, float*);
template void longformer_forward_ref<double>(const LongformerArgs<double>&, double*);
template void longformer_backward_ref<float>(const LongformerArgs<float>&, const float*, float*,
                                             float*, float*, float*, float*, float*);
template void longformer_backward_ref<double>(const LongformerArgs<double>&, const double*,
                                              double*, double*, double*, double*, double*,
                                              double*);

}  // namespace cf::ops::cpu
