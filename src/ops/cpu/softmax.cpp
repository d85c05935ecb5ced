// softmax / log_softmax kernels. Rows (inner == 1): OpenMP over rows, VecF along the row with
// two accumulators. Columns (inner > 1): OpenMP over (outer, block of 16 columns), VecF across
// the columns. The _ref kernels are plain loops in double.
#include <cmath>
#include <type_traits>

#include "ops/cpu/parallel.h"
#include "ops/cpu/vec.h"
#include "ops/softmax.h"
#include "ops/cpu/slices.h"

namespace cf::ops::cpu {
namespace {

constexpr int kW = VecF::kWidth;



float row_max(const float* x, int64_t n) {
  VecF m0(-INFINITY), m1(-INFINITY);
  int64_t i = 0;
  for (; i + 2 * kW <= n; i += 2 * kW) {
    m0 = VecF::max(m0, VecF::load(x + i));
    m1 = VecF::max(m1, VecF::load(x + i + kW));
  }
  for (; i + kW <= n; i += kW) m0 = VecF::max(m0, VecF::load(x + i));
  if (i < n) m0 = VecF::max(m0, VecF::load(x + i, static_cast<int>(n - i), -INFINITY));
  return VecF::max(m0, m1).reduce_max();
}

// sum exp(x - m), storing the exponentials into e when e is not null.
float row_exp_sum(const float* x, float* e, int64_t n, float m) {
  const VecF vm(m);
  VecF s0(0.0f), s1(0.0f);
  int64_t i = 0;
  for (; i + 2 * kW <= n; i += 2 * kW) {
    const VecF e0 = VecF::exp(VecF::load(x + i) - vm);
    const VecF e1 = VecF::exp(VecF::load(x + i + kW) - vm);
    if (e) {
      e0.store(e + i);
      e1.store(e + i + kW);
    }
    s0 = s0 + e0;
    s1 = s1 + e1;
  }
  for (; i + kW <= n; i += kW) {
    const VecF e0 = VecF::exp(VecF::load(x + i) - vm);
    if (e) e0.store(e + i);
    s0 = s0 + e0;
  }
  if (i < n) {
    const int k = static_cast<int>(n - i);
    const VecF e0 = VecF::exp(VecF::load(x + i, k, -INFINITY) - vm);
    if (e) e0.store(e + i, k);
    s0 = s0 + e0;
  }
  return (s0 + s1).reduce_add();
}

void softmax_row(const float* x, float* y, int64_t n) {
  const float m = row_max(x, n);
  const VecF inv(1.0f / row_exp_sum(x, y, n, m));
  int64_t i = 0;
  for (; i + kW <= n; i += kW) (VecF::load(y + i) * inv).store(y + i);
  if (i < n)
    (VecF::load(y + i, static_cast<int>(n - i)) * inv).store(y + i, static_cast<int>(n - i));
}

void log_softmax_row(const float* x, float* y, int64_t n) {
  // (x - m) - log(s): x - m is exact near the maximum, so large logits keep their precision.
  const float m = row_max(x, n);
  const VecF vm(m), ls(std::log(row_exp_sum(x, nullptr, n, m)));
  int64_t i = 0;
  for (; i + kW <= n; i += kW) ((VecF::load(x + i) - vm) - ls).store(y + i);
  if (i < n)
    ((VecF::load(x + i, static_cast<int>(n - i)) - vm) - ls).store(y + i, static_cast<int>(n - i));
}

void softmax_columns(const float* x, float* y, int64_t R, int64_t inner, int n, bool log) {
  VecF m(-INFINITY);
  for (int64_t r = 0; r < R; ++r) m = VecF::max(m, load_n(x + r * inner, n, -INFINITY));
  VecF s(0.0f);
  for (int64_t r = 0; r < R; ++r) {
    const VecF e = VecF::exp(load_n(x + r * inner, n) - m);
    if (!log) store_n(e, y + r * inner, n);
    s = s + e;
  }
  if (log) {
    const VecF ls = VecF::log(s);
    for (int64_t r = 0; r < R; ++r) store_n((load_n(x + r * inner, n) - m) - ls, y + r * inner, n);
  } else {
    const VecF inv = VecF(1.0f) / s;
    for (int64_t r = 0; r < R; ++r) store_n(load_n(y + r * inner, n) * inv, y + r * inner, n);
  }
}

// sum over the row of a * b (b null: of a).
float row_dot(const float* a, const float* b, int64_t n) {
  VecF s0(0.0f), s1(0.0f);
  int64_t i = 0;
  for (; i + 2 * kW <= n; i += 2 * kW) {
    if (b) {
      s0 = VecF::fma(VecF::load(a + i), VecF::load(b + i), s0);
      s1 = VecF::fma(VecF::load(a + i + kW), VecF::load(b + i + kW), s1);
    } else {
      s0 = s0 + VecF::load(a + i);
      s1 = s1 + VecF::load(a + i + kW);
    }
  }
  for (; i + kW <= n; i += kW)
    s0 = b ? VecF::fma(VecF::load(a + i), VecF::load(b + i), s0) : s0 + VecF::load(a + i);
  if (i < n) {
    const int k = static_cast<int>(n - i);
    s0 = b ? VecF::fma(VecF::load(a + i, k), VecF::load(b + i, k), s0) : s0 + VecF::load(a + i, k);
  }
  return (s0 + s1).reduce_add();
}

void softmax_backward_row(const float* y, const float* g, float* dx, int64_t n, bool log) {
  if (log) {
    const VecF s(row_dot(g, nullptr, n));
    int64_t i = 0;
    for (; i + kW <= n; i += kW)
      (VecF::load(g + i) - VecF::exp(VecF::load(y + i)) * s).store(dx + i);
    if (i < n) {
      const int k = static_cast<int>(n - i);
      (VecF::load(g + i, k) - VecF::exp(VecF::load(y + i, k)) * s).store(dx + i, k);
    }
    return;
  }
  const VecF dot(row_dot(g, y, n));
  int64_t i = 0;
  for (; i + kW <= n; i += kW) ((VecF::load(g + i) - dot) * VecF::load(y + i)).store(dx + i);
  if (i < n) {
    const int k = static_cast<int>(n - i);
    ((VecF::load(g + i, k) - dot) * VecF::load(y + i, k)).store(dx + i, k);
  }
}

void softmax_backward_columns(const float* y, const float* g, float* dx, int64_t R, int64_t inner,
                              int n, bool log) {
  VecF s(0.0f);
  for (int64_t r = 0; r < R; ++r) {
    const VecF gv = load_n(g + r * inner, n);
    s = log ? s + gv : VecF::fma(gv, load_n(y + r * inner, n), s);
  }
  for (int64_t r = 0; r < R; ++r) {
    const VecF gv = load_n(g + r * inner, n), yv = load_n(y + r * inner, n);
    store_n(log ? gv - VecF::exp(yv) * s : (gv - s) * yv, dx + r * inner, n);
  }
}

}  // namespace

void softmax_forward(const SoftmaxArgs<float>& a) {
  const int64_t R = a.R, inner = a.inner;
  const bool log = a.log;
  for_each_slice(a.outer, R, inner, [&a, R, inner, log](int64_t o, int64_t c0, int n) {
    const float* x = a.x + o * R * inner + c0;
    float* y = a.y + o * R * inner + c0;
    if (inner == 1) {
      if (log)
        log_softmax_row(x, y, R);
      else
        softmax_row(x, y, R);
    } else {
      softmax_columns(x, y, R, inner, n, log);
    }
  });
}

void softmax_backward(const SoftmaxBackwardArgs<float>& a) {
  const int64_t R = a.R, inner = a.inner;
  const bool log = a.log;
  for_each_slice(a.outer, R, inner, [&a, R, inner, log](int64_t o, int64_t c0, int n) {
    const int64_t off = o * R * inner + c0;
    if (inner == 1)
      softmax_backward_row(a.y + off, a.g + off, a.dx + off, R, log);
    else
      softmax_backward_columns(a.y + off, a.g + off, a.dx + off, R, inner, n, log);
  });
}

template <class T>
void softmax_forward_ref(const SoftmaxArgs<T>& a) {
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t i = 0; i < a.inner; ++i) {
      const T* x = a.x + o * a.R * a.inner + i;
      T* y = a.y + o * a.R * a.inner + i;
      double m = -INFINITY;
      for (int64_t r = 0; r < a.R; ++r) m = std::max(m, static_cast<double>(x[r * a.inner]));
      double s = 0.0;
      for (int64_t r = 0; r < a.R; ++r) s += std::exp(x[r * a.inner] - m);
      for (int64_t r = 0; r < a.R; ++r) {
        const double v = x[r * a.inner] - m;
        y[r * a.inner] = static_cast<T>(a.log ? v - std::log(s) : std::exp(v) / s);
      }
    }
}

template <class T>
void softmax_backward_ref(const SoftmaxBackwardArgs<T>& a) {
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t i = 0; i < a.inner; ++i) {
      const int64_t off = o * a.R * a.inner + i;
      double s = 0.0;
      for (int64_t r = 0; r < a.R; ++r) {
        const double g = a.g[off + r * a.inner];
        s += a.log ? g : g * a.y[off + r * a.inner];
      }
      for (int64_t r = 0; r < a.R; ++r) {
        const double g = a.g[off + r * a.inner], y = a.y[off + r * a.inner];
        a.dx[off + r * a.inner] = static_cast<T>(a.log ? g - std::exp(y) * s : y * (g - s));
      }
    }
}

template void softmax_forward_ref<float>(const SoftmaxArgs<float>&);
template void softmax_forward_ref<double>(const SoftmaxArgs<double>&);
template void softmax_backward_ref<float>(const SoftmaxBackwardArgs<float>&);
template void softmax_backward_ref<double>(const SoftmaxBackwardArgs<double>&);

}  // namespace cf::ops::cpu
