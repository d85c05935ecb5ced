// Loss kernels: the fused cross-entropy (two passes over each row of logits in the forward, one
// in the backward), nll gather / scatter, and the pointwise losses.
#include <cmath>
#include <algorithm>

#include "ops/cpu/parallel.h"
#include "ops/cpu/vec.h"
#include "ops/loss.h"

namespace cf::ops::cpu {
namespace {

constexpr int kW = VecF::kWidth;

// The quantities a forward row yields; a column block of the inner > 1 layout yields kW of them.
struct RowStats {
  float max;     // max_c x_c
  float sum;     // sum_c exp(x_c - max)
  float smooth;  // sum_c w_c (max - x_c), only with label smoothing
};

float row_loss(const RowStats& s, float xt, float wt, float wsum, float ls, int64_t C, float* lse) {
  const float log_sum = std::log(s.sum);
  *lse = s.max + log_sum;
  const float nll = *lse - xt;
  if (ls == 0.0f) return wt * nll;
  // sum_c w_c (lse - x_c) = wsum log(sum) + sum_c w_c (max - x_c): no cancellation.
  const float smooth = wsum * log_sum + s.smooth;
  return (1.0f - ls) * wt * nll + ls / static_cast<float>(C) * smooth;
}

// One contiguous row of C logits: a max pass, then an exp pass (the row is in cache by then).
RowStats row_stats(const float* x, const float* w, int64_t C, bool smoothing) {
  VecF vmax(-INFINITY);
  int64_t c = 0;
  for (; c + kW <= C; c += kW) vmax = VecF::max(vmax, VecF::load(x + c));
  if (c < C) vmax = VecF::max(vmax, VecF::load(x + c, static_cast<int>(C - c), -INFINITY));
  const float m = vmax.reduce_max();
  const VecF vm(m);
  VecF s0(0.0f), s1(0.0f), sm(0.0f);
  c = 0;
  if (!smoothing) {
    for (; c + 2 * kW <= C; c += 2 * kW) {
      s0 = s0 + VecF::exp(VecF::load(x + c) - vm);
      s1 = s1 + VecF::exp(VecF::load(x + c + kW) - vm);
    }
    for (; c + kW <= C; c += kW) s0 = s0 + VecF::exp(VecF::load(x + c) - vm);
  } else {
    for (; c + kW <= C; c += kW) {
      const VecF v = VecF::load(x + c);
      s0 = s0 + VecF::exp(v - vm);
      sm = w ? VecF::fma(VecF::load(w + c), vm - v, sm) : sm + (vm - v);
    }
  }
  if (c < C) {
    const int n = static_cast<int>(C - c);
    s1 = s1 + VecF::exp(VecF::load(x + c, n, -INFINITY) - vm);  // padded lanes add exp(-inf) = 0
    if (smoothing) {
      const VecF d = vm - VecF::load(x + c, n, m);  // padded lanes: m - m = 0
      sm = w ? VecF::fma(VecF::load(w + c, n, 0.0f), d, sm) : sm + d;
    }
  }
  return {m, (s0 + s1).reduce_add(), sm.reduce_add()};
}

struct CeConsts {
  float ls, wsum;
};
CeConsts ce_consts(const float* w, int64_t C, double label_smoothing) {
  double wsum = static_cast<double>(C);
  if (w) {
    wsum = 0.0;
    for (int64_t c = 0; c < C; ++c) wsum += w[c];
  }
  return {static_cast<float>(label_smoothing), static_cast<float>(wsum)};
}

void ce_forward_rows(const CrossEntropyArgs<float>& a, CeConsts k) {
  const int64_t C = a.C;
  parallel_for(0, a.N, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(C, 1)),
               [&a, k, C](int64_t b, int64_t e) {
                 for (int64_t r = b; r < e; ++r) {
                   const int64_t t = a.target[r];
                   if (t == a.ignore_index) {
                     a.loss[r] = 0.0f;
                     a.lse[r] = 0.0f;
                     continue;
                   }
                   const float* x = a.x + r * C;
                   const RowStats s = row_stats(x, a.weight, C, k.ls != 0.0f);
                   const float wt = a.weight ? a.weight[t] : 1.0f;
                   a.loss[r] = row_loss(s, x[t], wt, k.wsum, k.ls, C, &a.lse[r]);
                 }
               });
}

// inner > 1: classes are kW-wide column blocks apart by `inner`; vectorize along inner.
void ce_forward_cols(const CrossEntropyArgs<float>& a, CeConsts k) {
  const int64_t C = a.C, inner = a.inner, blocks = (inner + kW - 1) / kW;
  const bool smoothing = k.ls != 0.0f;
  parallel_for(0, a.N * blocks, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(C * kW, 1)),
               [&a, k, C, inner, blocks, smoothing](int64_t b, int64_t e) {
                 for (int64_t task = b; task < e; ++task) {
                   const int64_t o = task / blocks, j0 = (task % blocks) * kW;
                   const int n = static_cast<int>(std::min<int64_t>(kW, inner - j0));
                   const float* x = a.x + o * C * inner + j0;
                   VecF vmax(-INFINITY);
                   for (int64_t c = 0; c < C; ++c)
                     vmax = VecF::max(vmax, VecF::load(x + c * inner, n, -INFINITY));
                   VecF s(0.0f), sm(0.0f);
                   for (int64_t c = 0; c < C; ++c) {
                     const VecF v = VecF::load(x + c * inner, n, 0.0f);
                     s = s + VecF::exp(v - vmax);
                     if (smoothing)
                       sm = VecF::fma(VecF(a.weight ? a.weight[c] : 1.0f), vmax - v, sm);
                   }
                   float mx[kW], sx[kW], smx[kW];
                   vmax.store(mx);
                   s.store(sx);
                   sm.store(smx);
                   for (int l = 0; l < n; ++l) {
                     const int64_t r = o * inner + j0 + l, t = a.target[r];
                     const RowStats st{mx[l], sx[l], smx[l]};
                     float lse;
                     if (t == a.ignore_index) {
                       row_loss(st, 0.0f, 0.0f, k.wsum, k.ls, C, &lse);
                       a.loss[r] = 0.0f;
                     } else {
                       const float wt = a.weight ? a.weight[t] : 1.0f;
                       a.loss[r] = row_loss(st, x[t * inner + l], wt, k.wsum, k.ls, C, &lse);
                     }
                     a.lse[r] =
                         lse;  // also for ignored rows: their backward lanes need a finite lse
                   }
                 }
               });
}

