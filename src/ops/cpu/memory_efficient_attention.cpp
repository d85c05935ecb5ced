#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "ops/cpu/gemm.h"
#include "ops/cpu/vec.h"
#include "ops/memory_efficient_attention.h"

namespace cf::ops::cpu {
namespace {

// Tile sizes: a (kBr, kBc) score tile and its dP twin stay in L2 per thread.
constexpr int64_t kBr = 64;
constexpr int64_t kBc = 128;
constexpr int W = VecF::kWidth;

// The prefix of keys [c0, c0 + cols) that query row `row` may see under the causal mask.
int64_t causal_cols(const MeaArgs<float>& a, int64_t row, int64_t c0, int64_t cols) {
  if (!a.causal) return cols;
  return std::clamp<int64_t>(row + 1 - c0, 0, cols);
}

// Row of scores -> e^(s - m) on the valid prefix with padded keys zeroed, 0 beyond; returns the sum.
float exp_row(float* s, int64_t valid, int64_t cols, const bool* pad, float m) {
  const VecF vm(m), zero(0.0f);
  VecF acc(0.0f);
  int64_t j = 0;
  for (; j + W <= valid; j += W) {
    VecF e = VecF::exp(VecF::load(s + j) - vm);
    if (pad) e = VecF::select(pad + j, zero, e);
    e.store(s + j);
    acc = acc + e;
  }
  if (j < valid) {
    const int n = static_cast<int>(valid - j);
    VecF e = VecF::exp(VecF::load(s + j, n) - vm);
    if (pad) e = VecF::select(pad + j, n, zero, e);
    e.store(s + j, n);
    acc = acc + VecF::load(s + j, n);
  }
  for (j = valid; j < cols; ++j) s[j] = 0.0f;
  return acc.reduce_add();
}

// Max over the valid prefix of a score row, padded keys excluded (-inf when none is left).
float max_row(const float* s, int64_t valid, const bool* pad) {
  const VecF ninf(-INFINITY);
  VecF m(-INFINITY);
  int64_t j = 0;
  for (; j + W <= valid; j += W) {
    VecF x = VecF::load(s + j);
    if (pad) x = VecF::select(pad + j, ninf, x);
    m = VecF::max(m, x);
  }
  if (j < valid) {
    const int n = static_cast<int>(valid - j);
    VecF x = VecF::load(s + j, n, -INFINITY);
    if (pad) x = VecF::select(pad + j, n, ninf, x);
    m = VecF::max(m, x);
  }
  return m.reduce_max();
}

void scale_row(float* x, int64_t n, float c) {
  const VecF vc(c);
  int64_t j = 0;
  for (; j + W <= n; j += W) (VecF::load(x + j) * vc).store(x + j);
  if (j < n) (VecF::load(x + j, static_cast<int>(n - j)) * vc).store(x + j, static_cast<int>(n - j));
}

float dot_row(const float* x, const float* y, int64_t n) {
  VecF acc(0.0f);
  int64_t j = 0;
  for (; j + W <= n; j += W) acc = VecF::fma(VecF::load(x + j), VecF::load(y + j), acc);
  if (j < n) {
    const int r = static_cast<int>(n - j);
    acc = VecF::fma(VecF::load(x + j, r), VecF::load(y + j, r), acc);
  }
  return acc.reduce_add();
}

// One query tile [r0, r0 + rows) of head bh: the online-softmax sweep over the key tiles.
void forward_tile(const MeaArgs<float>& a, int64_t bh, int64_t r0, float* o, float* lse,
                  float* s, float* m, float* l) {
  const int64_t rows = std::min(kBr, a.L - r0);
  const float* q = a.q + (bh * a.L + r0) * a.E;
  const bool* pad = a.kpm ? a.kpm + (bh / a.NH) * a.S : nullptr;
  float* ob = o + (bh * a.L + r0) * a.Ev;
  std::memset(ob, 0, sizeof(float) * rows * a.Ev);
  std::fill(m, m + rows, -INFINITY);
  std::fill(l, l + rows, 0.0f);
  const int64_t kend = a.causal ? std::min(a.S, r0 + rows) : a.S;
  for (int64_t c0 = 0; c0 < kend; c0 += kBc) {
    const int64_t cols = std::min(kBc, kend - c0);
    gemm(false, true, rows, cols, a.E, a.scale, q, a.E, a.k + (bh * a.S + c0) * a.E, a.E, 0.0f, s,
         kBc);
    for (int64_t i = 0; i < rows; ++i) {
      float* si = s + i * kBc;
      const int64_t valid = causal_cols(a, r0 + i, c0, cols);
      const bool* pj = pad ? pad + c0 : nullptr;
      const float mnew = std::max(m[i], max_row(si, valid, pj));
      if (mnew == -INFINITY) {  // nothing visible yet: this tile adds nothing to the row
        std::memset(si, 0, sizeof(float) * cols);
        continue;
      }
      const float corr = std::exp(m[i] - mnew);  // 0 when m[i] = -inf
      l[i] = l[i] * corr + exp_row(si, valid, cols, pj, mnew);
      if (corr != 1.0f) scale_row(ob + i * a.Ev, a.Ev, corr);
      m[i] = mnew;
    }
    gemm(false, false, rows, a.Ev, cols, 1.0f, s, kBc, a.v + (bh * a.S + c0) * a.Ev, a.Ev, 1.0f, ob,
         a.Ev);
  }
  for (int64_t i = 0; i < rows; ++i) {
    if (l[i] > 0.0f) {
      scale_row(ob + i * a.Ev, a.Ev, 1.0f / l[i]);
      lse[bh * a.L + r0 + i] = m[i] + std::log(l[i]);
    } else {
      lse[bh * a.L + r0 + i] = -INFINITY;  // o stays 0: no tile ever added to it
    }
  }
}

struct BackwardCtx {
  const MeaArgs<float>* a;
  const float* lse;   // (B, NH, L)
  const float* dsum;  // (B, NH, L): D_i = rowsum(dO_i * O_i)
  const float* dout;  // (B, NH, L, Ev)
  float *dq, *dk, *dv;  // like q, k, v; null where not accumulated by this pass
};

// Tile pair (query tile r0, key tile c0) of head bh: recomputes P and dS and accumulates into
// the gradients the context names. s, dp: (kBr, kBc) scratch.
void backward_pair(const BackwardCtx& c, int64_t bh, int64_t r0, int64_t c0, float* s, float* dp) {
  const MeaArgs<float>& a = *c.a;
  const int64_t rows = std::min(kBr, a.L - r0), cols = std::min(kBc, a.S - c0);
  if (a.causal && c0 > r0 + rows - 1) return;
  const float* q = a.q + (bh * a.L + r0) * a.E;
  const float* k = a.k + (bh * a.S + c0) * a.E;
  const float* v = a.v + (bh * a.S + c0) * a.Ev;
  const float* go = c.dout + (bh * a.L + r0) * a.Ev;
  const bool* pj = a.kpm ? a.kpm + (bh / a.NH) * a.S + c0 : nullptr;
  gemm(false, true, rows, cols, a.E, a.scale, q, a.E, k, a.E, 0.0f, s, kBc);
  for (int64_t i = 0; i < rows; ++i) {
    const float lse = c.lse[bh * a.L + r0 + i];
    float* si = s + i * kBc;
    if (lse == -INFINITY)
      std::memset(si, 0, sizeof(float) * cols);
    else
      exp_row(si, causal_cols(a, r0 + i, c0, cols), cols, pj, lse);
  }
  if (c.dv)
    gemm(true, false, cols, a.Ev, rows, 1.0f, s, kBc, go, a.Ev, 1.0f, c.dv + (bh * a.S + c0) * a.Ev,
         a.Ev);
  gemm(false, true, rows, cols, a.Ev, 1.0f, go, a.Ev, v, a.Ev, 0.0f, dp, kBc);
  const VecF sc(a.scale);
  for (int64_t i = 0; i < rows; ++i) {
    const VecF d(c.dsum[bh * a.L + r0 + i]);
    float* pi = s + i * kBc;
    float* di = dp + i * kBc;
    int64_t j = 0;
    for (; j + W <= cols; j += W)
      (VecF::load(pi + j) * (VecF::load(di + j) - d) * sc).store(di + j);
    if (j < cols) {
      const int n = static_cast<int>(cols - j);
      (VecF::load(pi + j, n) * (VecF::load(di + j, n) - d) * sc).store(di + j, n);
    }
  }
  if (c.dk)
    gemm(true, false, cols, a.E, rows, 1.0f, dp, kBc, q, a.E, 1.0f, c.dk + (bh * a.S + c0) * a.E,
         a.E);
  if (c.dq)
    gemm(false, false, rows, a.E, cols, 1.0f, dp, kBc, k, a.E, 1.0f, c.dq + (bh * a.L + r0) * a.E,
         a.E);
}

int64_t tiles(int64_t n, int64_t t) { return (n + t - 1) / t; }

}  // namespace

void mea_forward(const MeaArgs<float>& a, float* o, float* lse) {
  const int64_t heads = a.B * a.NH, rt = tiles(a.L, kBr);
  if (heads * rt == 0) return;
  if (a.S == 0) {  // no keys: every row is fully masked
    std::memset(o, 0, sizeof(float) * heads * a.L * a.Ev);
    std::fill(lse, lse + heads * a.L, -INFINITY);
    return;
  }
#pragma omp parallel if (heads * rt > 1)
  {
    std::vector<float> s(kBr * kBc), m(kBr), l(kBr);
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < heads * rt; ++t)
      forward_tile(a, t / rt, (t % rt) * kBr, o, lse, s.data(), m.data(), l.data());
  }
}

