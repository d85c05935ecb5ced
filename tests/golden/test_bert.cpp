// BERT against its PyTorch twin (tools/golden/gen_bert.py, HF's module structure): same weights,
// same padded batch -> same sequence / pooled outputs, MLM logits at the labelled positions, MLM,
// NSP and total loss, every parameter gradient; the composite attention path (a mask with a
// hole); the sequence classifier; and an HF-style checkpoint (tied decoder, position_ids) loads.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "cformer/cformer.h"
#include "cformer/io.h"
#include "cformer/models/bert.h"
#include "support/expect_close.h"
#include "support/golden.h"

namespace cf {
namespace {

struct BertGolden {
  io::NamedTensors nt;
  models::BertConfig cfg;
  nn::StateDict prefixed(const std::string& prefix) const {
    nn::StateDict m;
    for (const auto& [n, t] : nt.tensors)
      if (n.rfind(prefix, 0) == 0) m.emplace_back(n.substr(prefix.size()), t);
    return m;
  }
  const Tensor& at(const std::string& n) const { return nt.at(n); }
  models::BertBatch batch() const {
    return {at("input_ids"), at("token_type_ids"), at("attention_mask"), at("mlm_labels"), at("nsp_labels")};
  }
};

BertGolden load() {
  BertGolden g;
  g.nt = io::load_safetensors(testing::golden_dir() + "/bert/bert_parity.safetensors");
  g.cfg = models::BertConfig::from_json(g.nt.metadata.at("config"));
  return g;
}

Tensor find(const nn::StateDict& sd, const std::string& name) {
  for (const auto& [n, t] : sd)
    if (n == name) return t;
  return Tensor();
}

TEST(BertParity, PreTrainingOutputsLossesAndEveryGradient) {
  BertGolden g = load();
  models::BertForPreTraining model(g.cfg, 0, true);
  model.load_state_dict(g.prefixed("init."), true);
  model.eval();
  models::BertPreTrainingOutput o = model.forward(g.batch());
  EXPECT_CLOSE(o.encoder.sequence_output, g.at("sequence_output"), 2e-5, 1e-4);
  EXPECT_CLOSE(o.encoder.pooled_output, g.at("pooled_output"), 2e-5, 1e-4);
  EXPECT_CLOSE(o.mlm_logits, g.at("mlm_logits"), 5e-5, 1e-4);
  EXPECT_CLOSE(o.mlm_loss, g.at("mlm_loss"), 1e-5, 1e-5);
  EXPECT_CLOSE(o.nsp_logits, g.at("nsp_logits"), 2e-5, 1e-4);
  EXPECT_CLOSE(o.nsp_loss, g.at("nsp_loss"), 1e-5, 1e-5);
  EXPECT_CLOSE(o.loss, g.at("loss"), 1e-5, 1e-5);
  o.loss.backward();
  const nn::StateDict grads = g.prefixed("grad.");
  ASSERT_EQ(grads.size(), model.named_parameters().size());
  for (const auto& [name, p] : model.named_parameters()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(find(grads, name).defined());
    EXPECT_CLOSE(p.grad(), find(grads, name), 2e-5, 1e-3);
  }
}

TEST(BertParity, MaskWithAHoleTakesTheCompositePath) {
  BertGolden g = load();
  models::BertForPreTraining model(g.cfg, 0, true);
  model.load_state_dict(g.prefixed("init."), true);
  model.eval();
  NoGradGuard ng;
  models::BertOutput o = model.bert().forward(g.at("input_ids"), g.at("token_type_ids"), g.at("holed_mask"));
  EXPECT_CLOSE(o.sequence_output, g.at("holed_sequence_output"), 2e-5, 1e-4);
  EXPECT_CLOSE(o.pooled_output, g.at("holed_pooled_output"), 2e-5, 1e-4);
}

TEST(BertParity, SequenceClassificationLogitsLossAndGradients) {
  BertGolden g = load();
  models::BertForSequenceClassification model(g.cfg, 3, 0);
  nn::StateDict sd;
  for (const auto& [n, t] : g.prefixed("init.bert.")) sd.emplace_back("bert." + n, t);
  for (const auto& [n, t] : g.prefixed("cls_init.")) sd.emplace_back(n, t);
  model.load_state_dict(sd, true);
  model.eval();
  Tensor logits = model.forward(g.at("input_ids"), g.at("token_type_ids"), g.at("attention_mask"));
  EXPECT_CLOSE(logits, g.at("cls_logits"), 2e-5, 1e-4);
  Tensor loss = cross_entropy(logits, g.at("cls_labels"));
  EXPECT_CLOSE(loss, g.at("cls_loss"), 1e-5, 1e-5);
  loss.backward();
  const nn::StateDict grads = g.prefixed("cls_grad.");
  ASSERT_EQ(grads.size(), model.named_parameters().size());
  for (const auto& [name, p] : model.named_parameters()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(find(grads, name).defined());
    EXPECT_CLOSE(p.grad(), find(grads, name), 2e-5, 1e-3);
  }
}

TEST(BertParity, LoadsAHuggingFaceCheckpointAndConfig) {
  BertGolden g = load();
  const std::string dir = testing::golden_dir() + "/bert/hf";
  std::ifstream f(dir + "/config.json");
  std::stringstream ss;
  ss << f.rdbuf();
  const models::BertConfig cfg = models::BertConfig::from_json(ss.str());
  EXPECT_EQ(cfg.to_json(), g.cfg.to_json());
  models::BertForPreTraining model(cfg, 5, true);
  const io::NamedTensors hf = io::load_safetensors(dir + "/model.safetensors");
  model.load_state_dict(models::hf_bert_state_dict(hf.tensors, model), true);
  model.eval();
  NoGradGuard ng;
  models::BertPreTrainingOutput o = model.forward(g.batch());
  EXPECT_CLOSE(o.mlm_logits, g.at("mlm_logits"), 5e-5, 1e-4);
  EXPECT_CLOSE(o.nsp_logits, g.at("nsp_logits"), 2e-5, 1e-4);
  // The encoder alone (BertModel) from the same file: the "bert." prefix is stripped.
  Generator init(1);
  models::BertModel bare(cfg, init, 2);
  const nn::LoadResult r = bare.load_state_dict(models::hf_bert_state_dict(hf.tensors, bare), false);
  EXPECT_TRUE(r.missing_keys.empty());
  for (const std::string& k : r.unexpected_keys) EXPECT_EQ(k.rfind("cls.", 0), 0u) << k;
  bare.eval();
  EXPECT_CLOSE(bare.forward(g.at("input_ids"), g.at("token_type_ids"), g.at("attention_mask")).sequence_output,
               g.at("sequence_output"), 2e-5, 1e-4);
}

}  // namespace
}  // namespace cf
