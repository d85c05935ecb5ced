#include "ops/batch_norm.h"

#include "autograd/node.h"
#include "cformer/ops.h"
#include "ops/elementwise.h"
#include "tensor/tensor_util.h"
#include "util/check.h"

namespace cf {
namespace {

using autograd::Needs;
using autograd::TensorList;

template <class T>
T* ptr(const Tensor& t) {
  return t.defined() && t.numel() ? t.data_ptr<T>() : nullptr;
}

struct Layout {
  int64_t N = 0, C = 0, S = 1;
};

Layout check_batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                        const Tensor& weight, const Tensor& bias, bool training, double momentum) {
  const char* op = "batch_norm";
  ops::check_floating(op, x);
  CF_CHECK(x.dim() >= 2, ShapeError, op, ": input must have shape (N, C, ...), got ", x.shape());
  Layout l{x.shape()[0], x.shape()[1], 1};
  for (int d = 2; d < x.dim(); ++d) l.S *= x.shape()[d];
  const Shape channels{l.C};
  for (const auto& [t, arg] :
       {std::pair{&running_mean, "running_mean"}, std::pair{&running_var, "running_var"},
        std::pair{&weight, "weight"}, std::pair{&bias, "bias"}}) {
    if (!t->defined()) continue;
    detail::check_cpu(*t, op, arg);
    CF_CHECK(t->dtype() == x.dtype(), DTypeError, op, ": ", arg, " must have dtype ",
             dtype_name(x.dtype()), " like the input, got ", dtype_name(t->dtype()));
    CF_CHECK(t->shape() == channels, ShapeError, op, ": ", arg, " must have shape ", channels,
             ", got ", t->shape());
  }
  if (training) {
    CF_CHECK(l.N * l.S > 1, ValueError, op,
             ": expected more than 1 value per channel when training, ", "got input of shape ",
             x.shape());
    CF_CHECK(running_mean.defined() == running_var.defined(), ValueError, op,
             ": running_mean and running_var must both be given or both be undefined");
  } else {
    CF_CHECK(running_mean.defined() && running_var.defined(), ValueError, op,
             ": running_mean and running_var must be given in eval mode");
  }
  CF_CHECK(momentum >= 0.0 && momentum <= 1.0, ValueError, op, ": momentum must be in [0, 1], got ",
           momentum);
  return l;
}

template <class T>
void run_forward(const ops::cpu::BatchNormArgs<T>& a) {
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::batch_norm_forward(a);
  else
    ops::cpu::batch_norm_forward_ref(a);
}

template <class T>
TensorList backward(const Tensor& x, const Tensor& w, const Tensor& mean, const Tensor& rstd,
                    const Tensor& g, const Needs& needs, const Layout& l, bool training) {
  Tensor dx = needs[0] ? empty(x.shape(), x.dtype()) : Tensor();
  Tensor dw = needs[3] ? empty(Shape{l.C}, x.dtype()) : Tensor();
  Tensor db = needs[4] ? empty(Shape{l.C}, x.dtype()) : Tensor();
  const ops::cpu::BatchNormBackwardArgs<T> a{ptr<T>(x), ptr<T>(w),  ptr<T>(mean), ptr<T>(rstd),
                                             ptr<T>(g), ptr<T>(dx), ptr<T>(dw),   ptr<T>(db),
                                             l.N,       l.C,        l.S,          training};
  if constexpr (std::is_same_v<T, float>)
    ops::cpu::batch_norm_backward(a);
  else
    ops::cpu::batch_norm_backward_ref(a);
  return {dx, Tensor(), Tensor(), dw, db};
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum,
                  double eps) {
  const Layout l = check_batch_norm(x, running_mean, running_var, weight, bias, training, momentum);
  const Tensor xc = x.detach().contiguous();
  auto contig = [](const Tensor& t) { return t.defined() ? t.detach().contiguous() : Tensor(); };
  const Tensor wc = contig(weight), bc = contig(bias);
  const Tensor rm = training ? Tensor() : contig(running_mean);
  const Tensor rv = training ? Tensor() : contig(running_var);
  Tensor y = empty(x.shape(), x.dtype());
  Tensor mean = empty(Shape{l.C}, x.dtype()), var = empty(Shape{l.C}, x.dtype()),
         rstd = empty(Shape{l.C}, x.dtype());
  if (x.dtype() == DType::f32) {
    run_forward<float>({ptr<float>(xc), ptr<float>(wc), ptr<float>(bc), ptr<float>(rm),
                        ptr<float>(rv), ptr<float>(y), ptr<float>(mean), ptr<float>(var),
                        ptr<float>(rstd), l.N, l.C, l.S, eps, training});
  } else {
    run_forward<double>({ptr<double>(xc), ptr<double>(wc), ptr<double>(bc), ptr<double>(rm),
                         ptr<double>(rv), ptr<double>(y), ptr<double>(mean), ptr<double>(var),
                         ptr<double>(rstd), l.N, l.C, l.S, eps, training});
  }
  if (training && running_mean.defined()) {
    // In place, as torch.nn.functional.batch_norm; the running variance takes the unbiased one.
    NoGradGuard ng;
    const double P = static_cast<double>(l.N * l.S);
    Tensor rm_out = running_mean, rv_out = running_var;  // handles onto the caller's storage
    rm_out.mul_(1.0 - momentum).add_(mean, momentum);
    rv_out.mul_(1.0 - momentum).add_(var, momentum * P / (P - 1.0));
  }
  if (autograd::needs_grad({&x, &weight, &bias})) {
    autograd::record(
        "batch_norm", {x, running_mean, running_var, weight, bias}, y,
        [sx = autograd::save(xc), sw = wc.defined() ? autograd::save(wc) : autograd::SavedTensor(),
         mean, rstd, l, training](const TensorList& g, const Needs& needs) -> TensorList {
          const Tensor gc = g[0].contiguous();
          const Tensor w = sw.defined() ? sw.get() : Tensor();
          return sx.get().dtype() == DType::f32
                     ? backward<float>(sx.get(), w, mean, rstd, gc, needs, l, training)
                     : backward<double>(sx.get(), w, mean, rstd, gc, needs, l, training);
        });
  }
  return y;
}

}  // namespace cf