void mea_backward(const MeaArgs<float>& a, const float* o, const float* lse, const float* dout,
                  float* dq, float* dk, float* dv) {
  const int64_t heads = a.B * a.NH, rt = tiles(a.L, kBr), ct = tiles(a.S, kBc);
  if (dq) std::memset(dq, 0, sizeof(float) * heads * a.L * a.E);
  if (dk) std::memset(dk, 0, sizeof(float) * heads * a.S * a.E);
  if (dv) std::memset(dv, 0, sizeof(float) * heads * a.S * a.Ev);
  if (heads * rt * ct == 0) return;
  std::vector<float> dsum(heads * a.L);
  for (int64_t r = 0; r < heads * a.L; ++r)
    dsum[r] = dot_row(dout + r * a.Ev, o + r * a.Ev, a.Ev);
  BackwardCtx c{&a, lse, dsum.data(), dout, dq, dk, dv};
  if (heads >= omp_get_max_threads()) {
    // One pass per head: every gradient of the head belongs to one thread.
#pragma omp parallel
    {
      std::vector<float> s(kBr * kBc), dp(kBr * kBc);
#pragma omp for schedule(dynamic, 1)
      for (int64_t bh = 0; bh < heads; ++bh)
        for (int64_t j = 0; j < ct; ++j)
          for (int64_t i = 0; i < rt; ++i) backward_pair(c, bh, i * kBr, j * kBc, s.data(), dp.data());
    }
    return;
  }
  // Few heads: dK, dV in parallel over key tiles, then dQ over query tiles (recomputing P).
  BackwardCtx kv = c, qq = c;
  kv.dq = nullptr;
  qq.dk = qq.dv = nullptr;
#pragma omp parallel
  {
    std::vector<float> s(kBr * kBc), dp(kBr * kBc);
    if (dk || dv) {
#pragma omp for schedule(dynamic, 1)
      for (int64_t t = 0; t < heads * ct; ++t)
        for (int64_t i = 0; i < rt; ++i)
          backward_pair(kv, t / ct, i * kBr, (t % ct) * kBc, s.data(), dp.data());
    }
    if (dq) {
#pragma omp for schedule(dynamic, 1)
      for (int64_t t = 0; t < heads * rt; ++t)
        for (int64_t j = 0; j < ct; ++j)
          backward_pair(qq, t / rt, (t % rt) * kBr, j * kBc, s.data(), dp.data());
    }
  }
}

