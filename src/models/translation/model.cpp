// TranslationModel: configuration, parameters and the teacher-forced (training) path, built from
// the torch.nn-equivalent layers of cformer/nn.h so the parameters carry torch.nn.Transformer's
// names. x = embed(ids) * sqrt(E) + positions -> dropout -> layers -> final norm; logits =
// decoder_out W^T with W the target embedding (tied) or generator.weight. An encoder (decoder)
// layer with a kernel other than dense runs TransformerEncoderLayer's (TransformerDecoderLayer's)
// own computation (nn/transformer.cpp) on its parameters, with that kernel in place of
// MultiheadAttention's dense attention.
#include <cmath>

#include <nlohmann/json.hpp>

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

// The seed offsets of the generators of the kernels' random state (bigbird layouts, performer
// projections), apart from the parameters' init stream: encoder, decoder self-, cross-attention.
constexpr uint64_t kKernelSeedOffset = 0x6b65726e656cULL;
constexpr uint64_t kDecoderKernelSeedOffset = 0x6465636b726eULL;
constexpr uint64_t kCrossKernelSeedOffset = 0x63726f73736bULL;

// mha's attention of query (N, L, E) over key_value (N, S, E) through `kernel` in place of the
// dense attention: in-projections, kernel (key padding kpm (N, S) bool, true = pad), out_proj.
Tensor kernel_attention(const nn::MultiheadAttention& mha, nn::AttentionKernel& kernel,
                        const Tensor& query, const Tensor& key_value, const Tensor& kpm) {
  const int64_t E = mha.embed_dim, H = mha.num_heads;
  auto proj = [&mha, E, H](const Tensor& x, int64_t part) {
    return split_heads(
        linear(x, proj_part(mha.in_proj_weight, part, E), proj_part(mha.in_proj_bias, part, E)), H);
  };
  return mha.out_proj->forward(
      merge_heads(kernel.forward(proj(query, 0), proj(key_value, 1), proj(key_value, 2), kpm)));
}

}  // namespace

void TranslationConfig::validate() const {
  auto positive = [](const char* field, int64_t v) {
    CF_CHECK(v >= 1, ValueError, "translation config: ", field, " must be >= 1, got ", v);
  };
  positive("src_vocab_size", src_vocab_size);
  positive("tgt_vocab_size", tgt_vocab_size);
  positive("d_model", d_model);
  positive("nhead", nhead);
  positive("num_encoder_layers", num_encoder_layers);
  positive("num_decoder_layers", num_decoder_layers);
  positive("dim_feedforward", dim_feedforward);
  positive("max_positions", max_positions);
  CF_CHECK(d_model % nhead == 0, ValueError, "translation config: d_model (", d_model,
           ") must be a multiple of nhead (", nhead, ")");
  CF_CHECK(dropout >= 0.0 && dropout < 1.0, ValueError,
           "translation config: dropout must be in [0, 1), got ", dropout);
  CF_CHECK(!share_embeddings || src_vocab_size == tgt_vocab_size, ValueError,
           "translation config: share_embeddings needs src_vocab_size == tgt_vocab_size, got ",
           src_vocab_size, " and ", tgt_vocab_size);
  const int64_t vmin = std::min(src_vocab_size, tgt_vocab_size);
  for (auto [field, id] : {std::pair{"pad_id", pad_id}, std::pair{"bos_id", bos_id},
                           std::pair{"eos_id", eos_id}})
    CF_CHECK(id >= 0 && id < vmin, ValueError, "translation config: ", field, " ", id,
             " is outside the vocabularies [0, ", vmin, ")");
  CF_CHECK(pad_id != bos_id && pad_id != eos_id && bos_id != eos_id, ValueError,
           "translation config: pad_id, bos_id and eos_id must differ, got ", pad_id, ", ", bos_id,
           ", ", eos_id);
  attention.validate();
  decoder_attention.validate();
  cross_attention.validate();
  const std::string& dk = decoder_attention.kind;
  CF_CHECK(
      dk != "longformer" && !(dk == "block_sparse" && decoder_attention.sparse_layout == "bigbird"),
      ValueError, "translation config: decoder_attention (--decoder-attention) ",
      dk == "longformer" ? "longformer" : "block_sparse with the bigbird layout",
      " has no causal form; use dense, memory_efficient, block_sparse with the fixed or "
      "strided layout (--sparse-layout), or performer");
  const std::string& ck = cross_attention.kind;
  CF_CHECK(ck == "dense" || ck == "memory_efficient" || ck == "performer", ValueError,
           "translation config: cross_attention (--cross-attention) must be dense, "
           "memory_efficient or performer, got ",
           ck,
           ": target and source positions are not aligned, so a window or block layout over "
           "them has no meaning");
}

