#include "ops/unary.h"

#include <cmath>

#include "autograd/node.h"
#include "cformer/ops.h"
#include "ops/elementwise.h"
#include "ops/inplace.h"
#include "util/check.h"

namespace cf {
namespace {

using autograd::Needs;
using autograd::TensorList;
using ops::cpu::Unary;
using ops::cpu::UnaryParams;

const char* unary_name(Unary op) {
  switch (op) {
    case Unary::neg: return "neg";
    case Unary::exp: return "exp";
    case Unary::log: return "log";
    case Unary::sqrt: return "sqrt";
    case Unary::rsqrt: return "rsqrt";
    case Unary::abs: return "abs";
    case Unary::tanh: return "tanh";
    case Unary::sigmoid: return "sigmoid";
    case Unary::relu: return "relu";
    case Unary::leaky_relu: return "leaky_relu";
    case Unary::gelu:
    case Unary::gelu_tanh: return "gelu";
    case Unary::silu: return "silu";
    case Unary::softplus: return "softplus";
    case Unary::clamp: return "clamp";
    case Unary::pow: return "pow";
  }
  return "?";
}

// Which tensor the backward needs (see the table in ops/unary.h).
enum class Saves { nothing, input, output };
Saves saved_by(Unary op) {
  switch (op) {
    case Unary::neg: return Saves::nothing;
    case Unary::exp:
    case Unary::sqrt:
    case Unary::rsqrt:
    case Unary::tanh:
    case Unary::sigmoid:
    case Unary::relu: return Saves::output;
    default: return Saves::input;
  }
}

bool takes_i64(Unary op) { return op == Unary::neg || op == Unary::abs || op == Unary::clamp; }

Tensor unary(Unary op, const Tensor& x, const UnaryParams& p = {}) {
  const char* name = unary_name(op);
  if (takes_i64(op)) ops::check_arithmetic(name, x);
  else ops::check_floating(name, x);
  Tensor y = empty(x.shape(), x.dtype());
  ops::cpu::unary_forward(op, p, ops::make_loop<2>(y, {&x}), x.dtype());
  if (autograd::needs_grad(x)) {
    const Saves what = saved_by(op);
    autograd::SavedTensor saved = what == Saves::input    ? autograd::save(x)
                                  : what == Saves::output ? autograd::save(y)
                                                          : autograd::SavedTensor();
    autograd::record(name, {x}, y, [op, p, saved](const TensorList& g, const Needs&) -> TensorList {
      if (op == Unary::neg) return {neg(g[0])};
      const Tensor& s = saved.get();
      Tensor dx = empty(s.shape(), s.dtype());
      ops::cpu::unary_backward(op, p, ops::make_loop<3>(dx, {&g[0], &s}), s.dtype());
      return {dx};
    });
  }
  return y;
}

// clamp's bounds as kernel parameters (+-inf where absent); checks them for x's dtype.
UnaryParams clamp_params(const char* op, const Tensor& x, std::optional<double> min,
                         std::optional<double> max) {
  CF_CHECK(min || max, ValueError, op, ": at least one of min and max must be given");
  CF_CHECK(!(min && std::isnan(*min)) && !(max && std::isnan(*max)), ValueError, op,
           ": min and max must not be NaN");
  if (x.dtype() == DType::i64) {
    for (const std::optional<double>& b : {min, max})
      CF_CHECK(!b || (std::isfinite(*b) && std::trunc(*b) == *b), ValueError, op,
               ": bounds of an i64 tensor must be integers, got ", *b);
  }
  return {min.value_or(-INFINITY), max.value_or(INFINITY)};
}

}  // namespace

Tensor neg(const Tensor& x) { return unary(Unary::neg, x); }
Tensor exp(const Tensor& x) { return unary(Unary::exp, x); }
Tensor log(const Tensor& x) { return unary(Unary::log, x); }
Tensor sqrt(const Tensor& x) { return unary(Unary::sqrt, x); }
Tensor rsqrt(const Tensor& x) { return unary(Unary::rsqrt, x); }
Tensor abs(const Tensor& x) { return unary(Unary::abs, x); }
Tensor tanh(const Tensor& x) { return unary(Unary::tanh, x); }
Tensor sigmoid(const Tensor& x) { return unary(Unary::sigmoid, x); }
Tensor relu(const Tensor& x) { return unary(Unary::relu, x); }
Tensor leaky_relu(const Tensor& x, double negative_slope) {
  return unary(Unary::leaky_relu, x, {negative_slope, 0.0});
}
Tensor gelu(const Tensor& x, GeluApproximation approximate) {
  return unary(approximate == GeluApproximation::tanh ? Unary::gelu_tanh : Unary::gelu, x);
}
Tensor silu(const Tensor& x) { return unary(Unary::silu, x); }
Tensor softplus(const Tensor& x, double beta, double threshold) {
  CF_CHECK(beta != 0.0, ValueError, "softplus: beta must be non-zero, got ", beta);
  return unary(Unary::softplus, x, {beta, threshold});
}
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max) {
  ops::check_arithmetic("clamp", x);
  return unary(Unary::clamp, x, clamp_params("clamp", x, min, max));
}
Tensor pow(const Tensor& x, double exponent) { return unary(Unary::pow, x, {exponent, 0.0}); }

namespace ops {

void clamp_into(const Tensor& out, const Tensor& a, std::optional<double> min,
                std::optional<double> max) {
  check_arithmetic("clamp_", out, "output");
  check_arithmetic("clamp_", a);
  CF_CHECK(out.dtype() == a.dtype(), DTypeError, "clamp_: output dtype ", dtype_name(out.dtype()),
           " differs from input dtype ", dtype_name(a.dtype()));
  CF_CHECK(broadcast_shapes(a.shape(), out.shape(), "clamp_") == out.shape(), ShapeError,
           "clamp_: the input of shape ", a.shape(), " does not fit the output of shape ",
           out.shape());
  cpu::unary_forward(Unary::clamp, clamp_params("clamp_", a, min, max), make_loop<2>(out, {&a}),
                     out.dtype());
}

}  // namespace ops
}  // namespace cf
