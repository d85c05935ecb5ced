#include "ops/attention.h"
#include "ops/attention_fused.h"

#include <cmath>
#include <limits>

#include "cformer/ops.h"
#include "ops/elementwise.h"
#include "tensor/tensor_util.h"
#include "util/check.h"

namespace cf {
namespace ops {
namespace {

template <class T>
void fill_additive(const bool* m, T* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = m[i] ? T(0) : -std::numeric_limits<T>::infinity();
}

}  // namespace

Tensor additive_mask(const Tensor& bool_mask, DType dtype) {
  const Tensor m = bool_mask.detach().contiguous();
  Tensor out = empty(m.shape(), dtype);
  if (m.numel() == 0) return out;
  if (dtype == DType::f32)
    fill_additive(m.data_ptr<bool>(), out.data_ptr<float>(), m.numel());
  else
    fill_additive(m.data_ptr<bool>(), out.data_ptr<double>(), m.numel());
  return out;
}

Tensor causal_additive_mask(int64_t L, int64_t S, DType dtype) {
  Tensor keep = empty(Shape{L, S}, DType::b8);
  bool* p = keep.numel() ? keep.data_ptr<bool>() : nullptr;
  for (int64_t i = 0; i < L; ++i)
    for (int64_t j = 0; j < S; ++j) p[i * S + j] = j <= i;
  return additive_mask(keep, dtype);
}

}  // namespace ops

namespace {

Shape batch_of(const Tensor& t) {
  Shape b;
  for (int d = 0; d < t.dim() - 2; ++d) b.push_back(t.size(d));
  return b;
}

// Validates the arguments; returns the shape of the scores (batch..., L, S).
Shape check_sdpa(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask,
                 double dropout_p, bool is_causal, const Generator* gen) {
  const char* op = "scaled_dot_product_attention";
  ops::check_floating(op, q, "q");
  ops::check_floating(op, k, "k");
  ops::check_floating(op, v, "v");
  CF_CHECK(k.dtype() == q.dtype() && v.dtype() == q.dtype(), DTypeError, op,
           ": q, k and v must have one dtype, got ", dtype_name(q.dtype()), ", ",
           dtype_name(k.dtype()), " and ", dtype_name(v.dtype()));
  CF_CHECK(q.dim() >= 2 && k.dim() >= 2 && v.dim() >= 2, ShapeError, op,
           ": q (..., L, E), k (..., S, E) and v (..., S, Ev) need at least 2 dims, got ",
           q.shape(), ", ", k.shape(), " and ", v.shape());
  CF_CHECK(k.size(-1) == q.size(-1), ShapeError, op, ": k must have E = ", q.size(-1),
           " (the last dim of q ", q.shape(), ") in its last dim, got shape ", k.shape());
  CF_CHECK(v.size(-2) == k.size(-2), ShapeError, op, ": v must have S = ", k.size(-2),
           " (dim -2 of k ", k.shape(), ") in dim -2, got shape ", v.shape());
  Shape scores = broadcast_shapes(broadcast_shapes(batch_of(q), batch_of(k), op), batch_of(v), op);
  scores.push_back(q.size(-2));
  scores.push_back(k.size(-2));
  if (attn_mask.defined()) {
    detail::check_cpu(attn_mask, op, "attn_mask");
    CF_CHECK(attn_mask.dtype() == DType::b8 || attn_mask.dtype() == q.dtype(), DTypeError, op,
             ": attn_mask must be bool or ", dtype_name(q.dtype()), " like q, got ",
             dtype_name(attn_mask.dtype()));
    bool fits = attn_mask.dim() <= scores.size();
    for (int d = 1; fits && d <= attn_mask.dim(); ++d)
      fits = attn_mask.size(-d) == 1 || attn_mask.size(-d) == scores[scores.size() - d];
    CF_CHECK(fits, ShapeError, op, ": attn_mask of shape ", attn_mask.shape(),
             " does not broadcast to the attention scores (..., L, S) of shape ", scores);
    CF_CHECK(!is_causal, ValueError, op,
             ": is_causal cannot be combined with attn_mask (fold the causal mask into attn_mask)");
  }
  CF_CHECK(dropout_p >= 0.0 && dropout_p <= 1.0, ValueError, op,
           ": dropout_p must be in [0, 1], got ", dropout_p);
  CF_CHECK(dropout_p == 0.0 || gen != nullptr, ValueError, op, ": dropout_p = ", dropout_p,
           " needs a Generator (gen is null)");
  return scores;
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& attn_mask, double dropout_p, bool is_causal,
                                    std::optional<double> scale, Generator* gen) {
  check_sdpa(q, k, v, attn_mask, dropout_p, is_causal, gen);
  const double s = scale.value_or(1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  if (!attn_mask.defined() && dropout_p == 0.0 && ops::fused_attention_applies(q, k, v))
    return ops::fused_attention(q, k, v, is_causal, s);
  return ops::sdpa_composite(q, k, v, attn_mask, dropout_p, is_causal, s, gen);
}

namespace ops {

Tensor sdpa_composite(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask,
                      double dropout_p, bool is_causal, double s, Generator* gen) {
  Tensor scores = mul(matmul(q, k.mT()), s);
  if (is_causal) scores = add(scores, ops::causal_additive_mask(q.size(-2), k.size(-2), q.dtype()));
  if (attn_mask.defined())
    scores = add(scores, attn_mask.dtype() == DType::b8 ? ops::additive_mask(attn_mask, q.dtype())
                                                        : attn_mask);
  Tensor p = softmax(scores, -1);
  if (dropout_p > 0.0) p = dropout(p, dropout_p, true, *gen);
  return matmul(p, v);
}

}  // namespace ops

}  // namespace cf
