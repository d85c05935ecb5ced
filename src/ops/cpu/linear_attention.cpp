#include <omp.h>

#include <algorithm>
#include <vector>

#include "ops/cpu/gemm.h"
#include "ops/cpu/vec.h"
#include "ops/linear_attention.h"

namespace cf::ops::cpu {
namespace {

constexpr int64_t kChunk = 64;  // positions per causal chunk: the tril blocks are kChunk^2
// The loops over (batch, head) always open a parallel region, even for one head, so the many
// small GEMMs inside run single-threaded instead of each forking the backend's threads.

float dot(const float* x, const float* y, int64_t n) {
  constexpr int kW = VecF::kWidth;
  VecF acc(0.0f);
  int64_t i = 0;
  for (; i + kW <= n; i += kW) acc = VecF::fma(VecF::load(x + i), VecF::load(y + i), acc);
  if (i < n) {
    const int r = static_cast<int>(n - i);
    acc = VecF::fma(VecF::load(x + i, r), VecF::load(y + i, r), acc);
  }
  return acc.reduce_add();
}

// y += s * x
void axpy(float s, const float* x, float* y, int64_t n) {
  constexpr int kW = VecF::kWidth;
  const VecF vs(s);
  int64_t i = 0;
  for (; i + kW <= n; i += kW) VecF::fma(vs, VecF::load(x + i), VecF::load(y + i)).store(y + i);
  if (i < n) {
    const int r = static_cast<int>(n - i);
    VecF::fma(vs, VecF::load(x + i, r), VecF::load(y + i, r)).store(y + i, r);
  }
}

void scale_row(float s, float* y, int64_t n) {
  constexpr int kW = VecF::kWidth;
  const VecF vs(s);
  int64_t i = 0;
  for (; i + kW <= n; i += kW) (VecF::load(y + i) * vs).store(y + i);
  if (i < n) {
    const int r = static_cast<int>(n - i);
    (VecF::load(y + i, r) * vs).store(y + i, r);
  }
}

// z += sum of the n rows of x (n, M).
void add_colsum(const float* x, int64_t n, int64_t M, float* z) {
  for (int64_t r = 0; r < n; ++r) axpy(1.0f, x + r * M, z, M);
}

void zero_upper(float* a, int64_t n) {
  for (int64_t r = 0; r < n; ++r) std::fill(a + r * n + r + 1, a + (r + 1) * n, 0.0f);
}

// dnum = g / den and dden = -(g . out) / den for n rows.
void upstream(const float* g, const float* out, const float* den, int64_t n, int64_t Ev,
              float* dn, float* dd) {
  for (int64_t r = 0; r < n; ++r) {
    const float inv = 1.0f / den[r];
    dd[r] = -dot(g + r * Ev, out + r * Ev, Ev) * inv;
    std::copy(g + r * Ev, g + (r + 1) * Ev, dn + r * Ev);
    scale_row(inv, dn + r * Ev, Ev);
  }
}

// A = tril(dn v^T + dd 1^T) over one chunk of n positions.
void chunk_grad_scores(const float* dn, const float* dd, const float* v, int64_t n, int64_t Ev,
                       float* a) {
  gemm(false, true, n, n, Ev, 1.0f, dn, Ev, v, Ev, 0.0f, a, n);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c <= r; ++c) a[r * n + c] += dd[r];
  zero_upper(a, n);
}

// The state S (M, Ev) then z (M), to and from a (M Ev + M) block.
void save_state(const std::vector<float>& st, const std::vector<float>& z, float* state) {
  std::copy(z.begin(), z.end(), std::copy(st.begin(), st.end(), state));
}

void load_state(const float* state, std::vector<float>& st, std::vector<float>& z) {
  std::copy(state + st.size(), state + st.size() + z.size(), z.begin());
  std::copy(state, state + st.size(), st.begin());
}

}  // namespace

void linear_attention_forward(const LinearAttentionArgs<float>& a) {
  const int64_t L = a.L, S = a.S, M = a.M, Ev = a.Ev;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t bh = 0; bh < a.BH; ++bh) {
    const float* q = a.q + bh * L * M;
    const float* k = a.k + bh * S * M;
    const float* v = a.v + bh * S * Ev;
    float* o = a.out + bh * L * Ev;
    float* den = a.den + bh * L;
    std::vector<float> st(M * Ev, 0.0f), z(M, 0.0f), sc(kChunk * kChunk);
    if (!a.causal) {
      if (S > 0) gemm(true, false, M, Ev, S, 1.0f, k, M, v, Ev, 0.0f, st.data(), Ev);
      add_colsum(k, S, M, z.data());
      if (a.state) save_state(st, z, a.state + bh * (M * Ev + M));
      if (L > 0) gemm(false, false, L, Ev, M, 1.0f, q, M, st.data(), Ev, 0.0f, o, Ev);
      for (int64_t i = 0; i < L; ++i) {
        den[i] = dot(q + i * M, z.data(), M);
        scale_row(1.0f / den[i], o + i * Ev, Ev);
      }
      continue;
    }
    for (int64_t c0 = 0; c0 < L; c0 += kChunk) {
      const int64_t n = std::min(kChunk, L - c0);
      const float *qc = q + c0 * M, *kc = k + c0 * M, *vc = v + c0 * Ev;
      float* oc = o + c0 * Ev;
      gemm(false, true, n, n, M, 1.0f, qc, M, kc, M, 0.0f, sc.data(), n);
      zero_upper(sc.data(), n);
      gemm(false, false, n, Ev, M, 1.0f, qc, M, st.data(), Ev, 0.0f, oc, Ev);
      gemm(false, false, n, Ev, n, 1.0f, sc.data(), n, vc, Ev, 1.0f, oc, Ev);
      for (int64_t r = 0; r < n; ++r) {
        float d = dot(qc + r * M, z.data(), M);
        for (int64_t c = 0; c <= r; ++c) d += sc[r * n + c];
        den[c0 + r] = d;
        scale_row(1.0f / d, oc + r * Ev, Ev);
      }
      gemm(true, false, M, Ev, n, 1.0f, kc, M, vc, Ev, 1.0f, st.data(), Ev);
      add_colsum(kc, n, M, z.data());
    }
  }
}

