#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/block_sparse_attention.h"
#include "ops/cpu/gemm.h"
#include "ops/cpu/vec.h"

namespace cf::ops::cpu {
namespace {

// Where the probabilities of query block qb of (b, h) start, and their row width n_qb * bs.
template <class T>
T* block_row(const BlockSparseArgs<T>& a, T* base, int64_t b, int64_t h, int64_t qb, int64_t* width) {
  const int64_t* rp = a.row_ptr + (a.LH == 1 ? 0 : h) * (a.NQ + 1);
  *width = (rp[qb + 1] - rp[qb]) * a.bs;
  return base + b * a.p_batch + a.p_head[h] + (rp[qb] - rp[0]) * a.bs * a.bs;
}

inline bool key_masked(const bool* pad, bool causal, int64_t i, int64_t j) {
  return (causal && j > i) || (pad != nullptr && pad[j]);
}

// Scores of one (rq, bs) block at rows i0.., keys j0..: -inf for keys past S (columns >= ck),
// padded keys (pad: the batch element's (S) mask, or null) and, when causal, keys after the
// query.
void mask_block(float* blk, int64_t W, int64_t rq, int64_t ck, int64_t bs, int64_t i0, int64_t j0,
                const bool* pad, bool causal) {
  const bool diag = causal && j0 + ck - 1 > i0;
  if (pad == nullptr && !diag && ck == bs) return;
  for (int64_t r = 0; r < rq; ++r) {
    float* row = blk + r * W;
    for (int64_t c = 0; c < bs; ++c)
      if (c >= ck || key_masked(pad, causal, i0 + r, j0 + c)) row[c] = -INFINITY;
  }
}

// A stable softmax in place over a row of W scores; masked scores are -inf and give exactly 0;
// a row with no finite score becomes all zeros.
void softmax_row(float* row, int64_t W) {
  constexpr int kW = VecF::kWidth;
  const VecF ninf(-INFINITY), zero(0.0f);
  VecF m(-INFINITY);
  int64_t j = 0;
  for (; j + kW <= W; j += kW) m = VecF::max(m, VecF::load(row + j));
  if (j < W) m = VecF::max(m, VecF::load(row + j, static_cast<int>(W - j), -INFINITY));
  const float mx = m.reduce_max();
  if (mx == -INFINITY) {
    std::fill(row, row + W, 0.0f);
    return;
  }
  const VecF vmx(mx);
  VecF s(0.0f);
  for (j = 0; j + kW <= W; j += kW) {
    const VecF x = VecF::load(row + j);
    const VecF e = VecF::select_gt(x, ninf, VecF::exp(x - vmx), zero);
    e.store(row + j);
    s = s + e;
  }
  if (j < W) {
    const int n = static_cast<int>(W - j);
    const VecF x = VecF::load(row + j, n, -INFINITY);
    const VecF e = VecF::select_gt(x, ninf, VecF::exp(x - vmx), zero);
    e.store(row + j, n);
    s = s + e;
  }
  const VecF inv(1.0f / s.reduce_add());
  for (j = 0; j + kW <= W; j += kW) (VecF::load(row + j) * inv).store(row + j);
  if (j < W) {
    const int n = static_cast<int>(W - j);
    (VecF::load(row + j, n) * inv).store(row + j, n);
  }
}

// dS = P * (dP - rowsum(dP * P)) * scale, in place over dP.
void softmax_backward_row(const float* p, float* dp, int64_t W, float scale) {
  constexpr int kW = VecF::kWidth;
  VecF acc(0.0f);
  int64_t j = 0;
  for (; j + kW <= W; j += kW) acc = VecF::fma(VecF::load(p + j), VecF::load(dp + j), acc);
  if (j < W) {
    const int n = static_cast<int>(W - j);
    acc = VecF::fma(VecF::load(p + j, n), VecF::load(dp + j, n), acc);
  }
  const VecF dot(acc.reduce_add()), sc(scale);
  for (j = 0; j + kW <= W; j += kW)
    (VecF::load(p + j) * (VecF::load(dp + j) - dot) * sc).store(dp + j);
  if (j < W) {
    const int n = static_cast<int>(W - j);
    (VecF::load(p + j, n) * (VecF::load(dp + j, n) - dot) * sc).store(dp + j, n);
  }
}

}  // namespace

void block_sparse_attention_forward(const BlockSparseArgs<float>& a, float* out) {
  const int64_t tasks = a.B * a.H * a.NQ;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t qb = t % a.NQ, bh = t / a.NQ, b = bh / a.H, h = bh % a.H;
    const int64_t* rp = a.row_ptr + (a.LH == 1 ? 0 : h) * (a.NQ + 1);
    int64_t W = 0;
    float* P = block_row(a, a.p, b, h, qb, &W);
    const int64_t n = rp[qb + 1] - rp[qb];
    const int64_t i0 = qb * a.bs, rq = std::min(a.bs, a.L - i0);
    const float* q = a.q + (bh * a.L + i0) * a.E;
    float* o = out + (bh * a.L + i0) * a.Ev;
    const bool* pad = a.pad != nullptr ? a.pad + b * a.S : nullptr;
    if (n == 0) {
      std::fill(o, o + rq * a.Ev, 0.0f);
      continue;
    }
    for (int64_t x = 0; x < n; ++x) {
      const int64_t j0 = a.cols[rp[qb] + x] * a.bs, ck = std::min(a.bs, a.S - j0);
      gemm(false, true, rq, ck, a.E, a.scale, q, a.E, a.k + (bh * a.S + j0) * a.E, a.E, 0.0f,
           P + x * a.bs, W);
      mask_block(P + x * a.bs, W, rq, ck, a.bs, i0, j0, pad, a.causal);
    }
    for (int64_t r = 0; r < rq; ++r) softmax_row(P + r * W, W);
    for (int64_t x = 0; x < n; ++x) {
      const int64_t j0 = a.cols[rp[qb] + x] * a.bs, ck = std::min(a.bs, a.S - j0);
      gemm(false, false, rq, a.Ev, ck, 1.0f, P + x * a.bs, W, a.v + (bh * a.S + j0) * a.Ev, a.Ev,
           x == 0 ? 0.0f : 1.0f, o, a.Ev);
    }
  }
}

