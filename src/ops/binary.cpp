#include "ops/binary.h"

#include <string_view>

#include "autograd/node.h"
#include "cformer/ops.h"
#include "ops/elementwise.h"
#include "ops/inplace.h"
#include "ops/reduce.h"
#include "util/check.h"

namespace cf {
namespace {

using autograd::Needs;
using autograd::TensorList;
using ops::cpu::Arith;

const char* arith_name(Arith op) {
  switch (op) {
    case Arith::add: return "add";
    case Arith::sub: return "sub";
    case Arith::mul: return "mul";
    case Arith::div: return "div";
  }
  return "?";
}

Tensor arith(Arith op, const Tensor& a, const Tensor& b, double alpha) {
  const char* name = arith_name(op);
  const Shape shape = ops::check_binary(name, a, b);
  if (op == Arith::div) ops::check_floating(name, a);
  else ops::check_arithmetic(name, a);
  Tensor out = empty(shape, a.dtype());
  ops::cpu::arith(op, ops::make_loop<3>(out, {&a, &b}), a.dtype(), alpha);
  if (autograd::needs_grad(a, b)) {
    const Shape sa = a.shape(), sb = b.shape();
    auto back = [op, alpha, sa, sb, a_saved = op == Arith::add || op == Arith::sub
                                                 ? autograd::SavedTensor()
                                                 : autograd::save(a),
                 b_saved = op == Arith::add || op == Arith::sub ? autograd::SavedTensor()
                                                                : autograd::save(b)](
                    const TensorList& g, const Needs& needs) -> TensorList {
      Tensor ga, gb;
      switch (op) {
        case Arith::add:
        case Arith::sub: {
          if (needs[0]) ga = ops::sum_to_shape(g[0], sa);
          const double s = op == Arith::add ? alpha : -alpha;
          if (needs[1]) gb = ops::sum_to_shape(s == 1.0 ? g[0] : mul(g[0], s), sb);
          break;
        }
        case Arith::mul:
          if (needs[0]) ga = ops::sum_to_shape(mul(g[0], b_saved.get()), sa);
          if (needs[1]) gb = ops::sum_to_shape(mul(g[0], a_saved.get()), sb);
          break;
        case Arith::div: {
          const Tensor& bv = b_saved.get();
          if (needs[0]) ga = ops::sum_to_shape(div(g[0], bv), sa);
          if (needs[1]) {
            Tensor d = empty(g[0].shape(), g[0].dtype());
            const Tensor& av = a_saved.get();
            ops::cpu::div_backward_divisor(ops::make_loop<4>(d, {&g[0], &av, &bv}), d.dtype());
            gb = ops::sum_to_shape(d, sb);
          }
          break;
        }
      }
      return {ga, gb};
    };
    autograd::record(name, {a, b}, out, std::move(back));
  }
  return out;
}

Tensor arith_scalar(Arith op, const Tensor& a, double s) {
  const char* name = arith_name(op);
  if (op == Arith::div) ops::check_floating(name, a);
  else ops::check_arithmetic(name, a);
  Tensor out = empty(a.shape(), a.dtype());
  ops::cpu::arith_scalar(op, ops::make_loop<2>(out, {&a}), a.dtype(), s);
  if (autograd::needs_grad(a)) {
    autograd::record(name, {a}, out, [op, s](const TensorList& g, const Needs&) -> TensorList {
      switch (op) {
        case Arith::add:
        case Arith::sub: return {g[0]};
        case Arith::mul: return {mul(g[0], s)};
        case Arith::div: return {div(g[0], s)};
      }
      return {Tensor()};
    });
  }
  return out;
}

// pow (is_pow) or maximum / minimum: forward kernel, and a backward whose fused kernels take
// (d, g, a, b) over the broadcast shape before the sum back to each input's shape.
Tensor pow_minmax(const char* name, const Tensor& a, const Tensor& b) {
  const std::string_view op = name;
  const bool is_pow = op == "pow", is_max = op == "maximum";
  const Shape shape = ops::check_binary(name, a, b);
  if (is_pow) ops::check_floating(name, a);
  else ops::check_arithmetic(name, a);
  Tensor out = empty(shape, a.dtype());
  if (is_pow) ops::cpu::pow_forward(ops::make_loop<3>(out, {&a, &b}), a.dtype());
  else ops::cpu::minmax_forward(is_max, ops::make_loop<3>(out, {&a, &b}), a.dtype());
  if (autograd::needs_grad(a, b)) {
    auto back = [is_pow, is_max, sa = autograd::save(a), sb = autograd::save(b)](
                    const TensorList& g, const Needs& needs) -> TensorList {
      const Tensor& av = sa.get();
      const Tensor& bv = sb.get();
      Tensor ga, gb;
      if (needs[0]) {
        Tensor d = empty(g[0].shape(), g[0].dtype());
        const auto L = ops::make_loop<4>(d, {&g[0], &av, &bv});
        if (is_pow) ops::cpu::pow_backward_base(L, d.dtype());
        else ops::cpu::minmax_backward(is_max, L, d.dtype());
        ga = ops::sum_to_shape(d, av.shape());
      }
      if (needs[1]) {
        Tensor d = empty(g[0].shape(), g[0].dtype());
        // The exponent's kernel takes (a, b); minmax's takes (self, other) = (b, a).
        if (is_pow)
          ops::cpu::pow_backward_exponent(ops::make_loop<4>(d, {&g[0], &av, &bv}), d.dtype());
        else ops::cpu::minmax_backward(is_max, ops::make_loop<4>(d, {&g[0], &bv, &av}), d.dtype());
        gb = ops::sum_to_shape(d, bv.shape());
      }
      return {ga, gb};
    };
    autograd::record(name, {a, b}, out, std::move(back));
  }
  return out;
}

}  // namespace

Tensor pow(const Tensor& a, const Tensor& exponent) { return pow_minmax("pow", a, exponent); }
Tensor maximum(const Tensor& a, const Tensor& b) { return pow_minmax("maximum", a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return pow_minmax("minimum", a, b); }

Tensor add(const Tensor& a, const Tensor& b, double alpha) { return arith(Arith::add, a, b, alpha); }
Tensor sub(const Tensor& a, const Tensor& b, double alpha) { return arith(Arith::sub, a, b, alpha); }
Tensor mul(const Tensor& a, const Tensor& b) { return arith(Arith::mul, a, b, 1.0); }
Tensor div(const Tensor& a, const Tensor& b) { return arith(Arith::div, a, b, 1.0); }
Tensor add(const Tensor& a, double b) { return arith_scalar(Arith::add, a, b); }
Tensor sub(const Tensor& a, double b) { return arith_scalar(Arith::sub, a, b); }
Tensor mul(const Tensor& a, double b) { return arith_scalar(Arith::mul, a, b); }
Tensor div(const Tensor& a, double b) { return arith_scalar(Arith::div, a, b); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return div(a, b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return add(neg(b), a); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(double a, const Tensor& b) { return mul(pow(b, -1.0), a); }
Tensor operator-(const Tensor& a) { return neg(a); }

namespace ops {

namespace {
void check_into(const char* op, const Tensor& out, const Tensor& a, const Tensor& b) {
  const Shape shape = check_binary(op, a, b);
  CF_CHECK(out.dtype() == a.dtype(), DTypeError, op, ": output dtype ", dtype_name(out.dtype()),
           " differs from input dtype ", dtype_name(a.dtype()));
  CF_CHECK(broadcast_shapes(shape, out.shape(), op) == out.shape(), ShapeError, op,
           ": the result of shape ", shape, " does not fit the output of shape ", out.shape());
  check_arithmetic(op, out, "output");
}
}  // namespace

void add_into(const Tensor& out, const Tensor& a, const Tensor& b, double alpha) {
  check_into("add_", out, a, b);
  cpu::arith(Arith::add, make_loop<3>(out, {&a, &b}), out.dtype(), alpha);
}
void mul_into(const Tensor& out, const Tensor& a, const Tensor& b) {
  check_into("mul_", out, a, b);
  cpu::arith(Arith::mul, make_loop<3>(out, {&a, &b}), out.dtype(), 1.0);
}
void add_scalar_into(const Tensor& out, const Tensor& a, double value) {
  check_arithmetic("add_", out);
  cpu::arith_scalar(Arith::add, make_loop<2>(out, {&a}), out.dtype(), value);
}
void mul_scalar_into(const Tensor& out, const Tensor& a, double value) {
  check_arithmetic("mul_", out);
  cpu::arith_scalar(Arith::mul, make_loop<2>(out, {&a}), out.dtype(), value);
}

}  // namespace ops
}  // namespace cf
