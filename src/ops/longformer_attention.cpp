#include "ops/longformer_attention.h"

#include <cmath>
#include <vector>

#include "autograd/node.h"
#include "cformer/efficient_attention.h"
#include "ops/elementwise.h"
#include "tensor/tensor_util.h"
#include "util/check.h"

namespace cf {
namespace {

constexpr const char* kOp = "longformer_attention";

void check_same(const Tensor& t, const char* name, const Shape& want) {
  CF_CHECK(t.shape() == want, ShapeError, kOp, ": ", name, " must have shape ", want, ", got ",
           t.shape());
}

void check_bool_mask(const Tensor& m, const char* name, int64_t B, int64_t N) {
  if (!m.defined()) return;
  detail::check_cpu(m, kOp, name);
  CF_CHECK(m.dtype() == DType::b8, DTypeError, kOp, ": ", name, " must be bool, got ",
           dtype_name(m.dtype()));
  CF_CHECK(m.shape() == Shape({B, N}), ShapeError, kOp, ": ", name, " must have shape (", B, ", ",
           N, "), got ", m.shape());
}

void check_longformer(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& qg,
                      const Tensor& kg, const Tensor& vg, const Tensor& global_mask,
                      int64_t window, int64_t dilation, const Tensor& kpm) {
  const char* names[] = {"q", "k", "v", "query_global (qg)", "key_global (kg)",
                         "value_global (vg)"};
  const Tensor* ts[] = {&q, &k, &v, &qg, &kg, &vg};
  for (int i = 0; i < 6; ++i) {
    ops::check_floating(kOp, *ts[i], names[i]);
    CF_CHECK(ts[i]->dtype() == q.dtype(), DTypeError, kOp, ": ", names[i], " must be ",
             dtype_name(q.dtype()), " like q, got ", dtype_name(ts[i]->dtype()));
  }
  CF_CHECK(q.dim() == 4, ShapeError, kOp, ": q must have shape (B, H, N, E), got ", q.shape());
  check_same(k, "k", q.shape());
  check_same(qg, "qg", q.shape());
  check_same(kg, "kg", q.shape());
  CF_CHECK(v.dim() == 4 && v.size(0) == q.size(0) && v.size(1) == q.size(1) &&
               v.size(2) == q.size(2),
           ShapeError, kOp, ": v must have shape (", q.size(0), ", ", q.size(1), ", ", q.size(2),
           ", Ev), got ", v.shape());
  check_same(vg, "vg", v.shape());
  check_bool_mask(global_mask, "global_mask", q.size(0), q.size(2));
  check_bool_mask(kpm, "key_padding_mask", q.size(0), q.size(2));
  CF_CHECK(window >= 0, ValueError, kOp, ": window must be >= 0, got ", window);
  CF_CHECK(dilation >= 1, ValueError, kOp, ": dilation must be >= 1, got ", dilation);
}

template <class T> T* ptr(const Tensor& t) {
  return t.defined() && t.numel() ? const_cast<T*>(t.data_ptr<T>()) : nullptr;
}

struct Prepared {
  Tensor q, k, v, qg, kg, vg, global, kpm, gidx;
};

template <class T> ops::cpu::LongformerArgs<T> make_args(const Prepared& p, int64_t w, int64_t d,
                                                         double scale) {
  ops::cpu::LongformerArgs<T> a{};
  a.q = ptr<T>(p.q);
  a.k = ptr<T>(p.k);
  a.v = ptr<T>(p.v);
  a.qg = ptr<T>(p.qg);
  a.kg = ptr<T>(p.kg);
  a.vg = ptr<T>(p.vg);
  a.global = ptr<bool>(p.global);
  a.kpm = ptr<bool>(p.kpm);
  a.gidx = ptr<int64_t>(p.gidx);
  a.B = p.q.size(0);
  a.NH = p.q.size(1);
  a.N = p.q.size(2);
  a.E = p.q.size(3);
  a.Ev = p.v.size(3);
  a.w = w;
  a.d = d;
  a.G = p.gidx.size(1);
  a.scale = static_cast<T>(scale);
  return a;
}

// (B, G) global positions per batch row, padded with -1; G = the largest count.
Tensor global_indices(const Tensor& global) {
  const int64_t B = global.size(0), N = global.size(1);
  const bool* g = ptr<bool>(global);
  int64_t G = 0;
  for (int64_t b = 0; b < B; ++b) {
    int64_t n = 0;
    for (int64_t i = 0; i < N; ++i) n += g[b * N + i];
    G = std::max(G, n);
  }
  Tensor idx = full(Shape{B, G}, -1.0, DType::i64);
  int64_t* x = ptr<int64_t>(idx);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0, n = 0; i < N; ++i)
      if (g[b * N + i]) x[b * G + n++] = i;
  return idx;
}

}  // namespace

