// scaled_dot_product_attention (PyTorch 2's F.scaled_dot_product_attention, math path):
//   out = dropout(softmax(q k^T * scale + M)) v,  q (..., L, E), k (..., S, E), v (..., S, Ev)
// with the batch dims (...) broadcast and scale = 1 / sqrt(E) by default. M is the additive form of
// the mask, as PyTorch builds it: a bool attn_mask (true = attend) becomes 0 / -inf, a float one is
// added as is (and gets a gradient), is_causal masks key j > query i (top-left aligned). A row with
// every key masked is all -inf and gives NaN, as in PyTorch.
// A composite of public ops (matmul, mul, add, softmax, dropout): autograd comes from them and
// nothing is saved here. The fused kernel for GPT is separate; this composite is its oracle.
#pragma once
#include "cformer/random.h"
#include "cformer/tensor.h"

namespace cf::ops {

/// The additive mask of a bool mask: 0 where true, -inf where false; same shape, dtype `dtype`.
Tensor additive_mask(const Tensor& bool_mask, DType dtype);
/// (L, S) additive causal mask: -inf where j > i, 0 elsewhere.
Tensor causal_additive_mask(int64_t L, int64_t S, DType dtype);
/// The composite form (matmul, softmax, masks, dropout): the general path and the oracle of the
/// fused kernel (ops/attention_fused.h). Arguments already checked; scale resolved.
Tensor sdpa_composite(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask,
                      double dropout_p, bool is_causal, double scale, Generator* gen);

}  // namespace cf::ops
