// The long-document classifier (cformer/models/longdoc.h) and its data (src/train/longdoc_train.h):
// the kernels agree where they must (memory-efficient == dense; Longformer with a window covering
// everything and global projections equal to the local ones == dense; block-sparse with a full
// layout == dense), padding does not change a document's logits, the configuration round-trips,
// and bad configurations, inputs and files raise clear errors. PyTorch parity of every variant:
// tests/golden/test_longdoc.cpp.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cformer/cformer.h"
#include "cformer/models/longdoc.h"
#include "support/expect_close.h"
#include "train/longdoc_train.h"

namespace cf {
namespace {

models::LongDocConfig small(const std::string& attention) {
  models::LongDocConfig c;
  c.vocab_size = 12, c.max_len = 70, c.num_classes = 3, c.d_model = 16, c.num_heads = 2;
  c.num_layers = 2, c.ffn_dim = 20, c.dropout = 0.0, c.attention = attention;
  c.attention_window = 200, c.block_size = 8, c.nb_features = 16, c.redraw_interval = 0;
  return c;
}

Tensor ids_for(int64_t B, int64_t N, uint64_t seed) {
  Generator g(seed);
  Tensor ids = randint(2, 12, Shape{B, N}, g);
  ids.narrow(1, 0, 1).fill_(1.0);
  return ids;
}

// Copies the dense model's weights into a model with another kernel: in_proj rows become the
// Longformer's query/key/value and their global twins.
void copy_weights(models::LongDocClassifier& from, models::LongDocClassifier& to) {
  nn::StateDict sd;
  for (const auto& [name, t] : from.state_dict()) {
    const auto pos = name.find("self_attn.in_proj_");
    if (to.config.attention != "longformer" || pos == std::string::npos) {
      sd.emplace_back(name, t);
      continue;
    }
    const std::string prefix = name.substr(0, pos) + "self_attn.";
    const bool weight = name.find("weight") != std::string::npos;
    const std::vector<Tensor> parts = chunk(t, 3, 0);
    const char* local[] = {"query", "key", "value"};
    for (int i = 0; i < 3; ++i) {
      for (const char* suffix : {"", "_global"})
        sd.emplace_back(prefix + local[i] + suffix + (weight ? ".weight" : ".bias"), parts[i].clone());
    }
  }
  for (const auto& [name, t] : to.state_dict())
    if (name.find("layout") != std::string::npos) sd.emplace_back(name, t);
  to.load_state_dict(sd, true);
}

TEST(LongDoc, KernelsAgreeWithDenseWhereTheyMust) {
  models::LongDocClassifier dense(small("dense"), 7);
  dense.eval();
  const Tensor ids = ids_for(3, 50, 1);
  Tensor pad = zeros(Shape{3, 50}, DType::b8);
  pad.narrow(0, 1, 1).narrow(1, 31, 19).fill_(1.0);
  pad.narrow(0, 2, 1).narrow(1, 44, 6).fill_(1.0);
  NoGradGuard ng;
  const Tensor want = dense.forward(ids, pad);
  for (const char* a : {"memory_efficient", "longformer", "block_sparse"}) {
    SCOPED_TRACE(a);
    models::LongDocConfig c = small(a);
    c.sparse_layout = "fixed", c.local_blocks = 9, c.global_blocks = 1;  // one window: every block
    models::LongDocClassifier m(c, 7);
    copy_weights(dense, m);
    m.eval();
    EXPECT_CLOSE(m.forward(ids, pad), want, 1e-5, 1e-4);
  }
}

TEST(LongDoc, PaddingDoesNotChangeADocument) {
  for (const char* a : {"dense", "memory_efficient", "longformer", "block_sparse", "performer"}) {
    SCOPED_TRACE(a);
    models::LongDocConfig c = small(a);
    c.attention_window = 8;
    models::LongDocClassifier m(c, 3);
    m.eval();
    NoGradGuard ng;
    const Tensor ids = ids_for(1, 37, 5);
    const Tensor alone = m.forward(ids);
    Tensor padded = zeros(Shape{1, 60}, DType::i64);
    padded.narrow(1, 0, 37).copy_(ids);
    Tensor pad = zeros(Shape{1, 60}, DType::b8);
    pad.narrow(1, 37, 23).fill_(1.0);
    EXPECT_CLOSE(m.forward(padded, pad), alone, 1e-5, 1e-4);
  }
}

TEST(LongDoc, ConfigRoundTripsAndBadConfigsThrow) {
  models::LongDocConfig c = small("block_sparse");
  c.sparse_layout = "bigbird";
  const models::LongDocConfig r = models::LongDocConfig::from_json(c.to_json());
  EXPECT_EQ(r.to_json(), c.to_json());
  auto bad = [](const std::function<void(models::LongDocConfig&)>& f, const char* what) {
    models::LongDocConfig c = small("longformer");
    f(c);
    try {
      models::LongDocClassifier m(c, 0);
      ADD_FAILURE() << "no error for " << what;
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  bad([](auto& c) { c.attention = "reformer"; }, "unknown kind 'reformer'");
  bad([](auto& c) { c.attention_window = 7; }, "attention_window must be even");
  bad([](auto& c) { c.num_heads = 3; }, "not divisible by num_heads");
  bad([](auto& c) { c.pad_id = c.cls_id; }, "must be distinct");
  bad([](auto& c) { c.dropout = 1.0; }, "dropout");
  bad([](auto& c) { c.dilation = 0; }, "dilation must be >= 1");
  // A configuration written before "dilation" existed loads with dilation 1.
  std::string old_json = small("longformer").to_json();
  const size_t at = old_json.find("\"dilation\":1,");
  ASSERT_NE(at, std::string::npos) << old_json;
  old_json.erase(at, std::string("\"dilation\":1,").size());
  EXPECT_EQ(models::LongDocConfig::from_json(old_json).dilation, 1);
  EXPECT_THROW(models::LongDocConfig::from_json("{\"d_model\": 4}"), FormatError);
  EXPECT_THROW(models::LongDocConfig::from_json("not json"), FormatError);
}

TEST(LongDoc, BadInputsThrow) {
  models::LongDocClassifier m(small("memory_efficient"), 0);
  EXPECT_THROW(m.forward(ids_for(2, 71, 0)), ShapeError);  // longer than max_len
  Tensor no_cls = ids_for(2, 10, 0);
  no_cls.narrow(1, 0, 1).fill_(3.0);
  EXPECT_THROW(m.forward(no_cls), ValueError);
  EXPECT_THROW(m.forward(ids_for(2, 10, 0), zeros(Shape{2, 9}, DType::b8)), ShapeError);
  EXPECT_THROW(m.forward(ids_for(2, 10, 0).to(DType::f32)), ShapeError);
}

TEST(LongDoc, PerformerRedrawsItsProjectionInTraining) {
  models::LongDocConfig c = small("performer");
  c.redraw_interval = 2;
  models::LongDocClassifier m(c, 0);
  m.train();
  const Tensor before = m.layers[0]->self_attn->kernel->projection_matrix->clone();
  const Tensor ids = ids_for(1, 9, 2);
  m.forward(ids);
  m.forward(ids);
  EXPECT_CLOSE(*m.layers[0]->self_attn->kernel->projection_matrix, before, 0.0, 0.0);
  m.forward(ids);  // the third forward draws a new one
  EXPECT_GT(max(abs(sub(*m.layers[0]->self_attn->kernel->projection_matrix, before))).item(), 0.1);
  m.eval();
  const Tensor now = m.layers[0]->self_attn->kernel->projection_matrix->clone();
  for (int i = 0; i < 3; ++i) m.forward(ids);
  EXPECT_CLOSE(*m.layers[0]->self_attn->kernel->projection_matrix, now, 0.0, 0.0);
}

class LongDocData : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = ::testing::TempDir() + "/longdoc_data";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  std::string write(const std::string& name, const std::string& text) {
    const std::string p = dir + "/" + name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  std::string dir;
};

TEST_F(LongDocData, ListOpsDropsParenthesesAndMapsTokens) {
  const auto ds = train::load_listops(
      write("a.tsv", "Source\tTarget\n( ( [MAX 2 ) 9 ) ]\t9\n( [SM 4 ) ]\t4\n"));
  ASSERT_EQ(ds.examples.size(), 2u);
  EXPECT_EQ(ds.examples[0].ids, (std::vector<int32_t>{4, 9, 16, 2}));
  EXPECT_EQ(ds.examples[0].label, 9);
  EXPECT_EQ(ds.examples[1].ids, (std::vector<int32_t>{6, 11, 2}));
  EXPECT_EQ(ds.vocab_size, 17);
  EXPECT_THROW(train::load_listops(write("b.tsv", "Src\tTarget\n")), FormatError);
  EXPECT_THROW(train::load_listops(write("c.tsv", "Source\tTarget\n( [MAX 2 ) ]\t12\n")), FormatError);
  EXPECT_THROW(train::load_listops(write("d.tsv", "Source\tTarget\n( [AVG 2 ) ]\t2\n")), FormatError);
  EXPECT_THROW(train::load_listops(dir + "/missing.tsv"), IoError);
}

TEST_F(LongDocData, SpamBytesAreReadCutAndChecked) {
  std::string two = "cformer-bytes-v1\nspam 5\nab\tc\n\nham 3\n\x01\xff\n\n";
  const auto ds = train::load_spam_bytes(write("s.bin", two), 4);
  ASSERT_EQ(ds.examples.size(), 2u);
  EXPECT_EQ(ds.examples[0].label, 1);
  EXPECT_EQ(ds.examples[0].ids, (std::vector<int32_t>{'a', 'b', '\t', 'c'}));  // cut to 4 bytes
  EXPECT_EQ(ds.examples[1].ids, (std::vector<int32_t>{1, 255, '\n'}));
  EXPECT_THROW(train::load_spam_bytes(write("t.bin", "cformer-bytes-v1\nspam 50\nab\n"), 8), FormatError);
  EXPECT_THROW(train::load_spam_bytes(write("u.bin", "cformer-bytes-v1\negg 1\na\n"), 8), FormatError);
  EXPECT_THROW(train::load_spam_bytes(write("v.bin", "bytes\n"), 8), FormatError);
  EXPECT_THROW(train::load_spam_bytes(write("w.bin", "cformer-bytes-v1\nham x1\na\n"), 8), FormatError);
}

TEST_F(LongDocData, BatchesStartWithClsAndMarkPadding) {
  const auto ds = train::load_listops(
      write("a.tsv", "Source\tTarget\n( ( [MAX 2 ) 9 ) ]\t9\n( [SM 4 ) ]\t4\n"));
  const train::LongDocBatch b = train::make_longdoc_batch(ds, {1, 0}, 100);
  EXPECT_EQ(b.ids.to_vector<int64_t>(), (std::vector<int64_t>{1, 6, 11, 2, 0, 1, 4, 9, 16, 2}));
  EXPECT_EQ(b.padding.to(DType::i64).to_vector<int64_t>(),
            (std::vector<int64_t>{0, 0, 0, 0, 1, 0, 0, 0, 0, 0}));
  EXPECT_EQ(b.labels.to_vector<int64_t>(), (std::vector<int64_t>{4, 9}));
  const train::LongDocBatch cut = train::make_longdoc_batch(ds, {0}, 3);
  EXPECT_EQ(cut.ids.to_vector<int64_t>(), (std::vector<int64_t>{1, 4, 9}));
  EXPECT_FALSE(cut.padding.defined());
}

}  // namespace
}  // namespace cf
