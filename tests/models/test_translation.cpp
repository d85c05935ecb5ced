// TranslationModel: configuration JSON and validation, parameter names per configuration, input
// errors, a float64 gradient check of the whole label-smoothed loss, and the incremental decoder
// (cached step-by-step log-probabilities equal the teacher-forced decode() at every position,
// with padded sources, post- and pre-norm, both position kinds, before and after a reorder).
// PyTorch parity lives in tests/golden/test_translation.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "cformer/cformer.h"
#include "cformer/models/translation.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"
#include "support/gradcheck.h"

namespace cf::models {
namespace {

TranslationConfig tiny(bool norm_first = false, PositionKind pos = PositionKind::sinusoidal) {
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
  c.positions = pos;
  c.max_positions = 12;
  return c;
}

// (N, S) sources of the given lengths, ids in [3, V) with EOS last, padded with pad_id.
Tensor padded_sources(const TranslationConfig& c, const std::vector<int64_t>& lens, Generator& g) {
  const int64_t N = static_cast<int64_t>(lens.size());
  const int64_t S = *std::max_element(lens.begin(), lens.end());
  std::vector<int64_t> ids(static_cast<size_t>(N * S), c.pad_id);
  Tensor r = randint(3, c.src_vocab_size, Shape{N * S}, g);
  const std::vector<int64_t> rv = r.to_vector<int64_t>();
  for (int64_t i = 0; i < N; ++i) {
    for (int64_t j = 0; j + 1 < lens[static_cast<size_t>(i)]; ++j)
      ids[static_cast<size_t>(i * S + j)] = rv[static_cast<size_t>(i * S + j)];
    ids[static_cast<size_t>(i * S + lens[static_cast<size_t>(i)] - 1)] = c.eos_id;
  }
  return from_vector(ids, Shape{N, S});
}

std::vector<std::string> names_of(const nn::Module& m) {
  std::vector<std::string> names;
  for (const auto& [n, p] : m.named_parameters()) names.push_back(n);
  return names;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(TranslationConfig, JsonRoundTripAndValidation) {
  TranslationConfig c = tiny(true, PositionKind::learned);
  c.share_embeddings = true;
  c.tgt_vocab_size = c.src_vocab_size;
  c.tie_output = false;
  c.pad_id = 3;
  c.bos_id = 4;
  c.eos_id = 5;
  c.dropout = 0.25;
  const TranslationConfig back = TranslationConfig::from_json(c.to_json());
  EXPECT_EQ(back.to_json(), c.to_json());
  EXPECT_EQ(back.positions, PositionKind::learned);
  EXPECT_TRUE(back.norm_first && back.share_embeddings && !back.tie_output);
  EXPECT_EQ(back.eos_id, 5);
  EXPECT_THROW(TranslationConfig::from_json("{"), FormatError);
  EXPECT_THROW(TranslationConfig::from_json("{\"d_model\": 8}"), FormatError);
  std::string bad = c.to_json();
  bad.replace(bad.find("\"learned\""), 9, "\"rotary\"");
  EXPECT_THROW_MSG(TranslationConfig::from_json(bad), FormatError, "rotary");

  auto expect_invalid = [](TranslationConfig t, const char* field) {
    EXPECT_THROW_MSG(t.validate(), ValueError, field);
  };
  TranslationConfig t = tiny();
  t.nhead = 3;
  expect_invalid(t, "d_model");
  t = tiny();
  t.src_vocab_size = 0;
  expect_invalid(t, "src_vocab_size");
  t = tiny();
  t.dropout = 1.0;
  expect_invalid(t, "dropout");
  t = tiny();
  t.share_embeddings = true;  // 13 != 11
  expect_invalid(t, "share_embeddings");
  t = tiny();
  t.eos_id = 11;  // outside the target vocabulary
  expect_invalid(t, "eos_id");
  t = tiny();
  t.bos_id = t.pad_id;
  expect_invalid(t, "must differ");
  t = tiny();
  t.max_positions = 0;
  expect_invalid(t, "max_positions");
  EXPECT_THROW(TranslationModel(t, 0), ValueError);
  EXPECT_THROW(TranslationModel(tiny(), 0, DType::i64), DTypeError);
}

TEST(TranslationModel, ParameterNamesFollowTorchTransformer) {
  TranslationConfig c = tiny();
  TranslationModel separate(c, 1);
  auto n = names_of(separate);
  for (const char* want :
       {"src_embed.weight", "tgt_embed.weight", "transformer.encoder.layers.0.self_attn.in_proj_weight",
        "transformer.encoder.layers.1.linear2.bias", "transformer.encoder.norm.weight",
        "transformer.decoder.layers.1.multihead_attn.out_proj.weight",
        "transformer.decoder.layers.0.norm3.bias", "transformer.decoder.norm.bias"})
    EXPECT_TRUE(has(n, want)) << want;
  EXPECT_FALSE(has(n, "generator.weight"));
  EXPECT_FALSE(has(n, "src_pos.weight"));
  for (const auto& [name, b] : separate.state_dict()) EXPECT_EQ(name.find("pe"), std::string::npos) << name;

  c.share_embeddings = true;
  c.tgt_vocab_size = c.src_vocab_size;
  c.tie_output = false;
  c.positions = PositionKind::learned;
  TranslationModel shared(c, 1);
  n = names_of(shared);
  EXPECT_TRUE(has(n, "shared_embed.weight"));
  EXPECT_FALSE(has(n, "src_embed.weight") || has(n, "tgt_embed.weight"));
  EXPECT_TRUE(has(n, "generator.weight") && has(n, "src_pos.weight") && has(n, "tgt_pos.weight"));
  // torch.nn.Transformer(2, 2) + shared embedding 13x16 + generator 13x16 + positions 2 x 12x16.
  const int64_t E = 16, F = 24;
  const int64_t attn = 3 * E * E + 3 * E + E * E + E, ff = E * F + F + F * E + E, ln = 2 * E;
  const int64_t want = 2 * (attn + ff + 2 * ln) + ln + 2 * (2 * attn + ff + 3 * ln) + ln +
                       13 * E + 13 * E + 2 * 12 * E;
  EXPECT_EQ(shared.num_parameters(), want);
}

TEST(TranslationModel, InitScalesAndSeeds) {
  TranslationConfig c = tiny();
  c.d_model = 64;
  c.src_vocab_size = 400;
  TranslationModel a(c, 5), b(c, 5), d(c, 6);
  Tensor w;
  for (const auto& [n, p] : a.named_parameters())
    if (n == "src_embed.weight") w = p;
  const double sd = std::sqrt(mean(mul(w, w)).item());
  EXPECT_NEAR(sd, 1.0 / 8.0, 0.01);  // N(0, d_model^-0.5)
  for (const auto& [n, p] : a.named_parameters())
    if (n == "transformer.decoder.layers.0.linear1.weight") {
      const double bound = std::sqrt(6.0 / (64 + 24));  // xavier_uniform (24, 64)
      EXPECT_LE(max(abs(p)).item(), bound);
      EXPECT_GT(max(abs(p)).item(), 0.9 * bound);
    }
  const auto pa = a.parameters(), pb = b.parameters(), pd = d.parameters();
  EXPECT_EQ(max(abs(sub(pa[0], pb[0]))).item(), 0.0);
  EXPECT_GT(max(abs(sub(pa[0], pd[0]))).item(), 0.0);
}

TEST(TranslationModel, ShapesAndInputErrors) {
  TranslationConfig c = tiny();
  TranslationModel m(c, 2);
  Generator g(3);
  Tensor src = padded_sources(c, {5, 3}, g);
  Tensor tgt = from_vector<int64_t>({1, 4, 5, 1, 6, 0}, Shape{2, 3});
  EXPECT_EQ(m.encode(src).shape(), (Shape{2, 5, 16}));
  EXPECT_EQ(m.forward(src, tgt).shape(), (Shape{2, 3, 11}));
  EXPECT_EQ(m.loss(src, tgt, tgt).dim(), 0);
  EXPECT_THROW_MSG(m.encode(src.to(DType::f32)), ShapeError, "TranslationModel::encode: src");
  EXPECT_THROW_MSG(m.encode(zeros(Shape{1, 13}, DType::i64)), ShapeError, "max_positions");
  EXPECT_THROW_MSG(m.encode(from_vector<int64_t>({4, 13}, Shape{1, 2})), IndexError, "id 13");
  EXPECT_THROW_MSG(m.forward(src, from_vector<int64_t>({1, 11}, Shape{1, 2})), ShapeError,
                   "memory must be");
  EXPECT_THROW_MSG(m.forward(src, from_vector<int64_t>({1, 11, 1, 4}, Shape{2, 2})), IndexError,
                   "id 11 is outside the target vocabulary");
  EXPECT_THROW_MSG(m.loss(src, tgt, tgt.narrow(1, 0, 2)), ShapeError, "tgt_out");
}

TEST(TranslationModel, LossIgnoresPadTargetsAndSmoothsLabels) {
  TranslationConfig c = tiny();
  TranslationModel m(c, 4);
  Generator g(5);
  Tensor src = padded_sources(c, {4, 6}, g);
  Tensor tgt_in = from_vector<int64_t>({1, 5, 6, 1, 7, 8}, Shape{2, 3});
  Tensor tgt_out = from_vector<int64_t>({5, 6, 2, 7, 8, 0}, Shape{2, 3});  // one pad target
  Tensor logits = m.forward(src, tgt_in).reshape(Shape{6, 11});
  Tensor lp = log_softmax(logits, 1);
  const std::vector<int64_t> t = tgt_out.to_vector<int64_t>();
  double nll = 0.0, uniform = 0.0;
  for (int64_t i = 0; i < 5; ++i) {
    nll -= lp.select(0, i).select(0, t[static_cast<size_t>(i)]).item();
    uniform -= mean(lp.select(0, i)).item();
  }
  const double ls = 0.2;
  EXPECT_NEAR(m.loss(src, tgt_in, tgt_out, ls).item(), ((1 - ls) * nll + ls * uniform) / 5, 1e-5);
}

TEST(TranslationModel, GradcheckOfTheWholeLossInFloat64) {
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
  for (bool norm_first : {false, true}) {
    SCOPED_TRACE(norm_first ? "pre-norm" : "post-norm");
    c.norm_first = norm_first;
    c.positions = norm_first ? PositionKind::learned : PositionKind::sinusoidal;
    c.tie_output = !norm_first;
    TranslationModel m(c, 7, DType::f64);
    {  // non-trivial biases and norms
      NoGradGuard ng;
      Generator g(8);
      for (Tensor p : m.parameters())
        if (p.dim() == 1) p.add_(mul(randn(p.shape(), g, DType::f64), 0.2));
    }
    Tensor src = from_vector<int64_t>({3, 4, 2, 5, 2, 0}, Shape{2, 3});
    Tensor tgt_in = from_vector<int64_t>({1, 3, 4, 1, 5, 0}, Shape{2, 3});
    Tensor tgt_out = from_vector<int64_t>({3, 4, 2, 5, 2, 0}, Shape{2, 3});
    auto f = [&m, &src, &tgt_in, &tgt_out](const std::vector<Tensor>&) {
      return m.loss(src, tgt_in, tgt_out, 0.1);
    };
    EXPECT_TRUE(testing::gradcheck(f, m.parameters()));
  }
}

// Step-by-step cached log-probs == log_softmax of the teacher-forced logits at every position.
void check_incremental(const TranslationConfig& c, uint64_t seed) {
  TranslationModel m(c, seed);
  m.eval();
  NoGradGuard ng;
  Generator g(seed + 100);
  Tensor src = padded_sources(c, {6, 2, 4}, g);
  const int64_t N = 3, T = 7;
  Tensor tgt = randint(3, c.tgt_vocab_size, Shape{N, T}, g);
  tgt.narrow(1, 0, 1).fill_(static_cast<double>(c.bos_id));
  Tensor want = log_softmax(m.forward(src, tgt), 2);  // (N, T, V)
  TranslationModel::DecoderState st = m.begin_decoding(src, T);
  for (int64_t t = 0; t < 4; ++t) {
    SCOPED_TRACE("position " + std::to_string(t));
    EXPECT_CLOSE(m.decode_step(st, tgt.select(1, t).contiguous()), want.select(1, t), 1e-5, 1e-5);
  }
  // Reorder rows (2, 0, 0): the continuation follows the chosen rows' histories.
  Tensor index = from_vector<int64_t>({2, 0, 0}, Shape{3});
  TranslationModel::reorder(st, index, true);
  Tensor tgt_r = index_select(tgt, 0, index), want_r = index_select(want, 0, index);
  for (int64_t t = 4; t < T; ++t) {
    SCOPED_TRACE("position " + std::to_string(t) + " after reorder");
    EXPECT_CLOSE(m.decode_step(st, tgt_r.select(1, t).contiguous()), want_r.select(1, t), 1e-5,
                 1e-5);
  }
  EXPECT_THROW_MSG(m.decode_step(st, tgt_r.select(1, 0).contiguous()), ShapeError, "full");
  EXPECT_THROW_MSG(m.decode_step(st, zeros(Shape{2}, DType::i64)), ShapeError, "tokens");
}

TEST(TranslationModel, IncrementalDecodingEqualsTeacherForcing) {
  for (bool norm_first : {false, true})
    for (PositionKind pos : {PositionKind::sinusoidal, PositionKind::learned}) {
      SCOPED_TRACE(std::string(norm_first ? "pre-norm" : "post-norm") +
                   (pos == PositionKind::learned ? ", learned" : ", sinusoidal"));
      TranslationConfig c = tiny(norm_first, pos);
      c.tie_output = !norm_first;
      check_incremental(c, norm_first ? 11 : 12);
    }
}

TEST(TranslationModel, BeamRowsRepeatEverySentence) {
  TranslationConfig c = tiny(true);
  TranslationModel m(c, 9);  // in training mode: decoding runs in eval mode and restores it
  NoGradGuard ng;
  Generator g(10);
  Tensor src = padded_sources(c, {3, 5}, g);
  TranslationModel::DecoderState one = m.begin_decoding(src, 3);
  TranslationModel::DecoderState three = m.begin_decoding(src, 3, 3);
  Tensor bos1 = full(Shape{2}, 1, DType::i64), bos3 = full(Shape{6}, 1, DType::i64);
  Tensor a = m.decode_step(one, bos1), b = m.decode_step(three, bos3);
  for (int64_t r = 0; r < 6; ++r) EXPECT_CLOSE(b.select(0, r), a.select(0, r / 3), 1e-6, 1e-6);
  EXPECT_TRUE(m.is_training());  // begin_decoding restored the mode
}

}  // namespace
}  // namespace cf::models