void ce_backward_rows(const CrossEntropyBackwardArgs<float>& a, CeConsts k) {
  const int64_t C = a.C;
  const float lsc = k.ls / static_cast<float>(std::max<int64_t>(C, 1));
  parallel_for(0, a.N, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(C, 1)),
               [&a, k, C, lsc](int64_t b, int64_t e) {
                 for (int64_t r = b; r < e; ++r) {
                   float* dx = a.dx + r * C;
                   const int64_t t = a.target[r];
                   if (t == a.ignore_index) {
                     std::fill(dx, dx + C, 0.0f);
                     continue;
                   }
                   const float* x = a.x + r * C;
                   const float g = static_cast<float>(a.g[r * a.g_stride] * a.g_scale);
                   const float wt = a.weight ? a.weight[t] : 1.0f;
                   const VecF A(g * ((1.0f - k.ls) * wt + lsc * k.wsum)), B(g * lsc), vl(a.lse[r]);
                   int64_t c = 0;
                   for (; c + kW <= C; c += kW) {
                     const VecF p = VecF::exp(VecF::load(x + c) - vl);
                     const VecF bc = a.weight ? B * VecF::load(a.weight + c) : B;
                     (p * A - bc).store(dx + c);
                   }
                   if (c < C) {
                     const int n = static_cast<int>(C - c);
                     const VecF p = VecF::exp(VecF::load(x + c, n, 0.0f) - vl);
                     const VecF bc = a.weight ? B * VecF::load(a.weight + c, n, 0.0f) : B;
                     (p * A - bc).store(dx + c, n);
                   }
                   dx[t] -= g * (1.0f - k.ls) * wt;
                 }
               });
}