namespace {

template <class T> bool masked(const MeaArgs<T>& a, int64_t b, int64_t i, int64_t j) {
  return (a.causal && j > i) || (a.kpm && a.kpm[b * a.S + j]);
}

}  // namespace

template <class T> void mea_forward_ref(const MeaArgs<T>& a, T* o, T* lse) {
  std::vector<double> p(a.S);
  for (int64_t bh = 0; bh < a.B * a.NH; ++bh)
    for (int64_t i = 0; i < a.L; ++i) {
      const int64_t b = bh / a.NH;
      const T* q = a.q + (bh * a.L + i) * a.E;
      double mx = -INFINITY;
      for (int64_t j = 0; j < a.S; ++j) {
        if (masked(a, b, i, j)) continue;
        const T* k = a.k + (bh * a.S + j) * a.E;
        double d = 0.0;
        for (int64_t e = 0; e < a.E; ++e) d += static_cast<double>(q[e]) * k[e];
        p[j] = d * static_cast<double>(a.scale);
        mx = std::max(mx, p[j]);
      }
      double z = 0.0;
      for (int64_t j = 0; j < a.S; ++j)
        z += p[j] = masked(a, b, i, j) ? 0.0 : std::exp(p[j] - mx);
      T* oi = o + (bh * a.L + i) * a.Ev;
      for (int64_t e = 0; e < a.Ev; ++e) {
        double acc = 0.0;
        for (int64_t j = 0; j < a.S; ++j) acc += p[j] * a.v[(bh * a.S + j) * a.Ev + e];
        oi[e] = static_cast<T>(z > 0.0 ? acc / z : 0.0);
      }
      lse[bh * a.L + i] = static_cast<T>(z > 0.0 ? mx + std::log(z) : -INFINITY);
    }
}