std::string TranslationConfig::to_json() const {
  nlohmann::json j{{"src_vocab_size", src_vocab_size},
                   {"tgt_vocab_size", tgt_vocab_size},
                   {"d_model", d_model},
                   {"nhead", nhead},
                   {"num_encoder_layers", num_encoder_layers},
                   {"num_decoder_layers", num_decoder_layers},
                   {"dim_feedforward", dim_feedforward},
                   {"dropout", dropout},
                   {"norm_first", norm_first},
                   {"positions", positions == PositionKind::learned ? "learned" : "sinusoidal"},
                   {"max_positions", max_positions},
                   {"share_embeddings", share_embeddings},
                   {"tie_output", tie_output},
                   {"pad_id", pad_id},
                   {"bos_id", bos_id},
                   {"eos_id", eos_id},
                   {"attention", nlohmann::json::parse(attention.to_json())},
                   {"decoder_attention", nlohmann::json::parse(decoder_attention.to_json())},
                   {"cross_attention", nlohmann::json::parse(cross_attention.to_json())}};
  return j.dump();
}

TranslationConfig TranslationConfig::from_json(const std::string& text) {
  TranslationConfig c;
  try {
    auto j = nlohmann::json::parse(text);
    c.src_vocab_size = j.at("src_vocab_size");
    c.tgt_vocab_size = j.at("tgt_vocab_size");
    c.d_model = j.at("d_model");
    c.nhead = j.at("nhead");
    c.num_encoder_layers = j.at("num_encoder_layers");
    c.num_decoder_layers = j.at("num_decoder_layers");
    c.dim_feedforward = j.at("dim_feedforward");
    c.dropout = j.at("dropout");
    c.norm_first = j.at("norm_first");
    const std::string pos = j.at("positions");
    CF_CHECK(pos == "sinusoidal" || pos == "learned", FormatError,
             "translation config: positions must be \"sinusoidal\" or \"learned\", got \"", pos,
             "\"");
    c.positions = pos == "learned" ? PositionKind::learned : PositionKind::sinusoidal;
    c.max_positions = j.at("max_positions");
    c.share_embeddings = j.at("share_embeddings");
    c.tie_output = j.at("tie_output");
    c.pad_id = j.at("pad_id");
    c.bos_id = j.at("bos_id");
    c.eos_id = j.at("eos_id");
    if (j.contains("attention"))
      c.attention = nn::AttentionKernelOptions::from_json(j.at("attention").dump());
    if (j.contains("decoder_attention"))
      c.decoder_attention = nn::AttentionKernelOptions::from_json(j.at("decoder_attention").dump());
    if (j.contains("cross_attention"))
      c.cross_attention = nn::AttentionKernelOptions::from_json(j.at("cross_attention").dump());
  } catch (const nlohmann::json::exception& e) {
    CF_THROW(FormatError, "translation config: ", e.what());
  }
  c.validate();
  return c;
}

TranslationModel::TranslationModel(const TranslationConfig& config, uint64_t seed)
    : TranslationModel(config, seed, DType::f32) {}

TranslationModel::TranslationModel(const TranslationConfig& config, uint64_t seed, DType dtype)
    : nn::Module("TranslationModel"), config_(config), dtype_(dtype), dropout_gen_(seed + 1) {
  config_.validate();
  CF_CHECK(dtype == DType::f32 || dtype == DType::f64, DTypeError,
           "TranslationModel: dtype must be f32 or f64, got ", dtype_name(dtype));
  build(seed);
}

Generator& TranslationModel::dropout_generator() { return dropout_gen_; }

