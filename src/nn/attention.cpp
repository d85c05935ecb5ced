// MultiheadAttention (torch.nn.MultiheadAttention, same parameters and masks).
//   q = query Wq^T + bq, k = key Wk^T + bk, v = value Wv^T + bv, split into H heads of HS = E/H,
//   o_h = softmax(q_h k_h^T / sqrt(HS) + mask) v_h, output = concat(o_h) Wo^T + bo.
// Without need_weights the heads go through scaled_dot_product_attention (the fused kernel);
// with it the probabilities are formed explicitly, as torch does, and returned.
#include <cmath>
#include <limits>

#include "cformer/autograd.h"
#include "cformer/nn.h"
#include "util/check.h"

namespace cf::nn {
namespace {

/// A mask in the (N or 1, H or 1, L, S) layout: bool (true = masked) or float (added).
Tensor combine_masks(const Tensor& a, const Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  if (a.dtype() == DType::b8 && b.dtype() == DType::b8) return logical_or(a, b);
  // masked_fill broadcasts the mask to the tensor: expand the float mask to the joint shape.
  const Shape s = broadcast_shapes(a.shape(), b.shape(), "MultiheadAttention");
  const double inf = std::numeric_limits<double>::infinity();
  if (a.dtype() == DType::b8) return masked_fill(b.expand(s), a, -inf);
  if (b.dtype() == DType::b8) return masked_fill(a.expand(s), b, -inf);
  return add(a, b);
}

void check_mask_dtype(const char* arg, const Tensor& m, DType dtype) {
  CF_CHECK(m.dtype() == DType::b8 || m.dtype() == dtype, DTypeError, "MultiheadAttention: ", arg,
           " must be bool or ", dtype_name(dtype), " (the query's dtype), got ",
           dtype_name(m.dtype()));
}

int64_t checked_head_dim(int64_t e, int64_t h, const MultiheadAttentionOptions& o) {
  CF_CHECK(e > 0 && h > 0, ValueError,
           "MultiheadAttention: embed_dim and num_heads must be positive, got ", e, " and ", h);
  CF_CHECK(e % h == 0, ValueError, "MultiheadAttention: embed_dim (", e,
           ") must be divisible by num_heads (", h, ")");
  CF_CHECK(o.dropout >= 0.0 && o.dropout <= 1.0, ValueError,
           "MultiheadAttention: dropout must be in [0, 1], got ", o.dropout);
  CF_CHECK(o.dropout == 0.0 || o.dropout_gen != nullptr, ValueError,
           "MultiheadAttention: dropout = ", o.dropout, " needs options.dropout_gen");
  CF_CHECK(o.kdim >= 0 && o.vdim >= 0, ValueError,
           "MultiheadAttention: kdim and vdim must be >= 0, got ", o.kdim, " and ", o.vdim);
  return e / h;
}

Tensor xavier(const Shape& shape, Generator& gen, DType dtype) {
  Tensor t = empty(shape, dtype);
  init::xavier_uniform_(t, gen);
  return t;
}

}  // namespace

MultiheadAttention::MultiheadAttention(int64_t e, int64_t h, Generator& gen,
                                       MultiheadAttentionOptions o, DType dtype)
    : Module("MultiheadAttention"),
      embed_dim(e),
      num_heads(h),
      head_dim(checked_head_dim(e, h, o)),
      kdim(o.kdim > 0 ? o.kdim : e),
      vdim(o.vdim > 0 ? o.vdim : e),
      dropout(o.dropout),
      batch_first(o.batch_first),
      dropout_gen(o.dropout_gen),
      // torch's registration order and init: packed (or separate) projections by xavier_uniform,
      // zero biases; out_proj.weight keeps Linear's init.
      in_proj_weight(register_parameter("in_proj_weight",
                                        packed() ? xavier(Shape{3 * e, e}, gen, dtype) : Tensor())),
      q_proj_weight(register_parameter("q_proj_weight",
                                       packed() ? Tensor() : xavier(Shape{e, e}, gen, dtype))),
      k_proj_weight(register_parameter("k_proj_weight",
                                       packed() ? Tensor() : xavier(Shape{e, kdim}, gen, dtype))),
      v_proj_weight(register_parameter("v_proj_weight",
                                       packed() ? Tensor() : xavier(Shape{e, vdim}, gen, dtype))),
      in_proj_bias(
          register_parameter("in_proj_bias", o.bias ? zeros(Shape{3 * e}, dtype) : Tensor())) {
  out_proj = register_module("out_proj", std::make_shared<Linear>(e, e, o.bias, gen, dtype));
  if (o.bias) {
    NoGradGuard no_grad;
    out_proj->bias.zero_();
  }
}

AttentionOutput MultiheadAttention::forward(const Tensor& query, const Tensor& key,
                                            const Tensor& value, const Tensor& key_padding_mask,
                                            bool need_weights, const Tensor& attn_mask,
                                            bool average_attn_weights, bool is_causal) {
  CF_CHECK(query.defined() && key.defined() && value.defined(), ValueError,
           "MultiheadAttention: query, key and value must be defined");
  const bool batched = query.dim() == 3;
  CF_CHECK((query.dim() == 2 || batched) && key.dim() == query.dim() && value.dim() == query.dim(),
           ShapeError,
           "MultiheadAttention: query, key and value must all be 3-D (batched) or 2-D "
           "(unbatched), got query ",
           query.shape(), ", key ", key.shape(), ", value ", value.shape());
  const DType dtype = query.dtype();
  CF_CHECK(key.dtype() == dtype && value.dtype() == dtype, DTypeError,
           "MultiheadAttention: key and value must have the query's dtype ", dtype_name(dtype),
           ", got ", dtype_name(key.dtype()), " and ", dtype_name(value.dtype()));
  CF_CHECK(query.size(-1) == embed_dim, ShapeError, "MultiheadAttention: query must have last dim ",
           embed_dim, ", got shape ", query.shape());
  CF_CHECK(key.size(-1) == kdim, ShapeError, "MultiheadAttention: key must have last dim ", kdim,
           ", got shape ", key.shape());
  CF_CHECK(value.size(-1) == vdim, ShapeError, "MultiheadAttention: value must have last dim ",
           vdim, ", got shape ", value.shape());

  // Everything below works on (N, seq, features).
  const bool bf = batch_first;
  auto to_nle = [batched, bf](const Tensor& t) {
    return !batched ? t.unsqueeze(0) : bf ? t : t.transpose(0, 1);
  };
  Tensor q = to_nle(query), k = to_nle(key), v = to_nle(value);
  const int64_t N = q.size(0), L = q.size(1), S = k.size(1), E = embed_dim, H = num_heads,
                HS = head_dim;
  CF_CHECK(k.size(0) == N && v.size(0) == N, ShapeError,
           "MultiheadAttention: key and value must have the query's batch size ", N, ", got key ",
           key.shape(), " and value ", value.shape());
  CF_CHECK(v.size(1) == S, ShapeError,
           "MultiheadAttention: key and value must have the same sequence length, got key ",
           key.shape(), " and value ", value.shape());

  // Masks, in the (N|1, H|1, L, S) layout.
  Tensor mask;
  if (attn_mask.defined()) {
    check_mask_dtype("attn_mask", attn_mask, dtype);
    if (attn_mask.dim() == 2) {
      CF_CHECK(attn_mask.size(0) == L && attn_mask.size(1) == S, ShapeError,
               "MultiheadAttention: attn_mask must have shape (", L, ", ", S, ") or (", N * H, ", ",
               L, ", ", S, "), got ", attn_mask.shape());
      mask = attn_mask.view(Shape{1, 1, L, S});
    } else {
      CF_CHECK(attn_mask.dim() == 3 && attn_mask.size(0) == N * H && attn_mask.size(1) == L &&
                   attn_mask.size(2) == S,
               ShapeError, "MultiheadAttention: attn_mask must have shape (", L, ", ", S, ") or (",
               N * H, ", ", L, ", ", S, "), got ", attn_mask.shape());
      mask = attn_mask.reshape(Shape{N, H, L, S});
    }
  }
  if (key_padding_mask.defined()) {
    check_mask_dtype("key_padding_mask", key_padding_mask, dtype);
    const Shape want = batched ? Shape{N, S} : Shape{S};
    CF_CHECK(key_padding_mask.shape() == want, ShapeError,
             "MultiheadAttention: key_padding_mask must have shape ", want, ", got ",
             key_padding_mask.shape());
    mask = combine_masks(mask, key_padding_mask.reshape(Shape{N, 1, 1, S}));
  }
  // A lone causal mask goes to the fused kernel as is_causal; otherwise it is materialized.
  const bool causal_only = is_causal && !mask.defined() && !need_weights;
  if (is_causal && !causal_only) {
    // masked where key j > query i (the top-left aligned lower triangle stays visible)
    Tensor causal = empty(Shape{1, 1, L, S}, DType::b8);
    bool* c = causal.data_ptr<bool>();
    for (int64_t i = 0; i < L; ++i)
      for (int64_t j = 0; j < S; ++j) c[i * S + j] = j > i;
    mask = combine_masks(mask, causal);
  }

  // Projections.
  Tensor wq, wk, wv, bq, bk, bv;
  if (in_proj_weight.defined()) {
    wq = in_proj_weight.narrow(0, 0, E);
    wk = in_proj_weight.narrow(0, E, E);
    wv = in_proj_weight.narrow(0, 2 * E, E);
  } else {
    wq = q_proj_weight;
    wk = k_proj_weight;
    wv = v_proj_weight;
  }
  if (in_proj_bias.defined()) {
    bq = in_proj_bias.narrow(0, 0, E);
    bk = in_proj_bias.narrow(0, E, E);
    bv = in_proj_bias.narrow(0, 2 * E, E);
  }
  auto heads = [N, H, HS](const Tensor& t) {  // (N, seq, E) -> (N, H, seq, HS)
    return t.reshape(Shape{N, t.size(1), H, HS}).transpose(1, 2);
  };
  q = heads(linear(q, wq, bq));
  k = heads(linear(k, wk, bk));
  v = heads(linear(v, wv, bv));

  const double p = is_training() ? dropout : 0.0;
  const double scale = 1.0 / std::sqrt(static_cast<double>(HS));
  Tensor o, weights;  // o (N, H, L, HS)
  if (!need_weights) {
    Tensor m = mask.defined() && mask.dtype() == DType::b8 ? logical_not(mask) : mask;
    o = scaled_dot_product_attention(q, k, v, m, p, causal_only, scale, dropout_gen);
  } else {
    Tensor scores = matmul(mul(q, scale), k.mT());  // (N, H, L, S)
    if (mask.defined())
      scores = mask.dtype() == DType::b8
                   ? masked_fill(scores, mask, -std::numeric_limits<double>::infinity())
                   : add(scores, mask);
    weights = softmax(scores, -1);
    if (p > 0.0) weights = cf::dropout(weights, p, true, *dropout_gen);
    o = matmul(weights, v);
    if (average_attn_weights) weights = mean(weights, Dims{1});
    if (!batched) weights = weights.squeeze(0);
  }
  Tensor out = out_proj->forward(o.transpose(1, 2).reshape(Shape{N, L, E}));
  out = !batched ? out.squeeze(0) : bf ? out : out.transpose(0, 1);
  return {out, weights};
}

std::string MultiheadAttention::extra_repr() const {
  std::string s = detail::str_cat("embed_dim=", embed_dim, ", num_heads=", num_heads);
  if (kdim != embed_dim || vdim != embed_dim)
    s += detail::str_cat(", kdim=", kdim, ", vdim=", vdim);
  if (dropout > 0.0) s += detail::str_cat(", dropout=", dropout);
  if (batch_first) s += ", batch_first=true";
  return s;
}

}  // namespace cf::nn
