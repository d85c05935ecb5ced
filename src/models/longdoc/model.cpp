// The long-document classifier (cformer/models/longdoc.h): configuration, the attention layer
// with its five kernels, the pre-norm encoder layer and the [CLS] head. Public ops only.
#include <cmath>

#include <nlohmann/json.hpp>

#include "cformer/autograd.h"
#include "cformer/efficient_attention.h"
#include "cformer/models/longdoc.h"
#include "cformer/ops.h"
#include "models/vision/common.h"
#include "util/check.h"

namespace cf::models {
namespace {

// (B, N, D) -> (B, H, N, D / H) and back.
Tensor split_heads(const Tensor& t, int64_t h) {
  return t.view(Shape{t.size(0), t.size(1), h, t.size(2) / h}).transpose(1, 2);
}

Tensor merge_heads(const Tensor& t) {
  return t.transpose(1, 2).reshape(Shape{t.size(0), t.size(2), t.size(1) * t.size(3)});
}

// The kernel options of a non-longformer configuration.
nn::AttentionKernelOptions kernel_options(const LongDocConfig& c) {
  nn::AttentionKernelOptions o;
  o.kind = c.attention;
  o.sparse_layout = c.sparse_layout;
  o.block_size = c.block_size;
  o.local_blocks = c.local_blocks;
  o.global_blocks = c.global_blocks;
  o.window_blocks = c.window_blocks;
  o.random_blocks = c.random_blocks;
  o.nb_features = c.nb_features;
  o.redraw_interval = c.redraw_interval;
  return o;
}

}  // namespace

void LongDocConfig::validate() const {
  CF_CHECK(vocab_size > 0 && max_len > 0 && num_classes > 0 && d_model > 0 && num_heads > 0 &&
               num_layers > 0 && ffn_dim > 0,
           ValueError,
           "longdoc config: vocab_size, max_len, num_classes, d_model, num_heads, num_layers and "
           "ffn_dim must be positive");
  CF_CHECK(pad_id >= 0 && pad_id < vocab_size && cls_id >= 0 && cls_id < vocab_size &&
               pad_id != cls_id,
           ValueError, "longdoc config: pad_id (", pad_id, ") and cls_id (", cls_id,
           ") must be distinct ids below vocab_size (", vocab_size, ")");
  CF_CHECK(d_model % num_heads == 0, ValueError, "longdoc config: d_model (", d_model,
           ") is not divisible by num_heads (", num_heads, ")");
  CF_CHECK(dropout >= 0.0 && dropout < 1.0, ValueError,
           "longdoc config: dropout must be in [0, 1), got ", dropout);
  if (attention == "longformer") {
    CF_CHECK(attention_window > 0 && attention_window % 2 == 0, ValueError,
             "longdoc config: attention_window must be even and positive, got ", attention_window);
    CF_CHECK(dilation >= 1, ValueError, "longdoc config: dilation must be >= 1, got ", dilation);
    return;
  }
  try {
    kernel_options(*this).validate();
  } catch (const ValueError& e) {
    CF_THROW(ValueError, "longdoc config: ", e.what());
  }
}

std::string LongDocConfig::to_json() const {
  nlohmann::json j{{"vocab_size", vocab_size},       {"pad_id", pad_id},
                   {"cls_id", cls_id},               {"max_len", max_len},
                   {"num_classes", num_classes},     {"d_model", d_model},
                   {"num_heads", num_heads},         {"num_layers", num_layers},
                   {"ffn_dim", ffn_dim},             {"dropout", dropout},
                   {"attention", attention},         {"attention_window", attention_window},
                   {"dilation", dilation},
                   {"sparse_layout", sparse_layout}, {"block_size", block_size},
                   {"local_blocks", local_blocks},   {"global_blocks", global_blocks},
                   {"window_blocks", window_blocks}, {"random_blocks", random_blocks},
                   {"nb_features", nb_features},     {"redraw_interval", redraw_interval}};
  return j.dump();
}

LongDocConfig LongDocConfig::from_json(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  CF_CHECK(j.is_object(), FormatError, "longdoc config: not a JSON object: ", text);
  LongDocConfig c;
  const char* w = "longdoc config";
  json_field(j, "vocab_size", c.vocab_size, w);
  json_field(j, "pad_id", c.pad_id, w);
  json_field(j, "cls_id", c.cls_id, w);
  json_field(j, "max_len", c.max_len, w);
  json_field(j, "num_classes", c.num_classes, w);
  json_field(j, "d_model", c.d_model, w);
  json_field(j, "num_heads", c.num_heads, w);
  json_field(j, "num_layers", c.num_layers, w);
  json_field(j, "ffn_dim", c.ffn_dim, w);
  json_field(j, "dropout", c.dropout, w);
  json_field(j, "attention", c.attention, w);
  json_field(j, "attention_window", c.attention_window, w);
  if (j.contains("dilation")) json_field(j, "dilation", c.dilation, w);
  json_field(j, "sparse_layout", c.sparse_layout, w);
  json_field(j, "block_size", c.block_size, w);
  json_field(j, "local_blocks", c.local_blocks, w);
  json_field(j, "global_blocks", c.global_blocks, w);
  json_field(j, "window_blocks", c.window_blocks, w);
  json_field(j, "random_blocks", c.random_blocks, w);
  json_field(j, "nb_features", c.nb_features, w);
  json_field(j, "redraw_interval", c.redraw_interval, w);
  try {
    c.validate();
  } catch (const ValueError& e) {
    CF_THROW(FormatError, e.what());
  }
  return c;
}

// ======================================================================= attention

LongDocAttention::LongDocAttention(const LongDocConfig& c, Generator& gen)
    : nn::Module("LongDocAttention"), config(c), head_dim(c.d_model / c.num_heads) {
  const int64_t d = c.d_model;
  if (c.attention == "longformer") {
    auto lin = [d, &gen, this](const char* name) {
      return register_module(name, std::make_shared<nn::Linear>(d, d, true, gen));
    };
    query = lin("query"), key = lin("key"), value = lin("value");
    query_global = lin("query_global"), key_global = lin("key_global");
    value_global = lin("value_global");
  } else {
    Tensor w = empty(Shape{3 * d, d});
    init::xavier_uniform_(w, gen);
    in_proj_weight = &register_parameter("in_proj_weight", w);
    in_proj_bias = &register_parameter("in_proj_bias", zeros(Shape{3 * d}));
  }
  out_proj = register_module("out_proj", std::make_shared<nn::Linear>(d, d, true, gen));
  {
    NoGradGuard ng;
    out_proj->bias.zero_();
  }
  if (c.attention != "longformer")
    kernel = register_module("kernel", std::make_shared<nn::AttentionKernel>(
                                           kernel_options(c), c.num_heads, head_dim, c.max_len,
                                           /*causal=*/false, gen));
}

void LongDocAttention::redraw_projection() {
  CF_CHECK(kernel != nullptr && kernel->projection_matrix != nullptr, ValueError,
           "LongDocAttention: redraw_projection needs the performer attention, not ",
           config.attention);
  kernel->redraw_projection();
}

Tensor LongDocAttention::forward(const Tensor& x, const Tensor& pad) {
  const int64_t B = x.size(0), N = x.size(1), h = config.num_heads;
  const std::string& a = config.attention;
  Tensor o;
  if (a == "longformer") {
    Tensor global = zeros(Shape{B, N}, DType::b8);
    global.narrow(1, 0, 1).fill_(1.0);  // [CLS]
    o = longformer_attention(
        split_heads(query->forward(x), h), split_heads(key->forward(x), h),
        split_heads(value->forward(x), h), split_heads(query_global->forward(x), h),
        split_heads(key_global->forward(x), h), split_heads(value_global->forward(x), h),
        global, config.attention_window / 2, config.dilation, pad);
    return out_proj->forward(merge_heads(o));
  }
  const std::vector<Tensor> qkv = chunk(linear(x, *in_proj_weight, *in_proj_bias), 3, -1);
  const Tensor q = split_heads(qkv[0], h), k = split_heads(qkv[1], h), v = split_heads(qkv[2], h);
  // performer: padded keys get zero features, so they add nothing to k^T v and k^T 1
  o = kernel->forward(q, k, v, pad);
  return out_proj->forward(merge_heads(o));
}

std::string LongDocAttention::extra_repr() const {
  return detail::str_cat("d_model=", config.d_model, ", num_heads=", config.num_heads,
                         ", attention=", config.attention);
}

// ======================================================================= layer and model

LongDocLayer::LongDocLayer(const LongDocConfig& c, Generator& gen, Generator* dgen)
    : nn::Module("LongDocLayer"), dropout(c.dropout), dropout_gen(dgen) {
  self_attn = register_module("self_attn", std::make_shared<LongDocAttention>(c, gen));
  linear1 = register_module("linear1", std::make_shared<nn::Linear>(c.d_model, c.ffn_dim, true, gen));
  linear2 = register_module("linear2", std::make_shared<nn::Linear>(c.ffn_dim, c.d_model, true, gen));
  norm1 = register_module("norm1", std::make_shared<nn::LayerNorm>(Shape{c.d_model}));
  norm2 = register_module("norm2", std::make_shared<nn::LayerNorm>(Shape{c.d_model}));
}

Tensor LongDocLayer::forward(const Tensor& x, const Tensor& pad) {
  const bool t = is_training();
  Tensor y = add(x, cf::dropout(self_attn->forward(norm1->forward(x), pad), dropout, t, *dropout_gen));
  Tensor f = cf::dropout(gelu(linear1->forward(norm2->forward(y))), dropout, t, *dropout_gen);
  return add(y, cf::dropout(linear2->forward(f), dropout, t, *dropout_gen));
}

LongDocClassifier::LongDocClassifier(const LongDocConfig& c, uint64_t seed)
    : nn::Module("LongDocClassifier"), config(c), dropout_gen_(seed ^ 0xD1CEu) {
  c.validate();
  Generator gen(seed);
  embed_tokens = register_module("embed_tokens",
                                 std::make_shared<nn::Embedding>(c.vocab_size, c.d_model, gen));
  embed_positions = register_module("embed_positions",
                                    std::make_shared<nn::Embedding>(c.max_len, c.d_model, gen));
  {
    NoGradGuard ng;
    init::normal_(embed_tokens->weight, 0.0, 0.02, gen);
    init::normal_(embed_positions->weight, 0.0, 0.02, gen);
  }
  auto list = register_module("layers", std::make_shared<nn::ModuleList>());
  for (int64_t i = 0; i < c.num_layers; ++i) {
    layers.push_back(std::make_shared<LongDocLayer>(c, gen, &dropout_gen_));
    list->push_back(layers.back());
  }
  norm = register_module("norm", std::make_shared<nn::LayerNorm>(Shape{c.d_model}));
  head = register_module("head", std::make_shared<nn::Linear>(c.d_model, c.num_classes, true, gen));
  {
    NoGradGuard ng;
    head->bias.zero_();
  }
}

Tensor LongDocClassifier::forward(const Tensor& ids, const Tensor& pad) {
  CF_CHECK(ids.defined() && ids.dim() == 2 && ids.dtype() == DType::i64, ShapeError,
           "LongDocClassifier: ids must be i64 (B, N), got ",
           ids.defined() ? ids.shape().str() : std::string("undefined"));
  const int64_t B = ids.size(0), N = ids.size(1);
  CF_CHECK(N >= 1 && N <= config.max_len, ShapeError, "LongDocClassifier: ids has ", N,
           " positions, the model takes 1 to ", config.max_len);
  if (pad.defined())
    CF_CHECK(pad.dtype() == DType::b8 && pad.dim() == 2 && pad.size(0) == B && pad.size(1) == N,
             ShapeError, "LongDocClassifier: key_padding_mask must be bool (", B, ", ", N, "), got ",
             pad.shape());
  {
    const Tensor first = ids.narrow(1, 0, 1).contiguous();
    for (int64_t v : first.to_vector<int64_t>())
      CF_CHECK(v == config.cls_id, ValueError, "LongDocClassifier: every sequence must start with [CLS] (id ",
               config.cls_id, "), got ", v);
  }
  const Tensor pos = arange(0.0, static_cast<double>(N), 1.0, DType::i64);
  Tensor x = add(embed_tokens->forward(ids), embed_positions->forward(pos).unsqueeze(0));
  x = cf::dropout(x, config.dropout, is_training(), dropout_gen_);
  for (auto& l : layers) x = l->forward(x, pad);
  return head->forward(norm->forward(x).select(1, 0));
}

}  // namespace cf::models