void ce_backward_cols(const CrossEntropyBackwardArgs<float>& a, CeConsts k) {
  const int64_t C = a.C, inner = a.inner, blocks = (inner + kW - 1) / kW;
  const float lsc = k.ls / static_cast<float>(std::max<int64_t>(C, 1));
  parallel_for(0, a.N * blocks, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(C * kW, 1)),
               [&a, k, C, inner, blocks, lsc](int64_t b, int64_t e) {
                 for (int64_t task = b; task < e; ++task) {
                   const int64_t o = task / blocks, j0 = (task % blocks) * kW;
                   const int n = static_cast<int>(std::min<int64_t>(kW, inner - j0));
                   const float* x = a.x + o * C * inner + j0;
                   float* dx = a.dx + o * C * inner + j0;
                   float gl[kW] = {}, al[kW] = {};
                   for (int l = 0; l < n; ++l) {
                     const int64_t r = o * inner + j0 + l, t = a.target[r];
                     if (t == a.ignore_index) continue;  // g = A = 0: the lane's gradient is 0
                     const float wt = a.weight ? a.weight[t] : 1.0f;
                     gl[l] = static_cast<float>(a.g[r * a.g_stride] * a.g_scale);
                     al[l] = gl[l] * ((1.0f - k.ls) * wt + lsc * k.wsum);
                   }
                   const VecF A = VecF::load(al), B = VecF::load(gl) * VecF(lsc);
                   const VecF vl = VecF::load(a.lse + o * inner + j0, n, 0.0f);
                   for (int64_t c = 0; c < C; ++c) {
                     const VecF p = VecF::exp(VecF::load(x + c * inner, n, 0.0f) - vl);
                     const VecF bc = a.weight ? B * VecF(a.weight[c]) : B;
                     (p * A - bc).store(dx + c * inner, n);
                   }
                   for (int l = 0; l < n; ++l) {
                     const int64_t t = a.target[o * inner + j0 + l];
                     if (t == a.ignore_index) continue;
                     const float wt = a.weight ? a.weight[t] : 1.0f;
                     dx[t * inner + l] -= gl[l] * (1.0f - k.ls) * wt;
                   }
                 }
               });
}

}  // namespace

void cross_entropy_forward(const CrossEntropyArgs<float>& a) {
  const CeConsts k = ce_consts(a.weight, a.C, a.label_smoothing);
  if (a.inner == 1)
    ce_forward_rows(a, k);
  else
    ce_forward_cols(a, k);
}

void cross_entropy_backward(const CrossEntropyBackwardArgs<float>& a) {
  const CeConsts k = ce_consts(a.weight, a.C, a.label_smoothing);
  if (a.inner == 1)
    ce_backward_rows(a, k);
  else
    ce_backward_cols(a, k);
}

template <class T>
void cross_entropy_forward_ref(const CrossEntropyArgs<T>& a) {
  const int64_t C = a.C, inner = a.inner;
  const double ls = a.label_smoothing;
  auto w = [&a](int64_t c) { return a.weight ? static_cast<double>(a.weight[c]) : 1.0; };
  for (int64_t o = 0; o < a.N; ++o)
    for (int64_t j = 0; j < inner; ++j) {
      const int64_t r = o * inner + j, t = a.target[r];
      const T* x = a.x + o * C * inner + j;
      double m = -INFINITY;
      for (int64_t c = 0; c < C; ++c) m = std::max(m, static_cast<double>(x[c * inner]));
      double s = 0.0;
      for (int64_t c = 0; c < C; ++c) s += std::exp(static_cast<double>(x[c * inner]) - m);
      const double lse = m + std::log(s);
      a.lse[r] = static_cast<T>(lse);
      if (t == a.ignore_index) {
        a.loss[r] = T(0);
        continue;
      }
      double smooth = 0.0;
      for (int64_t c = 0; c < C; ++c) smooth += w(c) * (lse - static_cast<double>(x[c * inner]));
      const double nll = w(t) * (lse - static_cast<double>(x[t * inner]));
      a.loss[r] = static_cast<T>((1.0 - ls) * nll + ls / static_cast<double>(C) * smooth);
    }
}

