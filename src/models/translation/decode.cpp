// Incremental decoding: one decoder position per call for R rows (sentences, or sentences x
// beams). Per decoder layer the self-attention keys/values of the positions so far are cached
// (R, H, max_steps, HS) and the cross-attention keys/values of the memory are computed once
// (R, H, S, HS). A step reads the weights of the nn layers and computes, for the new position only,
// exactly what TransformerDecoderLayer computes for it under the causal mask (eval: no dropout):
//   post-norm: x = norm1(x + sa(x)); x = norm2(x + ca(x)); x = norm3(x + ff(x))
//   pre-norm:  x = x + sa(norm1(x)); x = x + ca(norm2(x)); x = x + ff(norm3(x))
// then log_softmax(decoder_norm(x) W^T).
#include <cmath>

#include "cformer/autograd.h"
#include "cformer/models/translation.h"
#include "cformer/ops.h"
#include "util/check.h"

namespace cf::models {
namespace {

// (R, T, E) -> (R, H, T, HS)
Tensor split_heads(const Tensor& t, int64_t H) {
  const int64_t R = t.size(0), T = t.size(1), HS = t.size(2) / H;
  return t.reshape(Shape{R, T, H, HS}).transpose(1, 2);
}

// (R, H, T, HS) -> (R, T, E)
Tensor merge_heads(const Tensor& t) {
  const int64_t R = t.size(0), H = t.size(1), T = t.size(2), HS = t.size(3);
  return t.transpose(1, 2).reshape(Shape{R, T, H * HS});
}

// Row block [part * E, (part + 1) * E) of a packed in-projection (weight (3E, E) or bias (3E)).
Tensor proj_part(const Tensor& packed, int64_t part, int64_t E) {
  return packed.defined() ? packed.narrow(0, part * E, E) : Tensor();
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
  DecoderState st;
  st.memory_mask = per_row(ne(src, static_cast<double>(config_.pad_id)).view(Shape{N, 1, 1, S}));
  for (const auto& layer : decoder_layers_) {
    const auto& mha = *layer->multihead_attn;
    Tensor k = linear(memory, proj_part(mha.in_proj_weight, 1, E), proj_part(mha.in_proj_bias, 1, E));
    Tensor v = linear(memory, proj_part(mha.in_proj_weight, 2, E), proj_part(mha.in_proj_bias, 2, E));
    st.cross_k.push_back(per_row(split_heads(k, H).contiguous()));
    st.cross_v.push_back(per_row(split_heads(v, H).contiguous()));
    st.self_k.push_back(zeros(Shape{R, H, max_steps, HS}, dtype_));
    st.self_v.push_back(zeros(Shape{R, H, max_steps, HS}, dtype_));
  }
  return st;
}

Tensor TranslationModel::decode_step(DecoderState& st, const Tensor& tokens) {
  CF_CHECK(!st.self_k.empty(), ValueError,
           "TranslationModel::decode_step: the state was not made by begin_decoding");
  const int64_t R = st.self_k[0].size(0), cap = st.self_k[0].size(2), t = st.len;
  CF_CHECK(tokens.defined() && tokens.dtype() == DType::i64 && tokens.shape() == Shape{R},
           ShapeError, "TranslationModel::decode_step: tokens must be (", R, ") i64, got ",
           tokens.defined() ? tokens.str() : std::string("undefined"));
  CF_CHECK(t < cap, ShapeError, "TranslationModel::decode_step: the caches hold ", cap,
           " positions and are full");
  check_ids("decode_step", tokens, config_.tgt_vocab_size, "target");
  NoGradGuard no_grad;
  const int64_t E = config_.d_model, H = config_.nhead;
  Tensor x = embed_tgt(tokens.view(Shape{R, 1}), t, false);
  for (size_t l = 0; l < decoder_layers_.size(); ++l) {
    const nn::TransformerDecoderLayer& d = *decoder_layers_[l];
    const nn::MultiheadAttention& sa = *d.self_attn;
    const nn::MultiheadAttention& ca = *d.multihead_attn;
    auto self_attention = [&st, &sa, l, t, H, E](const Tensor& h) {
      std::vector<Tensor> qkv = split(linear(h, sa.in_proj_weight, sa.in_proj_bias), E, 2);
      st.self_k[l].narrow(2, t, 1).copy_(split_heads(qkv[1], H));
      st.self_v[l].narrow(2, t, 1).copy_(split_heads(qkv[2], H));
      Tensor o = scaled_dot_product_attention(split_heads(qkv[0], H),
                                              st.self_k[l].narrow(2, 0, t + 1),
                                              st.self_v[l].narrow(2, 0, t + 1));
      return linear(merge_heads(o), sa.out_proj->weight, sa.out_proj->bias);
    };
    auto cross_attention = [&st, &ca, l, H, E](const Tensor& h) {
      Tensor q = linear(h, proj_part(ca.in_proj_weight, 0, E), proj_part(ca.in_proj_bias, 0, E));
      Tensor o = scaled_dot_product_attention(split_heads(q, H), st.cross_k[l], st.cross_v[l],
                                              st.memory_mask);
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
  for (size_t l = 0; l < st.self_k.size(); ++l) {
    // The whole buffer, not just the first len positions: a contiguous input of a fixed size
    // is one copy into a block the caching allocator reuses every step (measured: selecting
    // the narrowed prefix cost a contiguous copy plus fresh pages for every new length).
    st.self_k[l] = index_select(st.self_k[l], 0, index);
    st.self_v[l] = index_select(st.self_v[l], 0, index);
    if (cross_too) {
      st.cross_k[l] = index_select(st.cross_k[l], 0, index);
      st.cross_v[l] = index_select(st.cross_v[l], 0, index);
    }
  }
  if (cross_too) st.memory_mask = index_select(st.memory_mask, 0, index);
}

}  // namespace cf::models
