#include "ops/loss.h"

#include "autograd/node.h"
#include "cformer/autograd.h"
#include "cformer/ops.h"
#include "ops/elementwise.h"
#include "tensor/tensor_util.h"
#include "util/check.h"

namespace cf {
namespace {

using autograd::Needs;
using autograd::TensorList;
using ops::cpu::PointLoss;

const char* reduction_name(Reduction r) {
  switch (r) {
    case Reduction::none:
      return "none";
    case Reduction::mean:
      return "mean";
    case Reduction::sum:
      return "sum";
    case Reduction::batchmean:
      return "batchmean";
  }
  return "?";
}

void check_reduction(const char* op, Reduction r) {
  CF_CHECK(r != Reduction::batchmean, ValueError, op, ": reduction '", reduction_name(r),
           "' is only defined for kl_div; use none, mean or sum");
}

// A weight-like argument that PyTorch does not differentiate either.
void check_no_grad(const char* op, const Tensor& t, const char* arg) {
  CF_CHECK(!(t.defined() && t.requires_grad() && is_grad_enabled()), ValueError, op,
           ": the loss is not differentiable with respect to ", arg, " (as in PyTorch); pass ", arg,
           ".detach()");
}

// ---------------------------------------------------------------- class-index losses

struct ClassLayout {
  int64_t N = 1, C = 1, inner = 1;
};

// x (N, C, d1, ...) or (C); target (N, d1, ...) or () of class indices; weight (C).
ClassLayout check_class_loss(const char* op, const char* xname, const Tensor& x,
                             const Tensor& target, const Tensor& weight, Reduction reduction) {
  ops::check_floating(op, x, xname);
  CF_CHECK(x.dim() >= 1, ShapeError, op, ": ", xname,
           " must have at least 1 dim (C) or (N, C, ...), got shape ", x.shape());
  CF_CHECK(target.defined(), ValueError, op, ": target is undefined");
  detail::check_cpu(target, op, "target");
  CF_CHECK(target.dtype() == DType::i64, DTypeError, op, ": target must be i64 class indices, got ",
           dtype_name(target.dtype()), " (class-probability targets are not supported)");
  ClassLayout L;
  Shape expected;
  if (x.dim() == 1) {
    L.C = x.size(0);
  } else {
    L.N = x.size(0);
    L.C = x.size(1);
    expected.push_back(L.N);
    for (int d = 2; d < x.dim(); ++d) {
      expected.push_back(x.size(d));
      L.inner *= x.size(d);
    }
  }
  CF_CHECK(target.shape() == expected, ShapeError, op, ": target must have shape ", expected,
           " for ", xname, " of shape ", x.shape(), ", got ", target.shape());
  if (weight.defined()) {
    detail::check_cpu(weight, op, "weight");
    CF_CHECK(weight.dtype() == x.dtype(), DTypeError, op, ": weight must have the dtype of ", xname,
             " (", dtype_name(x.dtype()), "), got ", dtype_name(weight.dtype()));
    CF_CHECK(weight.shape() == Shape{L.C}, ShapeError, op, ": weight must have shape (", L.C,
             "), got ", weight.shape());
    check_no_grad(op, weight, "weight");
  }
  check_reduction(op, reduction);
  return L;
}

void check_targets(const char* op, const Tensor& target, int64_t C, int64_t ignore_index) {
  const int64_t* t = target.numel() ? target.data_ptr<int64_t>() : nullptr;
  for (int64_t r = 0; r < target.numel(); ++r)
    CF_CHECK(t[r] == ignore_index || (t[r] >= 0 && t[r] < C), IndexError, op, ": target ", t[r],
             " is out of bounds for ", C, " classes (ignore_index is ", ignore_index, ")");
}

// Reduces per-row losses (target-shaped) as the op asks; `total_weight` divides the mean.
Tensor reduce_rows(const Tensor& loss, Reduction reduction, double total_weight) {
  if (reduction == Reduction::none) return loss;
  NoGradGuard ng;
  Tensor s = sum(loss);
  return reduction == Reduction::mean ? div(s, total_weight) : s;  // mean of nothing: 0/0 = NaN
}

template <class T>
T* opt_ptr(const Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

struct ClassLossSaved {
  ClassLayout L;
  int64_t ignore_index;
  Reduction reduction;
  double total_weight;
};

double g_scale(Reduction r, double total_weight) {
  return r == Reduction::mean ? 1.0 / total_weight : 1.0;
}

template <class T>
Tensor ce_backward(const Tensor& g, const Tensor& x, const Tensor& target, const Tensor& weight,
                   const Tensor& lse, const ClassLossSaved& s, double ls) {
  const Tensor gc = g.contiguous();
  Tensor dx = empty(x.shape(), x.dtype());
  if (dx.numel() == 0) return dx;
  ops::cpu::CrossEntropyBackwardArgs<T> a{x.data_ptr<T>(),
                                          target.data_ptr<int64_t>(),
                                          opt_ptr<T>(weight),
                                          lse.data_ptr<T>(),
                                          gc.data_ptr<T>(),
                                          s.reduction == Reduction::none ? 1 : 0,
                                          g_scale(s.reduction, s.total_weight),
                                          dx.data_ptr<T>(),
                                          s.L.N,
                                          s.L.C,
                                          s.L.inner,
                                          s.ignore_index,
                                          ls};
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::cross_entropy_backward(a);
  else
    ops::cpu::cross_entropy_backward_ref<T>(a);
  return dx;
}

template <class T>
Tensor nll_backward(const Tensor& g, const Shape& x_shape, const Tensor& target,
                    const Tensor& weight, const ClassLossSaved& s) {
  const Tensor gc = g.contiguous();
  Tensor dx = empty(x_shape, gc.dtype());
  if (dx.numel() == 0) return dx;
  ops::cpu::NllLossBackwardArgs<T> a{target.data_ptr<int64_t>(),
                                     opt_ptr<T>(weight),
                                     gc.data_ptr<T>(),
                                     s.reduction == Reduction::none ? 1 : 0,
                                     g_scale(s.reduction, s.total_weight),
                                     dx.data_ptr<T>(),
                                     s.L.N,
                                     s.L.C,
                                     s.L.inner,
                                     s.ignore_index};
  ops::cpu::nll_loss_backward<T>(a);
  return dx;
}

template <class T>
Tensor class_loss_forward(bool is_ce, const Tensor& x, const Tensor& target, const Tensor& weight,
                          const Tensor& lse, ClassLossSaved& s, double ls) {
  Tensor loss = empty(target.shape(), x.dtype());
  s.total_weight = ops::cpu::target_weight_sum<T>(opt_ptr<int64_t>(target), opt_ptr<T>(weight),
                                                  target.numel(), s.ignore_index);
  if (loss.numel() > 0) {
    if (is_ce) {
      ops::cpu::CrossEntropyArgs<T> a{x.data_ptr<T>(),
                                      target.data_ptr<int64_t>(),
                                      opt_ptr<T>(weight),
                                      loss.data_ptr<T>(),
                                      lse.data_ptr<T>(),
                                      s.L.N,
                                      s.L.C,
                                      s.L.inner,
                                      s.ignore_index,
                                      ls};
      if constexpr (std::is_same_v<T, float>)
        ops::cpu::cross_entropy_forward(a);
      else
        ops::cpu::cross_entropy_forward_ref<T>(a);
    } else {
      ops::cpu::NllLossArgs<T> a{x.data_ptr<T>(),
                                 target.data_ptr<int64_t>(),
                                 opt_ptr<T>(weight),
                                 loss.data_ptr<T>(),
                                 s.L.N,
                                 s.L.C,
                                 s.L.inner,
                                 s.ignore_index};
      ops::cpu::nll_loss_forward<T>(a);
    }
  }
  return loss;
}

Tensor class_loss(bool is_ce, const Tensor& input, const Tensor& target, const Tensor& weight,
                  int64_t ignore_index, Reduction reduction, double label_smoothing) {
  const char* op = is_ce ? "cross_entropy" : "nll_loss";
  const char* xname = is_ce ? "logits" : "log_probs";
  ClassLossSaved s;
  s.L = check_class_loss(op, xname, input, target, weight, reduction);
  CF_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, ValueError, op,
           ": label_smoothing must be in [0, 1], got ", label_smoothing);
  s.ignore_index = ignore_index;
  s.reduction = reduction;
  const Tensor x = input.detach().contiguous();
  const Tensor t = target.detach().contiguous();
  const Tensor w = weight.defined() ? weight.detach().contiguous() : Tensor();
  check_targets(op, t, s.L.C, ignore_index);
  Tensor lse = is_ce ? empty(t.shape(), x.dtype()) : Tensor();
  Tensor loss = x.dtype() == DType::f32
                    ? class_loss_forward<float>(is_ce, x, t, w, lse, s, label_smoothing)
                    : class_loss_forward<double>(is_ce, x, t, w, lse, s, label_smoothing);
  Tensor out = reduce_rows(loss, reduction, s.total_weight);
  if (autograd::needs_grad(input)) {
    if (is_ce) {
      autograd::record(
          op, {input}, out,
          [sx = autograd::save(x), st = autograd::save(t), sw = autograd::save(w), lse, s,
           label_smoothing](const TensorList& g, const Needs&) -> TensorList {
            const Tensor& x = sx.get();
            return {
                x.dtype() == DType::f32
                    ? ce_backward<float>(g[0], x, st.get(), sw.get(), lse, s, label_smoothing)
                    : ce_backward<double>(g[0], x, st.get(), sw.get(), lse, s, label_smoothing)};
          });
    } else {
      autograd::record(op, {input}, out,
                       [x_shape = input.shape(), st = autograd::save(t), sw = autograd::save(w), s](
                           const TensorList& g, const Needs&) -> TensorList {
                         return {g[0].dtype() == DType::f32
                                     ? nll_backward<float>(g[0], x_shape, st.get(), sw.get(), s)
                                     : nll_backward<double>(g[0], x_shape, st.get(), sw.get(), s)};
                       });
    }
  }
  return out;
}

// ---------------------------------------------------------------- pointwise losses

struct PointInputs {
  Tensor x, t, w, pw;  // contiguous, detached, w and pw expanded to x's shape
};

Shape check_point_loss(const char* op, const Tensor& input, const Tensor& target,
                       Reduction reduction, bool allow_batchmean) {
  ops::check_floating(op, input, "input");
  ops::check_floating(op, target, "target");
  CF_CHECK(target.dtype() == input.dtype(), DTypeError, op,
           ": target must have the dtype of input (", dtype_name(input.dtype()), "), got ",
           dtype_name(target.dtype()));
  CF_CHECK(target.shape() == input.shape(), ShapeError, op,
           ": target must have the shape of input ", input.shape(), ", got ", target.shape());
  if (!allow_batchmean) check_reduction(op, reduction);
  return input.shape();
}

Tensor check_broadcast_weight(const char* op, const Tensor& w, const Tensor& input,
                              const char* arg) {
  if (!w.defined()) return Tensor();
  detail::check_cpu(w, op, arg);
  CF_CHECK(w.dtype() == input.dtype(), DTypeError, op, ": ", arg, " must have the dtype of input (",
           dtype_name(input.dtype()), "), got ", dtype_name(w.dtype()));
  bool fits = w.dim() <= input.dim();
  for (int d = 1; fits && d <= w.dim(); ++d) fits = w.size(-d) == 1 || w.size(-d) == input.size(-d);
  CF_CHECK(fits, ShapeError, op, ": ", arg, " of shape ", w.shape(),
           " does not broadcast to input of shape ", input.shape());
  check_no_grad(op, w, arg);
  return w.detach().expand(input.shape()).contiguous();
}

// Index of the first element outside [0, 1] (NaN included), or -1.
template <class T>
int64_t first_outside_unit(const T* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!(x[i] >= T(0) && x[i] <= T(1))) return i;
  return -1;
}

template <class T>
void run_point_forward(PointLoss kind, const PointInputs& p, const Tensor& loss) {
  if (loss.numel() == 0) return;
  ops::cpu::PointLossArgs<T> a{p.x.data_ptr<T>(), p.t.data_ptr<T>(),  opt_ptr<T>(p.w),
                               opt_ptr<T>(p.pw),  loss.data_ptr<T>(), loss.numel()};
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::point_loss_forward(kind, a);
  else
    ops::cpu::point_loss_forward_ref<T>(kind, a);
}

template <class T>
TensorList run_point_backward(PointLoss kind, const PointInputs& p, const Tensor& g, double scale,
                              const Needs& needs) {
  const Tensor gc = g.contiguous();
  Tensor dx = needs[0] ? empty(p.x.shape(), p.x.dtype()) : Tensor();
  Tensor dt = needs[1] ? empty(p.x.shape(), p.x.dtype()) : Tensor();
  if (p.x.numel() == 0) return {dx, dt};
  ops::cpu::PointLossBackwardArgs<T> a{
      p.x.data_ptr<T>(), p.t.data_ptr<T>(),    opt_ptr<T>(p.w), opt_ptr<T>(p.pw),
      gc.data_ptr<T>(),  g.dim() == 0 ? 0 : 1, scale,           opt_ptr<T>(dx),
      opt_ptr<T>(dt),    p.x.numel()};
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::point_loss_backward(kind, a);
  else
    ops::cpu::point_loss_backward_ref<T>(kind, a);
  return {dx, dt};
}

// Computes the elementwise loss, reduces it, and records one node over (input, target).
Tensor point_loss(const char* op, PointLoss kind, const Tensor& input, const Tensor& target,
                  PointInputs p, Reduction reduction) {
  p.x = input.detach().contiguous();
  p.t = target.detach().contiguous();
  Tensor loss = empty(input.shape(), input.dtype());
  if (input.dtype() == DType::f32)
    run_point_forward<float>(kind, p, loss);
  else
    run_point_forward<double>(kind, p, loss);
  Tensor out = loss;
  double scale = 1.0;
  if (reduction != Reduction::none) {
    NoGradGuard ng;
    out = sum(loss);
    if (reduction == Reduction::mean) scale = 1.0 / static_cast<double>(loss.numel());
    if (reduction == Reduction::batchmean && input.dim() > 0)
      scale = 1.0 / static_cast<double>(input.size(0));
    if (scale != 1.0) out = mul(out, scale);  // mean of nothing: 0 * inf = NaN, as PyTorch's 0 / 0
  }
  if (autograd::needs_grad(input, target)) {
    autograd::record(
        op, {input, target}, out,
        [kind, sx = autograd::save(p.x), st = autograd::save(p.t), sw = autograd::save(p.w),
         spw = autograd::save(p.pw), scale](const TensorList& g, const Needs& needs) -> TensorList {
          const PointInputs q{sx.get(), st.get(), sw.get(), spw.get()};
          return q.x.dtype() == DType::f32
                     ? run_point_backward<float>(kind, q, g[0], scale, needs)
                     : run_point_backward<double>(kind, q, g[0], scale, needs);
        });
  }
  return out;
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight,
                     int64_t ignore_index, Reduction reduction, double label_smoothing) {
  return class_loss(true, logits, target, weight, ignore_index, reduction, label_smoothing);
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight,
                int64_t ignore_index, Reduction reduction) {
  return class_loss(false, log_probs, target, weight, ignore_index, reduction, 0.0);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_point_loss("mse_loss", input, target, reduction, false);
  return point_loss("mse_loss", PointLoss::mse, input, target, {}, reduction);
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight,
                            Reduction reduction) {
  const char* op = "binary_cross_entropy";
  check_point_loss(op, input, target, reduction, false);
  PointInputs p;
  p.w = check_broadcast_weight(op, weight, input, "weight");
  const Tensor x = input.detach().contiguous();
  const int64_t bad = x.dtype() == DType::f32 ? first_outside_unit(opt_ptr<float>(x), x.numel())
                                              : first_outside_unit(opt_ptr<double>(x), x.numel());
  CF_CHECK(bad < 0, ValueError, op, ": every element of input must be in [0, 1], got ",
           bad < 0 ? 0.0 : x.reshape(Shape{-1}).select(0, bad).item(), " at flat index ", bad);
  return point_loss(op, PointLoss::bce, input, target, p, reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const Tensor& weight, const Tensor& pos_weight,
                                        Reduction reduction) {
  const char* op = "binary_cross_entropy_with_logits";
  check_point_loss(op, input, target, reduction, false);
  PointInputs p;
  p.w = check_broadcast_weight(op, weight, input, "weight");
  p.pw = check_broadcast_weight(op, pos_weight, input, "pos_weight");
  return point_loss(op, PointLoss::bce_logits, input, target, p, reduction);
}

Tensor kl_div(const Tensor& input, const Tensor& target, Reduction reduction, bool log_target) {
  check_point_loss("kl_div", input, target, reduction, true);
  return point_loss("kl_div", log_target ? PointLoss::kl_div_log_target : PointLoss::kl_div, input,
                    target, {}, reduction);
}

}  // namespace cf