void TranslationModel::build(uint64_t seed) {
  Generator gen(seed);
  const TranslationConfig& c = config_;
  const int64_t E = c.d_model;
  const double emb_std = 1.0 / std::sqrt(static_cast<double>(E));
  NoGradGuard no_grad;
  auto embedding = [this, &gen, E, emb_std](const std::string& name, int64_t vocab) {
    auto m = register_module(name, std::make_shared<nn::Embedding>(vocab, E, gen, std::nullopt,
                                                                    dtype_));
    init::normal_(m->weight, 0.0, emb_std, gen);
    return m;
  };
  if (c.share_embeddings) {
    src_embed_ = tgt_embed_ = embedding("shared_embed", c.src_vocab_size);
  } else {
    src_embed_ = embedding("src_embed", c.src_vocab_size);
    tgt_embed_ = embedding("tgt_embed", c.tgt_vocab_size);
  }
  auto positions = [this, &gen, E, emb_std](const std::string& name) -> std::shared_ptr<nn::Module> {
    if (config_.positions == PositionKind::sinusoidal)
      return register_module(name, std::make_shared<nn::SinusoidalPositionalEncoding>(
                                       E, config_.max_positions, true, dtype_));
    return register_module(name, std::make_shared<nn::LearnedPositionalEncoding>(
                                     config_.max_positions, E, gen, true, emb_std, dtype_));
  };
  src_pos_ = positions("src_pos");
  tgt_pos_ = positions("tgt_pos");

  nn::TransformerLayerOptions o;
  o.dim_feedforward = c.dim_feedforward;
  o.dropout = c.dropout;
  o.batch_first = true;
  o.norm_first = c.norm_first;
  o.dropout_gen = &dropout_gen_;
  auto transformer = register_module("transformer", std::make_shared<nn::Module>("Transformer"));
  auto encoder = std::make_shared<nn::Module>("TransformerEncoder");
  auto decoder = std::make_shared<nn::Module>("TransformerDecoder");
  transformer->add_module("encoder", encoder);
  transformer->add_module("decoder", decoder);
  auto enc_layers = std::make_shared<nn::ModuleList>();
  auto dec_layers = std::make_shared<nn::ModuleList>();
  encoder->add_module("layers", enc_layers);
  decoder->add_module("layers", dec_layers);
  for (int64_t l = 0; l < c.num_encoder_layers; ++l) {
    encoder_layers_.push_back(std::make_shared<nn::TransformerEncoderLayer>(E, c.nhead, gen, o, dtype_));
    enc_layers->push_back(encoder_layers_.back());
  }
  encoder_norm_ = std::make_shared<nn::LayerNorm>(Shape{E}, 1e-5, true, true, dtype_);
  encoder->add_module("norm", encoder_norm_);
  for (int64_t l = 0; l < c.num_decoder_layers; ++l) {
    decoder_layers_.push_back(std::make_shared<nn::TransformerDecoderLayer>(E, c.nhead, gen, o, dtype_));
    dec_layers->push_back(decoder_layers_.back());
  }
  decoder_norm_ = std::make_shared<nn::LayerNorm>(Shape{E}, 1e-5, true, true, dtype_);
  decoder->add_module("norm", decoder_norm_);
  // torch.nn.Transformer._reset_parameters: xavier_uniform on every matrix of the transformer.
  for (auto& [name, p] : transformer->named_parameters())
    if (p.dim() > 1) {
      Tensor t = p;
      init::xavier_uniform_(t, gen);
    }
  if (!c.tie_output) {
    generator_ = register_module("generator",
                                 std::make_shared<nn::Linear>(E, c.tgt_vocab_size, false, gen, dtype_));
    init::xavier_uniform_(generator_->weight, gen);
  }
  Generator kernel_gen(seed + kKernelSeedOffset);
  for (const auto& layer : encoder_layers_)
    encoder_kernels_.push_back(layer->self_attn->register_module(
        "kernel", std::make_shared<nn::AttentionKernel>(c.attention, c.nhead, E / c.nhead,
                                                        c.max_positions, /*causal=*/false,
                                                        kernel_gen, dtype_)));
  Generator decoder_gen(seed + kDecoderKernelSeedOffset), cross_gen(seed + kCrossKernelSeedOffset);
  for (const auto& layer : decoder_layers_) {
    decoder_kernels_.push_back(layer->self_attn->register_module(
        "kernel", std::make_shared<nn::AttentionKernel>(c.decoder_attention, c.nhead, E / c.nhead,
                                                        c.max_positions, /*causal=*/true,
                                                        decoder_gen, dtype_)));
    cross_kernels_.push_back(layer->multihead_attn->register_module(
        "kernel", std::make_shared<nn::AttentionKernel>(c.cross_attention, c.nhead, E / c.nhead,
                                                        c.max_positions, /*causal=*/false,
                                                        cross_gen, dtype_)));
  }
}

void TranslationModel::check_ids(const char* op, const Tensor& ids, int64_t vocab,
                                 const char* what) const {
  for (int64_t id : ids.contiguous().to_vector<int64_t>())
    CF_CHECK(id >= 0 && id < vocab, IndexError, "TranslationModel::", op, ": id ", id,
             " is outside the ", what, " vocabulary [0, ", vocab, ")");
}

