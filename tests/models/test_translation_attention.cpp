// TranslationModel with configured attention kernels: the encoder self-attention
// (TranslationConfig::attention), the decoder's causal self-attention (decoder_attention) and the
// cross-attention (cross_attention). The exact and full-coverage kernels give the dense logits and
// the same greedy / beam output; incremental decoding (KV caches masked by the block-sparse layout,
// performer prefix states) gives decode()'s log-probabilities at every position with padded
// sources and reordered rows; performer trains and round-trips through safetensors bit for bit;
// the kernels live in the config JSON (absent = dense) and in the state dict (buffers); bad
// kernels fail with clear messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "cformer/cformer.h"
#include "cformer/io.h"
#include "cformer/models/translation.h"
#include "cformer/optim.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"
#include "support/gradcheck.h"

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

// (N, T) teacher-forcing inputs: BOS, then ids in [3, V).
Tensor target_inputs(const TranslationConfig& c, int64_t N, int64_t T, Generator& g) {
  Tensor tgt = randint(3, c.tgt_vocab_size, Shape{N, T}, g);
  tgt.narrow(1, 0, 1).fill_(static_cast<double>(c.bos_id));
  return tgt;
}

// The teacher-forced logits of a model with c's kernels and the dense model's weights, post- and
// pre-norm, padded sources and a padded target: |a - e| <= 1e-6 + 1e-5 |e|.
void expect_dense_logits(TranslationConfig c) {
  for (bool norm_first : {false, true}) {
    SCOPED_TRACE(c.attention.to_json() + " / " + c.decoder_attention.to_json() + " / " +
                 c.cross_attention.to_json() + (norm_first ? " pre-norm" : " post-norm"));
    c.norm_first = norm_first;
    TranslationModel dense(tiny("dense", norm_first), 3);
    TranslationModel other(c, 4);
    other.load_state_dict(dense.state_dict(), /*strict=*/false);
    dense.eval();
    other.eval();
    Generator g(6);
    const Tensor src = padded_sources(c, {9, 4, 6}, g);
    Tensor tgt = target_inputs(c, 3, 11, g);
    tgt.narrow(0, 1, 1).narrow(1, 8, 3).fill_(static_cast<double>(c.pad_id));
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

// tiny() (dense encoder) with the given decoder and cross-attention kernels: block_sparse blocks
// of 2 (6 over max_positions 12), windows of 2 blocks, 1 summary block; performer 8 features.
TranslationConfig tiny_decoder(const std::string& decoder_kind, const std::string& cross_kind,
                               bool norm_first = false) {
  TranslationConfig c = tiny("dense", norm_first);
  c.decoder_attention.kind = decoder_kind;
  c.decoder_attention.block_size = 2;
  c.decoder_attention.local_blocks = 2;
  c.decoder_attention.global_blocks = 1;
  c.decoder_attention.nb_features = 8;
  c.cross_attention.kind = cross_kind;
  c.cross_attention.nb_features = 8;
  return c;
}

TEST(TranslationDecoderAttention, MemoryEfficientDecoderAndCrossGiveTheDenseLogits) {
  expect_dense_logits(tiny_decoder("memory_efficient", "memory_efficient"));
  expect_dense_logits(tiny_decoder("memory_efficient", "dense"));
  expect_dense_logits(tiny_decoder("dense", "memory_efficient"));
}

TEST(TranslationDecoderAttention, FullCoverageBlockSparseDecoderGivesTheDenseLogits) {
  TranslationConfig fixed = tiny_decoder("block_sparse", "dense");
  fixed.decoder_attention.block_size = 4;  // 3 blocks over max_positions 12; T = 11 ends mid-block
  fixed.decoder_attention.local_blocks = 3;  // one window covering every block
  expect_dense_logits(fixed);
  TranslationConfig strided = fixed;
  strided.decoder_attention.sparse_layout = "strided";  // stride 3 blocks: every earlier block
  expect_dense_logits(strided);
}

// Every kind's decode_step log-probabilities equal log_softmax(decode()) at every position, with
// padded sources, rows reordered (2, 0, 0) with their cross state and then a row dropped.
void expect_incremental(const TranslationConfig& c, uint64_t seed, double tol) {
  TranslationModel m(c, seed);
  m.eval();
  NoGradGuard ng;
  Generator g(seed + 100);
  const Tensor src = padded_sources(c, {6, 2, 4}, g);
  const int64_t T = 9;
  const Tensor tgt = target_inputs(c, 3, T, g);
  const Tensor want = log_softmax(m.forward(src, tgt), 2);  // (N, T, V)
  TranslationModel::DecoderState st = m.begin_decoding(src, T);
  for (int64_t t = 0; t < 4; ++t) {
    SCOPED_TRACE("position " + std::to_string(t));
    EXPECT_CLOSE(m.decode_step(st, tgt.select(1, t).contiguous()), want.select(1, t), tol, tol);
  }
  Tensor index = from_vector<int64_t>({2, 0, 0}, Shape{3});
  TranslationModel::reorder(st, index, true);
  Tensor tgt_r = index_select(tgt, 0, index), want_r = index_select(want, 0, index);
  for (int64_t t = 4; t < 7; ++t) {
    SCOPED_TRACE("position " + std::to_string(t) + " after reorder");
    EXPECT_CLOSE(m.decode_step(st, tgt_r.select(1, t).contiguous()), want_r.select(1, t), tol, tol);
  }
  index = from_vector<int64_t>({1, 0}, Shape{2});  // drop a row: the state keeps 2 rows
  TranslationModel::reorder(st, index, true);
  tgt_r = index_select(tgt_r, 0, index);
  want_r = index_select(want_r, 0, index);
  EXPECT_EQ(st.rows, 2);
  for (int64_t t = 7; t < T; ++t) {
    SCOPED_TRACE("position " + std::to_string(t) + " after dropping a row");
    EXPECT_CLOSE(m.decode_step(st, tgt_r.select(1, t).contiguous()), want_r.select(1, t), tol, tol);
  }
  EXPECT_THROW_MSG(m.decode_step(st, tgt_r.select(1, 0).contiguous()), ShapeError, "full");
}

TEST(TranslationDecoderAttention, IncrementalDecodingEqualsTeacherForcingForEveryKind) {
  const std::vector<std::pair<std::string, std::string>> decoders = {{"dense", "fixed"},
                                                                     {"memory_efficient", "fixed"},
                                                                     {"block_sparse", "fixed"},
                                                                     {"block_sparse", "strided"},
                                                                     {"performer", "fixed"}};
  uint64_t seed = 20;
  for (const auto& [dk, layout] : decoders)
    for (const std::string ck : {"dense", "memory_efficient", "performer"})
      for (bool norm_first : {false, true}) {
        TranslationConfig c = tiny_decoder(dk, ck, norm_first);
        c.decoder_attention.sparse_layout = layout;
        SCOPED_TRACE(c.decoder_attention.to_json() + " / " + c.cross_attention.to_json() +
                     (norm_first ? " pre-norm" : " post-norm"));
        // The exact kernels within float rounding; performer's causal step differs from decode()
        // only in the eps term of its key stabilizer (the prefix's maximum, not the target's):
        // measured at most 1.6e-4 on log-probabilities of about -2.3 here.
        expect_incremental(c, ++seed, dk == "performer" ? 1e-4 : 1e-5);
      }
}

TEST(TranslationDecoderAttention, PerformerStepIsExactOnceThePrefixHoldsEveryKey) {
  // With one decoder layer, the last position's prefix state covers every key of decode()'s
  // causal form, so the stabilizers agree and only float rounding is left: this checks the
  // prefix sums and their rescaling as the running maximum grows, beyond the eps difference.
  for (bool norm_first : {false, true}) {
    SCOPED_TRACE(norm_first ? "pre-norm" : "post-norm");
    TranslationConfig c = tiny_decoder("performer", "performer", norm_first);
    c.num_decoder_layers = 1;
    TranslationModel m(c, 31);
    m.eval();
    NoGradGuard ng;
    Generator g(32);
    const Tensor src = padded_sources(c, {6, 2, 4}, g);
    const int64_t T = 10;
    const Tensor tgt = target_inputs(c, 3, T, g);
    const Tensor want = log_softmax(m.forward(src, tgt), 2);
    TranslationModel::DecoderState st = m.begin_decoding(src, T);
    Tensor got;
    for (int64_t t = 0; t < T; ++t) got = m.decode_step(st, tgt.select(1, t).contiguous());
    EXPECT_CLOSE(got, want.select(1, T - 1), 1e-5, 1e-5);
  }
}

TEST(TranslationDecoderAttention, BlockSparseStepMasksTheCacheByTheLayoutRow) {
  // A partial layout changes the logits (so the step's mask is exercised, not the full cache).
  TranslationConfig c = tiny_decoder("block_sparse", "dense");
  c.decoder_attention.block_size = 1;
  TranslationModel sparse(c, 5), dense(tiny_decoder("dense", "dense"), 5);
  sparse.eval();
  dense.eval();
  NoGradGuard ng;
  Generator g(1);
  const Tensor src = padded_sources(c, {5, 3}, g);
  const Tensor tgt = target_inputs(c, 2, 8, g);
  EXPECT_GT(max(abs(sub(sparse.forward(src, tgt), dense.forward(src, tgt)))).item(), 1e-3);
  expect_incremental(c, 5, 1e-5);
}

TEST(TranslationDecoderAttention, PerformerBeamOfOneIsGreedy) {
  TranslationConfig c = tiny_decoder("performer", "performer");
  TranslationModel m(c, 8);
  Generator g(2);
  std::vector<std::vector<int64_t>> src;
  for (int64_t len : {7, 3, 10}) {
    std::vector<int64_t> s = randint(3, 13, Shape{len - 1}, g).to_vector<int64_t>();
    s.push_back(c.eos_id);
    src.push_back(s);
  }
  BeamOptions o;
  o.beam_size = 1;
  const auto greedy = m.greedy(src, o);
  const auto beam = m.beam_search(src, o);
  ASSERT_EQ(greedy.size(), src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    EXPECT_EQ(beam[i][0].tokens, greedy[i].tokens) << "sentence " << i;
    EXPECT_NEAR(beam[i][0].log_prob, greedy[i].log_prob, 1e-5) << "sentence " << i;
  }
  o.beam_size = 3;
  o.nbest = 3;
  for (const auto& hyps : m.beam_search(src, o))
    for (const Hypothesis& h : hyps) EXPECT_TRUE(std::isfinite(h.log_prob));
}

TEST(TranslationDecoderAttention, PerformerTrainsAndRoundTripsBitForBit) {
  TranslationConfig c = tiny_decoder("performer", "performer");
  c.decoder_attention.redraw_interval = 1;
  c.cross_attention.redraw_interval = 1;
  c.dropout = 0.1;  // everywhere but the performer kernels' attention probabilities
  TranslationModel m(c, 7);
  m.train();
  Generator g(3);
  const Tensor src = padded_sources(c, {6, 4}, g);
  const Tensor tgt_in = target_inputs(c, 2, 5, g), tgt_out = randint(3, 11, Shape{2, 5}, g);
  optim::Adam adam(m.named_parameters(), optim::AdamOptions{1e-3});
  const Tensor self_before = m.decoder_kernel(1).projection_matrix->clone();
  const Tensor cross_before = m.cross_kernel(0).projection_matrix->clone();
  for (int step = 0; step < 2; ++step) {
    adam.zero_grad();
    Tensor loss = m.loss(src, tgt_in, tgt_out);
    ASSERT_TRUE(std::isfinite(loss.item())) << "step " << step;
    loss.backward();
    adam.step();
  }
  // Redrawn in training (so the saved buffers are not the init's).
  EXPECT_GT(max(abs(sub(*m.decoder_kernel(1).projection_matrix, self_before))).item(), 0.0);
  EXPECT_GT(max(abs(sub(*m.cross_kernel(0).projection_matrix, cross_before))).item(), 0.0);
  int buffers = 0;
  for (const auto& [n, t] : m.state_dict())
    buffers += n == "transformer.decoder.layers.1.self_attn.kernel.projection_matrix" ||
               n == "transformer.decoder.layers.0.multihead_attn.kernel.projection_matrix";
  EXPECT_EQ(buffers, 2);
  const io::NamedTensors read =
      io::parse_safetensors(io::serialize_safetensors(m.state_dict()), "memory");
  TranslationModel loaded(c, 99);
  loaded.load_state_dict(read.tensors);
  m.eval();
  loaded.eval();
  EXPECT_EQ(max(abs(sub(m.forward(src, tgt_in), loaded.forward(src, tgt_in)))).item(), 0.0);
  BeamOptions o;
  const std::vector<std::vector<int64_t>> one = {{4, 5, 6, 2}};
  const auto a = m.greedy(one, o), b = loaded.greedy(one, o);
  EXPECT_EQ(a[0].tokens, b[0].tokens);
  EXPECT_EQ(a[0].log_prob, b[0].log_prob);
}

TEST(TranslationDecoderAttention, BlockSparseLayoutIsSavedAndLoaded) {
  TranslationConfig c = tiny_decoder("block_sparse", "memory_efficient");
  TranslationModel m(c, 7);
  bool layout = false;
  for (const auto& [n, t] : m.state_dict())
    layout = layout || n == "transformer.decoder.layers.0.self_attn.kernel.layout";
  EXPECT_TRUE(layout);
  TranslationModel loaded(c, 99);
  loaded.load_state_dict(
      io::parse_safetensors(io::serialize_safetensors(m.state_dict()), "memory").tensors);
  m.eval();
  loaded.eval();
  Generator g(3);
  const Tensor src = padded_sources(c, {6, 4}, g);
  const Tensor tgt = target_inputs(c, 2, 7, g);
  EXPECT_EQ(max(abs(sub(m.forward(src, tgt), loaded.forward(src, tgt)))).item(), 0.0);
}

TEST(TranslationDecoderAttention, EveryKindHasTheSameParametersForASeed) {
  TranslationModel dense(tiny_decoder("dense", "dense"), 4);
  TranslationModel perf(tiny_decoder("performer", "performer"), 4);
  TranslationModel sparse(tiny_decoder("block_sparse", "memory_efficient"), 4);
  const auto want = dense.named_parameters();
  for (TranslationModel* m : {&perf, &sparse}) {
    const auto got = m->named_parameters();
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i].first, want[i].first);
      EXPECT_EQ(max(abs(sub(got[i].second, want[i].second))).item(), 0.0) << want[i].first;
    }
  }
  // The decoder kernels' generators are their own: the encoder performer's projection does not
  // depend on the decoder's kinds.
  TranslationConfig a = tiny_decoder("dense", "dense"), b = tiny_decoder("performer", "performer");
  a.attention.kind = b.attention.kind = "performer";
  a.attention.nb_features = b.attention.nb_features = 8;
  TranslationModel ma(a, 4), mb(b, 4);
  EXPECT_EQ(max(abs(sub(*ma.encoder_kernel(1).projection_matrix,
                        *mb.encoder_kernel(1).projection_matrix)))
                .item(),
            0.0);
}

