// BERT encoder and its heads (see include/cformer/models/bert.h). Post-norm layers:
//   a = LN(x + dropout(dense(attention(q(x), k(x), v(x), mask))))
//   y = LN(a + dropout(output(gelu(intermediate(a)))))
// With the dense kernel (config.attention) the attention runs on the fused kernel whenever the
// padding mask is a prefix of ones per row: keys beyond a row's length are cut off (narrow)
// instead of masked, which is exact (HF's additive finfo.min mask gives those keys probability 0
// too). The other kernels (nn::AttentionKernel) take the padding as a key padding mask.
#include "cformer/models/bert.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "cformer/autograd.h"
#include "cformer/ops.h"
#include "util/check.h"

namespace cf::models {

void BertConfig::validate() const {
  auto pos = [](int64_t v, const char* name) {
    CF_CHECK(v >= 1, ValueError, "bert config: ", name, " must be >= 1, got ", v);
  };
  pos(vocab_size, "vocab_size");
  pos(hidden_size, "hidden_size");
  pos(num_hidden_layers, "num_hidden_layers");
  pos(num_attention_heads, "num_attention_heads");
  pos(intermediate_size, "intermediate_size");
  pos(max_position_embeddings, "max_position_embeddings");
  pos(type_vocab_size, "type_vocab_size");
  CF_CHECK(hidden_size % num_attention_heads == 0, ValueError, "bert config: hidden_size (",
           hidden_size, ") must be a multiple of num_attention_heads (", num_attention_heads, ")");
  CF_CHECK(hidden_dropout_prob >= 0.0 && hidden_dropout_prob < 1.0, ValueError,
           "bert config: hidden_dropout_prob must be in [0, 1), got ", hidden_dropout_prob);
  CF_CHECK(attention_probs_dropout_prob >= 0.0 && attention_probs_dropout_prob < 1.0, ValueError,
           "bert config: attention_probs_dropout_prob must be in [0, 1), got ",
           attention_probs_dropout_prob);
  CF_CHECK(layer_norm_eps > 0.0, ValueError, "bert config: layer_norm_eps must be positive, got ",
           layer_norm_eps);
  CF_CHECK(initializer_range > 0.0, ValueError,
           "bert config: initializer_range must be positive, got ", initializer_range);
  attention.validate();
  CF_CHECK(attention.kind == "dense" || attention_probs_dropout_prob == 0.0, ValueError,
           "bert config: the ", attention.kind,
           " attention kernel has no attention-probability dropout; set "
           "attention_probs_dropout_prob to 0 (train bert: --attention-dropout 0), got ",
           attention_probs_dropout_prob);
}

std::string BertConfig::to_json() const {
  nlohmann::ordered_json j{{"model_type", "bert"},
                           {"vocab_size", vocab_size},
                           {"hidden_size", hidden_size},
                           {"num_hidden_layers", num_hidden_layers},
                           {"num_attention_heads", num_attention_heads},
                           {"intermediate_size", intermediate_size},
                           {"hidden_act", "gelu"},
                           {"max_position_embeddings", max_position_embeddings},
                           {"type_vocab_size", type_vocab_size},
                           {"hidden_dropout_prob", hidden_dropout_prob},
                           {"attention_probs_dropout_prob", attention_probs_dropout_prob},
                           {"layer_norm_eps", layer_norm_eps},
                           {"initializer_range", initializer_range},
                           {"attention", nlohmann::ordered_json::parse(attention.to_json())}};
  return j.dump();
}

BertConfig BertConfig::from_json(const std::string& text) {
  BertConfig c;
  try {
    const auto j = nlohmann::json::parse(text);
    c.vocab_size = j.at("vocab_size");
    c.hidden_size = j.at("hidden_size");
    c.num_hidden_layers = j.at("num_hidden_layers");
    c.num_attention_heads = j.at("num_attention_heads");
    c.intermediate_size = j.at("intermediate_size");
    c.max_position_embeddings = j.at("max_position_embeddings");
    c.type_vocab_size = j.value("type_vocab_size", int64_t{2});
    c.hidden_dropout_prob = j.value("hidden_dropout_prob", 0.1);
    c.attention_probs_dropout_prob = j.value("attention_probs_dropout_prob", 0.1);
    c.layer_norm_eps = j.value("layer_norm_eps", 1e-12);
    c.initializer_range = j.value("initializer_range", 0.02);
    if (j.contains("attention")) c.attention = nn::AttentionKernelOptions::from_json(j.at("attention").dump());
    const std::string act = j.value("hidden_act", "gelu");
    CF_CHECK(act == "gelu", FormatError, "bert config: hidden_act '", act,
             "' is not supported (only the exact-erf \"gelu\")");
  } catch (const nlohmann::json::exception& e) {
    CF_THROW(FormatError, "bert config: ", e.what());
  }
  c.validate();
  return c;
}

BertConfig BertConfig::preset(const std::string& name, int64_t vocab_size) {
  BertConfig c;
  c.vocab_size = vocab_size;
  auto set = [&c](int64_t layers, int64_t hidden, int64_t heads) {
    c.num_hidden_layers = layers;
    c.hidden_size = hidden;
    c.num_attention_heads = heads;
    c.intermediate_size = 4 * hidden;
  };
  if (name == "tiny") set(2, 128, 2);
  else if (name == "small") set(4, 256, 4);
  else if (name == "base") set(12, 768, 12);
  else CF_THROW(ValueError, "bert: unknown preset '", name, "' (tiny, small, base)");
  return c;
}

namespace {

// A node of the parameter hierarchy (embeddings, encoder.layer.0.attention.self, ...): the models
// keep direct handles to their tensors and register each under its dotted HF path.
class Node : public nn::Module {
 public:
  explicit Node(const std::string& type) : nn::Module(type) {}
};

// The HF class name of the module at a path, for summary().
std::string node_type(const std::string& path) {
  const std::string last = path.substr(path.rfind('.') + 1);
  if (last == "embeddings") return "BertEmbeddings";
  if (last == "encoder") return "BertEncoder";
  if (last == "layer") return "ModuleList";
  if (!last.empty() && std::all_of(last.begin(), last.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
    return "BertLayer";
  if (last == "attention") return "BertAttention";
  if (last == "self") return "BertSelfAttention";
  if (last == "output") return path.find("attention.output") != std::string::npos ? "BertSelfOutput" : "BertOutput";
  if (last == "intermediate") return "BertIntermediate";
  if (last == "pooler") return "BertPooler";
  if (last == "cls") return "BertPreTrainingHeads";
  if (last == "predictions") return "BertLMPredictionHead";
  if (last == "transform") return "BertPredictionHeadTransform";
  if (last == "LayerNorm") return "LayerNorm";
  if (last.find("embeddings") != std::string::npos) return "Embedding";
  return "Linear";
}

// The module that holds the last component of a dotted path below root (the path's parent),
// creating the intermediate modules; `last` receives that component.
nn::Module& parent_of(nn::Module& root, const std::string& path, std::string& last) {
  nn::Module* node = &root;
  size_t start = 0;
  for (size_t dot = path.find('.'); dot != std::string::npos; dot = path.find('.', start)) {
    const std::string name = path.substr(start, dot - start);
    nn::Module* next = nullptr;
    for (const auto& [n, m] : node->named_children())
      if (n == name) next = m.get();
    if (!next) next = node->register_module(name, std::make_shared<Node>(node_type(path.substr(0, dot)))).get();
    node = next;
    start = dot + 1;
  }
  last = path.substr(start);
  return *node;
}

// Registers t under a dotted path below root, creating the intermediate modules.
Tensor register_path(nn::Module& root, const std::string& path, Tensor t) {
  std::string name;
  return parent_of(root, path, name).register_parameter(name, std::move(t));
}

// The seed of the generator of the attention kernels' random state (bigbird layouts, performer
// projections), apart from the parameters' init stream.
constexpr uint64_t kKernelSeedOffset = 0x6b65726e656cULL;

Tensor normal(const Shape& s, double std, Generator& gen) {
  Tensor t = empty(s);
  init::normal_(t, 0.0, std, gen);
  return t;
}

}  // namespace

BertModel::BertModel(const BertConfig& config, Generator& init, uint64_t dropout_seed, DType dtype)
    : nn::Module("BertModel"), config_(config), dropout_gen_(dropout_seed) {
  CF_CHECK(dtype == DType::f32 || dtype == DType::f64, DTypeError, "bert: parameters must be f32 or f64, got ",
           dtype_name(dtype));
  config_.validate();
  const int64_t C = config_.hidden_size, I = config_.intermediate_size;
  const double sd = config_.initializer_range;
  auto reg = [this, dtype](const std::string& p, const Tensor& t) { return register_path(*this, p, t.to(dtype)); };
  word_emb_ = reg("embeddings.word_embeddings.weight", normal(Shape{config_.vocab_size, C}, sd, init));
  pos_emb_ = reg("embeddings.position_embeddings.weight",
                 normal(Shape{config_.max_position_embeddings, C}, sd, init));
  type_emb_ = reg("embeddings.token_type_embeddings.weight",
                  normal(Shape{config_.type_vocab_size, C}, sd, init));
  emb_ln_w_ = reg("embeddings.LayerNorm.weight", ones(Shape{C}));
  emb_ln_b_ = reg("embeddings.LayerNorm.bias", zeros(Shape{C}));
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    Layer l;
    l.q_w = reg(p + "attention.self.query.weight", normal(Shape{C, C}, sd, init));
    l.q_b = reg(p + "attention.self.query.bias", zeros(Shape{C}));
    l.k_w = reg(p + "attention.self.key.weight", normal(Shape{C, C}, sd, init));
    l.k_b = reg(p + "attention.self.key.bias", zeros(Shape{C}));
    l.v_w = reg(p + "attention.self.value.weight", normal(Shape{C, C}, sd, init));
    l.v_b = reg(p + "attention.self.value.bias", zeros(Shape{C}));
    l.ao_w = reg(p + "attention.output.dense.weight", normal(Shape{C, C}, sd, init));
    l.ao_b = reg(p + "attention.output.dense.bias", zeros(Shape{C}));
    l.ao_ln_w = reg(p + "attention.output.LayerNorm.weight", ones(Shape{C}));
    l.ao_ln_b = reg(p + "attention.output.LayerNorm.bias", zeros(Shape{C}));
    l.i_w = reg(p + "intermediate.dense.weight", normal(Shape{I, C}, sd, init));
    l.i_b = reg(p + "intermediate.dense.bias", zeros(Shape{I}));
    l.o_w = reg(p + "output.dense.weight", normal(Shape{C, I}, sd, init));
    l.o_b = reg(p + "output.dense.bias", zeros(Shape{C}));
    l.o_ln_w = reg(p + "output.LayerNorm.weight", ones(Shape{C}));
    l.o_ln_b = reg(p + "output.LayerNorm.bias", zeros(Shape{C}));
    layers_.push_back(l);
  }
  pool_w_ = reg("pooler.dense.weight", normal(Shape{C, C}, sd, init));
  pool_b_ = reg("pooler.dense.bias", zeros(Shape{C}));
  Generator kernel_gen(dropout_seed + kKernelSeedOffset);
  const int64_t NH = config_.num_attention_heads;
  for (size_t i = 0; i < layers_.size(); ++i) {
    std::string name;
    nn::Module& self = parent_of(*this, "encoder.layer." + std::to_string(i) + ".attention.self.kernel", name);
    layers_[i].kernel = self.register_module(
        name, std::make_shared<nn::AttentionKernel>(config_.attention, NH, C / NH,
                                                    config_.max_position_embeddings,
                                                    /*causal=*/false, kernel_gen, dtype));
  }
}

Tensor BertModel::layer_forward(const Layer& l, const Tensor& x, const Tensor& bool_mask,
                                const std::vector<int64_t>& lengths, const Tensor& key_pad) {
  const int64_t B = x.size(0), T = x.size(1), C = config_.hidden_size;
  const int64_t NH = config_.num_attention_heads, HS = C / NH;
  const bool train = is_training();
  const double p_hidden = train ? config_.hidden_dropout_prob : 0.0;
  const double p_attn = train ? config_.attention_probs_dropout_prob : 0.0;
  auto heads = [B, T, NH, HS](const Tensor& t) { return t.view(Shape{B, T, NH, HS}).transpose(1, 2); };
  Tensor q = heads(linear(x, l.q_w, l.q_b)), k = heads(linear(x, l.k_w, l.k_b)),
         v = heads(linear(x, l.v_w, l.v_b));
  Tensor ctx;  // (B, T, C)
  if (config_.attention.kind != "dense") {
    Tensor y = l.kernel->forward(q, k, v, key_pad, p_attn, &dropout_gen_);
    ctx = y.transpose(1, 2).reshape(Shape{B, T, C});
  } else if (!bool_mask.defined() && p_attn == 0.0 && !lengths.empty()) {
    // Rows grouped into runs of equal length; each run attends to its first `len` keys only.
    std::vector<Tensor> parts;
    for (int64_t b0 = 0; b0 < B;) {
      int64_t b1 = b0 + 1;
      while (b1 < B && lengths[b1] == lengths[b0]) ++b1;
      const int64_t n = b1 - b0, len = lengths[b0];
      Tensor y = scaled_dot_product_attention(q.narrow(0, b0, n), k.narrow(0, b0, n).narrow(2, 0, len),
                                              v.narrow(0, b0, n).narrow(2, 0, len));
      parts.push_back(y.transpose(1, 2));  // (n, T, NH, HS), contiguous for the fused kernel
      b0 = b1;
    }
    ctx = (parts.size() == 1 ? parts[0] : cat(parts, 0)).reshape(Shape{B, T, C});
  } else {
    Tensor y = scaled_dot_product_attention(q, k, v, bool_mask, p_attn, false, std::nullopt,
                                            &dropout_gen_);
    ctx = y.transpose(1, 2).reshape(Shape{B, T, C});
  }
  const double eps = config_.layer_norm_eps;
  Tensor a = linear(ctx, l.ao_w, l.ao_b);
  a = layer_norm(add(x, dropout(a, p_hidden, train, dropout_gen_)), Shape{C}, l.ao_ln_w, l.ao_ln_b, eps);
  Tensor h = linear(gelu(linear(a, l.i_w, l.i_b)), l.o_w, l.o_b);
  return layer_norm(add(a, dropout(h, p_hidden, train, dropout_gen_)), Shape{C}, l.o_ln_w, l.o_ln_b, eps);
}

BertOutput BertModel::forward(const Tensor& input_ids, const Tensor& token_type_ids,
                              const Tensor& attention_mask) {
  CF_CHECK(input_ids.defined() && input_ids.dtype() == DType::i64 && input_ids.dim() == 2, ShapeError,
           "bert: input_ids must be (B, T) i64 token ids, got ", input_ids.str());
  const int64_t B = input_ids.size(0), T = input_ids.size(1), C = config_.hidden_size;
  CF_CHECK(B >= 1 && T >= 1 && T <= config_.max_position_embeddings, ShapeError, "bert: input_ids ",
           input_ids.shape(), " must have 1 <= T <= max_position_embeddings (",
           config_.max_position_embeddings, ")");
  Tensor types = token_type_ids;
  if (types.defined()) {
    CF_CHECK(types.dtype() == DType::i64 && types.shape() == input_ids.shape(), ShapeError,
             "bert: token_type_ids must be i64 of shape ", input_ids.shape(), ", got ", types.str());
  } else {
    types = zeros(Shape{B, T}, DType::i64);
  }
  // lengths: per-row key counts when the mask is a prefix of ones (the fused path); otherwise
  // bool_mask (B, 1, 1, T), true = attend.
  std::vector<int64_t> lengths(static_cast<size_t>(B), T);
  Tensor bool_mask;
  if (attention_mask.defined()) {
    CF_CHECK(attention_mask.shape() == input_ids.shape() &&
                 (attention_mask.dtype() == DType::i64 || attention_mask.dtype() == DType::b8),
             ShapeError, "bert: attention_mask must be i64 or bool of shape ", input_ids.shape(),
             ", got ", attention_mask.str());
    const std::vector<int64_t> m = attention_mask.to(DType::i64).contiguous().to_vector<int64_t>();
    bool prefix = true;
    for (int64_t b = 0; b < B; ++b) {
      int64_t len = 0;
      while (len < T && m[b * T + len] != 0) ++len;
      for (int64_t t = len; t < T; ++t) prefix = prefix && m[b * T + t] == 0;
      CF_CHECK(len > 0 || !prefix, ValueError, "bert: attention_mask row ", b,
               " masks every token (the first token must be real)");
      lengths[b] = len;
    }
    if (!prefix) bool_mask = ne(attention_mask.to(DType::i64), 0.0).view(Shape{B, 1, 1, T});
  }
  // The other kernels take any padding (a row has some iff its length is < T), prefix or not,
  // as a key padding mask (B, T).
  Tensor key_pad;
  if (config_.attention.kind != "dense" && *std::min_element(lengths.begin(), lengths.end()) < T)
    key_pad = eq(attention_mask.to(DType::i64), 0.0);
  if (is_training() && config_.attention_probs_dropout_prob > 0.0 && !bool_mask.defined() &&
      attention_mask.defined() && *std::min_element(lengths.begin(), lengths.end()) < T) {
    // Attention dropout needs the composite path, which needs the mask as a tensor.
    bool_mask = ne(attention_mask.to(DType::i64), 0.0).view(Shape{B, 1, 1, T});
  }
  const bool train = is_training();
  Tensor pos = arange(0.0, static_cast<double>(T), 1.0, DType::i64);
  Tensor x = add(add(embedding(input_ids, word_emb_), embedding(pos, pos_emb_)), embedding(types, type_emb_));
  x = layer_norm(x, Shape{C}, emb_ln_w_, emb_ln_b_, config_.layer_norm_eps);
  x = dropout(x, train ? config_.hidden_dropout_prob : 0.0, train, dropout_gen_);
  for (const Layer& l : layers_) x = layer_forward(l, x, bool_mask, lengths, key_pad);
  Tensor pooled = tanh(linear(x.select(1, 0), pool_w_, pool_b_));
  return {x, pooled};
}

BertForPreTraining::BertForPreTraining(const BertConfig& config, uint64_t seed, bool nsp, DType dtype)
    : nn::Module("BertForPreTraining"), nsp_(nsp) {
  Generator init(seed);
  bert_ = register_module("bert", std::make_shared<BertModel>(config, init, seed + 1, dtype));
  const int64_t C = config.hidden_size;
  const double sd = config.initializer_range;
  auto reg = [this, dtype](const std::string& p, const Tensor& t) { return register_path(*this, p, t.to(dtype)); };
  tr_w_ = reg("cls.predictions.transform.dense.weight", normal(Shape{C, C}, sd, init));
  tr_b_ = reg("cls.predictions.transform.dense.bias", zeros(Shape{C}));
  tr_ln_w_ = reg("cls.predictions.transform.LayerNorm.weight", ones(Shape{C}));
  tr_ln_b_ = reg("cls.predictions.transform.LayerNorm.bias", zeros(Shape{C}));
  dec_b_ = reg("cls.predictions.bias", zeros(Shape{config.vocab_size}));
  if (nsp_) {
    nsp_w_ = reg("cls.seq_relationship.weight", normal(Shape{2, C}, sd, init));
    nsp_b_ = reg("cls.seq_relationship.bias", zeros(Shape{2}));
  }
}

Tensor BertForPreTraining::mlm_head(const Tensor& h) {
  const BertConfig& c = bert_->config();
  Tensor t = gelu(linear(h, tr_w_, tr_b_));
  t = layer_norm(t, Shape{c.hidden_size}, tr_ln_w_, tr_ln_b_, c.layer_norm_eps);
  return linear(t, bert_->word_embeddings(), dec_b_);
}

BertPreTrainingOutput BertForPreTraining::forward(const BertBatch& batch) {
  const Tensor& labels = batch.mlm_labels;
  CF_CHECK(labels.defined() && labels.dtype() == DType::i64 && labels.shape() == batch.input_ids.shape(),
           ShapeError, "bert pretraining: mlm_labels must be i64 of shape ", batch.input_ids.shape(),
           ", got ", labels.defined() ? labels.str() : std::string("undefined"));
  CF_CHECK(!batch.nsp_labels.defined() || nsp_, ValueError,
           "bert pretraining: nsp_labels given but the model has no NSP head");
  BertPreTrainingOutput o;
  o.encoder = bert_->forward(batch.input_ids, batch.token_type_ids, batch.attention_mask);
  const int64_t C = bert_->config().hidden_size, V = bert_->config().vocab_size;
  const std::vector<int64_t> lab = labels.contiguous().to_vector<int64_t>();
  std::vector<int64_t> pos, tgt;
  for (size_t i = 0; i < lab.size(); ++i) {
    if (lab[i] == -100) continue;
    CF_CHECK(lab[i] >= 0 && lab[i] < V, IndexError, "bert pretraining: mlm label ", lab[i],
             " at flat position ", i, " is outside the vocabulary [0, ", V, ")");
    pos.push_back(static_cast<int64_t>(i));
    tgt.push_back(lab[i]);
  }
  CF_CHECK(!pos.empty(), ValueError, "bert pretraining: the batch has no masked position");
  o.mlm_positions = from_vector(pos);
  Tensor h = index_select(o.encoder.sequence_output.reshape(Shape{-1, C}), 0, o.mlm_positions);
  o.mlm_logits = mlm_head(h);
  o.mlm_loss = cross_entropy(o.mlm_logits, from_vector(tgt));
  o.loss = o.mlm_loss;
  if (nsp_) o.nsp_logits = linear(o.encoder.pooled_output, nsp_w_, nsp_b_);
  if (batch.nsp_labels.defined()) {
    CF_CHECK(batch.nsp_labels.dtype() == DType::i64 && batch.nsp_labels.dim() == 1 &&
                 batch.nsp_labels.size(0) == batch.input_ids.size(0),
             ShapeError, "bert pretraining: nsp_labels must be (B) i64, got ", batch.nsp_labels.str());
    o.nsp_loss = cross_entropy(o.nsp_logits, batch.nsp_labels);
    o.loss = add(o.mlm_loss, o.nsp_loss);
  }
  return o;
}

BertForSequenceClassification::BertForSequenceClassification(const BertConfig& config,
                                                             int64_t num_labels, uint64_t seed, DType dtype)
    : nn::Module("BertForSequenceClassification"), num_labels_(num_labels) {
  CF_CHECK(num_labels >= 1, ValueError, "bert classifier: num_labels must be >= 1, got ", num_labels);
  Generator init(seed);
  bert_ = register_module("bert", std::make_shared<BertModel>(config, init, seed + 1, dtype));
  auto reg = [this, dtype](const std::string& p, const Tensor& t) { return register_path(*this, p, t.to(dtype)); };
  cls_w_ = reg("classifier.weight", normal(Shape{num_labels, config.hidden_size}, config.initializer_range, init));
  cls_b_ = reg("classifier.bias", zeros(Shape{num_labels}));
}

Tensor BertForSequenceClassification::forward(const Tensor& input_ids, const Tensor& token_type_ids,
                                              const Tensor& attention_mask) {
  BertOutput h = bert_->forward(input_ids, token_type_ids, attention_mask);
  const bool train = is_training();
  Tensor pooled = dropout(h.pooled_output, train ? bert_->config().hidden_dropout_prob : 0.0, train,
                          bert_->dropout_generator());
  return linear(pooled, cls_w_, cls_b_);
}

nn::StateDict hf_bert_state_dict(const nn::StateDict& hf, const nn::Module& model) {
  bool wants_prefix = false;
  for (const auto& [n, t] : model.named_parameters()) wants_prefix = wants_prefix || n.rfind("bert.", 0) == 0;
  bool has_prefix = false;
  for (const auto& [n, t] : hf) has_prefix = has_prefix || n.rfind("bert.", 0) == 0;
  nn::StateDict out;
  Tensor dec_w, dec_b;
  for (const auto& [name, t] : hf) {
    std::string n = name;
    if (n.ends_with("position_ids")) continue;
    if (n.ends_with(".gamma")) n = n.substr(0, n.size() - 6) + ".weight";
    if (n.ends_with(".beta")) n = n.substr(0, n.size() - 5) + ".bias";
    if (n == "cls.predictions.decoder.weight") {
      dec_w = t;
      continue;
    }
    if (n == "cls.predictions.decoder.bias") {
      dec_b = t;
      continue;
    }
    if (wants_prefix && !has_prefix && n.rfind("cls.", 0) != 0 && n.rfind("classifier.", 0) != 0) n = "bert." + n;
    if (!wants_prefix && n.rfind("bert.", 0) == 0) n = n.substr(5);
    out.emplace_back(n, t);
  }
  auto find = [&out](const std::string& n) -> Tensor {
    for (const auto& [k, t] : out)
      if (k == n) return t;
    return {};
  };
  auto same = [](const Tensor& a, const Tensor& b) {
    return a.shape() == b.shape() && max(abs(sub(a.to(DType::f64), b.to(DType::f64)))).item() == 0.0;
  };
  if (dec_w.defined()) {
    Tensor we = find(wants_prefix ? "bert.embeddings.word_embeddings.weight" : "embeddings.word_embeddings.weight");
    CF_CHECK(we.defined() && same(dec_w, we), FormatError,
             "bert weights: cls.predictions.decoder.weight is not tied to the word embeddings; "
             "untied decoders are not supported");
  }
  if (dec_b.defined()) {
    Tensor b = find("cls.predictions.bias");
    if (!b.defined()) out.emplace_back("cls.predictions.bias", dec_b);
    else CF_CHECK(same(dec_b, b), FormatError, "bert weights: cls.predictions.decoder.bias differs from cls.predictions.bias");
  }
  return out;
}

}  // namespace cf::models