template <class T>
void cross_entropy_backward_ref(const CrossEntropyBackwardArgs<T>& a) {
  const int64_t C = a.C, inner = a.inner;
  const double ls = a.label_smoothing;
  auto w = [&a](int64_t c) { return a.weight ? static_cast<double>(a.weight[c]) : 1.0; };
  double wsum = 0.0;
  for (int64_t c = 0; c < C; ++c) wsum += w(c);
  for (int64_t o = 0; o < a.N; ++o)
    for (int64_t j = 0; j < inner; ++j) {
      const int64_t r = o * inner + j, t = a.target[r];
      const T* x = a.x + o * C * inner + j;
      T* dx = a.dx + o * C * inner + j;
      if (t == a.ignore_index) {
        for (int64_t c = 0; c < C; ++c) dx[c * inner] = T(0);
        continue;
      }
      const double g = static_cast<double>(a.g[r * a.g_stride]) * a.g_scale;
      const double lse = static_cast<double>(a.lse[r]);
      for (int64_t c = 0; c < C; ++c) {
        const double p = std::exp(static_cast<double>(x[c * inner]) - lse);
        double d = p * ((1.0 - ls) * w(t) + ls / static_cast<double>(C) * wsum) -
                   ls / static_cast<double>(C) * w(c);
        if (c == t) d -= (1.0 - ls) * w(t);
        dx[c * inner] = static_cast<T>(g * d);
      }
    }
}

template <class T>
void nll_loss_forward(const NllLossArgs<T>& a) {
  for (int64_t o = 0; o < a.N; ++o)
    for (int64_t j = 0; j < a.inner; ++j) {
      const int64_t r = o * a.inner + j, t = a.target[r];
      if (t == a.ignore_index) {
        a.loss[r] = T(0);
        continue;
      }
      const T wt = a.weight ? a.weight[t] : T(1);
      a.loss[r] = -wt * a.x[(o * a.C + t) * a.inner + j];
    }
}

template <class T>
void nll_loss_backward(const NllLossBackwardArgs<T>& a) {
  std::fill(a.dx, a.dx + a.N * a.C * a.inner, T(0));
  for (int64_t o = 0; o < a.N; ++o)
    for (int64_t j = 0; j < a.inner; ++j) {
      const int64_t r = o * a.inner + j, t = a.target[r];
      if (t == a.ignore_index) continue;
      const double wt = a.weight ? static_cast<double>(a.weight[t]) : 1.0;
      a.dx[(o * a.C + t) * a.inner + j] =
          static_cast<T>(-wt * static_cast<double>(a.g[r * a.g_stride]) * a.g_scale);
    }
}

template <class T>
double target_weight_sum(const int64_t* target, const T* weight, int64_t rows,
                         int64_t ignore_index) {
  double s = 0.0;
  for (int64_t r = 0; r < rows; ++r)
    if (target[r] != ignore_index) s += weight ? static_cast<double>(weight[target[r]]) : 1.0;
  return s;
}

