// Plain versions of a few elementwise ops the core needs before the elementwise family lands.
// The elementwise family replaces this file.
#include <cmath>

#include "autograd/node.h"
#include "cformer/ops.h"
#include "ops/cpu/elementwise.h"
#include "ops/elementwise.h"
#include "ops/copy.h"
#include "ops/inplace.h"

namespace cf {

Tensor neg(const Tensor& x) { return mul(x, -1.0); }

Tensor pow(const Tensor& x, double e) {
  ops::check_floating("pow", x);
  Tensor out = empty(x.shape(), x.dtype());
  Tensor xd = x.detach().to(DType::f64).contiguous();
  Tensor od = empty(x.shape(), DType::f64);
  const double* px = xd.numel() ? xd.data_ptr<double>() : nullptr;
  double* po = od.numel() ? od.data_ptr<double>() : nullptr;
  for (int64_t i = 0; i < x.numel(); ++i) po[i] = std::pow(px[i], e);
  ops::copy_into(out, od);
  if (autograd::needs_grad(x)) {
    autograd::record("pow", {x}, out, [sx = autograd::save(x), e](const autograd::TensorList& g,
                                                                   const autograd::Needs&) -> autograd::TensorList {
      return {mul(g[0], mul(pow(sx.get(), e - 1.0), e))};
    });
  }
  return out;
}

Tensor lt(const Tensor& a, double b) {
  Tensor out = empty(a.shape(), DType::b8);
  Tensor ad = a.to(DType::f64);
  ops::cpu::binary_loop<bool, double, double>(ops::make_loop<3>(out, {&ad, &ad}),
                                              [b](double x, double) { return x < b; });
  return out;
}

Tensor lt(const Tensor& a, const Tensor& b) {
  Tensor out = empty(broadcast_shapes(a.shape(), b.shape(), "lt"), DType::b8);
  Tensor ad = a.to(DType::f64), bd = b.to(DType::f64);
  ops::cpu::binary_loop<bool, double, double>(ops::make_loop<3>(out, {&ad, &bd}),
                                              [](double x, double y) { return x < y; });
  return out;
}

namespace ops {

void masked_fill_into(const Tensor& out, const Tensor& a, const Tensor& mask, double value) {
  Tensor ad = a.to(DType::f64);
  Tensor res = empty(out.shape(), DType::f64);
  cpu::binary_loop<double, double, bool>(make_loop<3>(res, {&ad, &mask}),
                                         [value](double x, bool m) { return m ? value : x; });
  copy_into(out, res);
}

void clamp_into(const Tensor& out, const Tensor& a, std::optional<double> lo, std::optional<double> hi) {
  Tensor ad = a.to(DType::f64);
  Tensor res = empty(out.shape(), DType::f64);
  const double l = lo.value_or(-INFINITY), h = hi.value_or(INFINITY);
  cpu::unary_loop<double, double>(make_loop<2>(res, {&ad}),
                                  [l, h](double x) { return std::min(std::max(x, l), h); });
  copy_into(out, res);
}

}  // namespace ops
}  // namespace cf
