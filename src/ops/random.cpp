// Random tensors and initializers (cformer/random.h).
#include "ops/random.h"

#include <cmath>
#include <numbers>

#include <algorithm>

#include "cformer/autograd.h"
#include "cformer/ops.h"
#include "util/check.h"

namespace cf {
namespace {

void check_float_dtype(const char* op, DType d) {
  CF_CHECK(d == DType::f32 || d == DType::f64, DTypeError, op, ": dtype must be f32 or f64, got ",
           dtype_name(d));
}

// Fills a contiguous float tensor in place.
void fill_random(Tensor& t, Generator& gen, bool normal) {
  const int64_t n = t.numel();
  const bool f64 = t.dtype() == DType::f64;
  const uint64_t used = normal ? ops::counters_normal(n) : ops::counters_uniform(n, f64);
  const uint64_t base = gen.advance(used);
  if (n == 0) return;
  if (f64) {
    normal ? ops::cpu::fill_normal(t.data_ptr<double>(), n, gen.seed(), base)
           : ops::cpu::fill_uniform(t.data_ptr<double>(), n, gen.seed(), base);
  } else {
    normal ? ops::cpu::fill_normal(t.data_ptr<float>(), n, gen.seed(), base)
           : ops::cpu::fill_uniform(t.data_ptr<float>(), n, gen.seed(), base);
  }
}

// Writes a freshly drawn contiguous tensor into t (which may be strided), as an init.
void assign(Tensor& t, const Tensor& values) {
  NoGradGuard ng;
  t.copy_(values);
}

}  // namespace

Tensor rand(const Shape& shape, Generator& gen, DType dtype) {
  check_float_dtype("rand", dtype);
  Tensor t = empty(shape, dtype);
  fill_random(t, gen, false);
  return t;
}

Tensor randn(const Shape& shape, Generator& gen, DType dtype) {
  check_float_dtype("randn", dtype);
  Tensor t = empty(shape, dtype);
  fill_random(t, gen, true);
  return t;
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator& gen) {
  CF_CHECK(low < high, ValueError, "randint: low (", low, ") must be below high (", high, ")");
  Tensor t = empty(shape, DType::i64);
  const int64_t n = t.numel();
  const uint64_t base = gen.advance(static_cast<uint64_t>((n + 1) / 2));
  const uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  int64_t* p = n ? t.data_ptr<int64_t>() : nullptr;
  for (int64_t c = 0; c < (n + 1) / 2; ++c) {
    const auto w = ops::philox(gen.seed(), base + static_cast<uint64_t>(c));
    const uint64_t r0 = (static_cast<uint64_t>(w[0]) << 32) | w[1];
    const uint64_t r1 = (static_cast<uint64_t>(w[2]) << 32) | w[3];
    p[2 * c] = low + static_cast<int64_t>(r0 % range);
    if (2 * c + 1 < n) p[2 * c + 1] = low + static_cast<int64_t>(r1 % range);
  }
  return t;
}

Tensor bernoulli(const Tensor& p, Generator& gen) {
  CF_CHECK(p.defined() && p.is_floating_point(), DTypeError,
           "bernoulli: probabilities must be a floating tensor");
  Tensor u = rand(p.shape(), gen, p.dtype());
  return lt(u, p.detach());
}

Tensor bernoulli(const Shape& shape, double p, Generator& gen) {
  CF_CHECK(p >= 0.0 && p <= 1.0, ValueError, "bernoulli: p must be in [0, 1], got ", p);
  return lt(rand(shape, gen, DType::f64), p);
}

Tensor randperm(int64_t n, Generator& gen) {
  CF_CHECK(n >= 0, ValueError, "randperm: n must be non-negative, got ", n);
  Tensor t = arange(0.0, static_cast<double>(n), 1.0, DType::i64);
  int64_t* p = n ? t.data_ptr<int64_t>() : nullptr;
  const uint64_t base = gen.advance(static_cast<uint64_t>(n));
  for (int64_t i = n - 1; i > 0; --i) {
    const auto w = ops::philox(gen.seed(), base + static_cast<uint64_t>(i));
    const uint64_t r = (static_cast<uint64_t>(w[0]) << 32) | w[1];
    std::swap(p[i], p[static_cast<int64_t>(r % static_cast<uint64_t>(i + 1))]);
  }
  return t;
}

namespace ops {

// Giles, "Approximating the erfinv function" (GPU Computing Gems, 2011), single-precision
// polynomials as a start, then two Newton steps on erf in double precision.
double erfinv(double y) {
  if (y <= -1.0) return -INFINITY;
  if (y >= 1.0) return INFINITY;
  double w = -std::log((1.0 - y) * (1.0 + y)), x;
  if (w < 5.0) {
    w -= 2.5;
    double p = 2.81022636e-08;
    p = 3.43273939e-07 + p * w;
    p = -3.5233877e-06 + p * w;
    p = -4.39150654e-06 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
    x = p * y;
  } else {
    w = std::sqrt(w) - 3.0;
    double p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
    x = p * y;
  }
  for (int i = 0; i < 2; ++i) {
    const double err = std::erf(x) - y;
    x -= err / (2.0 / std::sqrt(std::numbers::pi) * std::exp(-x * x));
  }
  return x;
}

}  // namespace ops

namespace init {
namespace {

std::pair<double, double> fans(const Tensor& t, const char* op) {
  CF_CHECK(t.dim() >= 2, ShapeError, op, ": fan in and fan out need at least 2 dims, got shape ",
           t.shape());
  int64_t receptive = 1;
  for (int d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {static_cast<double>(t.size(1) * receptive), static_cast<double>(t.size(0) * receptive)};
}

}  // namespace

void uniform_(Tensor& t, double low, double high, Generator& gen) {
  check_float_dtype("uniform_", t.dtype());
  NoGradGuard ng;
  Tensor u = rand(t.shape(), gen, t.dtype());
  assign(t, add(mul(u, high - low), low));
}

void normal_(Tensor& t, double mean, double std, Generator& gen) {
  check_float_dtype("normal_", t.dtype());
  NoGradGuard ng;
  Tensor z = randn(t.shape(), gen, t.dtype());
  assign(t, add(mul(z, std), mean));
}

void trunc_normal_(Tensor& t, double mean, double std, double a, double b, Generator& gen) {
  check_float_dtype("trunc_normal_", t.dtype());
  CF_CHECK(a < b, ValueError, "trunc_normal_: need a < b, got [", a, ", ", b, "]");
  NoGradGuard ng;
  auto cdf = [](double x) { return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); };
  const double l = cdf((a - mean) / std), u = cdf((b - mean) / std);
  Tensor v = rand(t.shape(), gen, DType::f64);
  double* p = v.numel() ? v.data_ptr<double>() : nullptr;
  for (int64_t i = 0; i < v.numel(); ++i) {
    const double y = 2.0 * (l + (u - l) * p[i]) - 1.0;
    const double x = ops::erfinv(y) * std * std::sqrt(2.0) + mean;
    p[i] = std::clamp(x, a, b);
  }
  assign(t, v.to(t.dtype()));
}

void xavier_uniform_(Tensor& t, Generator& gen, double gain) {
  auto [fan_in, fan_out] = fans(t, "xavier_uniform_");
  const double bound = gain * std::sqrt(6.0 / (fan_in + fan_out));
  uniform_(t, -bound, bound, gen);
}

void xavier_normal_(Tensor& t, Generator& gen, double gain) {
  auto [fan_in, fan_out] = fans(t, "xavier_normal_");
  normal_(t, 0.0, gain * std::sqrt(2.0 / (fan_in + fan_out)), gen);
}

void kaiming_uniform_(Tensor& t, Generator& gen, double a, FanMode mode) {
  auto [fan_in, fan_out] = fans(t, "kaiming_uniform_");
  const double fan = mode == FanMode::fan_in ? fan_in : fan_out;
  const double bound = std::sqrt(2.0 / (1.0 + a * a)) * std::sqrt(3.0 / fan);
  uniform_(t, -bound, bound, gen);
}

void kaiming_normal_(Tensor& t, Generator& gen, double a, FanMode mode) {
  auto [fan_in, fan_out] = fans(t, "kaiming_normal_");
  const double fan = mode == FanMode::fan_in ? fan_in : fan_out;
  normal_(t, 0.0, std::sqrt(2.0 / (1.0 + a * a)) / std::sqrt(fan), gen);
}

}  // namespace init
}  // namespace cf