namespace {

Tensor add_positions(const std::shared_ptr<nn::Module>& pos, const Tensor& x, int64_t offset) {
  if (auto s = std::dynamic_pointer_cast<nn::SinusoidalPositionalEncoding>(pos))
    return s->forward(x, offset);
  return std::static_pointer_cast<nn::LearnedPositionalEncoding>(pos)->forward(x, offset);
}

}  // namespace

Tensor TranslationModel::embed_src(const Tensor& src) {
  const double scale = std::sqrt(static_cast<double>(config_.d_model));
  Tensor x = add_positions(src_pos_, mul(embedding(src, src_embed_->weight), scale), 0);
  return dropout(x, is_training() ? config_.dropout : 0.0, is_training(), dropout_gen_);
}

Tensor TranslationModel::embed_tgt(const Tensor& tgt, int64_t offset, bool with_dropout) {
  const double scale = std::sqrt(static_cast<double>(config_.d_model));
  Tensor x = add_positions(tgt_pos_, mul(embedding(tgt, tgt_embed_->weight), scale), offset);
  if (!with_dropout) return x;
  return dropout(x, is_training() ? config_.dropout : 0.0, is_training(), dropout_gen_);
}

Tensor TranslationModel::output_weight() const {
  return generator_ ? generator_->weight : tgt_embed_->weight;
}

Tensor TranslationModel::encode(const Tensor& src) {
  CF_CHECK(src.defined() && src.dtype() == DType::i64 && src.dim() == 2, ShapeError,
           "TranslationModel::encode: src must be (N, S) i64 ids, got ",
           src.defined() ? src.str() : std::string("undefined"));
  CF_CHECK(src.size(1) >= 1 && src.size(1) <= config_.max_positions, ShapeError,
           "TranslationModel::encode: source length ", src.size(1), " must be in [1, ",
           config_.max_positions, "] (max_positions)");
  check_ids("encode", src, config_.src_vocab_size, "source");
  Tensor kpm = eq(src, static_cast<double>(config_.pad_id));  // (N, S) true = ignore
  Tensor x = embed_src(src);
  for (size_t i = 0; i < encoder_layers_.size(); ++i) x = encoder_layer(i, x, kpm);
  return encoder_norm_->forward(x);
}

Tensor TranslationModel::encoder_layer(size_t i, const Tensor& x, const Tensor& kpm) {
  nn::TransformerEncoderLayer& layer = *encoder_layers_[i];
  if (config_.attention.kind == "dense") return layer.forward(x, Tensor(), kpm);
  nn::AttentionKernel& kernel = *encoder_kernels_[i];
  auto sa = [&layer, &kernel, &kpm](const Tensor& h) {
    return layer.dropout1->forward(kernel_attention(*layer.self_attn, kernel, h, h, kpm));
  };
  auto ff = [&layer](const Tensor& h) {
    const Tensor a = nn::apply_activation(layer.linear1->forward(h), layer.options.activation);
    return layer.dropout2->forward(layer.linear2->forward(layer.dropout->forward(a)));
  };
  if (layer.options.norm_first) {
    Tensor y = add(x, sa(layer.norm1->forward(x)));
    return add(y, ff(layer.norm2->forward(y)));
  }
  Tensor y = layer.norm1->forward(add(x, sa(x)));
  return layer.norm2->forward(add(y, ff(y)));
}