void linear_attention_backward(const LinearAttentionArgs<float>& a, const float* dout, float* dq,
                               float* dk, float* dv, float* ws) {
  const int64_t L = a.L, S = a.S, M = a.M, Ev = a.Ev;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t bh = 0; bh < a.BH; ++bh) {
    const float* q = a.q + bh * L * M;
    const float* k = a.k + bh * S * M;
    const float* v = a.v + bh * S * Ev;
    const float* o = a.out + bh * L * Ev;
    const float* den = a.den + bh * L;
    const float* g = dout + bh * L * Ev;
    float* gq = dq + bh * L * M;
    float* gk = dk + bh * S * M;
    float* gv = dv + bh * S * Ev;
    std::vector<float> st(M * Ev, 0.0f), z(M, 0.0f);
    float* dn = ws + bh * L * (Ev + 1);  // (L, Ev) dnum, then (L) dden
    float* dd = dn + L * Ev;
    upstream(g, o, den, L, Ev, dn, dd);
    if (!a.causal) {
      load_state(a.state + bh * (M * Ev + M), st, z);
      if (L > 0) gemm(false, true, L, M, Ev, 1.0f, dn, Ev, st.data(), Ev, 0.0f, gq, M);
      for (int64_t i = 0; i < L; ++i) axpy(dd[i], z.data(), gq + i * M, M);
      // G = q^T dn (in st), h = q^T dd (in z)
      std::fill(z.begin(), z.end(), 0.0f);
      if (L > 0) gemm(true, false, M, Ev, L, 1.0f, q, M, dn, Ev, 0.0f, st.data(), Ev);
      else std::fill(st.begin(), st.end(), 0.0f);
      for (int64_t i = 0; i < L; ++i) axpy(dd[i], q + i * M, z.data(), M);
      if (S > 0) {
        gemm(false, true, S, M, Ev, 1.0f, v, Ev, st.data(), Ev, 0.0f, gk, M);
        gemm(false, false, S, Ev, M, 1.0f, k, M, st.data(), Ev, 0.0f, gv, Ev);
      }
      for (int64_t j = 0; j < S; ++j) axpy(1.0f, z.data(), gk + j * M, M);
      continue;
    }
    std::vector<float> ag(kChunk * kChunk), sc(kChunk * kChunk);
    // Forward sweep: dq with the running (S, z) of the earlier chunks.
    for (int64_t c0 = 0; c0 < L; c0 += kChunk) {
      const int64_t n = std::min(kChunk, L - c0);
      const float *kc = k + c0 * M, *vc = v + c0 * Ev, *dnc = dn + c0 * Ev;
      float* gqc = gq + c0 * M;
      chunk_grad_scores(dnc, dd + c0, vc, n, Ev, ag.data());
      gemm(false, true, n, M, Ev, 1.0f, dnc, Ev, st.data(), Ev, 0.0f, gqc, M);
      for (int64_t r = 0; r < n; ++r) axpy(dd[c0 + r], z.data(), gqc + r * M, M);
      gemm(false, false, n, M, n, 1.0f, ag.data(), n, kc, M, 1.0f, gqc, M);
      gemm(true, false, M, Ev, n, 1.0f, kc, M, vc, Ev, 1.0f, st.data(), Ev);
      add_colsum(kc, n, M, z.data());
    }
    // Reverse sweep: dk, dv with G = sum q^T dn and h = sum q^T dd over the later chunks.
    std::fill(st.begin(), st.end(), 0.0f);
    std::fill(z.begin(), z.end(), 0.0f);
    for (int64_t c0 = ((L - 1) / kChunk) * kChunk; c0 >= 0 && L > 0; c0 -= kChunk) {
      const int64_t n = std::min(kChunk, L - c0);
      const float *qc = q + c0 * M, *kc = k + c0 * M, *vc = v + c0 * Ev, *dnc = dn + c0 * Ev;
      float* gkc = gk + c0 * M;
      float* gvc = gv + c0 * Ev;
      chunk_grad_scores(dnc, dd + c0, vc, n, Ev, ag.data());
      gemm(false, true, n, n, M, 1.0f, qc, M, kc, M, 0.0f, sc.data(), n);
      zero_upper(sc.data(), n);
      gemm(false, true, n, M, Ev, 1.0f, vc, Ev, st.data(), Ev, 0.0f, gkc, M);
      for (int64_t r = 0; r < n; ++r) axpy(1.0f, z.data(), gkc + r * M, M);
      gemm(true, false, n, M, n, 1.0f, ag.data(), n, qc, M, 1.0f, gkc, M);
      gemm(false, false, n, Ev, M, 1.0f, kc, M, st.data(), Ev, 0.0f, gvc, Ev);
      gemm(true, false, n, Ev, n, 1.0f, sc.data(), n, dnc, Ev, 1.0f, gvc, Ev);
      gemm(true, false, M, Ev, n, 1.0f, qc, M, dnc, Ev, 1.0f, st.data(), Ev);
      for (int64_t r = 0; r < n; ++r) axpy(dd[c0 + r], qc + r * M, z.data(), M);
    }
  }
}