TEST(TranslationDecoderAttention, ConfigJsonCarriesTheKernels) {
  TranslationConfig c = tiny_decoder("performer", "memory_efficient");
  c.decoder_attention.nb_features = 6;
  c.decoder_attention.redraw_interval = 3;
  const TranslationConfig r = TranslationConfig::from_json(c.to_json());
  EXPECT_EQ(r.to_json(), c.to_json());
  EXPECT_EQ(r.decoder_attention.kind, "performer");
  EXPECT_EQ(r.decoder_attention.nb_features, 6);
  EXPECT_EQ(r.decoder_attention.redraw_interval, 3);
  EXPECT_EQ(r.cross_attention.kind, "memory_efficient");
  nlohmann::json old = nlohmann::json::parse(c.to_json());
  old.erase("decoder_attention");  // a checkpoint from before the decoder kernels
  old.erase("cross_attention");
  const TranslationConfig o = TranslationConfig::from_json(old.dump());
  EXPECT_EQ(o.decoder_attention.kind, "dense");
  EXPECT_EQ(o.cross_attention.kind, "dense");
  TranslationModel dense(o, 1);
  for (const auto& [n, t] : dense.state_dict()) EXPECT_EQ(n.find("kernel"), std::string::npos) << n;
  nlohmann::json bad = nlohmann::json::parse(c.to_json());
  bad["decoder_attention"]["nb_features"] = 0;
  EXPECT_THROW_MSG(TranslationConfig::from_json(bad.dump()), FormatError, "nb_features");
  bad = nlohmann::json::parse(c.to_json());
  bad["cross_attention"] = {{"kind", "longformer"}};
  EXPECT_THROW_MSG(TranslationConfig::from_json(bad.dump()), ValueError, "cross_attention");
}

