#include "ops/unary.h"

#include <cmath>
#include <limits>

#include "ops/cpu/elementwise.h"
#include "ops/cpu/vec.h"
#include "util/check.h"

namespace cf::ops::cpu {
namespace {

// PyTorch's constants (aten/src/ATen/native/cpu/Activation.cpp).
constexpr double kSqrt1_2 = 0.70710678118654752440;     // 1 / sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1 / sqrt(2 pi)
constexpr double kBeta = 0.79788456080286535588;        // sqrt(2 / pi)
constexpr double kKappa = 0.044715;

// The transcendental kernels cost tens of cycles per element: split work earlier than copies do.
constexpr int64_t kVecGrain = 8192;
// Rows that are not unit-stride (transposed, broadcast) are gathered into this many floats.
constexpr int kBuf = 256;

template <class F> void vec_rows(float* y, const float* x, int64_t n, const F& f) {
  constexpr int W = VecF::kWidth;
  int64_t i = 0;
  for (; i + W <= n; i += W) f(VecF::load(x + i)).store(y + i);
  if (i < n) f(VecF::load(x + i, static_cast<int>(n - i))).store(y + i, static_cast<int>(n - i));
}

template <class F> void vec_rows(float* y, const float* a, const float* b, int64_t n, const F& f) {
  constexpr int W = VecF::kWidth;
  int64_t i = 0;
  for (; i + W <= n; i += W) f(VecF::load(a + i), VecF::load(b + i)).store(y + i);
  if (i < n) {
    const int m = static_cast<int>(n - i);
    f(VecF::load(a + i, m), VecF::load(b + i, m)).store(y + i, m);
  }
}

/// y = f(x) over float operands (y, x); f maps VecF -> VecF.
template <class F> void vec_unary(const StridedLoop<2>& L, const F& f) {
  for_each_row<2>(L, kVecGrain, [&f](int64_t n, const std::array<char*, 2>& p,
                                     const std::array<int64_t, 2>& s) {
    if (s[0] == sizeof(float) && s[1] == sizeof(float))
      return vec_rows(reinterpret_cast<float*>(p[0]), reinterpret_cast<const float*>(p[1]), n, f);
    alignas(64) float buf[kBuf];
    for (int64_t i0 = 0; i0 < n; i0 += kBuf) {
      const int m = static_cast<int>(std::min<int64_t>(kBuf, n - i0));
      for (int i = 0; i < m; ++i) buf[i] = load<float>(p[1] + (i0 + i) * s[1]);
      vec_rows(buf, buf, m, f);
      for (int i = 0; i < m; ++i) store<float>(p[0] + (i0 + i) * s[0], buf[i]);
    }
  });
}

/// y = f(a, b) over float operands (y, a, b); f maps (VecF, VecF) -> VecF.
template <class F> void vec_binary(const StridedLoop<3>& L, const F& f) {
  for_each_row<3>(L, kVecGrain, [&f](int64_t n, const std::array<char*, 3>& p,
                                     const std::array<int64_t, 3>& s) {
    if (s[0] == sizeof(float) && s[1] == sizeof(float) && s[2] == sizeof(float))
      return vec_rows(reinterpret_cast<float*>(p[0]), reinterpret_cast<const float*>(p[1]),
                      reinterpret_cast<const float*>(p[2]), n, f);
    alignas(64) float abuf[kBuf];
    alignas(64) float bbuf[kBuf];
    for (int64_t i0 = 0; i0 < n; i0 += kBuf) {
      const int m = static_cast<int>(std::min<int64_t>(kBuf, n - i0));
      for (int i = 0; i < m; ++i) {
        abuf[i] = load<float>(p[1] + (i0 + i) * s[1]);
        bbuf[i] = load<float>(p[2] + (i0 + i) * s[2]);
      }
      vec_rows(abuf, abuf, bbuf, m, f);
      for (int i = 0; i < m; ++i) store<float>(p[0] + (i0 + i) * s[0], abuf[i]);
    }
  });
}

/// log(1 + u) for u >= 0 without losing the small u (Goldberg: log(w) * u / (w - 1), w = 1 + u).
VecF log1p_nonneg(VecF u) {
  const VecF w = u + VecF(1.0f);
  const VecF d = w - VecF(1.0f);
  return VecF::select_gt(d, VecF(0.0f), VecF::log(w) * (u / d), u);
}

void forward_f32(Unary op, const UnaryParams& p, const StridedLoop<2>& L) {
  switch (op) {
    case Unary::neg: return vec_unary(L, [](VecF x) { return -x; });
    case Unary::exp: return vec_unary(L, [](VecF x) { return VecF::exp(x); });
    case Unary::log: return vec_unary(L, [](VecF x) { return VecF::log(x); });
    case Unary::sqrt: return vec_unary(L, [](VecF x) { return VecF::sqrt(x); });
    case Unary::rsqrt: return vec_unary(L, [](VecF x) { return VecF(1.0f) / VecF::sqrt(x); });
    case Unary::abs: return vec_unary(L, [](VecF x) { return VecF::abs(x); });
    case Unary::tanh: return vec_unary(L, [](VecF x) { return VecF::tanh(x); });
    case Unary::sigmoid: return vec_unary(L, [](VecF x) { return VecF::sigmoid(x); });
    // max / min return their second operand when one is NaN: NaN inputs stay NaN.
    case Unary::relu: return vec_unary(L, [](VecF x) { return VecF::max(VecF(0.0f), x); });
    case Unary::leaky_relu: {
      const VecF slope(static_cast<float>(p.a));
      return vec_unary(L, [slope](VecF x) { return VecF::select_gt(x, VecF(0.0f), x, x * slope); });
    }
    case Unary::gelu:
      return vec_unary(L, [](VecF x) {
        const VecF half_x = x * VecF(0.5f);
        return VecF::fma(half_x, VecF::erf(x * VecF(static_cast<float>(kSqrt1_2))), half_x);
      });
    case Unary::gelu_tanh:
      return vec_unary(L, [](VecF x) {
        const VecF x2 = x * x;
        const VecF inner = x * VecF(static_cast<float>(kBeta)) *
                           VecF::fma(x2, VecF(static_cast<float>(kKappa)), VecF(1.0f));
        const VecF half_x = x * VecF(0.5f);
        return VecF::fma(half_x, VecF::tanh(inner), half_x);
      });
    case Unary::silu: return vec_unary(L, [](VecF x) { return x * VecF::sigmoid(x); });
    case Unary::softplus: {
      const VecF beta(static_cast<float>(p.a)), threshold(static_cast<float>(p.b));
      const VecF inv_beta(static_cast<float>(1.0 / p.a));
      // log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow, no lost small values.
      return vec_unary(L, [beta, threshold, inv_beta](VecF x) {
        const VecF z = x * beta;
        const VecF sp = VecF::max(z, VecF(0.0f)) + log1p_nonneg(VecF::exp(-VecF::abs(z)));
        return VecF::select_gt(z, threshold, x, sp * inv_beta);
      });
    }
    case Unary::clamp: {
      const VecF lo(static_cast<float>(p.a)), hi(static_cast<float>(p.b));
      return vec_unary(L, [lo, hi](VecF x) { return VecF::min(hi, VecF::max(lo, x)); });
    }
    case Unary::pow: {
      const double e = p.a;
      if (e == 0.0) return vec_unary(L, [](VecF) { return VecF(1.0f); });
      if (e == 1.0) return vec_unary(L, [](VecF x) { return x; });
      if (e == 2.0) return vec_unary(L, [](VecF x) { return x * x; });
      if (e == 3.0) return vec_unary(L, [](VecF x) { return x * x * x; });
      if (e == 0.5) return vec_unary(L, [](VecF x) { return VecF::sqrt(x); });
      if (e == -0.5) return vec_unary(L, [](VecF x) { return VecF(1.0f) / VecF::sqrt(x); });
      if (e == -1.0) return vec_unary(L, [](VecF x) { return VecF(1.0f) / x; });
      if (e == -2.0) return vec_unary(L, [](VecF x) { return VecF(1.0f) / (x * x); });
      const float ef = static_cast<float>(e);
      return unary_loop<float, float>(L, [ef](float x) { return std::pow(x, ef); });
    }
  }
}

void backward_f32(Unary op, const UnaryParams& p, const StridedLoop<3>& L) {
  const VecF zero(0.0f), one(1.0f), half(0.5f);
  switch (op) {
    case Unary::neg: return vec_binary(L, [](VecF g, VecF) { return -g; });
    case Unary::exp: return vec_binary(L, [](VecF g, VecF y) { return g * y; });
    case Unary::log: return vec_binary(L, [](VecF g, VecF x) { return g / x; });
    case Unary::sqrt: return vec_binary(L, [](VecF g, VecF y) { return g / (y + y); });
    case Unary::rsqrt:
      return vec_binary(L, [half](VecF g, VecF y) { return -(half * g) * (y * y * y); });
    case Unary::abs:
      return vec_binary(L, [zero](VecF g, VecF x) {
        return VecF::select_gt(x, zero, g, VecF::select_gt(zero, x, -g, zero));
      });
    case Unary::tanh:
      return vec_binary(L, [one](VecF g, VecF y) { return g * VecF::fma(-y, y, one); });
    case Unary::sigmoid:
      return vec_binary(L, [one](VecF g, VecF y) { return g * y * (one - y); });
    case Unary::relu:
      return vec_binary(L, [zero](VecF g, VecF y) { return VecF::select_gt(y, zero, g, zero); });
    case Unary::leaky_relu: {
      const VecF slope(static_cast<float>(p.a));
      return vec_binary(L, [zero, slope](VecF g, VecF x) {
        return VecF::select_gt(x, zero, g, g * slope);
      });
    }
    case Unary::gelu:
      return vec_binary(L, [half](VecF g, VecF x) {
        const VecF cdf = VecF::fma(half, VecF::erf(x * VecF(static_cast<float>(kSqrt1_2))), half);
        const VecF pdf = VecF::exp(-half * x * x) * VecF(static_cast<float>(kInvSqrt2Pi));
        return g * VecF::fma(x, pdf, cdf);
      });
    case Unary::gelu_tanh:
      return vec_binary(L, [one, half](VecF g, VecF x) {
        const VecF beta(static_cast<float>(kBeta)), kappa(static_cast<float>(kKappa));
        const VecF x2 = x * x;
        const VecF t = VecF::tanh(x * beta * VecF::fma(x2, kappa, one));
        const VecF left_derivative = half * (one + t);
        const VecF tanh_derivative = VecF::fma(-t, t, one);
        const VecF kappa3(static_cast<float>(3.0 * kKappa));
        const VecF inner_derivative = beta * VecF::fma(x2, kappa3, one);
        return g * VecF::fma(half * x, tanh_derivative * inner_derivative, left_derivative);
      });
    case Unary::silu:
      return vec_binary(L, [one](VecF g, VecF x) {
        const VecF s = VecF::sigmoid(x);
        return g * s * VecF::fma(x, one - s, one);
      });
    case Unary::softplus: {
      const VecF beta(static_cast<float>(p.a)), threshold(static_cast<float>(p.b));
      return vec_binary(L, [beta, threshold](VecF g, VecF x) {
        const VecF z = x * beta;
        return VecF::select_gt(z, threshold, g, g * VecF::sigmoid(z));
      });
    }
    case Unary::clamp: {
      const VecF lo(static_cast<float>(p.a)), hi(static_cast<float>(p.b));
      return vec_binary(L, [lo, hi, zero](VecF g, VecF x) {
        return VecF::select_ge(x, lo, VecF::select_ge(hi, x, g, zero), zero);
      });
    }
    case Unary::pow: {
      const double e = p.a;
      if (e == 0.0) return vec_binary(L, [zero](VecF, VecF) { return zero; });
      if (e == 1.0) return vec_binary(L, [](VecF g, VecF) { return g; });
      if (e == 2.0) return vec_binary(L, [](VecF g, VecF x) { return g * (x + x); });
      const float ef = static_cast<float>(e), em1 = static_cast<float>(e - 1.0);
      return binary_loop<float, float, float>(
          L, [ef, em1](float g, float x) { return g * (ef * std::pow(x, em1)); });
    }
  }
}

double forward_ref(Unary op, const UnaryParams& p, double x) {
  switch (op) {
    case Unary::neg: return -x;
    case Unary::exp: return std::exp(x);
    case Unary::log: return std::log(x);
    case Unary::sqrt: return std::sqrt(x);
    case Unary::rsqrt: return 1.0 / std::sqrt(x);
    case Unary::abs: return std::fabs(x);
    case Unary::tanh: return std::tanh(x);
    case Unary::sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case Unary::relu: return std::isnan(x) ? x : x > 0.0 ? x : 0.0;
    case Unary::leaky_relu: return x > 0.0 ? x : x * p.a;
    case Unary::gelu: return 0.5 * x * (1.0 + std::erf(x * kSqrt1_2));
    case Unary::gelu_tanh:
      return 0.5 * x * (1.0 + std::tanh(kBeta * (x + kKappa * x * x * x)));
    case Unary::silu: return x / (1.0 + std::exp(-x));
    case Unary::softplus:
      return x * p.a > p.b ? x : std::log1p(std::exp(x * p.a)) / p.a;
    case Unary::clamp: return std::isnan(x) ? x : std::min(std::max(x, p.a), p.b);
    case Unary::pow: return std::pow(x, p.a);
  }
  return 0.0;
}

double backward_ref(Unary op, const UnaryParams& p, double g, double s) {
  switch (op) {
    case Unary::neg: return -g;
    case Unary::exp: return g * s;
    case Unary::log: return g / s;
    case Unary::sqrt: return g / (2.0 * s);
    case Unary::rsqrt: return -0.5 * g * s * s * s;
    case Unary::abs: return s > 0.0 ? g : s < 0.0 ? -g : 0.0;
    case Unary::tanh: return g * (1.0 - s * s);
    case Unary::sigmoid: return g * s * (1.0 - s);
    case Unary::relu: return s > 0.0 ? g : 0.0;
    case Unary::leaky_relu: return s > 0.0 ? g : g * p.a;
    case Unary::gelu: {
      const double cdf = 0.5 * (1.0 + std::erf(s * kSqrt1_2));
      const double pdf = std::exp(-0.5 * s * s) * kInvSqrt2Pi;
      return g * (cdf + s * pdf);
    }
    case Unary::gelu_tanh: {
      const double inner = kBeta * (s + kKappa * s * s * s);
      const double t = std::tanh(inner);
      const double left = 0.5 * s, right = 1.0 + t;
      const double left_derivative = 0.5 * right;
      const double tanh_derivative = 1.0 - t * t;
      const double inner_derivative = kBeta * (1.0 + 3.0 * kKappa * s * s);
      return g * (left_derivative + left * tanh_derivative * inner_derivative);
    }
    case Unary::silu: {
      const double sig = 1.0 / (1.0 + std::exp(-s));
      return g * sig * (1.0 + s * (1.0 - sig));
    }
    case Unary::softplus: {
      const double z = s * p.a;
      return z > p.b ? g : g / (1.0 + std::exp(-z));
    }
    case Unary::clamp: return s >= p.a && s <= p.b ? g : 0.0;
    case Unary::pow: return p.a == 0.0 ? 0.0 : g * p.a * std::pow(s, p.a - 1.0);
  }
  return 0.0;
}

int64_t bound_i64(double v) {
  if (v <= -9.2233720368547758e18) return std::numeric_limits<int64_t>::min();
  if (v >= 9.2233720368547758e18) return std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(v);
}

void forward_i64(Unary op, const UnaryParams& p, const StridedLoop<2>& L) {
  switch (op) {
    case Unary::neg: return unary_loop<int64_t, int64_t>(L, [](int64_t x) { return -x; });
    case Unary::abs:
      return unary_loop<int64_t, int64_t>(L, [](int64_t x) { return x < 0 ? -x : x; });
    case Unary::clamp: {
      const int64_t lo = bound_i64(p.a), hi = bound_i64(p.b);
      return unary_loop<int64_t, int64_t>(
          L, [lo, hi](int64_t x) { return std::min(std::max(x, lo), hi); });
    }
    default: CF_THROW(DTypeError, "unary_forward: i64 is not supported for this op");
  }
}

}  // namespace

template <class T> void unary_forward_ref(Unary op, const UnaryParams& p, const StridedLoop<2>& L) {
  unary_loop<T, T>(L, [op, &p](T x) { return static_cast<T>(forward_ref(op, p, x)); });
}

template <class T>
void unary_backward_ref(Unary op, const UnaryParams& p, const StridedLoop<3>& L) {
  binary_loop<T, T, T>(L, [op, &p](T g, T s) { return static_cast<T>(backward_ref(op, p, g, s)); });
}

template void unary_forward_ref<float>(Unary, const UnaryParams&, const StridedLoop<2>&);
template void unary_forward_ref<double>(Unary, const UnaryParams&, const StridedLoop<2>&);
template void unary_backward_ref<float>(Unary, const UnaryParams&, const StridedLoop<3>&);
template void unary_backward_ref<double>(Unary, const UnaryParams&, const StridedLoop<3>&);

void unary_forward(Unary op, const UnaryParams& p, const StridedLoop<2>& L, DType dtype) {
  switch (dtype) {
    case DType::f32: return forward_f32(op, p, L);
    case DType::f64: return unary_forward_ref<double>(op, p, L);
    case DType::i64: return forward_i64(op, p, L);
    default: CF_THROW(DTypeError, "unary_forward: unsupported dtype ", dtype_name(dtype));
  }
}

void unary_backward(Unary op, const UnaryParams& p, const StridedLoop<3>& L, DType dtype) {
  switch (dtype) {
    case DType::f32: return backward_f32(op, p, L);
    case DType::f64: return unary_backward_ref<double>(op, p, L);
    default: CF_THROW(DTypeError, "unary_backward: unsupported dtype ", dtype_name(dtype));
  }
}

}  // namespace cf::ops::cpu
