#include "ops/conv.h"

#include "autograd/node.h"
#include "cformer/ops.h"
#include "ops/elementwise.h"
#include "tensor/tensor_util.h"
#include "util/check.h"

namespace cf {
namespace {

using autograd::Needs;
using autograd::TensorList;
using ops::cpu::Conv2dGeometry;

template <class T>
T* ptr(const Tensor& t) {
  return t.defined() && t.numel() ? t.data_ptr<T>() : nullptr;
}

struct Pair {
  int64_t h, w;
};

// stride / padding / dilation / output_padding: one value for both dims or (h, w), as in torch.
Pair pair_arg(const char* op, const char* name, const Shape& s, int64_t min) {
  CF_CHECK(s.size() == 1 || s.size() == 2, ValueError, op, ": ", name,
           " must have 1 or 2 values, got ", s);
  const Pair p{s[0], s[s.size() - 1]};
  CF_CHECK(p.h >= min && p.w >= min, ValueError, op, ": ", name, " must be >= ", min, ", got ", s);
  return p;
}

void check_tensors(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias,
                   const char* weight_layout) {
  CF_CHECK(x.defined(), ValueError, op, ": input is undefined");
  CF_CHECK(weight.defined(), ValueError, op, ": weight is undefined");
  ops::check_floating(op, x);
  detail::check_cpu(weight, op, "weight");
  CF_CHECK(weight.dtype() == x.dtype(), DTypeError, op, ": weight must have dtype ",
           dtype_name(x.dtype()), " like the input, got ", dtype_name(weight.dtype()));
  CF_CHECK(x.dim() == 3 || x.dim() == 4, ShapeError, op,
           ": input must be 4-D (N, C, H, W) or 3-D (C, H, W), got shape ", x.shape());
  CF_CHECK(weight.dim() == 4, ShapeError, op, ": weight must be 4-D ", weight_layout,
           ", got shape ", weight.shape());
  CF_CHECK(weight.size(2) >= 1 && weight.size(3) >= 1, ShapeError, op,
           ": weight must have a positive kernel size, got shape ", weight.shape());
  if (bias.defined()) {
    detail::check_cpu(bias, op, "bias");
    CF_CHECK(bias.dtype() == x.dtype(), DTypeError, op, ": bias must have dtype ",
             dtype_name(x.dtype()), " like the input, got ", dtype_name(bias.dtype()));
  }
}

void check_bias(const char* op, const Tensor& bias, int64_t channels) {
  CF_CHECK(!bias.defined() || bias.shape() == Shape{channels}, ShapeError, op,
           ": bias must have shape (", channels, "), got ", bias.shape());
}

// Input of 3 or 4 dims as (N, C, H, W).
Tensor batched(const Tensor& x) {
  return x.dim() == 3 ? x.unsqueeze(0) : x;
}

Shape image_shape(const Conv2dGeometry& g) {
  return Shape{g.N, g.C, g.H, g.W};
}
Shape output_shape(const Conv2dGeometry& g) {
  return Shape{g.N, g.O, g.OH, g.OW};
}

template <class T>
void forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y,
             const Conv2dGeometry& g) {
  const ops::cpu::Conv2dArgs<T> a{ptr<T>(x), ptr<T>(w), ptr<T>(b), ptr<T>(y), g};
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::conv2d_forward(a);
  else
    ops::cpu::conv2d_forward_ref(a);
}

template <class T>
void backward_input(const Tensor& dy, const Tensor& w, const Tensor& b, const Tensor& dx,
                    const Conv2dGeometry& g) {
  const ops::cpu::Conv2dBackwardInputArgs<T> a{ptr<T>(dy), ptr<T>(w), ptr<T>(b), ptr<T>(dx), g};
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::conv2d_backward_input(a);
  else
    ops::cpu::conv2d_backward_input_ref(a);
}

template <class T>
void backward_weight(const Tensor& x, const Tensor& dy, const Tensor& dw, const Tensor& db,
                     const Conv2dGeometry& g) {
  const ops::cpu::Conv2dBackwardWeightArgs<T> a{ptr<T>(x), ptr<T>(dy), ptr<T>(dw), ptr<T>(db), g};
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::conv2d_backward_weight(a);
  else
    ops::cpu::conv2d_backward_weight_ref(a);
}

// The three kernels on tensors, by dtype; dw / db are undefined when not wanted.
Tensor run_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dGeometry& g) {
  Tensor y = empty(output_shape(g), x.dtype());
  if (x.dtype() == DType::f32)
    forward<float>(x, w, b, y, g);
  else
    forward<double>(x, w, b, y, g);
  return y;
}

