#include "ops/attention_fused.h"

#include <omp.h>

#include "autograd/node.h"
#include "util/check.h"

namespace cf::ops {
namespace {

void strides3(const Tensor& t, int64_t* s) {
  for (int d = 0; d < 3; ++d) s[d] = t.stride(d);
}

// (B, NH, L, X) view over (B, L, NH, X) storage.
Tensor empty_heads_last(int64_t B, int64_t NH, int64_t L, int64_t X) {
  return empty(Shape{B, L, NH, X}).permute(Dims{0, 2, 1, 3});
}

cpu::AttentionArgs make_args(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& o,
                             const Tensor& p, bool causal, double scale) {
  cpu::AttentionArgs a{};
  a.q = q.data_ptr<float>();
  a.k = k.data_ptr<float>();
  a.v = v.data_ptr<float>();
  a.o = o.data_ptr<float>();
  a.p = p.data_ptr<float>();
  strides3(q, a.qs);
  strides3(k, a.ks);
  strides3(v, a.vs);
  strides3(o, a.os);
  a.B = q.size(0);
  a.NH = q.size(1);
  a.L = q.size(2);
  a.S = k.size(2);
  a.E = q.size(3);
  a.Ev = v.size(3);
  a.scale = static_cast<float>(scale);
  a.causal = causal;
  return a;
}

}  // namespace

bool fused_attention_applies(const Tensor& q, const Tensor& k, const Tensor& v) {
  for (const Tensor* t : {&q, &k, &v})
    if (t->dtype() != DType::f32 || t->dim() != 4 || t->stride(3) != 1 || t->numel() == 0)
      return false;
  return q.size(0) == k.size(0) && q.size(0) == v.size(0) && q.size(1) == k.size(1) &&
         q.size(1) == v.size(1) && k.size(2) == v.size(2) && q.size(3) == k.size(3);
}

Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale) {
  const int64_t B = q.size(0), NH = q.size(1), L = q.size(2), S = k.size(2), Ev = v.size(3);
  Tensor out = empty_heads_last(B, NH, L, Ev);
  Tensor p = empty(Shape{B, NH, L, S});
  cpu::attention_forward(make_args(q, k, v, out, p, causal, scale));
  if (autograd::needs_grad(q, k, v)) {
    autograd::record(
        "scaled_dot_product_attention", {q, k, v}, out,
        [sq = autograd::save(q), sk = autograd::save(k), sv = autograd::save(v), p, causal, scale](
            const autograd::TensorList& g, const autograd::Needs&) -> autograd::TensorList {
          const Tensor& q = sq.get();
          const Tensor& k = sk.get();
          const Tensor& v = sv.get();
          Tensor go = g[0].stride(3) == 1 ? g[0] : g[0].contiguous();
          const int64_t B = q.size(0), NH = q.size(1), L = q.size(2), S = k.size(2);
          Tensor dq = empty_heads_last(B, NH, L, q.size(3));
          Tensor dk = empty_heads_last(B, NH, S, k.size(3));
          Tensor dv = empty_heads_last(B, NH, S, v.size(3));
          Tensor ws = empty(Shape{omp_get_max_threads(), L, S});
          cpu::AttentionArgs a = make_args(q, k, v, dq, p, causal, scale);  // o unused here
          int64_t dos[3], dqs[3], dks[3], dvs[3];
          strides3(go, dos);
          strides3(dq, dqs);
          strides3(dk, dks);
          strides3(dv, dvs);
          cpu::attention_backward(a, go.data_ptr<float>(), dos, dq.data_ptr<float>(), dqs,
                                  dk.data_ptr<float>(), dks, dv.data_ptr<float>(), dvs,
                                  ws.data_ptr<float>());
          return {dq, dk, dv};
        });
  }
  return out;
}

}  // namespace cf::ops