template <class T>
void mea_backward_ref(const MeaArgs<T>& a, const T* o, const T* lse, const T* dout, T* dq, T* dk,
                      T* dv) {
  std::vector<double> gq(a.E), gk(a.S * a.E), gv(a.S * a.Ev);
  for (int64_t bh = 0; bh < a.B * a.NH; ++bh) {
    const int64_t b = bh / a.NH;
    std::fill(gk.begin(), gk.end(), 0.0);
    std::fill(gv.begin(), gv.end(), 0.0);
    for (int64_t i = 0; i < a.L; ++i) {
      const T* q = a.q + (bh * a.L + i) * a.E;
      const T* go = dout + (bh * a.L + i) * a.Ev;
      const T* oi = o + (bh * a.L + i) * a.Ev;
      const double l = static_cast<double>(lse[bh * a.L + i]);
      double dsum = 0.0;
      for (int64_t e = 0; e < a.Ev; ++e) dsum += static_cast<double>(go[e]) * oi[e];
      std::fill(gq.begin(), gq.end(), 0.0);
      for (int64_t j = 0; j < a.S && l != -INFINITY; ++j) {
        if (masked(a, b, i, j)) continue;
        const T* k = a.k + (bh * a.S + j) * a.E;
        const T* v = a.v + (bh * a.S + j) * a.Ev;
        double d = 0.0, dp = 0.0;
        for (int64_t e = 0; e < a.E; ++e) d += static_cast<double>(q[e]) * k[e];
        const double p = std::exp(d * static_cast<double>(a.scale) - l);
        for (int64_t e = 0; e < a.Ev; ++e) {
          dp += static_cast<double>(go[e]) * v[e];
          gv[j * a.Ev + e] += p * go[e];
        }
        const double ds = p * (dp - dsum) * static_cast<double>(a.scale);
        for (int64_t e = 0; e < a.E; ++e) {
          gq[e] += ds * k[e];
          gk[j * a.E + e] += ds * q[e];
        }
      }
      if (dq)
        for (int64_t e = 0; e < a.E; ++e) dq[(bh * a.L + i) * a.E + e] = static_cast<T>(gq[e]);
    }
    if (dk)
      for (int64_t x = 0; x < a.S * a.E; ++x) dk[bh * a.S * a.E + x] = static_cast<T>(gk[x]);
    if (dv)
      for (int64_t x = 0; x < a.S * a.Ev; ++x) dv[bh * a.S * a.Ev + x] = static_cast<T>(gv[x]);
  }
}

template void mea_forward_ref<float>(const MeaArgs<float>&, float*, float*);
template void mea_forward_ref<double>(const MeaArgs<double>&, double*, double*);
template void mea_backward_ref<float>(const MeaArgs<float>&, const float*, const float*,
                                      const float*, float*, float*, float*);
template void mea_backward_ref<double>(const MeaArgs<double>&, const double*, const double*,
                                       const double*, double*, double*, double*);

}  // namespace cf::ops::cpu