// ---------------------------------------------------------------- pointwise losses
namespace {

// The element math, shared by the f32 kernel (A = float) and the reference (A = double).
template <PointLoss K, class A>
inline A point_value(A x, A t, A pw, bool has_pw) {
  if constexpr (K == PointLoss::mse) {
    const A d = x - t;
    return d * d;
  } else if constexpr (K == PointLoss::bce) {
    return (t - A(1)) * std::max(std::log(A(1) - x), A(-100)) - t * std::max(std::log(x), A(-100));
  } else if constexpr (K == PointLoss::bce_logits) {
    const A m = std::max(-x, A(0));
    const A softplus_neg = m + std::log(std::exp(-m) + std::exp(-x - m));  // log(1 + exp(-x))
    const A lw = has_pw ? A(1) + (pw - A(1)) * t : A(1);
    return (A(1) - t) * x + lw * softplus_neg;
  } else if constexpr (K == PointLoss::kl_div) {
    return (t == A(0) ? A(0) : t * std::log(t)) - t * x;  // xlogy(t, t) - t x
  } else {
    return std::exp(t) * (t - x);
  }
}

template <class A>
inline A log_sigmoid(A y) {
  return std::min(y, A(0)) - std::log1p(std::exp(-std::abs(y)));
}

// d loss / d x and d loss / d t (without weight and upstream gradient).
template <PointLoss K, class A>
inline void point_grad(A x, A t, A pw, bool has_pw, A* dx, A* dt) {
  if constexpr (K == PointLoss::mse) {
    *dx = A(2) * (x - t);
    *dt = -*dx;
  } else if constexpr (K == PointLoss::bce) {
    *dx = (x - t) / std::max((A(1) - x) * x, A(1e-12));
    *dt = -std::log(x / (A(1) - x));  // -logit(x), as PyTorch
  } else if constexpr (K == PointLoss::bce_logits) {
    const A sig = A(1) / (A(1) + std::exp(-x));
    if (has_pw) {
      *dx = (pw * t + A(1) - t) * sig - pw * t;
      *dt = log_sigmoid(-x) - pw * log_sigmoid(x);
    } else {
      *dx = sig - t;
      *dt = -x;
    }
  } else if constexpr (K == PointLoss::kl_div) {
    *dx = -t;
    // PyTorch differentiates xlogy(t, t): xlogy(t != 0, t) + t / t, which is NaN at t == 0.
    *dt = (t != A(0) ? std::log(t) : A(0)) + t / t - x;
  } else {
    const A e = std::exp(t);
    *dx = -e;
    *dt = e * (t - x + A(1));
  }
}

// Reference loops: the element math in double.
template <PointLoss K, class T>
void point_forward_ref_k(const PointLossArgs<T>& a) {
  const bool has_pw = a.pw != nullptr;
  for (int64_t i = 0; i < a.n; ++i) {
    double v = point_value<K, double>(a.x[i], a.t[i], has_pw ? a.pw[i] : 1.0, has_pw);
    if (a.w) v *= static_cast<double>(a.w[i]);
    a.loss[i] = static_cast<T>(v);
  }
}

template <PointLoss K, class T>
void point_backward_ref_k(const PointLossBackwardArgs<T>& a) {
  const bool has_pw = a.pw != nullptr;
  for (int64_t i = 0; i < a.n; ++i) {
    double dx, dt;
    point_grad<K, double>(a.x[i], a.t[i], has_pw ? a.pw[i] : 1.0, has_pw, &dx, &dt);
    double g = static_cast<double>(a.g[i * a.g_stride]) * a.g_scale;
    if (a.w) g *= static_cast<double>(a.w[i]);
    if (a.dx) a.dx[i] = static_cast<T>(g * dx);
    if (a.dt) a.dt[i] = static_cast<T>(g * dt);
  }
}

}  // namespace

// The f32 kernels work in chunks of kChunk elements: transcendental parts with VecF (into small
// stack buffers where a select follows), the rest in plain loops the compiler vectorizes.
namespace {

constexpr int64_t kChunk = 512;

template <class F>
void for_chunks(int64_t n, const F& f) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  parallel_for(0, chunks, std::max<int64_t>(1, kGrainSize / 8 / kChunk),
               [&f, n](int64_t b, int64_t e) {
                 for (int64_t c = b; c < e; ++c) f(c * kChunk, std::min(kChunk, n - c * kChunk));
               });
}

// out[i] = op(in[i]) for i < n with VecF; tail lanes load 1 (harmless for log and exp).
template <class Op>
void vmap(const float* in, float* out, int64_t n, const Op& op) {
  int64_t i = 0;
  for (; i + kW <= n; i += kW) op(VecF::load(in + i)).store(out + i);
  if (i < n)
    op(VecF::load(in + i, static_cast<int>(n - i), 1.0f)).store(out + i, static_cast<int>(n - i));
}

// Calls f(i, lanes, ld) over [0, n) in kW steps; ld(p) loads lanes of p (a null p loads 1).
template <class F>
void vlanes(int64_t n, const F& f) {
  for (int64_t i = 0; i < n; i += kW) {
    const int lanes = static_cast<int>(std::min<int64_t>(kW, n - i));
    auto ld = [i, lanes](const float* p) {
      if (!p) return VecF(1.0f);
      return lanes == kW ? VecF::load(p + i) : VecF::load(p + i, lanes, 1.0f);
    };
    f(i, lanes, ld);
  }
}

void store_lanes(VecF v, float* p, int lanes) {
  lanes == kW ? v.store(p) : v.store(p, lanes);
}

VecF log_sigmoid(VecF y) {  // min(y, 0) - log(1 + exp(-|y|))
  return VecF::min(y, VecF(0.0f)) - VecF::log(VecF(1.0f) + VecF::exp(-VecF::abs(y)));
}