void block_sparse_attention_backward(const BlockSparseArgs<float>& a, const float* dout,
                                     float* dq, float* dk, float* dv, float* ds) {
  // Pass 1, per query block: dS (kept in ds, laid out like P) and dQ.
  const int64_t qtasks = a.B * a.H * a.NQ;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t t = 0; t < qtasks; ++t) {
    const int64_t qb = t % a.NQ, bh = t / a.NQ, b = bh / a.H, h = bh % a.H;
    const int64_t* rp = a.row_ptr + (a.LH == 1 ? 0 : h) * (a.NQ + 1);
    int64_t W = 0;
    const float* P = block_row(a, a.p, b, h, qb, &W);
    float* dS = block_row(a, ds, b, h, qb, &W);
    const int64_t n = rp[qb + 1] - rp[qb];
    const int64_t i0 = qb * a.bs, rq = std::min(a.bs, a.L - i0);
    const float* go = dout + (bh * a.L + i0) * a.Ev;
    float* gq = dq + (bh * a.L + i0) * a.E;
    if (n == 0) {
      std::fill(gq, gq + rq * a.E, 0.0f);
      continue;
    }
    for (int64_t x = 0; x < n; ++x) {
      const int64_t j0 = a.cols[rp[qb] + x] * a.bs, ck = std::min(a.bs, a.S - j0);
      float* blk = dS + x * a.bs;
      gemm(false, true, rq, ck, a.Ev, 1.0f, go, a.Ev, a.v + (bh * a.S + j0) * a.Ev, a.Ev, 0.0f,
           blk, W);
      if (ck < a.bs)
        for (int64_t r = 0; r < rq; ++r) std::fill(blk + r * W + ck, blk + r * W + a.bs, 0.0f);
    }
    for (int64_t r = 0; r < rq; ++r) softmax_backward_row(P + r * W, dS + r * W, W, a.scale);
    for (int64_t x = 0; x < n; ++x) {
      const int64_t j0 = a.cols[rp[qb] + x] * a.bs, ck = std::min(a.bs, a.S - j0);
      gemm(false, false, rq, a.E, ck, 1.0f, dS + x * a.bs, W, a.k + (bh * a.S + j0) * a.E, a.E,
           x == 0 ? 0.0f : 1.0f, gq, a.E);
    }
  }
  // Pass 2, per key block, over the query blocks that attend it: dV and dK.
  const int64_t ktasks = a.B * a.H * a.NK;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t t = 0; t < ktasks; ++t) {
    const int64_t kb = t % a.NK, bh = t / a.NK, b = bh / a.H, h = bh % a.H;
    const int64_t lh = a.LH == 1 ? 0 : h;
    const int64_t* rp = a.row_ptr + lh * (a.NQ + 1);
    const int64_t* cp = a.col_ptr + lh * (a.NK + 1);
    const int64_t j0 = kb * a.bs, ck = std::min(a.bs, a.S - j0);
    float* gk = dk + (bh * a.S + j0) * a.E;
    float* gv = dv + (bh * a.S + j0) * a.Ev;
    if (cp[kb + 1] == cp[kb]) {
      std::fill(gk, gk + ck * a.E, 0.0f);
      std::fill(gv, gv + ck * a.Ev, 0.0f);
      continue;
    }
    for (int64_t e = cp[kb]; e < cp[kb + 1]; ++e) {
      const int64_t qb = a.entry_row[e], x = a.entries[e] - rp[qb];
      int64_t W = 0;
      const float* P = block_row(a, a.p, b, h, qb, &W) + x * a.bs;
      const float* dS = block_row(a, ds, b, h, qb, &W) + x * a.bs;
      const int64_t i0 = qb * a.bs, rq = std::min(a.bs, a.L - i0);
      const float beta = e == cp[kb] ? 0.0f : 1.0f;
      gemm(true, false, ck, a.Ev, rq, 1.0f, P, W, dout + (bh * a.L + i0) * a.Ev, a.Ev, beta, gv,
           a.Ev);
      gemm(true, false, ck, a.E, rq, 1.0f, dS, W, a.q + (bh * a.L + i0) * a.E, a.E, beta, gk, a.E);
    }
  }
}

