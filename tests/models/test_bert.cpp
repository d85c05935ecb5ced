// BERT model: HF parameter names, padding-mask semantics (fused and composite attention paths
// agree), the masked-position MLM head against the full head, gradients reaching every
// parameter, config JSON and HF state-dict normalization.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include <nlohmann/json.hpp>

#include "cformer/cformer.h"
#include "cformer/models/bert.h"

namespace cf::models {
namespace {

BertConfig tiny_config() {
  BertConfig c;
  c.vocab_size = 50;
  c.hidden_size = 32;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 48;
  c.max_position_embeddings = 24;
  c.hidden_dropout_prob = 0.0;
  c.attention_probs_dropout_prob = 0.0;
  return c;
}

Tensor ids_tensor(int64_t B, int64_t T, uint64_t seed) {
  Generator g(seed);
  return randint(5, 50, Shape{B, T}, g);
}

double max_diff(const Tensor& a, const Tensor& b) {
  return max(abs(sub(a.to(DType::f64), b.to(DType::f64)))).item();
}

TEST(Bert, ParameterNamesAndShapesAreHuggingFaces) {
  BertForPreTraining model(tiny_config(), 1, /*nsp=*/true);
  std::map<std::string, Shape> shapes;
  for (const auto& [n, p] : model.named_parameters()) shapes[n] = p.shape();
  const std::vector<std::pair<std::string, Shape>> want = {
      {"bert.embeddings.word_embeddings.weight", Shape{50, 32}},
      {"bert.embeddings.position_embeddings.weight", Shape{24, 32}},
      {"bert.embeddings.token_type_embeddings.weight", Shape{2, 32}},
      {"bert.embeddings.LayerNorm.weight", Shape{32}},
      {"bert.embeddings.LayerNorm.bias", Shape{32}},
      {"bert.encoder.layer.1.attention.self.query.weight", Shape{32, 32}},
      {"bert.encoder.layer.1.attention.self.key.bias", Shape{32}},
      {"bert.encoder.layer.1.attention.self.value.weight", Shape{32, 32}},
      {"bert.encoder.layer.0.attention.output.dense.weight", Shape{32, 32}},
      {"bert.encoder.layer.0.attention.output.LayerNorm.bias", Shape{32}},
      {"bert.encoder.layer.0.intermediate.dense.weight", Shape{48, 32}},
      {"bert.encoder.layer.0.output.dense.weight", Shape{32, 48}},
      {"bert.encoder.layer.0.output.LayerNorm.weight", Shape{32}},
      {"bert.pooler.dense.weight", Shape{32, 32}},
      {"cls.predictions.transform.dense.weight", Shape{32, 32}},
      {"cls.predictions.transform.LayerNorm.weight", Shape{32}},
      {"cls.predictions.bias", Shape{50}},
      {"cls.seq_relationship.weight", Shape{2, 32}},
      {"cls.seq_relationship.bias", Shape{2}}};
  for (const auto& [n, s] : want) {
    ASSERT_TRUE(shapes.count(n)) << n;
    EXPECT_EQ(shapes[n], s) << n;
  }
  // 5 embedding tensors + 16 per layer + 2 pooler + 5 MLM head + 2 NSP.
  EXPECT_EQ(shapes.size(), 5u + 2 * 16 + 2 + 5 + 2);
  BertForPreTraining no_nsp(tiny_config(), 1, false);
  EXPECT_EQ(no_nsp.named_parameters().size(), shapes.size() - 2);
  BertForSequenceClassification cls(tiny_config(), 3, 1);
  std::map<std::string, Shape> cs;
  for (const auto& [n, p] : cls.named_parameters()) cs[n] = p.shape();
  EXPECT_EQ(cs["classifier.weight"], (Shape{3, 32}));
  EXPECT_TRUE(cs.count("bert.pooler.dense.bias"));
}

TEST(Bert, InitializationFollowsHuggingFace) {
  BertConfig c = tiny_config();
  c.vocab_size = 2000;
  BertForPreTraining model(c, 7, false);
  for (const auto& [n, p] : model.named_parameters()) {
    if (n.ends_with("LayerNorm.weight")) {
      EXPECT_EQ(min(p).item(), 1.0) << n;
    } else if (n.ends_with("bias")) {
      EXPECT_EQ(max(abs(p)).item(), 0.0) << n;
    } else if (n == "bert.embeddings.word_embeddings.weight") {
      EXPECT_NEAR(std_dev(p).item(), 0.02, 0.001);
      EXPECT_NEAR(mean(p).item(), 0.0, 0.001);
    }
  }
}

TEST(Bert, PaddingIsInvisibleToRealTokens) {
  // Row 0 alone (length 7) must equal row 0 inside a padded batch with a longer row 1.
  Generator init(3);
  BertModel model(tiny_config(), init, 4);
  model.eval();
  Tensor ids = ids_tensor(2, 10, 5);
  Tensor mask = from_vector<int64_t>({1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, Shape{2, 10});
  Tensor types = from_vector<int64_t>({0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1}, Shape{2, 10});
  BertOutput batch = model.forward(ids, types, mask);
  BertOutput alone = model.forward(ids.narrow(0, 0, 1).narrow(1, 0, 7).contiguous(),
                                   types.narrow(0, 0, 1).narrow(1, 0, 7).contiguous());
  EXPECT_LT(max_diff(batch.sequence_output.narrow(0, 0, 1).narrow(1, 0, 7), alone.sequence_output), 1e-5);
  EXPECT_LT(max_diff(batch.pooled_output.narrow(0, 0, 1), alone.pooled_output), 1e-5);
  // The padding tokens' own ids do not matter either.
  Tensor ids2 = ids.clone();
  ids2.narrow(0, 0, 1).narrow(1, 7, 3).fill_(9);
  BertOutput batch2 = model.forward(ids2, types, mask);
  EXPECT_LT(max_diff(batch2.sequence_output.narrow(0, 0, 1).narrow(1, 0, 7),
                     batch.sequence_output.narrow(0, 0, 1).narrow(1, 0, 7)), 1e-6);
}

TEST(Bert, FusedAndCompositeAttentionPathsAgree) {
  // A mask with a hole (not a prefix of ones) sends the whole batch through the composite
  // attention; the other rows must match what the fused path computes for them.
  Generator init(8);
  BertModel model(tiny_config(), init, 9);
  model.eval();
  Tensor ids = ids_tensor(3, 9, 11);
  Tensor prefix = from_vector<int64_t>({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
                                        1, 1, 1, 1, 1, 1, 1, 1, 0}, Shape{3, 9});
  Tensor holed = prefix.clone();
  holed.narrow(0, 2, 1).narrow(1, 2, 1).fill_(0);
  BertOutput fused = model.forward(ids, Tensor(), prefix);
  BertOutput composite = model.forward(ids, Tensor(), holed);
  EXPECT_LT(max_diff(fused.sequence_output.narrow(0, 0, 2), composite.sequence_output.narrow(0, 0, 2)), 2e-5);
  EXPECT_GT(max_diff(fused.sequence_output.narrow(0, 2, 1), composite.sequence_output.narrow(0, 2, 1)), 1e-4);
  // A bool mask means the same as an i64 one.
  BertOutput as_bool = model.forward(ids, Tensor(), ne(holed, 0.0));
  EXPECT_LT(max_diff(as_bool.sequence_output, composite.sequence_output), 1e-6);
}

TEST(Bert, MaskedPositionHeadEqualsTheFullHead) {
  BertForPreTraining model(tiny_config(), 2, true);
  model.eval();
  BertBatch b;
  b.input_ids = ids_tensor(2, 8, 1);
  b.attention_mask = from_vector<int64_t>({1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1}, Shape{2, 8});
  b.mlm_labels = full(Shape{2, 8}, -100.0, DType::i64);
  b.mlm_labels.narrow(0, 0, 1).narrow(1, 2, 1).fill_(7);
  b.mlm_labels.narrow(0, 1, 1).narrow(1, 5, 1).fill_(30);
  b.mlm_labels.narrow(0, 1, 1).narrow(1, 6, 1).fill_(49);
  b.nsp_labels = from_vector<int64_t>({0, 1});
  BertPreTrainingOutput o = model.forward(b);
  EXPECT_EQ(o.mlm_positions.to_vector<int64_t>(), (std::vector<int64_t>{2, 13, 14}));
  Tensor all = model.mlm_head(o.encoder.sequence_output);  // (B, T, V)
  Tensor full_loss = cross_entropy(all.reshape(Shape{-1, 50}), b.mlm_labels.reshape(Shape{-1}));
  EXPECT_NEAR(o.mlm_loss.item(), full_loss.item(), 1e-5);
  EXPECT_LT(max_diff(o.mlm_logits.select(0, 1), all.select(0, 1).select(0, 5)), 1e-5);
  EXPECT_NEAR(o.loss.item(), o.mlm_loss.item() + o.nsp_loss.item(), 1e-6);
  EXPECT_EQ(o.nsp_logits.shape(), (Shape{2, 2}));
}

TEST(Bert, EveryParameterGetsAGradient) {
  BertConfig c = tiny_config();
  c.hidden_dropout_prob = 0.1;
  c.attention_probs_dropout_prob = 0.1;
  for (bool padded : {false, true}) {
    BertForPreTraining model(c, 4, true);
    model.train();
    BertBatch b;
    b.input_ids = ids_tensor(2, 6, 2);
    b.token_type_ids = from_vector<int64_t>({0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1}, Shape{2, 6});
    if (padded) b.attention_mask = from_vector<int64_t>({1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1}, Shape{2, 6});
    b.mlm_labels = from_vector<int64_t>({-100, 3, -100, -100, -100, -100, 9, -100, -100, 10, -100, -100}, Shape{2, 6});
    b.nsp_labels = from_vector<int64_t>({1, 0});
    model.forward(b).loss.backward();
    for (const auto& [n, p] : model.named_parameters()) {
      ASSERT_TRUE(p.grad().defined()) << n;
      EXPECT_TRUE(std::isfinite(norm(p.grad()).item())) << n;
      if (n.find("token_type") == std::string::npos && !n.ends_with("position_embeddings.weight")) {
        EXPECT_GT(norm(p.grad()).item(), 0.0) << n;
      }
    }
  }
}

TEST(Bert, ClassifierLogitsAndDropoutModes) {
  BertConfig c = tiny_config();
  c.hidden_dropout_prob = 0.3;
  BertForSequenceClassification model(c, 3, 5);
  Tensor ids = ids_tensor(4, 7, 3);
  model.eval();
  Tensor a = model.forward(ids), b = model.forward(ids);
  EXPECT_EQ(a.shape(), (Shape{4, 3}));
  EXPECT_EQ(max_diff(a, b), 0.0);  // eval: deterministic
  model.train();
  EXPECT_GT(max_diff(model.forward(ids), a), 1e-6);  // training: dropout active
}

TEST(Bert, InputChecks) {
  Generator init(1);
  BertModel model(tiny_config(), init, 2);
  EXPECT_THROW(model.forward(zeros(Shape{2, 3})), ShapeError);                       // f32 ids
  EXPECT_THROW(model.forward(zeros(Shape{1, 25}, DType::i64)), ShapeError);          // T > 24
  EXPECT_THROW(model.forward(zeros(Shape{2, 3}, DType::i64), zeros(Shape{2, 4}, DType::i64)), ShapeError);
  EXPECT_THROW(model.forward(zeros(Shape{2, 3}, DType::i64), Tensor(), zeros(Shape{2, 3}, DType::i64)),
               ValueError);  // every token masked
  EXPECT_THROW(model.forward(full(Shape{1, 3}, 50.0, DType::i64)), IndexError);
  try {
    model.forward(zeros(Shape{2, 3}));
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("bert: input_ids"), std::string::npos);
  }
  BertForPreTraining pt(tiny_config(), 1, false);
  BertBatch b;
  b.input_ids = ids_tensor(1, 4, 1);
  b.mlm_labels = full(Shape{1, 4}, -100.0, DType::i64);
  EXPECT_THROW(pt.forward(b), ValueError);  // nothing masked
  b.mlm_labels = from_vector<int64_t>({-100, 50, -100, -100}, Shape{1, 4});
  EXPECT_THROW(pt.forward(b), IndexError);
  b.mlm_labels = from_vector<int64_t>({-100, 5, -100, -100}, Shape{1, 4});
  b.nsp_labels = from_vector<int64_t>({0});
  EXPECT_THROW(pt.forward(b), ValueError);  // no NSP head
  EXPECT_THROW(BertForSequenceClassification(tiny_config(), 0, 1), ValueError);
}

TEST(Bert, Float64GradientCheckOfTheWholeModel) {
  // Central differences (eps 1e-6) against backprop for three entries of every parameter of a
  // float64 BertForPreTraining with NSP, on a padded batch (prefix mask: the narrowed-keys path)
  // and on a mask with a hole (the bool-mask path).
  BertConfig c = tiny_config();
  c.vocab_size = 13;
  c.hidden_size = 8;
  c.num_attention_heads = 2;
  c.intermediate_size = 12;
  c.max_position_embeddings = 8;
  for (bool holed : {false, true}) {
    BertForPreTraining model(c, 3, true, DType::f64);
    model.eval();
    {
      NoGradGuard ng;
      Generator g(4);
      for (auto& [n, p] : model.named_parameters()) {
        Tensor t = p;
        if (p.dim() == 2) t.mul_(10.0);  // std 0.2: far from the linear regime
        else t.add_(mul(randn(p.shape(), g, DType::f64), 0.2));
      }
    }
    BertBatch b;
    b.input_ids = from_vector<int64_t>({2, 7, 8, 9, 10, 3, 2, 11, 5, 3, 0, 0}, Shape{2, 6});
    b.token_type_ids = from_vector<int64_t>({0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0}, Shape{2, 6});
    b.attention_mask = holed ? from_vector<int64_t>({1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0}, Shape{2, 6})
                             : from_vector<int64_t>({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, Shape{2, 6});
    b.mlm_labels = from_vector<int64_t>({-100, 6, -100, -100, 12, -100, -100, -100, 9, -100, -100, -100}, Shape{2, 6});
    b.nsp_labels = from_vector<int64_t>({1, 0});
    model.zero_grad();
    model.forward(b).loss.backward();
    NoGradGuard ng;
    for (auto& [name, p] : model.named_parameters()) {
      ASSERT_TRUE(p.is_contiguous());
      double* v = p.data_ptr<double>();
      const std::vector<double> grad = p.grad().contiguous().to_vector<double>();
      const int64_t n = p.numel();
      for (int64_t i : {int64_t{0}, n / 2, n - 1}) {
        const double keep = v[i], eps = 1e-6;
        v[i] = keep + eps;
        const double up = model.forward(b).loss.item();
        v[i] = keep - eps;
        const double down = model.forward(b).loss.item();
        v[i] = keep;
        const double numeric = (up - down) / (2 * eps);
        EXPECT_NEAR(grad[static_cast<size_t>(i)], numeric, 1e-5 + 1e-3 * std::fabs(numeric))
            << name << "[" << i << "] holed=" << holed;
      }
    }
  }
  EXPECT_THROW(BertForPreTraining(c, 1, false, DType::i64), DTypeError);
}

TEST(BertConfig, JsonRoundTripPresetsAndValidation) {
  BertConfig c = BertConfig::preset("small", 1000);
  EXPECT_EQ(c.num_hidden_layers, 4);
  EXPECT_EQ(c.hidden_size, 256);
  EXPECT_EQ(c.intermediate_size, 1024);
  const BertConfig r = BertConfig::from_json(c.to_json());
  EXPECT_EQ(r.to_json(), c.to_json());
  EXPECT_EQ(BertConfig::preset("base", 30522).num_attention_heads, 12);
  EXPECT_THROW(BertConfig::preset("huge", 10), ValueError);
  EXPECT_THROW(BertConfig::from_json("{\"vocab_size\": 3}"), FormatError);
  BertConfig bad = c;
  bad.num_attention_heads = 3;
  EXPECT_THROW(bad.validate(), ValueError);
  nlohmann::json j = nlohmann::json::parse(c.to_json());
  j["hidden_act"] = "relu";
  EXPECT_THROW(BertConfig::from_json(j.dump()), FormatError);
}

TEST(Bert, HuggingFaceStateDictLoads) {
  BertForPreTraining src(tiny_config(), 1, true);
  // An HF-style file: bare names for a BertModel, gamma/beta LayerNorms, position_ids, tied decoder.
  nn::StateDict hf;
  for (const auto& [n, t] : src.bert().state_dict()) {
    std::string name = n;
    if (name.ends_with("LayerNorm.weight")) name = name.substr(0, name.size() - 6) + "gamma";
    hf.emplace_back(name, t);
  }
  hf.emplace_back("embeddings.position_ids", arange(24.0).view(Shape{1, 24}));
  BertForSequenceClassification dst(tiny_config(), 2, 9);
  const nn::LoadResult r = dst.load_state_dict(hf_bert_state_dict(hf, dst), false);
  EXPECT_TRUE(r.unexpected_keys.empty());
  EXPECT_EQ(r.missing_keys, (std::vector<std::string>{"classifier.weight", "classifier.bias"}));
  EXPECT_EQ(max_diff(dst.bert().word_embeddings(), src.bert().word_embeddings()), 0.0);
  // A BertForPreTraining file with the decoder stored: it must be tied.
  nn::StateDict full_sd = src.state_dict();
  full_sd.emplace_back("cls.predictions.decoder.weight", src.bert().word_embeddings().clone());
  BertForPreTraining dst2(tiny_config(), 3, true);
  dst2.load_state_dict(hf_bert_state_dict(full_sd, dst2), true);
  full_sd.back().second = zeros(Shape{50, 32});
  EXPECT_THROW(hf_bert_state_dict(full_sd, dst2), FormatError);
}

}  // namespace
}  // namespace cf::models