void point_forward_f32(PointLoss kind, const PointLossArgs<float>& a) {
  for_chunks(a.n, [&a, kind](int64_t i0, int64_t n) {
    const float* x = a.x + i0;
    const float* t = a.t + i0;
    const float* w = a.w ? a.w + i0 : nullptr;
    const float* pw = a.pw ? a.pw + i0 : nullptr;
    float* out = a.loss + i0;
    float la[kChunk], lb[kChunk];
    switch (kind) {
      case PointLoss::mse:
        for (int64_t i = 0; i < n; ++i) out[i] = (x[i] - t[i]) * (x[i] - t[i]);
        break;
      case PointLoss::bce:
        for (int64_t i = 0; i < n; ++i) lb[i] = 1.0f - x[i];
        vmap(x, la, n, [](VecF v) { return VecF::max(VecF::log(v), VecF(-100.0f)); });
        vmap(lb, lb, n, [](VecF v) { return VecF::max(VecF::log(v), VecF(-100.0f)); });
        for (int64_t i = 0; i < n; ++i) out[i] = (t[i] - 1.0f) * lb[i] - t[i] * la[i];
        break;
      case PointLoss::bce_logits:
        vlanes(n, [x, t, pw, out](int64_t i, int lanes, const auto& ld) {
          const VecF xv = ld(x), tv = ld(t), one(1.0f);
          const VecF m = VecF::max(-xv, VecF(0.0f));
          const VecF sp = m + VecF::log(VecF::exp(-m) + VecF::exp(-xv - m));
          const VecF lw = pw ? one + (ld(pw) - one) * tv : one;
          store_lanes((one - tv) * xv + lw * sp, out + i, lanes);
        });
        break;
      case PointLoss::kl_div:
        vmap(t, la, n, [](VecF v) { return VecF::log(v); });
        for (int64_t i = 0; i < n; ++i) out[i] = (t[i] == 0.0f ? 0.0f : t[i] * la[i]) - t[i] * x[i];
        break;
      case PointLoss::kl_div_log_target:
        vlanes(n, [x, t, out](int64_t i, int lanes, const auto& ld) {
          const VecF tv = ld(t);
          store_lanes(VecF::exp(tv) * (tv - ld(x)), out + i, lanes);
        });
        break;
    }
    if (w)
      for (int64_t i = 0; i < n; ++i) out[i] *= w[i];
  });
}

void point_backward_f32(PointLoss kind, const PointLossBackwardArgs<float>& a) {
  for_chunks(a.n, [&a, kind](int64_t i0, int64_t n) {
    const float* x = a.x + i0;
    const float* t = a.t + i0;
    const float* pw = a.pw ? a.pw + i0 : nullptr;
    // gs: the upstream gradient times the reduction's scale and the weight.
    float gs[kChunk], dx[kChunk], dt[kChunk];
    const float scale = static_cast<float>(a.g_scale);
    for (int64_t i = 0; i < n; ++i) gs[i] = a.g[(i0 + i) * a.g_stride] * scale;
    if (a.w)
      for (int64_t i = 0; i < n; ++i) gs[i] *= a.w[i0 + i];
    switch (kind) {
      case PointLoss::mse:
        for (int64_t i = 0; i < n; ++i) dx[i] = 2.0f * (x[i] - t[i]);
        for (int64_t i = 0; i < n; ++i) dt[i] = -dx[i];
        break;
      case PointLoss::bce:
        for (int64_t i = 0; i < n; ++i)
          dx[i] = (x[i] - t[i]) / std::max((1.0f - x[i]) * x[i], 1e-12f);
        for (int64_t i = 0; i < n; ++i) dt[i] = x[i] / (1.0f - x[i]);
        vmap(dt, dt, n, [](VecF v) { return -VecF::log(v); });
        break;
      case PointLoss::bce_logits:
        vlanes(n, [x, t, pw, &dx, &dt](int64_t i, int lanes, const auto& ld) {
          const VecF xv = ld(x), tv = ld(t), one(1.0f);
          const VecF sig = one / (one + VecF::exp(-xv));
          if (pw) {
            const VecF p = ld(pw), pt = p * tv;
            store_lanes((pt + one - tv) * sig - pt, dx + i, lanes);
            store_lanes(log_sigmoid(-xv) - p * log_sigmoid(xv), dt + i, lanes);
          } else {
            store_lanes(sig - tv, dx + i, lanes);
            store_lanes(-xv, dt + i, lanes);
          }
        });
        break;
      case PointLoss::kl_div:
        vmap(t, dt, n, [](VecF v) { return VecF::log(v); });
        for (int64_t i = 0; i < n; ++i) {
          dx[i] = -t[i];
          dt[i] = (t[i] != 0.0f ? dt[i] : 0.0f) + t[i] / t[i] - x[i];
        }
        break;
      case PointLoss::kl_div_log_target:
        vlanes(n, [x, t, &dx, &dt](int64_t i, int lanes, const auto& ld) {
          const VecF tv = ld(t), e = VecF::exp(tv);
          store_lanes(-e, dx + i, lanes);
          store_lanes(e * (tv - ld(x) + VecF(1.0f)), dt + i, lanes);
        });
        break;
    }
    if (a.dx)
      for (int64_t i = 0; i < n; ++i) a.dx[i0 + i] = gs[i] * dx[i];
    if (a.dt)
      for (int64_t i = 0; i < n; ++i) a.dt[i0 + i] = gs[i] * dt[i];
  });
}

}  // namespace

