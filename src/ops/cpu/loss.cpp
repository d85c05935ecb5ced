// Loss kernels: the fused cross-entropy (two passes over each row of logits in the forward, one
// in the backward), nll gather / scatter, and the pointwise losses.
#include <cmath>
#include <vector>

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

template <PointLoss K, class T, class A, bool kParallel>
void point_forward_k(const PointLossArgs<T>& a) {
  auto body = [&a](int64_t b, int64_t e) {
    const bool has_pw = a.pw != nullptr;
    for (int64_t i = b; i < e; ++i) {
      A v = point_value<K, A>(static_cast<A>(a.x[i]), static_cast<A>(a.t[i]),
                              has_pw ? static_cast<A>(a.pw[i]) : A(1), has_pw);
      if (a.w) v *= static_cast<A>(a.w[i]);
      a.loss[i] = static_cast<T>(v);
    }
  };
  if constexpr (kParallel)
    parallel_for(0, a.n, kGrainSize / 8, body);
  else
    body(0, a.n);
}

template <PointLoss K, class T, class A, bool kParallel>
void point_backward_k(const PointLossBackwardArgs<T>& a) {
  auto body = [&a](int64_t b, int64_t e) {
    const bool has_pw = a.pw != nullptr;
    for (int64_t i = b; i < e; ++i) {
      A dx, dt;
      point_grad<K, A>(static_cast<A>(a.x[i]), static_cast<A>(a.t[i]),
                       has_pw ? static_cast<A>(a.pw[i]) : A(1), has_pw, &dx, &dt);
      A g = static_cast<A>(static_cast<double>(a.g[i * a.g_stride]) * a.g_scale);
      if (a.w) g *= static_cast<A>(a.w[i]);
      if (a.dx) a.dx[i] = static_cast<T>(g * dx);
      if (a.dt) a.dt[i] = static_cast<T>(g * dt);
    }
  };
  if constexpr (kParallel)
    parallel_for(0, a.n, kGrainSize / 8, body);
  else
    body(0, a.n);
}

template <class T, class A, bool kParallel>
void point_forward_any(PointLoss kind, const PointLossArgs<T>& a) {
  switch (kind) {
    case PointLoss::mse:
      return point_forward_k<PointLoss::mse, T, A, kParallel>(a);
    case PointLoss::bce:
      return point_forward_k<PointLoss::bce, T, A, kParallel>(a);
    case PointLoss::bce_logits:
      return point_forward_k<PointLoss::bce_logits, T, A, kParallel>(a);
    case PointLoss::kl_div:
      return point_forward_k<PointLoss::kl_div, T, A, kParallel>(a);
    case PointLoss::kl_div_log_target:
      return point_forward_k<PointLoss::kl_div_log_target, T, A, kParallel>(a);
  }
}

template <class T, class A, bool kParallel>
void point_backward_any(PointLoss kind, const PointLossBackwardArgs<T>& a) {
  switch (kind) {
    case PointLoss::mse:
      return point_backward_k<PointLoss::mse, T, A, kParallel>(a);
    case PointLoss::bce:
      return point_backward_k<PointLoss::bce, T, A, kParallel>(a);
    case PointLoss::bce_logits:
      return point_backward_k<PointLoss::bce_logits, T, A, kParallel>(a);
    case PointLoss::kl_div:
      return point_backward_k<PointLoss::kl_div, T, A, kParallel>(a);
    case PointLoss::kl_div_log_target:
      return point_backward_k<PointLoss::kl_div_log_target, T, A, kParallel>(a);
  }
}

}  // namespace

void point_loss_forward(PointLoss kind, const PointLossArgs<float>& a) {
  point_forward_any<float, float, true>(kind, a);
}
void point_loss_backward(PointLoss kind, const PointLossBackwardArgs<float>& a) {
  point_backward_any<float, float, true>(kind, a);
}
template <class T>
void point_loss_forward_ref(PointLoss kind, const PointLossArgs<T>& a) {
  point_forward_any<T, double, false>(kind, a);
}
template <class T>
void point_loss_backward_ref(PointLoss kind, const PointLossBackwardArgs<T>& a) {
  point_backward_any<T, double, false>(kind, a);
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