template <class T> void linear_attention_forward_ref(const LinearAttentionArgs<T>& a) {
  std::vector<double> num(a.Ev);
  for (int64_t bh = 0; bh < a.BH; ++bh)
    for (int64_t i = 0; i < a.L; ++i) {
      const T* q = a.q + (bh * a.L + i) * a.M;
      const int64_t valid = a.causal ? std::min(i + 1, a.S) : a.S;
      std::fill(num.begin(), num.end(), 0.0);
      double den = 0.0;
      for (int64_t j = 0; j < valid; ++j) {
        const T* k = a.k + (bh * a.S + j) * a.M;
        const T* v = a.v + (bh * a.S + j) * a.Ev;
        double s = 0.0;
        for (int64_t f = 0; f < a.M; ++f) s += static_cast<double>(q[f]) * k[f];
        den += s;
        for (int64_t e = 0; e < a.Ev; ++e) num[e] += s * v[e];
      }
      a.den[bh * a.L + i] = static_cast<T>(den);
      for (int64_t e = 0; e < a.Ev; ++e) a.out[(bh * a.L + i) * a.Ev + e] = static_cast<T>(num[e] / den);
    }
}

template <class T>
void linear_attention_backward_ref(const LinearAttentionArgs<T>& a, const T* dout, T* dq, T* dk,
                                   T* dv) {
  std::vector<double> gq(a.L * a.M), gk(a.S * a.M), gv(a.S * a.Ev), dn(a.Ev);
  for (int64_t bh = 0; bh < a.BH; ++bh) {
    std::fill(gq.begin(), gq.end(), 0.0);
    std::fill(gk.begin(), gk.end(), 0.0);
    std::fill(gv.begin(), gv.end(), 0.0);
    for (int64_t i = 0; i < a.L; ++i) {
      const T* q = a.q + (bh * a.L + i) * a.M;
      const T* g = dout + (bh * a.L + i) * a.Ev;
      const T* o = a.out + (bh * a.L + i) * a.Ev;
      const double den = a.den[bh * a.L + i];
      double dd = 0.0;
      for (int64_t e = 0; e < a.Ev; ++e) {
        dn[e] = g[e] / den;
        dd -= static_cast<double>(g[e]) * o[e] / den;
      }
      const int64_t valid = a.causal ? std::min(i + 1, a.S) : a.S;
      for (int64_t j = 0; j < valid; ++j) {
        const T* k = a.k + (bh * a.S + j) * a.M;
        const T* v = a.v + (bh * a.S + j) * a.Ev;
        double s = 0.0, coef = dd;
        for (int64_t f = 0; f < a.M; ++f) s += static_cast<double>(q[f]) * k[f];
        for (int64_t e = 0; e < a.Ev; ++e) {
          coef += dn[e] * v[e];
          gv[j * a.Ev + e] += s * dn[e];
        }
        for (int64_t f = 0; f < a.M; ++f) {
          gq[i * a.M + f] += coef * k[f];
          gk[j * a.M + f] += coef * q[f];
        }
      }
    }
    for (int64_t x = 0; x < a.L * a.M; ++x) dq[bh * a.L * a.M + x] = static_cast<T>(gq[x]);
    for (int64_t x = 0; x < a.S * a.M; ++x) dk[bh * a.S * a.M + x] = static_cast<T>(gk[x]);
    for (int64_t x = 0; x < a.S * a.Ev; ++x) dv[bh * a.S * a.Ev + x] = static_cast<T>(gv[x]);
  }
}

template void linear_attention_forward_ref<float>(const LinearAttentionArgs<float>&);
template void linear_attention_forward_ref<double>(const LinearAttentionArgs<double>&);
template void linear_attention_backward_ref<float>(const LinearAttentionArgs<float>&, const float*,
                                                   float*, float*, float*);
template void linear_attention_backward_ref<double>(const LinearAttentionArgs<double>&,
                                                    const double*, double*, double*, double*);

}  // namespace cf::ops::cpu