TEST(TranslationDecoderAttention, BadKernelsAreRefusedWithClearMessages) {
  TranslationConfig c = tiny_decoder("longformer", "dense");
  EXPECT_THROW_MSG(c.validate(), ValueError,
                   "decoder_attention (--decoder-attention) longformer has no causal form");
  EXPECT_THROW_MSG(TranslationModel(c, 1), ValueError, "decoder_attention (--decoder-attention)");
  c = tiny_decoder("block_sparse", "dense");
  c.decoder_attention.sparse_layout = "bigbird";
  EXPECT_THROW_MSG(c.validate(), ValueError,
                   "block_sparse with the bigbird layout has no causal form");
  for (const std::string k : {"longformer", "block_sparse"}) {
    c = tiny_decoder("dense", k);
    EXPECT_THROW_MSG(c.validate(), ValueError,
                     "cross_attention (--cross-attention) must be dense, memory_efficient or "
                     "performer, got " +
                         k);
    EXPECT_THROW_MSG(c.validate(), ValueError, "not aligned");
  }
  c = tiny_decoder("performer", "dense");
  c.decoder_attention.nb_features = 0;
  EXPECT_THROW_MSG(c.validate(), ValueError, "nb_features");
  TranslationModel m(tiny_decoder("performer", "performer"), 1);
  TranslationModel::DecoderState empty;
  EXPECT_THROW_MSG(m.decode_step(empty, zeros(Shape{0}, DType::i64)), ValueError,
                   "not made by begin_decoding");
}

