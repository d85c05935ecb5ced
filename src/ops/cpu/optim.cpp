#include "ops/optim.h"

#include <cmath>
#include <vector>

#include "ops/cpu/parallel.h"
#include "ops/cpu/vec.h"

namespace cf::ops::cpu {
namespace {

constexpr int W = VecF::kWidth;

/// Calls body(i, count) over [b, e) in VecF-sized pieces, the last one masked (count < W).
template <class F>
inline void for_vec(int64_t b, int64_t e, const F& body) {
  int64_t i = b;
  for (; i + W <= e; i += W) body(i, W);
  if (i < e) body(i, static_cast<int>(e - i));
}

inline VecF ld(const float* p, int cnt) {
  return cnt == W ? VecF::load(p) : VecF::load(p, cnt);
}
inline void st(VecF v, float* p, int cnt) {
  if (cnt == W)
    v.store(p);
  else
    v.store(p, cnt);
}

}  // namespace

// ---------------------------------------------------------------- SGD

template <class T>
void sgd_step_ref(const SgdArgs<T>& a) {
  for (int64_t i = 0; i < a.n; ++i) {
    double p = a.param[i];
    double g = a.maximize ? -static_cast<double>(a.grad[i]) : static_cast<double>(a.grad[i]);
    if (a.weight_decay != 0.0) g += a.weight_decay * p;
    if (a.momentum != 0.0) {
      double buf = a.first ? g : a.momentum * a.momentum_buf[i] + (1.0 - a.dampening) * g;
      a.momentum_buf[i] = static_cast<T>(buf);
      buf = a.momentum_buf[i];
      g = a.nesterov ? g + a.momentum * buf : buf;
    }
    a.param[i] = static_cast<T>(p - a.lr * g);
  }
}

void sgd_step(const SgdArgs<float>& a) {
  const SgdArgs<float> args = a;
  parallel_for(0, a.n, kGrainSize, [&args](int64_t b, int64_t e) {
    const VecF wd(static_cast<float>(args.weight_decay)), mom(static_cast<float>(args.momentum)),
        damp1(static_cast<float>(1.0 - args.dampening)), neg_lr(static_cast<float>(-args.lr));
    const bool use_wd = args.weight_decay != 0.0, use_mom = args.momentum != 0.0;
    for_vec(b, e, [&args, &wd, &mom, &damp1, &neg_lr, use_wd, use_mom](int64_t i, int cnt) {
      VecF p = ld(args.param + i, cnt);
      VecF g = ld(args.grad + i, cnt);
      if (args.maximize) g = -g;
      if (use_wd) g = VecF::fma(p, wd, g);
      if (use_mom) {
        VecF buf = args.first ? g : VecF::fma(g, damp1, ld(args.momentum_buf + i, cnt) * mom);
        st(buf, args.momentum_buf + i, cnt);
        g = args.nesterov ? VecF::fma(buf, mom, g) : buf;
      }
      st(VecF::fma(g, neg_lr, p), args.param + i, cnt);
    });
  });
}

// ---------------------------------------------------------------- Adam / AdamW

namespace {

struct AdamScalars {
  double decay;      // 1 - lr wd (decoupled)
  double step_size;  // lr / (1 - b1^t)
  double bc2_sqrt;   // sqrt(1 - b2^t)
};

template <class T>
AdamScalars adam_scalars(const AdamArgs<T>& a) {
  const double t = static_cast<double>(a.step);
  return {1.0 - a.lr * a.weight_decay, a.lr / (1.0 - std::pow(a.beta1, t)),
          std::sqrt(1.0 - std::pow(a.beta2, t))};
}

}  // namespace

template <class T>
void adam_step_ref(const AdamArgs<T>& a) {
  const AdamScalars s = adam_scalars(a);
  for (int64_t i = 0; i < a.n; ++i) {
    double p = a.param[i];
    double g = a.maximize ? -static_cast<double>(a.grad[i]) : static_cast<double>(a.grad[i]);
    if (a.decoupled)
      p *= s.decay;
    else if (a.weight_decay != 0.0)
      g += a.weight_decay * p;
    const double m = a.beta1 * a.exp_avg[i] + (1.0 - a.beta1) * g;
    double v = a.beta2 * a.exp_avg_sq[i] + (1.0 - a.beta2) * g * g;
    a.exp_avg[i] = static_cast<T>(m);
    a.exp_avg_sq[i] = static_cast<T>(v);
    if (a.max_exp_avg_sq) {
      v = std::max<double>(a.max_exp_avg_sq[i], a.exp_avg_sq[i]);
      a.max_exp_avg_sq[i] = static_cast<T>(v);
    }
    const double denom = std::sqrt(v) / s.bc2_sqrt + a.eps;
    a.param[i] = static_cast<T>(p - s.step_size * (m / denom));
  }
}

void adam_step(const AdamArgs<float>& a) {
  const AdamArgs<float> args = a;
  const AdamScalars s = adam_scalars(a);
  parallel_for(0, a.n, kGrainSize, [&args, &s](int64_t b, int64_t e) {
    const VecF b1(static_cast<float>(args.beta1)), omb1(static_cast<float>(1.0 - args.beta1)),
        b2(static_cast<float>(args.beta2)), omb2(static_cast<float>(1.0 - args.beta2)),
        wd(static_cast<float>(args.weight_decay)), decay(static_cast<float>(s.decay)),
        bc2_sqrt(static_cast<float>(s.bc2_sqrt)), eps(static_cast<float>(args.eps)),
        neg_step(static_cast<float>(-s.step_size));
    const bool l2 = !args.decoupled && args.weight_decay != 0.0;
    const bool decay_p = args.decoupled && args.weight_decay != 0.0;
    for_vec(b, e,
            [&args, &b1, &omb1, &b2, &omb2, &wd, &decay, &bc2_sqrt, &eps, &neg_step, l2, decay_p](
                int64_t i, int cnt) {
              VecF p = ld(args.param + i, cnt);
              VecF g = ld(args.grad + i, cnt);
              if (args.maximize) g = -g;
              if (decay_p) p = p * decay;
              if (l2) g = VecF::fma(p, wd, g);
              const VecF m = VecF::fma(g, omb1, ld(args.exp_avg + i, cnt) * b1);
              VecF v = VecF::fma(g * g, omb2, ld(args.exp_avg_sq + i, cnt) * b2);
              st(m, args.exp_avg + i, cnt);
              st(v, args.exp_avg_sq + i, cnt);
              if (args.max_exp_avg_sq) {
                v = VecF::max(ld(args.max_exp_avg_sq + i, cnt), v);
                st(v, args.max_exp_avg_sq + i, cnt);
              }
              const VecF denom = VecF::sqrt(v) / bc2_sqrt + eps;
              st(VecF::fma(m / denom, neg_step, p), args.param + i, cnt);
            });
  });
}

// ---------------------------------------------------------------- sum of squares

template <class T>
double sum_squares_ref(const T* x, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  return s;
}

double sum_squares(const float* x, int64_t n) {
  // Fixed blocks summed in a fixed order: the result does not depend on the thread count.
  constexpr int64_t kBlock = 1024;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<size_t>(blocks));
  double* out = partial.data();
  parallel_for(0, blocks, kGrainSize / kBlock, [x, n, out](int64_t b, int64_t e) {
    for (int64_t blk = b; blk < e; ++blk) {
      VecF acc(0.0f);
      const int64_t end = std::min(n, (blk + 1) * kBlock);
      for_vec(blk * kBlock, end, [&acc, x](int64_t i, int cnt) {
        const VecF v = ld(x + i, cnt);
        acc = VecF::fma(v, v, acc);
      });
      out[blk] = acc.reduce_add();
    }
  });
  double s = 0.0;
  for (double p : partial) s += p;
  return s;
}

template void sgd_step_ref<float>(const SgdArgs<float>&);
template void sgd_step_ref<double>(const SgdArgs<double>&);
template void adam_step_ref<float>(const AdamArgs<float>&);
template void adam_step_ref<double>(const AdamArgs<double>&);
template double sum_squares_ref<float>(const float*, int64_t);
template double sum_squares_ref<double>(const double*, int64_t);

}  // namespace cf::ops::cpu
