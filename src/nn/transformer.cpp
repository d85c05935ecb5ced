// TransformerEncoderLayer and TransformerDecoderLayer (torch.nn), post-norm or pre-norm:
//   post-norm: x = norm1(x + sa(x)); [x = norm2(x + mha(x, mem));] x = normK(x + ff(x))
//   pre-norm:  x = x + sa(norm1(x)); [x = x + mha(norm2(x), mem);] x = x + ff(normK(x))
//   sa/mha end with a dropout; ff(x) = dropoutK(linear2(dropout(act(linear1(x))))).
#include "cformer/nn.h"
#include "util/check.h"

namespace cf::nn {
namespace {

std::string layer_repr(int64_t d_model, int64_t nhead, const TransformerLayerOptions& o) {
  return detail::str_cat(
      "d_model=", d_model, ", nhead=", nhead, ", dim_feedforward=", o.dim_feedforward,
      ", dropout=", o.dropout, ", activation=", activation_name(o.activation),
      ", norm_first=", o.norm_first ? "true" : "false", o.batch_first ? ", batch_first=true" : "");
}

MultiheadAttentionOptions attn_options(const TransformerLayerOptions& o) {
  MultiheadAttentionOptions a;
  a.dropout = o.dropout;
  a.bias = o.bias;
  a.batch_first = o.batch_first;
  a.dropout_gen = o.dropout_gen;
  return a;
}

}  // namespace

TransformerEncoderLayer::TransformerEncoderLayer(int64_t d_model, int64_t nhead, Generator& gen,
                                                 TransformerLayerOptions o, DType dtype)
    : Module("TransformerEncoderLayer"), options(o) {
  self_attn = register_module("self_attn", std::make_shared<MultiheadAttention>(
                                               d_model, nhead, gen, attn_options(o), dtype));
  linear1 = register_module(
      "linear1", std::make_shared<Linear>(d_model, o.dim_feedforward, o.bias, gen, dtype));
  dropout = register_module("dropout", std::make_shared<Dropout>(o.dropout, o.dropout_gen));
  linear2 = register_module(
      "linear2", std::make_shared<Linear>(o.dim_feedforward, d_model, o.bias, gen, dtype));
  norm1 = register_module(
      "norm1", std::make_shared<LayerNorm>(Shape{d_model}, o.layer_norm_eps, true, o.bias, dtype));
  norm2 = register_module(
      "norm2", std::make_shared<LayerNorm>(Shape{d_model}, o.layer_norm_eps, true, o.bias, dtype));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(o.dropout, o.dropout_gen));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(o.dropout, o.dropout_gen));
}

Tensor TransformerEncoderLayer::sa_block(const Tensor& x, const Tensor& mask, const Tensor& kpm,
                                         bool is_causal) {
  return dropout1->forward(self_attn->forward(x, x, x, kpm, false, mask, true, is_causal).output);
}

Tensor TransformerEncoderLayer::ff_block(const Tensor& x) {
  Tensor h = dropout->forward(apply_activation(linear1->forward(x), options.activation));
  return dropout2->forward(linear2->forward(h));
}

Tensor TransformerEncoderLayer::forward(const Tensor& src, const Tensor& src_mask,
                                        const Tensor& src_key_padding_mask, bool is_causal) {
  Tensor x = src;
  if (options.norm_first) {
    x = add(x, sa_block(norm1->forward(x), src_mask, src_key_padding_mask, is_causal));
    x = add(x, ff_block(norm2->forward(x)));
  } else {
    x = norm1->forward(add(x, sa_block(x, src_mask, src_key_padding_mask, is_causal)));
    x = norm2->forward(add(x, ff_block(x)));
  }
  return x;
}

std::string TransformerEncoderLayer::extra_repr() const {
  return layer_repr(self_attn->embed_dim, self_attn->num_heads, options);
}

TransformerDecoderLayer::TransformerDecoderLayer(int64_t d_model, int64_t nhead, Generator& gen,
                                                 TransformerLayerOptions o, DType dtype)
    : Module("TransformerDecoderLayer"), options(o) {
  self_attn = register_module("self_attn", std::make_shared<MultiheadAttention>(
                                               d_model, nhead, gen, attn_options(o), dtype));
  multihead_attn = register_module(
      "multihead_attn",
      std::make_shared<MultiheadAttention>(d_model, nhead, gen, attn_options(o), dtype));
  linear1 = register_module(
      "linear1", std::make_shared<Linear>(d_model, o.dim_feedforward, o.bias, gen, dtype));
  dropout = register_module("dropout", std::make_shared<Dropout>(o.dropout, o.dropout_gen));
  linear2 = register_module(
      "linear2", std::make_shared<Linear>(o.dim_feedforward, d_model, o.bias, gen, dtype));
  norm1 = register_module(
      "norm1", std::make_shared<LayerNorm>(Shape{d_model}, o.layer_norm_eps, true, o.bias, dtype));
  norm2 = register_module(
      "norm2", std::make_shared<LayerNorm>(Shape{d_model}, o.layer_norm_eps, true, o.bias, dtype));
  norm3 = register_module(
      "norm3", std::make_shared<LayerNorm>(Shape{d_model}, o.layer_norm_eps, true, o.bias, dtype));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(o.dropout, o.dropout_gen));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(o.dropout, o.dropout_gen));
  dropout3 = register_module("dropout3", std::make_shared<Dropout>(o.dropout, o.dropout_gen));
}

Tensor TransformerDecoderLayer::ff_block(const Tensor& x) {
  Tensor h = dropout->forward(apply_activation(linear1->forward(x), options.activation));
  return dropout3->forward(linear2->forward(h));
}

Tensor TransformerDecoderLayer::forward(const Tensor& tgt, const Tensor& memory,
                                        const Tensor& tgt_mask, const Tensor& memory_mask,
                                        const Tensor& tgt_kpm, const Tensor& memory_kpm,
                                        bool tgt_is_causal, bool memory_is_causal) {
  auto sa = [this, &tgt_mask, &tgt_kpm, tgt_is_causal](const Tensor& x) {
    return dropout1->forward(
        self_attn->forward(x, x, x, tgt_kpm, false, tgt_mask, true, tgt_is_causal).output);
  };
  auto mha = [this, &memory, &memory_mask, &memory_kpm, memory_is_causal](const Tensor& x) {
    return dropout2->forward(
        multihead_attn
            ->forward(x, memory, memory, memory_kpm, false, memory_mask, true, memory_is_causal)
            .output);
  };
  Tensor x = tgt;
  if (options.norm_first) {
    x = add(x, sa(norm1->forward(x)));
    x = add(x, mha(norm2->forward(x)));
    x = add(x, ff_block(norm3->forward(x)));
  } else {
    x = norm1->forward(add(x, sa(x)));
    x = norm2->forward(add(x, mha(x)));
    x = norm3->forward(add(x, ff_block(x)));
  }
  return x;
}

std::string TransformerDecoderLayer::extra_repr() const {
  return layer_repr(self_attn->embed_dim, self_attn->num_heads, options);
}

}  // namespace cf::nn
