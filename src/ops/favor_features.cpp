#include "ops/favor_features.h"

#include "autograd/node.h"
#include "cformer/efficient_attention.h"
#include "ops/elementwise.h"
#include "util/check.h"

namespace cf {
namespace {

constexpr const char* kOp = "favor_features";

template <class T>
T* ptr_or_null(const Tensor& t) {
  return t.defined() && t.numel() > 0 ? t.data_ptr<T>() : nullptr;
}

template <class T>
ops::cpu::FavorFeaturesArgs<T> make_args(const Tensor& x, const Tensor& w, const Tensor& out,
                                         const Tensor& argmax, bool is_query, double eps) {
  ops::cpu::FavorFeaturesArgs<T> a{};
  a.x = ptr_or_null<T>(x);
  a.w = ptr_or_null<T>(w);
  a.out = ptr_or_null<T>(out);
  a.argmax = ptr_or_null<int64_t>(argmax);
  a.BH = 1;
  for (int d = 0; d < x.dim() - 2; ++d) a.BH *= x.size(d);
  a.L = x.size(-2);
  a.d = x.size(-1);
  a.m = w.size(0);
  a.is_query = is_query;
  a.eps = eps;
  return a;
}

void check_favor_features(const Tensor& x, const Tensor& w) {
  ops::check_floating(kOp, x, "x");
  ops::check_floating(kOp, w, "projection");
  CF_CHECK(w.dtype() == x.dtype(), DTypeError, kOp, ": projection must have dtype ",
           dtype_name(x.dtype()), " like x, got ", dtype_name(w.dtype()));
  CF_CHECK(x.dim() >= 2 && w.dim() == 2 && w.size(1) == x.size(-1), ShapeError, kOp,
           ": x must be (..., L, d) and projection (m, d), got x ", x.shape(), " and projection ",
           w.shape());
  CF_CHECK(w.size(0) >= 1, ShapeError, kOp,
           ": projection must have at least one row (m >= 1), got ", w.shape());
}

}  // namespace

Tensor favor_features(const Tensor& x_in, const Tensor& w_in, bool is_query, double eps) {
  check_favor_features(x_in, w_in);
  const Tensor x = x_in.detach().contiguous(), w = w_in.detach().contiguous();
  Shape out_shape;
  int64_t bh = 1;
  for (int d = 0; d < x.dim() - 1; ++d) out_shape.push_back(x.size(d));
  for (int d = 0; d < x.dim() - 2; ++d) bh *= x.size(d);
  out_shape.push_back(w.size(0));
  Tensor out = empty(out_shape, x.dtype());
  Tensor argmax = empty(Shape{is_query ? bh * x.size(-2) : bh}, DType::i64);
  if (x.dtype() == DType::f32)
    ops::cpu::favor_features_forward(make_args<float>(x, w, out, argmax, is_query, eps));
  else
    ops::cpu::favor_features_forward_ref(make_args<double>(x, w, out, argmax, is_query, eps));
  if (autograd::needs_grad(x_in, w_in)) {
    autograd::record(
        kOp, {x_in, w_in}, out,
        [sx = autograd::save(x), sw = autograd::save(w), so = autograd::save(out), argmax, is_query,
         eps](const autograd::TensorList& g, const autograd::Needs& needs) -> autograd::TensorList {
          const Tensor &x = sx.get(), &w = sw.get(), &o = so.get();
          const Tensor go = g[0].contiguous();
          Tensor dx = needs[0] ? empty(x.shape(), x.dtype()) : Tensor();
          Tensor dw = needs[1] ? empty(w.shape(), w.dtype()) : Tensor();
          if (x.dtype() == DType::f32) {
            ops::cpu::favor_features_backward(make_args<float>(x, w, o, argmax, is_query, eps),
                                              ptr_or_null<float>(go), ptr_or_null<float>(dx),
                                              ptr_or_null<float>(dw));
          } else {
            ops::cpu::favor_features_backward_ref(make_args<double>(x, w, o, argmax, is_query, eps),
                                                  ptr_or_null<double>(go), ptr_or_null<double>(dx),
                                                  ptr_or_null<double>(dw));
          }
          return {dx, dw};
        });
  }
  return out;
}

}  // namespace cf