Tensor run_backward_input(const Tensor& dy, const Tensor& w, const Tensor& b,
                          const Conv2dGeometry& g) {
  Tensor dx = empty(image_shape(g), dy.dtype());
  if (dy.dtype() == DType::f32)
    backward_input<float>(dy, w, b, dx, g);
  else
    backward_input<double>(dy, w, b, dx, g);
  return dx;
}

void run_backward_weight(const Tensor& x, const Tensor& dy, const Tensor& dw, const Tensor& db,
                         const Conv2dGeometry& g) {
  if (x.dtype() == DType::f32)
    backward_weight<float>(x, dy, dw, db, g);
  else
    backward_weight<double>(x, dy, dw, db, g);
}

Tensor detached(const Tensor& t) {
  return t.defined() ? t.detach().contiguous() : Tensor();
}

// stride, padding, dilation and groups: validated alike for both ops.
struct Hyper {
  Pair s, p, d;
  int64_t groups;
};
Hyper hyper_args(const char* op, const Shape& stride, const Shape& padding, const Shape& dilation,
                 int64_t groups) {
  const Hyper h{pair_arg(op, "stride", stride, 1), pair_arg(op, "padding", padding, 0),
                pair_arg(op, "dilation", dilation, 1), groups};
  CF_CHECK(groups >= 1, ValueError, op, ": groups must be positive, got ", groups);
  return h;
}

// The extent (rows, columns) of a weight ws (., ., KH, KW) with the dilation in place.
Pair dilated_kernel(const Hyper& h, const Shape& ws) {
  return {h.d.h * (ws[2] - 1) + 1, h.d.w * (ws[3] - 1) + 1};
}

// The geometry of a conv2d from (N, C, H, W) to (N, O, OH, OW) with a weight of shape ws.
Conv2dGeometry geometry(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t OH,
                        int64_t OW, const Shape& ws, const Hyper& h) {
  return {N, C, H, W, O, ws[2], ws[3], OH, OW, h.s.h, h.s.w, h.p.h, h.p.w, h.d.h, h.d.w, h.groups};
}

int64_t batch_size(const Tensor& x) {
  return x.dim() == 4 ? x.size(0) : 1;
}

Conv2dGeometry check_conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                            const Shape& stride, const Shape& padding, const Shape& dilation,
                            int64_t groups) {
  const char* op = "conv2d";
  check_tensors(op, x, weight, bias, "(out_channels, in_channels / groups, kH, kW)");
  const Hyper h = hyper_args(op, stride, padding, dilation, groups);
  const Shape& ws = weight.shape();
  const int64_t O = ws[0], C = x.size(-3), H = x.size(-2), W = x.size(-1);
  CF_CHECK(O % groups == 0, ValueError, op, ": out_channels ", O, " (weight shape ", ws,
           ") is not divisible by groups ", groups);
  CF_CHECK(C == ws[1] * groups, ShapeError, op, ": input has ", C, " channels but weight expects ",
           ws[1] * groups, " (weight shape ", ws, ", groups ", groups, ")");
  check_bias(op, bias, O);
  const Pair ek = dilated_kernel(h, ws);
  CF_CHECK(ek.h <= H + 2 * h.p.h && ek.w <= W + 2 * h.p.w, ShapeError, op, ": kernel size (", ek.h,
           ", ", ek.w, ") (dilation included) is larger than the padded input (", H + 2 * h.p.h,
           ", ", W + 2 * h.p.w, ") of input shape ", x.shape());
  return geometry(batch_size(x), C, H, W, O, (H + 2 * h.p.h - ek.h) / h.s.h + 1,
                  (W + 2 * h.p.w - ek.w) / h.s.w + 1, ws, h);
}