Tensor TranslationModel::decode(const Tensor& tgt_in, const Tensor& memory, const Tensor& src) {
  CF_CHECK(tgt_in.defined() && tgt_in.dtype() == DType::i64 && tgt_in.dim() == 2, ShapeError,
           "TranslationModel::decode: tgt_in must be (N, T) i64 ids, got ",
           tgt_in.defined() ? tgt_in.str() : std::string("undefined"));
  CF_CHECK(src.defined() && src.dtype() == DType::i64 && src.dim() == 2, ShapeError,
           "TranslationModel::decode: src must be (N, S) i64 ids, got ",
           src.defined() ? src.str() : std::string("undefined"));
  const int64_t N = tgt_in.size(0), T = tgt_in.size(1), S = src.size(1);
  CF_CHECK(memory.defined() && memory.dim() == 3 && memory.size(0) == N && memory.size(1) == S &&
               memory.size(2) == config_.d_model,
           ShapeError, "TranslationModel::decode: memory must be (", N, ", ", S, ", ",
           config_.d_model, ") for tgt_in ", tgt_in.shape(), " and src ", src.shape(), ", got ",
           memory.defined() ? memory.shape().str() : std::string("undefined"));
  CF_CHECK(src.size(0) == N, ShapeError, "TranslationModel::decode: src batch ", src.size(0),
           " differs from tgt_in batch ", N);
  CF_CHECK(T >= 1 && T <= config_.max_positions, ShapeError,
           "TranslationModel::decode: target length ", T, " must be in [1, ",
           config_.max_positions, "] (max_positions)");
  check_ids("decode", tgt_in, config_.tgt_vocab_size, "target");
  Tensor tgt_kpm = eq(tgt_in, static_cast<double>(config_.pad_id));
  Tensor mem_kpm = eq(src, static_cast<double>(config_.pad_id));
  Tensor x = embed_tgt(tgt_in, 0, true);
  for (size_t i = 0; i < decoder_layers_.size(); ++i)
    x = decoder_layer(i, x, memory, tgt_kpm, mem_kpm);
  return linear(decoder_norm_->forward(x), output_weight());
}

Tensor TranslationModel::decoder_layer(size_t i, const Tensor& x, const Tensor& memory,
                                       const Tensor& tgt_kpm, const Tensor& mem_kpm) {
  nn::TransformerDecoderLayer& layer = *decoder_layers_[i];
  const bool self_dense = config_.decoder_attention.kind == "dense";
  const bool cross_dense = config_.cross_attention.kind == "dense";
  if (self_dense && cross_dense)
    return layer.forward(x, memory, Tensor(), Tensor(), tgt_kpm, mem_kpm, /*tgt_is_causal=*/true);
  // TransformerDecoderLayer's own computation (nn/transformer.cpp) with the non-dense kernels
  // in place of MultiheadAttention's dense attention (the kernels are causal / not as built).
  nn::AttentionKernel& self_kernel = *decoder_kernels_[i];
  nn::AttentionKernel& cross_kernel = *cross_kernels_[i];
  auto sa = [&layer, &self_kernel, &tgt_kpm, self_dense](const Tensor& h) {
    const Tensor a =
        self_dense ? layer.self_attn->forward(h, h, h, tgt_kpm, false, Tensor(), true, true).output
                   : kernel_attention(*layer.self_attn, self_kernel, h, h, tgt_kpm);
    return layer.dropout1->forward(a);
  };
  auto ca = [&layer, &cross_kernel, &memory, &mem_kpm, cross_dense](const Tensor& h) {
    const Tensor a =
        cross_dense ? layer.multihead_attn
                          ->forward(h, memory, memory, mem_kpm, false, Tensor(), true, false)
                          .output
                    : kernel_attention(*layer.multihead_attn, cross_kernel, h, memory, mem_kpm);
    return layer.dropout2->forward(a);
  };
  auto ff = [&layer](const Tensor& h) {
    const Tensor a = nn::apply_activation(layer.linear1->forward(h), layer.options.activation);
    return layer.dropout3->forward(layer.linear2->forward(layer.dropout->forward(a)));
  };
  Tensor y = x;
  if (layer.options.norm_first) {
    y = add(y, sa(layer.norm1->forward(y)));
    y = add(y, ca(layer.norm2->forward(y)));
    return add(y, ff(layer.norm3->forward(y)));
  }
  y = layer.norm1->forward(add(y, sa(y)));
  y = layer.norm2->forward(add(y, ca(y)));
  return layer.norm3->forward(add(y, ff(y)));
}

Tensor TranslationModel::forward(const Tensor& src, const Tensor& tgt_in) {
  return decode(tgt_in, encode(src), src);
}

Tensor TranslationModel::loss(const Tensor& src, const Tensor& tgt_in, const Tensor& tgt_out,
                              double label_smoothing) {
  CF_CHECK(tgt_out.defined() && tgt_out.dtype() == DType::i64 &&
               tgt_out.shape() == tgt_in.shape(),
           ShapeError, "TranslationModel::loss: tgt_out must be i64 with tgt_in's shape ",
           tgt_in.shape(), ", got ", tgt_out.defined() ? tgt_out.str() : std::string("undefined"));
  Tensor logits = forward(src, tgt_in);
  return cross_entropy(logits.reshape(Shape{-1, config_.tgt_vocab_size}),
                       tgt_out.reshape(Shape{-1}), Tensor(), config_.pad_id, Reduction::mean,
                       label_smoothing);
}

}  // namespace cf::models
