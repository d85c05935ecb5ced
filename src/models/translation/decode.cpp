// Incremental decoding: one decoder position per call for R rows (sentences, or sentences x
// beams). Per decoder layer the self-attention keys/values of the positions so far are cached
// (R, H, max_steps, HS) and the cross-attention keys/values of the memory are computed once
// (R, H, S, HS). A step reads the weights of the nn layers and computes, for the new position only,
// exactly what TransformerDecoderLayer computes for it under the causal mask (eval: no dropout):
//   post-norm: x = norm1(x + sa(x)); x = norm2(x + ca(x)); x = norm3(x + ff(x))
//   pre-norm:  x = x + sa(norm1(x)); x = x + ca(norm2(x)); x = x + ff(norm3(x))
// then log_softmax(decoder_norm(x) W^T). The configured kernels: memory_efficient is exact
// softmax attention, so a step runs the dense product over the cache; block_sparse masks the
// cache with the layout row of the query's block; performer keeps the prefix sums of its causal
// form (self-attention, O(M HS) per token) or phi(K)^T V of the memory (cross-attention).
#include <cmath>

#include "cformer/autograd.h"
#include "cformer/models/translation.h"
#include "cformer/ops.h"
#include "models/translation/heads.h"
#include "util/check.h"

namespace cf::models {
namespace {

using translation_detail::merge_heads;
using translation_detail::proj_part;
using translation_detail::split_heads;

// favor_features' stabilizer eps, the one nn::AttentionKernel's performer uses (the default).
constexpr double kFavorEps = 1e-6;

// v (..., L, HS) -> [v, 1] (..., L, HS + 1): one product with it gives numerator and normalizer.
Tensor with_ones(const Tensor& v) {
  Shape s;
  for (int d = 0; d + 1 < v.dim(); ++d) s.push_back(v.size(d));
  s.push_back(1);
  return cat({v, ones(s, v.dtype())}, v.dim() - 1);
}

// num (..., HS + 1), the product of query features with a [v, 1] state -> (..., HS).
Tensor normalize(const Tensor& num) {
  const int64_t HS = num.size(-1) - 1;
  return div(num.narrow(num.dim() - 1, 0, HS), num.narrow(num.dim() - 1, HS, 1));
}

// The keep mask (1, H, 1, t + 1) bool of query position t over the keys 0..t under a causal
// block-sparse layout (H, NB, NB) with blocks of block_size: key j is kept when the query's
// block row attends j's block (block_sparse_attention with is_causal, for one query row).
Tensor layout_row_mask(const Tensor& layout, int64_t block_size, int64_t t) {
  std::vector<int64_t> key_block(static_cast<size_t>(t + 1));
  for (int64_t j = 0; j <= t; ++j) key_block[static_cast<size_t>(j)] = j / block_size;
  const Tensor row = layout.select(1, t / block_size);  // (H, NB)
  const Tensor keep = index_select(row, 1, from_vector(key_block, Shape{t + 1}));
  return keep.view(Shape{1, layout.size(0), 1, t + 1});
}

}  // namespace

TranslationModel::DecoderState TranslationModel::begin_decoding(const Tensor& src,
                                                                 int64_t max_steps,
                                                                 int64_t rows_per_sentence) {
  CF_CHECK(max_steps >= 1 && max_steps <= config_.max_positions, ValueError,
           "TranslationModel::begin_decoding: max_steps must be in [1, ", config_.max_positions,
           "] (max_positions), got ", max_steps);
  CF_CHECK(rows_per_sentence >= 1, ValueError,
           "TranslationModel::begin_decoding: rows_per_sentence must be >= 1, got ",
           rows_per_sentence);
  NoGradGuard no_grad;
  const bool was_training = is_training();
  eval();
  Tensor memory;
  try {
    memory = encode(src);  // (N, S, E)
  } catch (...) {
    train(was_training);
    throw;
  }
  train(was_training);
  const int64_t N = src.size(0), S = src.size(1), K = rows_per_sentence, R = N * K;
  const int64_t E = config_.d_model, H = config_.nhead, HS = E / H;
  Tensor rows;  // (R) i64: the sentence of every row
  if (K > 1) {
    std::vector<int64_t> r(static_cast<size_t>(R));
    for (int64_t i = 0; i < R; ++i) r[static_cast<size_t>(i)] = i / K;
    rows = from_vector(r, Shape{R});
  }
  auto per_row = [&rows](const Tensor& t) { return rows.defined() ? index_select(t, 0, rows) : t; };
  const bool self_performer = config_.decoder_attention.kind == "performer";
  const bool cross_performer = config_.cross_attention.kind == "performer";
  const Tensor keep = ne(src, static_cast<double>(config_.pad_id));  // (N, S) true = attend
  DecoderState st;
  st.rows = R;
  st.max_steps = max_steps;
  st.memory_mask = per_row(keep.view(Shape{N, 1, 1, S}));
  for (size_t l = 0; l < decoder_layers_.size(); ++l) {
    const auto& mha = *decoder_layers_[l]->multihead_attn;
    Tensor k = linear(memory, proj_part(mha.in_proj_weight, 1, E), proj_part(mha.in_proj_bias, 1, E));
    Tensor v = linear(memory, proj_part(mha.in_proj_weight, 2, E), proj_part(mha.in_proj_bias, 2, E));
    if (cross_performer) {
      // AttentionKernel's performer: features of every key (pads included in the stabilizer),
      // pads zeroed, then phi(K)^T [V, 1] once for every step.
      const Tensor kf = mul(favor_features(split_heads(k, H), *cross_kernels_[l]->projection_matrix,
                                           false, kFavorEps),
                            keep.to(dtype_).view(Shape{N, 1, S, 1}));  // (N, H, S, M)
      st.cross_kv.push_back(per_row(matmul(kf.transpose(2, 3), with_ones(split_heads(v, H)))));
    } else {
      st.cross_k.push_back(per_row(split_heads(k, H).contiguous()));
      st.cross_v.push_back(per_row(split_heads(v, H).contiguous()));
    }
    if (self_performer) {
      const int64_t M = config_.decoder_attention.nb_features;
      st.self_kv.push_back(zeros(Shape{R, H, M, HS + 1}, dtype_));
      st.self_vsum.push_back(zeros(Shape{R, H, 1, HS + 1}, dtype_));
      st.self_max.push_back(full(Shape{R, H, 1, 1}, -INFINITY, dtype_));
    } else {
      st.self_k.push_back(zeros(Shape{R, H, max_steps, HS}, dtype_));
      st.self_v.push_back(zeros(Shape{R, H, max_steps, HS}, dtype_));
    }
  }
  return st;
}

Tensor TranslationModel::decode_step(DecoderState& st, const Tensor& tokens) {
  CF_CHECK(st.max_steps > 0 && st.cross_k.size() + st.cross_kv.size() == decoder_layers_.size(),
           ValueError, "TranslationModel::decode_step: the state was not made by begin_decoding");
  const int64_t R = st.rows, t = st.len;
  CF_CHECK(tokens.defined() && tokens.dtype() == DType::i64 && tokens.shape() == Shape{R},
           ShapeError, "TranslationModel::decode_step: tokens must be (", R, ") i64, got ",
           tokens.defined() ? tokens.str() : std::string("undefined"));
  CF_CHECK(t < st.max_steps, ShapeError, "TranslationModel::decode_step: the caches hold ",
           st.max_steps, " positions and are full");
  check_ids("decode_step", tokens, config_.tgt_vocab_size, "target");
  NoGradGuard no_grad;
  const int64_t E = config_.d_model, H = config_.nhead;
  const std::string& self_kind = config_.decoder_attention.kind;
  const bool cross_performer = config_.cross_attention.kind == "performer";
  Tensor x = embed_tgt(tokens.view(Shape{R, 1}), t, false);
  for (size_t l = 0; l < decoder_layers_.size(); ++l) {
    const nn::TransformerDecoderLayer& d = *decoder_layers_[l];
    const nn::MultiheadAttention& sa = *d.self_attn;
    const nn::MultiheadAttention& ca = *d.multihead_attn;
    const nn::AttentionKernel& self_kernel = *decoder_kernels_[l];
    const Tensor* cross_projection = cross_kernels_[l]->projection_matrix;
    auto self_attention = [&st, &sa, &self_kernel, &self_kind, l, t, H, E](const Tensor& h) {
      std::vector<Tensor> qkv = split(linear(h, sa.in_proj_weight, sa.in_proj_bias), E, 2);
      const Tensor q = split_heads(qkv[0], H), k = split_heads(qkv[1], H),
                   v = split_heads(qkv[2], H);
      Tensor o;
      if (self_kind == "performer") {
        // favor_features of the new key with the prefix's stabilizer c (the running maximum of
        // w . k' over the keys so far): e = exp(w . k' - |k'|^2 / 2 - c), its eps and 1 / sqrt(M)
        // added at read-out (1 / sqrt(M) cancels in the ratio).
        const Tensor& w = *self_kernel.projection_matrix;  // (M, HS)
        const Tensor ks = mul(k, std::pow(static_cast<double>(k.size(3)), -0.25));
        const Tensor dash = matmul(ks, w.transpose(0, 1));  // (R, H, 1, M)
        const Tensor diag = mul(sum(mul(ks, ks), {3}, true), 0.5);
        const Tensor c = maximum(st.self_max[l], max(dash, 3, true).values);  // (R, H, 1, 1)
        const Tensor e = exp(sub(sub(dash, diag), c));
        const Tensor va = with_ones(v);  // (R, H, 1, HS + 1)
        st.self_kv[l] =
            add(mul(st.self_kv[l], exp(sub(st.self_max[l], c))), matmul(e.transpose(2, 3), va));
        st.self_vsum[l] = add(st.self_vsum[l], va);
        st.self_max[l] = c;
        const Tensor qf = favor_features(q, w, true, kFavorEps);  // (R, H, 1, M)
        o = normalize(matmul(qf, add(st.self_kv[l], mul(st.self_vsum[l], kFavorEps))));
      } else {
        st.self_k[l].narrow(2, t, 1).copy_(k);
        st.self_v[l].narrow(2, t, 1).copy_(v);
        const Tensor mask =
            self_kind == "block_sparse"
                ? layout_row_mask(*self_kernel.layout, self_kernel.options.block_size, t)
                : Tensor();
        o = scaled_dot_product_attention(q, st.self_k[l].narrow(2, 0, t + 1),
                                         st.self_v[l].narrow(2, 0, t + 1), mask);
      }
      return linear(merge_heads(o), sa.out_proj->weight, sa.out_proj->bias);
    };
    auto cross_attention = [&st, &ca, cross_projection, cross_performer, l, H, E](const Tensor& h) {
      Tensor q = split_heads(
          linear(h, proj_part(ca.in_proj_weight, 0, E), proj_part(ca.in_proj_bias, 0, E)), H);
      Tensor o =
          cross_performer
              ? normalize(
                    matmul(favor_features(q, *cross_projection, true, kFavorEps), st.cross_kv[l]))
              : scaled_dot_product_attention(q, st.cross_k[l], st.cross_v[l], st.memory_mask);
      return linear(merge_heads(o), ca.out_proj->weight, ca.out_proj->bias);
    };
    auto feed_forward = [&d](const Tensor& h) {
      Tensor a = nn::apply_activation(linear(h, d.linear1->weight, d.linear1->bias),
                                      d.options.activation);
      return linear(a, d.linear2->weight, d.linear2->bias);
    };
    if (d.options.norm_first) {
      x = add(x, self_attention(d.norm1->forward(x)));
      x = add(x, cross_attention(d.norm2->forward(x)));
      x = add(x, feed_forward(d.norm3->forward(x)));
    } else {
      x = d.norm1->forward(add(x, self_attention(x)));
      x = d.norm2->forward(add(x, cross_attention(x)));
      x = d.norm3->forward(add(x, feed_forward(x)));
    }
  }
  st.len = t + 1;
  Tensor logits = linear(decoder_norm_->forward(x).view(Shape{R, E}), output_weight());
  return log_softmax(logits, 1);
}

void TranslationModel::reorder(DecoderState& st, const Tensor& index, bool cross_too) {
  NoGradGuard no_grad;
  auto keep_rows = [&index](std::vector<Tensor>& states) {
    // The whole buffer, not just the first len positions: a contiguous input of a fixed size
    // is one copy into a block the caching allocator reuses every step (measured: selecting
    // the narrowed prefix cost a contiguous copy plus fresh pages for every new length).
    for (Tensor& s : states) s = index_select(s, 0, index);
  };
  keep_rows(st.self_k);
  keep_rows(st.self_v);
  keep_rows(st.self_kv);
  keep_rows(st.self_vsum);
  keep_rows(st.self_max);
  if (cross_too) {
    keep_rows(st.cross_k);
    keep_rows(st.cross_v);
    keep_rows(st.cross_kv);
    st.memory_mask = index_select(st.memory_mask, 0, index);
  }
  st.rows = index.size(0);
}

}  // namespace cf::models
