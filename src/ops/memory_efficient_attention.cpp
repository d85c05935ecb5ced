#include "ops/memory_efficient_attention.h"

#include <cmath>

#include "autograd/node.h"
#include "cformer/efficient_attention.h"
#include "ops/elementwise.h"
#include "tensor/tensor_util.h"
#include "util/check.h"

namespace cf {
namespace {

constexpr const char* kOp = "memory_efficient_attention";

void check_mea(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& kpm) {
  ops::check_floating(kOp, q, "q");
  ops::check_floating(kOp, k, "k");
  ops::check_floating(kOp, v, "v");
  CF_CHECK(k.dtype() == q.dtype() && v.dtype() == q.dtype(), DTypeError, kOp,
           ": q, k and v must have one dtype, got ", dtype_name(q.dtype()), ", ",
           dtype_name(k.dtype()), " and ", dtype_name(v.dtype()));
  CF_CHECK(q.dim() == 4, ShapeError, kOp, ": q must have shape (B, H, L, E), got ", q.shape());
  CF_CHECK(k.dim() == 4 && k.size(0) == q.size(0) && k.size(1) == q.size(1) &&
               k.size(3) == q.size(3),
           ShapeError, kOp, ": k must have shape (", q.size(0), ", ", q.size(1), ", S, ", q.size(3),
           ") to match q ", q.shape(), ", got ", k.shape());
  CF_CHECK(v.dim() == 4 && v.size(0) == q.size(0) && v.size(1) == q.size(1) &&
               v.size(2) == k.size(2),
           ShapeError, kOp, ": v must have shape (", q.size(0), ", ", q.size(1), ", ", k.size(2),
           ", Ev) to match q ", q.shape(), " and k ", k.shape(), ", got ", v.shape());
  if (kpm.defined()) {
    detail::check_cpu(kpm, kOp, "key_padding_mask");
    CF_CHECK(kpm.dtype() == DType::b8, DTypeError, kOp,
             ": key_padding_mask must be bool, got ", dtype_name(kpm.dtype()));
    CF_CHECK(kpm.shape() == Shape({q.size(0), k.size(2)}), ShapeError, kOp,
             ": key_padding_mask must have shape (", q.size(0), ", ", k.size(2), "), got ",
             kpm.shape());
  }
}

template <class T>
ops::cpu::MeaArgs<T> make_args(const Tensor& q, const Tensor& k, const Tensor& v,
                               const Tensor& kpm, bool causal, double scale) {
  ops::cpu::MeaArgs<T> a{};
  a.q = q.data_ptr<T>();
  a.k = k.data_ptr<T>();
  a.v = v.data_ptr<T>();
  a.kpm = kpm.defined() && kpm.numel() ? kpm.data_ptr<bool>() : nullptr;
  a.B = q.size(0);
  a.NH = q.size(1);
  a.L = q.size(2);
  a.S = k.size(2);
  a.E = q.size(3);
  a.Ev = v.size(3);
  a.scale = static_cast<T>(scale);
  a.causal = causal;
  return a;
}

template <class T> T* ptr_or_null(Tensor& t) { return t.numel() ? t.data_ptr<T>() : nullptr; }

}  // namespace

Tensor memory_efficient_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                                  const Tensor& key_padding_mask, bool is_causal,
                                  std::optional<double> scale) {
  check_mea(q_in, k_in, v_in, key_padding_mask);
  const double s = scale.value_or(1.0 / std::sqrt(static_cast<double>(q_in.size(-1))));
  const Tensor q = q_in.detach().contiguous(), k = k_in.detach().contiguous(),
               v = v_in.detach().contiguous();
  const Tensor kpm =
      key_padding_mask.defined() ? key_padding_mask.detach().contiguous() : Tensor();
  const int64_t B = q.size(0), NH = q.size(1), L = q.size(2);
  Tensor out = empty(Shape{B, NH, L, v.size(3)}, q.dtype());
  Tensor lse = empty(Shape{B, NH, L}, q.dtype());
  if (out.numel() > 0) {  // else lse is never read: the backward of an empty output is 0
    if (q.dtype() == DType::f32)
      ops::cpu::mea_forward(make_args<float>(q, k, v, kpm, is_causal, s), out.data_ptr<float>(),
                            lse.data_ptr<float>());
    else
      ops::cpu::mea_forward_ref(make_args<double>(q, k, v, kpm, is_causal, s),
                                out.data_ptr<double>(), lse.data_ptr<double>());
  }
  if (autograd::needs_grad(q_in, k_in, v_in)) {
    autograd::record(
        kOp, {q_in, k_in, v_in}, out,
        [sq = autograd::save(q), sk = autograd::save(k), sv = autograd::save(v), kpm,
         so = autograd::save(out), lse, is_causal, s](
            const autograd::TensorList& g, const autograd::Needs& needs) -> autograd::TensorList {
          const Tensor &q = sq.get(), &k = sk.get(), &v = sv.get(), &o = so.get();
          const Tensor go = g[0].contiguous();
          Tensor dq = needs[0] ? empty(q.shape(), q.dtype()) : Tensor();
          Tensor dk = needs[1] ? empty(k.shape(), k.dtype()) : Tensor();
          Tensor dv = needs[2] ? empty(v.shape(), v.dtype()) : Tensor();
          if (q.dtype() == DType::f32) {
            const auto a = make_args<float>(q, k, v, kpm, is_causal, s);
            float* pq = dq.defined() ? ptr_or_null<float>(dq) : nullptr;
            float* pk = dk.defined() ? ptr_or_null<float>(dk) : nullptr;
            float* pv = dv.defined() ? ptr_or_null<float>(dv) : nullptr;
            if (o.numel() > 0)
              ops::cpu::mea_backward(a, o.data_ptr<float>(), lse.data_ptr<float>(),
                                     go.data_ptr<float>(), pq, pk, pv);
            else  // no output element: every gradient is 0
              for (Tensor* t : {&dq, &dk, &dv})
                if (t->defined()) *t = zeros(t->shape(), t->dtype());
          } else {
            const auto a = make_args<double>(q, k, v, kpm, is_causal, s);
            for (Tensor* t : {&dq, &dk, &dv})
              if (t->defined()) *t = zeros(t->shape(), t->dtype());
            if (o.numel() > 0)
              ops::cpu::mea_backward_ref(a, o.data_ptr<double>(), lse.data_ptr<double>(),
                                         go.data_ptr<double>(), ptr_or_null<double>(dq),
                                         ptr_or_null<double>(dk), ptr_or_null<double>(dv));
          }
          return {dq, dk, dv};
        });
  }
  return out;
}

}  // namespace cf