template <class T> void block_sparse_attention_forward_ref(const BlockSparseArgs<T>& a, T* out) {
  for (int64_t b = 0; b < a.B; ++b)
    for (int64_t h = 0; h < a.H; ++h) {
      const int64_t bh = b * a.H + h;
      const int64_t* rp = a.row_ptr + (a.LH == 1 ? 0 : h) * (a.NQ + 1);
      const bool* pad = a.pad != nullptr ? a.pad + b * a.S : nullptr;
      for (int64_t qb = 0; qb < a.NQ; ++qb) {
        int64_t W = 0;
        T* P = block_row(a, a.p, b, h, qb, &W);
        std::vector<double> s(W);
        for (int64_t i = qb * a.bs; i < std::min(a.L, (qb + 1) * a.bs); ++i) {
          const T* q = a.q + (bh * a.L + i) * a.E;
          double mx = -INFINITY;
          for (int64_t c = 0; c < W; ++c) {
            const int64_t j = a.cols[rp[qb] + c / a.bs] * a.bs + c % a.bs;
            s[c] = -INFINITY;
            if (j >= a.S || key_masked(pad, a.causal, i, j)) continue;
            double d = 0.0;
            for (int64_t e = 0; e < a.E; ++e)
              d += static_cast<double>(q[e]) * a.k[(bh * a.S + j) * a.E + e];
            s[c] = d * static_cast<double>(a.scale);
            mx = std::max(mx, s[c]);
          }
          double z = 0.0;
          for (int64_t c = 0; c < W; ++c) z += (s[c] = mx == -INFINITY || s[c] == -INFINITY ? 0.0 : std::exp(s[c] - mx));
          T* prow = P + (i - qb * a.bs) * W;
          for (int64_t c = 0; c < W; ++c) prow[c] = static_cast<T>(z > 0.0 ? s[c] / z : 0.0);
          T* o = out + (bh * a.L + i) * a.Ev;
          for (int64_t e = 0; e < a.Ev; ++e) {
            double acc = 0.0;
            for (int64_t c = 0; c < W; ++c) {
              if (s[c] == 0.0) continue;
              const int64_t j = a.cols[rp[qb] + c / a.bs] * a.bs + c % a.bs;
              acc += s[c] / z * a.v[(bh * a.S + j) * a.Ev + e];
            }
            o[e] = static_cast<T>(acc);
          }
        }
      }
    }
}