Tensor longformer_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& qg,
                            const Tensor& kg, const Tensor& vg, const Tensor& global_mask,
                            int64_t window, int64_t dilation, const Tensor& key_padding_mask,
                            std::optional<double> scale) {
  check_longformer(q, k, v, qg, kg, vg, global_mask, window, dilation, key_padding_mask);
  const double s = scale.value_or(1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  const int64_t B = q.size(0), NH = q.size(1), N = q.size(2), wb = 2 * window + 1;
  Prepared p{q.detach().contiguous(),  k.detach().contiguous(),  v.detach().contiguous(),
             qg.detach().contiguous(), kg.detach().contiguous(), vg.detach().contiguous(),
             global_mask.defined() ? global_mask.detach().contiguous()
                                   : zeros(Shape{B, N}, DType::b8),
             key_padding_mask.defined() ? key_padding_mask.detach().contiguous() : Tensor(),
             Tensor()};
  p.gidx = global_indices(p.global);
  const int64_t G = p.gidx.size(1);
  Tensor out = empty(v.shape(), q.dtype());
  Tensor pband, pglob, prows;  // f32: the saved probabilities
  if (q.dtype() == DType::f32) {
    pband = empty(Shape{B, NH, N, wb});
    pglob = empty(Shape{B, NH, N, G});
    prows = empty(Shape{B, NH, G, N});
    if (out.numel() > 0)
      ops::cpu::longformer_forward(make_args<float>(p, window, dilation, s), ptr<float>(out),
                                   {ptr<float>(pband), ptr<float>(pglob), ptr<float>(prows)});
  } else if (out.numel() > 0) {
    ops::cpu::longformer_forward_ref(make_args<double>(p, window, dilation, s), ptr<double>(out));
  }
  if (autograd::needs_grad(autograd::TensorList{q, k, v, qg, kg, vg})) {
    autograd::record(
        kOp, {q, k, v, qg, kg, vg}, out,
        [p, pband, pglob, prows, window, dilation, s,
         versions = std::vector<autograd::SavedTensor>{
             autograd::save(p.q), autograd::save(p.k), autograd::save(p.v), autograd::save(p.qg),
             autograd::save(p.kg), autograd::save(p.vg)}](
            const autograd::TensorList& g, const autograd::Needs& needs) -> autograd::TensorList {
          for (const autograd::SavedTensor& t : versions) t.get();  // throws if modified in place
          const Tensor go = g[0].contiguous();
          const Tensor* like[] = {&p.q, &p.k, &p.v, &p.qg, &p.kg, &p.vg};
          autograd::TensorList grads(6);
          for (int i = 0; i < 6; ++i)
            if (needs[i]) grads[i] = zeros(like[i]->shape(), like[i]->dtype());
          if (go.numel() == 0) return grads;
          if (p.q.dtype() == DType::f32) {
            Tensor sband = empty_like(pband), sglob = empty_like(pglob), srows = empty_like(prows);
            ops::cpu::longformer_backward(
                make_args<float>(p, window, dilation, s),
                {ptr<float>(pband), ptr<float>(pglob), ptr<float>(prows)},
                {ptr<float>(sband), ptr<float>(sglob), ptr<float>(srows)}, ptr<float>(go),
                ptr<float>(grads[0]), ptr<float>(grads[1]), ptr<float>(grads[2]),
                ptr<float>(grads[3]), ptr<float>(grads[4]), ptr<float>(grads[5]));
          } else {
            ops::cpu::longformer_backward_ref(
                make_args<double>(p, window, dilation, s), ptr<double>(go), ptr<double>(grads[0]),
                ptr<double>(grads[1]), ptr<double>(grads[2]), ptr<double>(grads[3]),
                ptr<double>(grads[4]), ptr<double>(grads[5]));
          }
          return grads;
        });
  }
  return out;
}

}  // namespace cf
