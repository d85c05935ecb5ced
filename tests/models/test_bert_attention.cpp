// BERT with a configured attention kernel (BertConfig::attention): the exact and full-coverage
// kernels give the dense logits with the same weights, performer trains and round-trips through
// safetensors bit for bit, the config JSON carries the kernel (absent = dense), and the
// attention-dropout rule fails with a message that names the field and the flag.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "cformer/cformer.h"
#include "cformer/io.h"
#include "cformer/optim.h"
#include "cformer/models/bert.h"
#include "support/expect_close.h"

namespace cf::models {
namespace {

BertConfig tiny_config(const std::string& kind = "dense") {
  BertConfig c;
  c.vocab_size = 50;
  c.hidden_size = 32;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 48;
  c.max_position_embeddings = 24;
  c.hidden_dropout_prob = 0.0;
  c.attention_probs_dropout_prob = 0.0;
  c.attention.kind = kind;
  return c;
}

// Logits of a classifier with `c`'s kernel and the weights of `dense`, on a batch with a
// prefix mask (rows of three lengths) and on one with a hole (not a prefix):
// |a - e| <= 1e-6 + 1e-5 |e|.
void expect_dense_logits(const BertConfig& c) {
  BertForSequenceClassification dense(tiny_config(), 3, 7);
  BertForSequenceClassification other(c, 3, 8);
  other.load_state_dict(dense.state_dict(), /*strict=*/false);
  dense.eval();
  other.eval();
  Generator g(5);
  const Tensor ids = randint(5, 50, Shape{3, 10}, g);
  Tensor prefix = ones(Shape{3, 10}, DType::i64);
  prefix.narrow(0, 1, 1).narrow(1, 6, 4).fill_(0);
  prefix.narrow(0, 2, 1).narrow(1, 3, 7).fill_(0);
  Tensor holed = prefix.clone();
  holed.narrow(0, 0, 1).narrow(1, 4, 1).fill_(0);
  for (const Tensor& mask : {Tensor(), prefix, holed}) {
    const Tensor want = dense.forward(ids, Tensor(), mask);
    const Tensor got = other.forward(ids, Tensor(), mask);
    SCOPED_TRACE(c.attention.to_json());
    EXPECT_CLOSE(got, want, 1e-6, 1e-5);
  }
}

TEST(BertAttention, MemoryEfficientGivesTheDenseLogits) {
  expect_dense_logits(tiny_config("memory_efficient"));
}

TEST(BertAttention, FullCoverageLongformerAndBlockSparseGiveTheDenseLogits) {
  BertConfig lf = tiny_config("longformer");
  lf.attention.attention_window = 2 * lf.max_position_embeddings;  // every key within reach
  expect_dense_logits(lf);
  BertConfig bs = tiny_config("block_sparse");
  bs.attention.block_size = 4;    // 6 blocks over max_position_embeddings 24; T = 10 ends mid-block
  bs.attention.local_blocks = 6;  // one window covering every block
  bs.attention.global_blocks = 1;
  expect_dense_logits(bs);
}

TEST(BertAttention, KernelBuffersAreSavedAndLoaded) {
  // Dense registers nothing, so dense state dicts (and every older checkpoint) are unchanged.
  BertForPreTraining dense(tiny_config(), 1, false);
  for (const auto& [n, t] : dense.state_dict()) EXPECT_EQ(n.find("kernel"), std::string::npos) << n;
  BertConfig bb = tiny_config("block_sparse");
  bb.attention.sparse_layout = "bigbird";
  bb.attention.block_size = 4;
  bb.attention.random_blocks = 1;
  BertForPreTraining a(bb, 1, false);
  const nn::StateDict sa = a.state_dict();
  bool found = false;
  for (const auto& [n, t] : sa) found = found || n == "bert.encoder.layer.1.attention.self.kernel.layout";
  EXPECT_TRUE(found);
  BertForPreTraining b(bb, 2, false);  // another seed draws other random blocks
  EXPECT_GT(max(abs(sub(a.bert().attention_kernel(0).layout->to(DType::f64),
                        b.bert().attention_kernel(0).layout->to(DType::f64)))).item(), 0.0);
  b.load_state_dict(sa);
  EXPECT_EQ(max(abs(sub(a.bert().attention_kernel(0).layout->to(DType::f64),
                        b.bert().attention_kernel(0).layout->to(DType::f64)))).item(), 0.0);
}

TEST(BertAttention, PerformerTrainsAndRoundTripsBitForBit) {
  BertConfig c = tiny_config("performer");
  c.attention.nb_features = 16;
  c.attention.redraw_interval = 1;  // a redraw before the second training forward
  c.hidden_dropout_prob = 0.1;
  BertForPreTraining model(c, 3, true);
  model.train();
  BertBatch b;
  Generator g(9);
  b.input_ids = randint(5, 50, Shape{2, 8}, g);
  b.attention_mask = from_vector<int64_t>({1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1}, Shape{2, 8});
  b.mlm_labels = full(Shape{2, 8}, -100.0, DType::i64);
  b.mlm_labels.narrow(0, 0, 1).narrow(1, 2, 1).fill_(7);
  b.mlm_labels.narrow(0, 1, 1).narrow(1, 5, 1).fill_(30);
  b.nsp_labels = from_vector<int64_t>({0, 1});
  optim::AdamW opt(model.named_parameters(), optim::AdamOptions{1e-3});
  const Tensor before = model.bert().attention_kernel(0).projection_matrix->clone();
  for (int step = 0; step < 2; ++step) {
    opt.zero_grad();
    Tensor loss = model.forward(b).loss;
    ASSERT_TRUE(std::isfinite(loss.item())) << "step " << step;
    loss.backward();
    opt.step();
  }
  EXPECT_GT(max(abs(sub(*model.bert().attention_kernel(0).projection_matrix, before))).item(), 0.0);
  // safetensors bytes -> a model of another seed -> the same logits, bit for bit.
  const std::vector<uint8_t> bytes = io::serialize_safetensors(model.state_dict());
  const io::NamedTensors read = io::parse_safetensors(bytes, "memory");
  BertForPreTraining loaded(c, 99, true);
  loaded.load_state_dict(read.tensors);
  model.eval();
  loaded.eval();
  const BertPreTrainingOutput x = model.forward(b), y = loaded.forward(b);
  EXPECT_EQ(max(abs(sub(x.mlm_logits, y.mlm_logits))).item(), 0.0);
  EXPECT_EQ(max(abs(sub(x.nsp_logits, y.nsp_logits))).item(), 0.0);
}

TEST(BertAttention, ConfigJsonCarriesTheKernel) {
  BertConfig c = tiny_config("block_sparse");
  c.attention.sparse_layout = "strided";
  c.attention.block_size = 8;
  c.attention.local_blocks = 2;
  const BertConfig r = BertConfig::from_json(c.to_json());
  EXPECT_EQ(r.to_json(), c.to_json());
  EXPECT_EQ(r.attention.sparse_layout, "strided");
  EXPECT_EQ(r.attention.block_size, 8);
  // An older cformer config, or Hugging Face's config.json: no "attention" object = dense.
  nlohmann::json old = nlohmann::json::parse(tiny_config().to_json());
  old.erase("attention");
  old["attention_probs_dropout_prob"] = 0.1;
  const BertConfig o = BertConfig::from_json(old.dump());
  EXPECT_EQ(o.attention.kind, "dense");
  EXPECT_EQ(o.attention_probs_dropout_prob, 0.1);
  nlohmann::json bad = nlohmann::json::parse(c.to_json());
  bad["attention"]["kind"] = "sparse";
  EXPECT_THROW(BertConfig::from_json(bad.dump()), FormatError);
}

TEST(BertAttention, NonDenseKernelsRejectAttentionDropout) {
  BertConfig c = tiny_config("memory_efficient");
  c.attention_probs_dropout_prob = 0.1;
  try {
    c.validate();
    ADD_FAILURE() << "memory_efficient with attention dropout 0.1 was accepted";
  } catch (const ValueError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("attention_probs_dropout_prob"), std::string::npos) << m;
    EXPECT_NE(m.find("--attention-dropout 0"), std::string::npos) << m;
  }
  Generator init(1);
  EXPECT_THROW(BertModel(c, init, 2), ValueError);
  nlohmann::json j = nlohmann::json::parse(tiny_config("performer").to_json());
  j["attention_probs_dropout_prob"] = 0.1;
  EXPECT_THROW(BertConfig::from_json(j.dump()), ValueError);
  c.attention.kind = "dense";  // dense keeps its attention dropout
  EXPECT_NO_THROW(c.validate());
  c.attention.kind = "longformer";
  c.attention_probs_dropout_prob = 0.0;
  c.attention.attention_window = 3;  // odd
  EXPECT_THROW(c.validate(), ValueError);
}

}  // namespace
}  // namespace cf::models