void point_loss_forward(PointLoss kind, const PointLossArgs<float>& a) {
  point_forward_f32(kind, a);
}
void point_loss_backward(PointLoss kind, const PointLossBackwardArgs<float>& a) {
  point_backward_f32(kind, a);
}
template <class T>
void point_loss_forward_ref(PointLoss kind, const PointLossArgs<T>& a) {
  switch (kind) {
    case PointLoss::mse:
      return point_forward_ref_k<PointLoss::mse, T>(a);
    case PointLoss::bce:
      return point_forward_ref_k<PointLoss::bce, T>(a);
    case PointLoss::bce_logits:
      return point_forward_ref_k<PointLoss::bce_logits, T>(a);
    case PointLoss::kl_div:
      return point_forward_ref_k<PointLoss::kl_div, T>(a);
    case PointLoss::kl_div_log_target:
      return point_forward_ref_k<PointLoss::kl_div_log_target, T>(a);
  }
}

template <class T>
void point_loss_backward_ref(PointLoss kind, const PointLossBackwardArgs<T>& a) {
  switch (kind) {
    case PointLoss::mse:
      return point_backward_ref_k<PointLoss::mse, T>(a);
    case PointLoss::bce:
      return point_backward_ref_k<PointLoss::bce, T>(a);
    case PointLoss::bce_logits:
      return point_backward_ref_k<PointLoss::bce_logits, T>(a);
    case PointLoss::kl_div:
      return point_backward_ref_k<PointLoss::kl_div, T>(a);
    case PointLoss::kl_div_log_target:
      return point_backward_ref_k<PointLoss::kl_div_log_target, T>(a);
  }
}

template void cross_entropy_forward_ref<float>(const CrossEntropyArgs<float>&);
template void cross_entropy_forward_ref<double>(const CrossEntropyArgs<double>&);
template void cross_entropy_backward_ref<float>(const CrossEntropyBackwardArgs<float>&);
template void cross_entropy_backward_ref<double>(const CrossEntropyBackwardArgs<double>&);
template void nll_loss_forward<float>(const NllLossArgs<float>&);
template void nll_loss_forward<double>(const NllLossArgs<double>&);
template void nll_loss_backward<float>(const NllLossBackwardArgs<float>&);
template void nll_loss_backward<double>(const NllLossBackwardArgs<double>&);
template double target_weight_sum<float>(const int64_t*, const float*, int64_t, int64_t);
template double target_weight_sum<double>(const int64_t*, const double*, int64_t, int64_t);
template void point_loss_forward_ref<float>(PointLoss, const PointLossArgs<float>&);
template void point_loss_forward_ref<double>(PointLoss, const PointLossArgs<double>&);
template void point_loss_backward_ref<float>(PointLoss, const PointLossBackwardArgs<float>&);
template void point_loss_backward_ref<double>(PointLoss, const PointLossBackwardArgs<double>&);

}  // namespace cf::ops::cpu
