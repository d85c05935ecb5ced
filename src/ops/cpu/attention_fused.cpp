#include <cmath>
#include <vector>

#include "ops/attention_fused.h"
#include "ops/cpu/gemm.h"
#include "ops/cpu/parallel.h"
#include "ops/cpu/vec.h"

namespace cf::ops::cpu {
namespace {

// Row i of P (already scaled logits): causal mask, then a stable softmax in place.
void softmax_row(float* row, int64_t S, int64_t valid) {
  constexpr int W = VecF::kWidth;
  VecF m(-INFINITY);
  int64_t j = 0;
  for (; j + W <= valid; j += W) m = VecF::max(m, VecF::load(row + j));
  if (j < valid) m = VecF::max(m, VecF::load(row + j, static_cast<int>(valid - j), -INFINITY));
  const float mx = m.reduce_max();
  const VecF vmx(mx);
  VecF s(0.0f);
  for (j = 0; j + W <= valid; j += W) {
    VecF e = VecF::exp(VecF::load(row + j) - vmx);
    e.store(row + j);
    s = s + e;
  }
  if (j < valid) {
    const int n = static_cast<int>(valid - j);
    VecF e = VecF::exp(VecF::load(row + j, n, -INFINITY) - vmx);
    e.store(row + j, n);
    s = s + e;
  }
  const VecF inv(1.0f / s.reduce_add());
  for (j = 0; j + W <= valid; j += W) (VecF::load(row + j) * inv).store(row + j);
  if (j < valid) (VecF::load(row + j, static_cast<int>(valid - j)) * inv).store(row + j, static_cast<int>(valid - j));
  for (j = valid; j < S; ++j) row[j] = 0.0f;
}

// dS = P * (dP - rowsum(dP * P)) * scale, in place over dP.
void softmax_backward_row(const float* p, float* dp, int64_t S, float scale) {
  constexpr int W = VecF::kWidth;
  VecF acc(0.0f);
  int64_t j = 0;
  for (; j + W <= S; j += W) acc = VecF::fma(VecF::load(p + j), VecF::load(dp + j), acc);
  if (j < S) acc = VecF::fma(VecF::load(p + j, static_cast<int>(S - j)), VecF::load(dp + j, static_cast<int>(S - j)), acc);
  const VecF dot(acc.reduce_add()), sc(scale);
  for (j = 0; j + W <= S; j += W)
    (VecF::load(p + j) * (VecF::load(dp + j) - dot) * sc).store(dp + j);
  if (j < S) {
    const int n = static_cast<int>(S - j);
    (VecF::load(p + j, n) * (VecF::load(dp + j, n) - dot) * sc).store(dp + j, n);
  }
}

}  // namespace

void attention_forward(const AttentionArgs& a) {
  const int64_t heads = a.B * a.NH;
#pragma omp parallel for schedule(dynamic, 1) if (heads > 1)
  for (int64_t bh = 0; bh < heads; ++bh) {
    const int64_t b = bh / a.NH, h = bh % a.NH;
    const float* q = a.q + b * a.qs[0] + h * a.qs[1];
    const float* k = a.k + b * a.ks[0] + h * a.ks[1];
    const float* v = a.v + b * a.vs[0] + h * a.vs[1];
    float* o = a.o + b * a.os[0] + h * a.os[1];
    float* p = a.p + bh * a.L * a.S;
    gemm(false, true, a.L, a.S, a.E, a.scale, q, a.qs[2], k, a.ks[2], 0.0f, p, a.S);
    for (int64_t i = 0; i < a.L; ++i)
      softmax_row(p + i * a.S, a.S, a.causal ? std::min(i + 1, a.S) : a.S);
    gemm(false, false, a.L, a.Ev, a.S, 1.0f, p, a.S, v, a.vs[2], 0.0f, o, a.os[2]);
  }
}

void attention_backward(const AttentionArgs& a, const float* dout, const int64_t* dos, float* dq,
                        const int64_t* dqs, float* dk, const int64_t* dks, float* dv,
                        const int64_t* dvs, float* ws) {
  const int64_t heads = a.B * a.NH;
#pragma omp parallel for schedule(dynamic, 1) if (heads > 1)
  for (int64_t bh = 0; bh < heads; ++bh) {
    const int64_t b = bh / a.NH, h = bh % a.NH;
    const float* q = a.q + b * a.qs[0] + h * a.qs[1];
    const float* k = a.k + b * a.ks[0] + h * a.ks[1];
    const float* v = a.v + b * a.vs[0] + h * a.vs[1];
    const float* p = a.p + bh * a.L * a.S;
    const float* go = dout + b * dos[0] + h * dos[1];
    float* gq = dq + b * dqs[0] + h * dqs[1];
    float* gk = dk + b * dks[0] + h * dks[1];
    float* gv = dv + b * dvs[0] + h * dvs[1];
    float* dp = ws + static_cast<int64_t>(omp_get_thread_num()) * a.L * a.S;
    gemm(true, false, a.S, a.Ev, a.L, 1.0f, p, a.S, go, dos[2], 0.0f, gv, dvs[2]);
    gemm(false, true, a.L, a.S, a.Ev, 1.0f, go, dos[2], v, a.vs[2], 0.0f, dp, a.S);
    for (int64_t i = 0; i < a.L; ++i) softmax_backward_row(p + i * a.S, dp + i * a.S, a.S, a.scale);
    gemm(false, false, a.L, a.E, a.S, 1.0f, dp, a.S, k, a.ks[2], 0.0f, gq, dqs[2]);
    gemm(true, false, a.S, a.E, a.L, 1.0f, dp, a.S, q, a.qs[2], 0.0f, gk, dks[2]);
  }
}

void attention_forward_ref(const AttentionArgs& a) {
  std::vector<double> s(a.S);
  for (int64_t b = 0; b < a.B; ++b)
    for (int64_t h = 0; h < a.NH; ++h)
      for (int64_t i = 0; i < a.L; ++i) {
        const float* q = a.q + b * a.qs[0] + h * a.qs[1] + i * a.qs[2];
        const int64_t valid = a.causal ? std::min(i + 1, a.S) : a.S;
        double mx = -INFINITY;
        for (int64_t j = 0; j < valid; ++j) {
          const float* k = a.k + b * a.ks[0] + h * a.ks[1] + j * a.ks[2];
          double d = 0.0;
          for (int64_t e = 0; e < a.E; ++e) d += static_cast<double>(q[e]) * k[e];
          s[j] = d * a.scale;
          mx = std::max(mx, s[j]);
        }
        double z = 0.0;
        for (int64_t j = 0; j < valid; ++j) z += (s[j] = std::exp(s[j] - mx));
        float* p = a.p + ((b * a.NH + h) * a.L + i) * a.S;
        for (int64_t j = 0; j < a.S; ++j) p[j] = j < valid ? static_cast<float>(s[j] / z) : 0.0f;
        float* o = a.o + b * a.os[0] + h * a.os[1] + i * a.os[2];
        for (int64_t e = 0; e < a.Ev; ++e) {
          double acc = 0.0;
          for (int64_t j = 0; j < valid; ++j)
            acc += s[j] / z * a.v[b * a.vs[0] + h * a.vs[1] + j * a.vs[2] + e];
          o[e] = static_cast<float>(acc);
        }
      }
}

}  // namespace cf::ops::cpu
