#include "ops/linear_attention.h"

#include "autograd/node.h"
#include "cformer/efficient_attention.h"
#include "ops/elementwise.h"
#include "util/check.h"

namespace cf {
namespace {

constexpr const char* kOp = "linear_attention";

template <class T> T* ptr_or_null(const Tensor& t) {
  return t.numel() > 0 ? t.data_ptr<T>() : nullptr;
}

// The product of the batch dims (..., L, M).
int64_t batch_count(const Tensor& q) {
  int64_t bh = 1;
  for (int d = 0; d < q.dim() - 2; ++d) bh *= q.size(d);
  return bh;
}

template <class T>
ops::cpu::LinearAttentionArgs<T> make_args(const Tensor& q, const Tensor& k, const Tensor& v,
                                           const Tensor& out, const Tensor& den,
                                           const Tensor& state, bool causal) {
  ops::cpu::LinearAttentionArgs<T> a{};
  a.q = ptr_or_null<T>(q);
  a.k = ptr_or_null<T>(k);
  a.v = ptr_or_null<T>(v);
  a.out = ptr_or_null<T>(out);
  a.den = ptr_or_null<T>(den);
  a.state = state.defined() ? ptr_or_null<T>(state) : nullptr;
  a.L = q.size(-2);
  a.S = k.size(-2);
  a.M = q.size(-1);
  a.Ev = v.size(-1);
  a.BH = batch_count(q);
  a.causal = causal;
  return a;
}

void check_linear_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal) {
  ops::check_floating(kOp, q, "q_features");
  ops::check_floating(kOp, k, "k_features");
  ops::check_floating(kOp, v, "v");
  CF_CHECK(k.dtype() == q.dtype() && v.dtype() == q.dtype(), DTypeError, kOp,
           ": q_features, k_features and v must have one dtype, got ", dtype_name(q.dtype()), ", ",
           dtype_name(k.dtype()), " and ", dtype_name(v.dtype()));
  CF_CHECK(q.dim() >= 2 && k.dim() == q.dim() && v.dim() == q.dim(), ShapeError, kOp,
           ": q_features (..., L, M), k_features (..., S, M) and v (..., S, Ev) need one rank >= 2, "
           "got ", q.shape(), ", ", k.shape(), " and ", v.shape());
  bool same_batch = true;
  for (int d = 0; d < q.dim() - 2; ++d)
    same_batch = same_batch && k.size(d) == q.size(d) && v.size(d) == q.size(d);
  CF_CHECK(same_batch && k.size(-1) == q.size(-1) && v.size(-2) == k.size(-2), ShapeError, kOp,
           ": k_features must have shape (..., S, ", q.size(-1), ") and v (..., S, Ev) with the "
           "batch dims of q_features ", q.shape(), ", got ", k.shape(), " and ", v.shape());
  CF_CHECK(!causal || q.size(-2) == k.size(-2), ShapeError, kOp,
           ": is_causal needs L == S, got q_features ", q.shape(), " and k_features ", k.shape());
}

}  // namespace

Tensor linear_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                        bool is_causal) {
  check_linear_attention(q_in, k_in, v_in, is_causal);
  const Tensor q = q_in.detach().contiguous(), k = k_in.detach().contiguous(),
               v = v_in.detach().contiguous();
  Shape den_shape, out_shape;
  for (int d = 0; d < q.dim() - 1; ++d) den_shape.push_back(q.size(d));
  out_shape = den_shape;
  out_shape.push_back(v.size(-1));
  Tensor out = empty(out_shape, q.dtype()), den = empty(den_shape, q.dtype());
  const bool grad = autograd::needs_grad(q_in, k_in, v_in);
  // The bidirectional backward reuses S = k^T v and z = k^T 1 instead of recomputing them.
  const Tensor state = grad && !is_causal && q.dtype() == DType::f32
                           ? empty(Shape{batch_count(q), q.size(-1) * (v.size(-1) + 1)}, DType::f32)
                           : Tensor();
  if (q.dtype() == DType::f32)
    ops::cpu::linear_attention_forward(make_args<float>(q, k, v, out, den, state, is_causal));
  else
    ops::cpu::linear_attention_forward_ref(make_args<double>(q, k, v, out, den, state, is_causal));
  if (grad) {
    autograd::record(
        kOp, {q_in, k_in, v_in}, out,
        [q, k, v, so = autograd::save(out), den, state, is_causal](
            const autograd::TensorList& g, const autograd::Needs&) -> autograd::TensorList {
          const Tensor& saved_out = so.get();
          const Tensor go = g[0].contiguous();
          Tensor dq = empty(q.shape(), q.dtype()), dk = empty(k.shape(), k.dtype()),
                 dv = empty(v.shape(), v.dtype());
          if (q.dtype() == DType::f32) {
            Tensor ws = empty(Shape{batch_count(q), q.size(-2), v.size(-1) + 1}, DType::f32);
            ops::cpu::linear_attention_backward(
                make_args<float>(q, k, v, saved_out, den, state, is_causal), ptr_or_null<float>(go),
                ptr_or_null<float>(dq), ptr_or_null<float>(dk), ptr_or_null<float>(dv),
                ptr_or_null<float>(ws));
          } else {
            ops::cpu::linear_attention_backward_ref(
                make_args<double>(q, k, v, saved_out, den, state, is_causal),
                ptr_or_null<double>(go), ptr_or_null<double>(dq), ptr_or_null<double>(dk),
                ptr_or_null<double>(dv));
          }
          return {dq, dk, dv};
        });
  }
  return out;
}

}  // namespace cf