TEST(TranslationDecoderAttention, PerformerDecoderAndCrossLossGradcheck) {
  TranslationConfig c;
  c.src_vocab_size = 7;
  c.tgt_vocab_size = 6;
  c.d_model = 4;
  c.nhead = 2;
  c.num_encoder_layers = 1;
  c.num_decoder_layers = 1;
  c.dim_feedforward = 6;
  c.dropout = 0.0;
  c.max_positions = 5;
  c.decoder_attention.kind = c.cross_attention.kind = "performer";
  c.decoder_attention.nb_features = c.cross_attention.nb_features = 3;
  for (bool norm_first : {false, true}) {
    SCOPED_TRACE(norm_first ? "pre-norm" : "post-norm");
    c.norm_first = norm_first;
    TranslationModel m(c, 7, DType::f64);
    m.eval();  // no projection redraw between the finite differences
    {
      NoGradGuard ng;
      Generator g(8);
      for (Tensor p : m.parameters())
        if (p.dim() == 1) p.add_(mul(randn(p.shape(), g, DType::f64), 0.2));
    }
    const Tensor src = from_vector<int64_t>({3, 4, 2, 5, 2, 0}, Shape{2, 3});
    const Tensor tgt_in = from_vector<int64_t>({1, 3, 4, 1, 5, 0}, Shape{2, 3});
    const Tensor tgt_out = from_vector<int64_t>({3, 4, 2, 5, 2, 0}, Shape{2, 3});
    auto f = [&m, &src, &tgt_in, &tgt_out](const std::vector<Tensor>&) {
      return m.loss(src, tgt_in, tgt_out, 0.1);
    };
    EXPECT_TRUE(testing::gradcheck(f, m.parameters()));
  }
}

}  // namespace
}  // namespace cf::models
