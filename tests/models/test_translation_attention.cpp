// TranslationModel with a configured encoder self-attention kernel (TranslationConfig::attention):
// the exact and full-coverage kernels give the dense logits and the same greedy / beam output,
// performer trains and round-trips through safetensors bit for bit, the kernel lives in the
// config JSON (absent = dense) and in the state dict (buffers), the decoder stays dense.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "cformer/cformer.h"
#include "cformer/io.h"
#include "cformer/optim.h"
#include "cformer/models/translation.h"
#include "support/expect_close.h"

namespace cf::models {
namespace {

TranslationConfig tiny(const std::string& kind, bool norm_first = false) {
  TranslationConfig c;
  c.src_vocab_size = 13;
  c.tgt_vocab_size = 11;
  c.d_model = 16;
  c.nhead = 2;
  c.num_encoder_layers = 2;
  c.num_decoder_layers = 2;
  c.dim_feedforward = 24;
  c.dropout = 0.0;
  c.norm_first = norm_first;
  c.max_positions = 12;
  c.attention.kind = kind;
  return c;
}

// (N, S) sources of the given lengths, ids in [3, V) with EOS last, padded with pad_id.
Tensor padded_sources(const TranslationConfig& c, const std::vector<int64_t>& lens, Generator& g) {
  const int64_t N = static_cast<int64_t>(lens.size());
  const int64_t S = *std::max_element(lens.begin(), lens.end());
  std::vector<int64_t> ids(static_cast<size_t>(N * S), c.pad_id);
  const std::vector<int64_t> r = randint(3, c.src_vocab_size, Shape{N * S}, g).to_vector<int64_t>();
  for (int64_t i = 0; i < N; ++i) {
    const int64_t len = lens[static_cast<size_t>(i)];
    for (int64_t j = 0; j + 1 < len; ++j) ids[static_cast<size_t>(i * S + j)] = r[static_cast<size_t>(i * S + j)];
    ids[static_cast<size_t>(i * S + len - 1)] = c.eos_id;
  }
  return from_vector(ids, Shape{N, S});
}

double max_diff(const Tensor& a, const Tensor& b) {
  return max(abs(sub(a.to(DType::f64), b.to(DType::f64)))).item();
}

// The teacher-forced logits of a model with c's encoder kernel and the dense model's weights,
// post- and pre-norm, with padded sources: |a - e| <= 1e-6 + 1e-5 |e|.
void expect_dense_logits(TranslationConfig c) {
  for (bool norm_first : {false, true}) {
    SCOPED_TRACE(c.attention.to_json() + (norm_first ? " pre-norm" : " post-norm"));
    c.norm_first = norm_first;
    TranslationModel dense(tiny("dense", norm_first), 3);
    TranslationModel other(c, 4);
    other.load_state_dict(dense.state_dict(), /*strict=*/false);
    dense.eval();
    other.eval();
    Generator g(6);
    const Tensor src = padded_sources(c, {9, 4, 6}, g);
    const Tensor tgt = randint(3, c.tgt_vocab_size, Shape{3, 5}, g);
    EXPECT_CLOSE(other.forward(src, tgt), dense.forward(src, tgt), 1e-6, 1e-5);
  }
}

TEST(TranslationAttention, MemoryEfficientEncoderGivesTheDenseLogits) {
  expect_dense_logits(tiny("memory_efficient"));
}

TEST(TranslationAttention, FullCoverageLongformerAndBlockSparseGiveTheDenseLogits) {
  TranslationConfig lf = tiny("longformer");
  lf.attention.attention_window = 2 * lf.max_positions;
  expect_dense_logits(lf);
  TranslationConfig bs = tiny("block_sparse");
  bs.attention.block_size = 4;    // 3 blocks over max_positions 12; S = 9 ends mid-block
  bs.attention.local_blocks = 3;  // one window covering every block
  expect_dense_logits(bs);
}

TEST(TranslationAttention, GreedyAndBeamSearchUseTheEncoderKernel) {
  TranslationModel dense(tiny("dense"), 5);
  TranslationModel me(tiny("memory_efficient"), 5);  // the same seed: the same weights
  Generator g(2);
  std::vector<std::vector<int64_t>> src;
  for (int64_t len : {7, 3, 10}) {
    std::vector<int64_t> s = randint(3, 13, Shape{len - 1}, g).to_vector<int64_t>();
    s.push_back(2);
    src.push_back(s);
  }
  BeamOptions o;
  o.beam_size = 2;
  const auto gd = dense.greedy(src, o), gm = me.greedy(src, o);
  const auto bd = dense.beam_search(src, o), bm = me.beam_search(src, o);
  ASSERT_EQ(gd.size(), gm.size());
  for (size_t i = 0; i < gd.size(); ++i) {
    EXPECT_EQ(gm[i].tokens, gd[i].tokens) << "sentence " << i;
    EXPECT_NEAR(gm[i].log_prob, gd[i].log_prob, 1e-4) << "sentence " << i;
    EXPECT_EQ(bm[i][0].tokens, bd[i][0].tokens) << "sentence " << i;
  }
  // The encoder kernel really runs in decoding: a narrow longformer window changes the memory.
  TranslationConfig narrow = tiny("longformer");
  narrow.attention.attention_window = 2;
  TranslationModel lf(narrow, 5);
  NoGradGuard ng;
  const Tensor s = from_vector(src[2], Shape{1, 10});
  EXPECT_GT(max_diff(lf.begin_decoding(s, 2).cross_k[0], dense.begin_decoding(s, 2).cross_k[0]), 1e-3);
}

TEST(TranslationAttention, PerformerTrainsAndRoundTripsBitForBit) {
  TranslationConfig c = tiny("performer");
  c.attention.nb_features = 8;
  c.attention.redraw_interval = 1;
  c.dropout = 0.1;  // everywhere but the encoder's attention probabilities
  TranslationModel m(c, 7);
  m.train();
  Generator g(3);
  const Tensor src = padded_sources(c, {6, 4}, g);
  const Tensor tgt_in = randint(3, 11, Shape{2, 5}, g), tgt_out = randint(3, 11, Shape{2, 5}, g);
  optim::Adam adam(m.named_parameters(), optim::AdamOptions{1e-3});
  const Tensor before = m.encoder_kernel(0).projection_matrix->clone();
  for (int step = 0; step < 2; ++step) {
    adam.zero_grad();
    Tensor loss = m.loss(src, tgt_in, tgt_out);
    ASSERT_TRUE(std::isfinite(loss.item())) << "step " << step;
    loss.backward();
    adam.step();
  }
  EXPECT_GT(max(abs(sub(*m.encoder_kernel(0).projection_matrix, before))).item(), 0.0);
  bool encoder_buffer = false;
  for (const auto& [n, t] : m.state_dict()) {
    encoder_buffer = encoder_buffer || n == "transformer.encoder.layers.1.self_attn.kernel.projection_matrix";
    EXPECT_EQ(n.find("decoder.layers.0.self_attn.kernel"), std::string::npos) << n;
  }
  EXPECT_TRUE(encoder_buffer);
  const io::NamedTensors read = io::parse_safetensors(io::serialize_safetensors(m.state_dict()), "memory");
  TranslationModel loaded(c, 99);
  loaded.load_state_dict(read.tensors);
  m.eval();
  loaded.eval();
  EXPECT_EQ(max(abs(sub(m.forward(src, tgt_in), loaded.forward(src, tgt_in)))).item(), 0.0);
  BeamOptions o;
  const std::vector<std::vector<int64_t>> one = {{4, 5, 6, 2}};
  EXPECT_EQ(m.greedy(one, o)[0].tokens, loaded.greedy(one, o)[0].tokens);
}

TEST(TranslationAttention, ConfigJsonCarriesTheKernelAndDenseStateIsUnchanged) {
  TranslationConfig c = tiny("longformer");
  c.attention.attention_window = 4;
  c.attention.dilation = 2;
  const TranslationConfig r = TranslationConfig::from_json(c.to_json());
  EXPECT_EQ(r.to_json(), c.to_json());
  EXPECT_EQ(r.attention.attention_window, 4);
  nlohmann::json old = nlohmann::json::parse(c.to_json());
  old.erase("attention");  // a checkpoint from before the kernels
  EXPECT_EQ(TranslationConfig::from_json(old.dump()).attention.kind, "dense");
  nlohmann::json bad = nlohmann::json::parse(c.to_json());
  bad["attention"]["attention_window"] = 3;
  EXPECT_THROW(TranslationConfig::from_json(bad.dump()), FormatError);
  c.attention.attention_window = 0;
  EXPECT_THROW(c.validate(), ValueError);
  EXPECT_THROW(TranslationModel(c, 1), ValueError);
  TranslationModel dense(tiny("dense"), 1);
  for (const auto& [n, t] : dense.state_dict()) EXPECT_EQ(n.find("kernel"), std::string::npos) << n;
}

}  // namespace
}  // namespace cf::models