template <class T>
void block_sparse_attention_backward_ref(const BlockSparseArgs<T>& a, const T* dout, T* dq, T* dk,
                                         T* dv) {
  std::vector<double> gq(a.L * a.E), gk(a.S * a.E), gv(a.S * a.Ev);
  for (int64_t b = 0; b < a.B; ++b)
    for (int64_t h = 0; h < a.H; ++h) {
      const int64_t bh = b * a.H + h;
      const int64_t* rp = a.row_ptr + (a.LH == 1 ? 0 : h) * (a.NQ + 1);
      std::fill(gq.begin(), gq.end(), 0.0);
      std::fill(gk.begin(), gk.end(), 0.0);
      std::fill(gv.begin(), gv.end(), 0.0);
      for (int64_t qb = 0; qb < a.NQ; ++qb) {
        int64_t W = 0;
        const T* P = block_row(a, a.p, b, h, qb, &W);
        std::vector<double> dp(W);
        for (int64_t i = qb * a.bs; i < std::min(a.L, (qb + 1) * a.bs); ++i) {
          const T* prow = P + (i - qb * a.bs) * W;
          const T* go = dout + (bh * a.L + i) * a.Ev;
          double dot = 0.0;
          for (int64_t c = 0; c < W; ++c) {
            const int64_t j = a.cols[rp[qb] + c / a.bs] * a.bs + c % a.bs;
            dp[c] = 0.0;
            if (j >= a.S) continue;
            for (int64_t e = 0; e < a.Ev; ++e)
              dp[c] += static_cast<double>(go[e]) * a.v[(bh * a.S + j) * a.Ev + e];
            dot += dp[c] * prow[c];
          }
          for (int64_t c = 0; c < W; ++c) {
            const int64_t j = a.cols[rp[qb] + c / a.bs] * a.bs + c % a.bs;
            if (j >= a.S || prow[c] == T(0)) continue;
            const double p = prow[c], dsc = p * (dp[c] - dot) * static_cast<double>(a.scale);
            for (int64_t e = 0; e < a.E; ++e) {
              gq[i * a.E + e] += dsc * a.k[(bh * a.S + j) * a.E + e];
              gk[j * a.E + e] += dsc * a.q[(bh * a.L + i) * a.E + e];
            }
            for (int64_t e = 0; e < a.Ev; ++e) gv[j * a.Ev + e] += p * go[e];
          }
        }
      }
      for (int64_t x = 0; x < a.L * a.E; ++x) dq[bh * a.L * a.E + x] = static_cast<T>(gq[x]);
      for (int64_t x = 0; x < a.S * a.E; ++x) dk[bh * a.S * a.E + x] = static_cast<T>(gk[x]);
      for (int64_t x = 0; x < a.S * a.Ev; ++x) dv[bh * a.S * a.Ev + x] = static_cast<T>(gv[x]);
    }
}

template void block_sparse_attention_forward_ref<float>(const BlockSparseArgs<float>&, float*);
template void block_sparse_attention_forward_ref<double>(const BlockSparseArgs<double>&, double*);
template void block_sparse_attention_backward_ref<float>(const BlockSparseArgs<float>&,
                                                         const float*, float*, float*, float*);
template void block_sparse_attention_backward_ref<double>(const BlockSparseArgs<double>&,
                                                          const double*, double*, double*,
                                                          double*);

}  // namespace cf::ops::cpu