// The conv2d whose input gradient conv_transpose2d is: from (N, O, OH, OW) to x's (N, C, H, W).
Conv2dGeometry check_conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                      const Shape& stride, const Shape& padding,
                                      const Shape& output_padding, int64_t groups,
                                      const Shape& dilation) {
  const char* op = "conv_transpose2d";
  check_tensors(op, x, weight, bias, "(in_channels, out_channels / groups, kH, kW)");
  const Hyper h = hyper_args(op, stride, padding, dilation, groups);
  const Pair out_pad = pair_arg(op, "output_padding", output_padding, 0);
  CF_CHECK((out_pad.h < h.s.h || out_pad.h < h.d.h) && (out_pad.w < h.s.w || out_pad.w < h.d.w),
           ValueError, op, ": output_padding ", output_padding, " must be smaller than stride ",
           stride, " or dilation ", dilation);
  const Shape& ws = weight.shape();
  const int64_t C = x.size(-3), H = x.size(-2), W = x.size(-1);
  CF_CHECK(C == ws[0], ShapeError, op, ": input has ", C, " channels but weight expects ", ws[0],
           " (weight shape ", ws, ", groups ", groups, ")");
  CF_CHECK(C % groups == 0, ValueError, op, ": in_channels ", C, " (weight shape ", ws,
           ") is not divisible by groups ", groups);
  const int64_t O = ws[1] * groups;
  check_bias(op, bias, O);
  const Pair ek = dilated_kernel(h, ws);
  const int64_t OH = (H - 1) * h.s.h - 2 * h.p.h + ek.h + out_pad.h;
  const int64_t OW = (W - 1) * h.s.w - 2 * h.p.w + ek.w + out_pad.w;
  CF_CHECK(H >= 1 && W >= 1 && OH >= 1 && OW >= 1, ShapeError, op, ": input shape ", x.shape(),
           " gives the output size (", OH, ", ", OW, "), which is too small");
  return geometry(batch_size(x), O, OH, OW, C, H, W, ws, h);
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Shape& stride,
              const Shape& padding, const Shape& dilation, int64_t groups) {
  const Conv2dGeometry g = check_conv2d(x, weight, bias, stride, padding, dilation, groups);
  const Tensor x4 = batched(x);
  const Tensor xc = detached(x4), wc = detached(weight);
  Tensor y = run_forward(xc, wc, detached(bias), g);
  if (autograd::needs_grad(x4, weight, bias)) {
    const bool has_bias = bias.defined();
    autograd::record("conv2d", {x4, weight, bias}, y,
                     [sx = autograd::save(xc), sw = autograd::save(wc), g, has_bias](
                         const TensorList& grads, const Needs& needs) -> TensorList {
                       const Tensor dy = grads[0].contiguous();
                       const Tensor& x = sx.get();
                       const Tensor& w = sw.get();
                       Tensor dx, dw, db;
                       if (needs[0]) dx = run_backward_input(dy, w, Tensor(), g);
                       if (needs[1]) dw = empty(w.shape(), w.dtype());
                       if (has_bias && needs[2]) db = empty(Shape{g.O}, w.dtype());
                       if (dw.defined() || db.defined()) run_backward_weight(x, dy, dw, db, g);
                       return {dx, dw, db};
                     });
  }
  return x.dim() == 3 ? y.squeeze(0) : y;
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        const Shape& stride, const Shape& padding, const Shape& output_padding,
                        int64_t groups, const Shape& dilation) {
  const Conv2dGeometry g =
      check_conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation);
  const Tensor x4 = batched(x);
  const Tensor xc = detached(x4), wc = detached(weight);
  Tensor y = run_backward_input(xc, wc, detached(bias), g);
  if (autograd::needs_grad(x4, weight, bias)) {
    const bool has_bias = bias.defined();
    autograd::record("conv_transpose2d", {x4, weight, bias}, y,
                     [sx = autograd::save(xc), sw = autograd::save(wc), g, has_bias](
                         const TensorList& grads, const Needs& needs) -> TensorList {
                       // y = conv2d's input gradient for the "output gradient" x: the upstream
                       // gradient plays conv2d's input.
                       const Tensor dy = grads[0].contiguous();
                       const Tensor& x = sx.get();
                       const Tensor& w = sw.get();
                       Tensor dx, dw, db;
                       if (needs[0]) dx = run_forward(dy, w, Tensor(), g);
                       if (needs[1]) {
                         dw = empty(w.shape(), w.dtype());
                         run_backward_weight(dy, x, dw, Tensor(), g);
                       }
                       if (has_bias && needs[2]) db = sum(dy, Dims{0, 2, 3});
                       return {dx, dw, db};
                     });
  }
  return x.dim() == 3 ? y.squeeze(0) : y;
}

}  // namespace cf
