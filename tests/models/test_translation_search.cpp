// Greedy and beam search of TranslationModel on random tiny models: every hypothesis rescored by
// the teacher-forced decode(); beam_size 1 equals greedy; batched equals one sentence at a time;
// n-best lists sorted and distinct; an exhaustive beam (beam_size >= every possible hypothesis)
// equals brute-force enumeration, so it scores at least as well as greedy (beam search in
// general does not guarantee that: the greedy prefix can be pruned); length limits; errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "cformer/cformer.h"
#include "cformer/models/translation.h"
#include "support/expect_throw.h"

namespace cf::models {
namespace {

using Sentences = std::vector<std::vector<int64_t>>;

TranslationConfig tiny(int64_t tgt_vocab = 9, bool norm_first = false) {
  TranslationConfig c;
  c.src_vocab_size = 12;
  c.tgt_vocab_size = tgt_vocab;
  c.d_model = 16;
  c.nhead = 2;
  c.num_encoder_layers = 1;
  c.num_decoder_layers = 2;
  c.dim_feedforward = 20;
  c.dropout = 0.0;
  c.norm_first = norm_first;
  c.max_positions = 16;
  return c;
}

// Random source sentences (ids in [3, V), EOS last) of the given lengths.
Sentences sources(const TranslationConfig& c, const std::vector<int64_t>& lens, Generator& g) {
  Sentences s;
  for (int64_t n : lens) {
    std::vector<int64_t> ids = randint(3, c.src_vocab_size, Shape{n}, g).to_vector<int64_t>();
    ids.back() = c.eos_id;
    s.push_back(ids);
  }
  return s;
}

// Sum of teacher-forced log-probabilities of tokens + EOS given one source sentence.
double rescore(TranslationModel& m, const std::vector<int64_t>& src,
               const std::vector<int64_t>& tokens) {
  NoGradGuard ng;
  const auto& c = m.config();
  std::vector<int64_t> in{c.bos_id}, out = tokens;
  in.insert(in.end(), tokens.begin(), tokens.end());
  out.push_back(c.eos_id);
  const int64_t T = static_cast<int64_t>(in.size()), S = static_cast<int64_t>(src.size());
  Tensor lp = log_softmax(m.forward(from_vector(src, Shape{1, S}), from_vector(in, Shape{1, T})), 2);
  double total = 0.0;
  for (int64_t t = 0; t < T; ++t) total += lp.select(1, t).select(0, 0).select(0, out[static_cast<size_t>(t)]).item();
  return total;
}

double normalized(const Hypothesis& h, double lp) {
  return h.log_prob / std::pow(static_cast<double>(h.tokens.size() + 1), lp);
}

void expect_valid(TranslationModel& m, const std::vector<int64_t>& src, const Hypothesis& h,
                  const BeamOptions& o) {
  const auto& c = m.config();
  const double limit = std::min<double>(std::floor(o.max_len_a * src.size() + o.max_len_b),
                                        c.max_positions - 1);
  EXPECT_LE(static_cast<double>(h.tokens.size()), limit);
  for (int64_t t : h.tokens) {
    EXPECT_TRUE(t >= 0 && t < c.tgt_vocab_size && t != c.pad_id && t != c.bos_id && t != c.eos_id)
        << "token " << t;
  }
  EXPECT_NEAR(h.log_prob, rescore(m, src, h.tokens), 1e-4);
  EXPECT_NEAR(h.score, normalized(h, o.length_penalty), 1e-12);
}

TEST(TranslationSearch, GreedyHypothesesAreArgmaxPathsWithRescoredLogProbs) {
  TranslationConfig c = tiny();
  TranslationModel m(c, 21);
  Generator g(22);
  const Sentences src = sources(c, {5, 2, 7, 3}, g);
  BeamOptions o;
  o.max_len_a = 1.0;
  o.max_len_b = 3;
  const auto hyps = m.greedy(src, o);
  ASSERT_EQ(hyps.size(), src.size());
  NoGradGuard ng;
  for (size_t i = 0; i < src.size(); ++i) {
    SCOPED_TRACE("sentence " + std::to_string(i));
    expect_valid(m, src[i], hyps[i], o);
    // Each token is the argmax (pad and bos excluded) of the teacher-forced distribution.
    std::vector<int64_t> in{c.bos_id};
    in.insert(in.end(), hyps[i].tokens.begin(), hyps[i].tokens.end());
    const int64_t T = static_cast<int64_t>(in.size());
    Tensor logits = m.forward(from_vector(src[i], Shape{1, static_cast<int64_t>(src[i].size())}),
                              from_vector(in, Shape{1, T}));
    for (int64_t t = 0; t < T; ++t) {
      std::vector<float> row = logits.select(1, t).select(0, 0).to_vector<float>();
      row[static_cast<size_t>(c.pad_id)] = row[static_cast<size_t>(c.bos_id)] = -1e30f;
      const int64_t best = std::max_element(row.begin(), row.end()) - row.begin();
      const bool at_limit = t == T - 1 && T - 1 == static_cast<int64_t>(src[i].size()) + 3;
      const int64_t want = t + 1 < T ? in[static_cast<size_t>(t + 1)] : c.eos_id;
      if (!at_limit) {
        EXPECT_EQ(best, want) << "position " << t;
      }
    }
  }
}

TEST(TranslationSearch, BeamSizeOneEqualsGreedy) {
  for (uint64_t seed = 0; seed < 6; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    TranslationConfig c = tiny(7 + static_cast<int64_t>(seed), seed % 2 == 1);
    TranslationModel m(c, 100 + seed);
    Generator g(200 + seed);
    const Sentences src = sources(c, {1 + static_cast<int64_t>(seed), 4, 2, 6}, g);
    BeamOptions o;
    o.beam_size = 1;
    o.length_penalty = seed % 3 == 0 ? 0.0 : 1.0;
    o.max_len_a = 1.2;
    o.max_len_b = static_cast<int64_t>(seed % 3);
    const auto greedy = m.greedy(src, o);
    const auto beam = m.beam_search(src, o);
    ASSERT_EQ(beam.size(), src.size());
    for (size_t i = 0; i < src.size(); ++i) {
      ASSERT_EQ(beam[i].size(), 1u);
      EXPECT_EQ(beam[i][0].tokens, greedy[i].tokens) << "sentence " << i;
      EXPECT_NEAR(beam[i][0].log_prob, greedy[i].log_prob, 1e-9) << "sentence " << i;
      EXPECT_NEAR(beam[i][0].score, greedy[i].score, 1e-9) << "sentence " << i;
    }
  }
}

TEST(TranslationSearch, BatchedEqualsOneSentenceAtATime) {
  TranslationConfig c = tiny(10, true);
  TranslationModel m(c, 31);
  Generator g(32);
  const Sentences src = sources(c, {6, 1, 3, 8, 2}, g);
  BeamOptions o;
  o.beam_size = 3;
  o.nbest = 3;
  o.max_len_a = 1.0;
  o.max_len_b = 2;
  const auto greedy = m.greedy(src, o);
  const auto beam = m.beam_search(src, o);
  for (size_t i = 0; i < src.size(); ++i) {
    SCOPED_TRACE("sentence " + std::to_string(i));
    const auto g1 = m.greedy({src[i]}, o);
    EXPECT_EQ(g1[0].tokens, greedy[i].tokens);
    EXPECT_NEAR(g1[0].log_prob, greedy[i].log_prob, 1e-5);
    const auto b1 = m.beam_search({src[i]}, o);
    ASSERT_EQ(b1[0].size(), beam[i].size());
    for (size_t k = 0; k < beam[i].size(); ++k) {
      EXPECT_EQ(b1[0][k].tokens, beam[i][k].tokens) << "hypothesis " << k;
      EXPECT_NEAR(b1[0][k].score, beam[i][k].score, 1e-5) << "hypothesis " << k;
    }
  }
}

TEST(TranslationSearch, NbestIsSortedDistinctAndRescored) {
  for (double lp : {0.0, 1.0, 0.6}) {
    SCOPED_TRACE("length_penalty " + std::to_string(lp));
    TranslationConfig c = tiny(11);
    TranslationModel m(c, 41);
    Generator g(42);
    const Sentences src = sources(c, {4, 7, 2}, g);
    BeamOptions o;
    o.beam_size = 4;
    o.nbest = 4;
    o.length_penalty = lp;
    o.max_len_a = 1.0;
    o.max_len_b = 2;
    const auto beam = m.beam_search(src, o);
    for (size_t i = 0; i < src.size(); ++i) {
      SCOPED_TRACE("sentence " + std::to_string(i));
      ASSERT_EQ(beam[i].size(), 4u);
      std::set<std::vector<int64_t>> distinct;
      for (size_t k = 0; k < beam[i].size(); ++k) {
        expect_valid(m, src[i], beam[i][k], o);
        distinct.insert(beam[i][k].tokens);
        if (k > 0) {
          EXPECT_GE(beam[i][k - 1].score, beam[i][k].score);
        }
      }
      EXPECT_EQ(distinct.size(), beam[i].size());
      o.nbest = 2;
      const auto two = m.beam_search({src[i]}, o);
      ASSERT_EQ(two[0].size(), 2u);
      EXPECT_EQ(two[0][0].tokens, beam[i][0].tokens);
      EXPECT_EQ(two[0][1].tokens, beam[i][1].tokens);
      o.nbest = 4;
    }
  }
}

// With 2 word types (vocabulary pad, bos, eos, a, b) and at most 2 target tokens there are 7
// hypotheses; beam_size 7 keeps every live prefix and ranks every EOS in its top 7, so beam
// search is exhaustive: its 7-best equals the brute-force ranking, and its best beats greedy.
TEST(TranslationSearch, ExhaustiveBeamEqualsBruteForceAndBeatsGreedy) {
  for (uint64_t seed = 0; seed < 4; ++seed) {
    for (double lp : {0.0, 1.0}) {
      SCOPED_TRACE("seed " + std::to_string(seed) + ", length_penalty " + std::to_string(lp));
      TranslationConfig c = tiny(5, seed % 2 == 0);
      TranslationModel m(c, 300 + seed);
      Generator g(400 + seed);
      const Sentences src = sources(c, {3, 5}, g);
      BeamOptions o;
      o.beam_size = 7;
      o.nbest = 7;
      o.length_penalty = lp;
      o.max_len_a = 0.0;
      o.max_len_b = 2;
      const auto beam = m.beam_search(src, o);
      const auto greedy = m.greedy(src, o);
      for (size_t i = 0; i < src.size(); ++i) {
        std::vector<Hypothesis> all;
        for (const std::vector<int64_t>& t : std::vector<std::vector<int64_t>>{
                 {}, {3}, {4}, {3, 3}, {3, 4}, {4, 3}, {4, 4}}) {
          Hypothesis h{t, 0.0, rescore(m, src[i], t)};
          h.score = normalized(h, lp);
          all.push_back(h);
        }
        std::stable_sort(all.begin(), all.end(),
                         [](const Hypothesis& x, const Hypothesis& y) { return x.score > y.score; });
        ASSERT_EQ(beam[i].size(), 7u);
        for (size_t k = 0; k < 7; ++k) {
          EXPECT_EQ(beam[i][k].tokens, all[k].tokens) << "rank " << k;
          EXPECT_NEAR(beam[i][k].score, all[k].score, 1e-5) << "rank " << k;
        }
        EXPECT_GE(beam[i][0].score, greedy[i].score - 1e-9);
      }
    }
  }
}

TEST(TranslationSearch, LengthLimits) {
  TranslationConfig c = tiny();
  c.max_positions = 5;
  TranslationModel m(c, 51);
  Generator g(52);
  const Sentences src = sources(c, {3, 5}, g);
  BeamOptions o;
  o.beam_size = 3;
  o.nbest = 3;
  o.max_len_a = 10.0;  // capped by max_positions - 1 = 4
  for (const auto& hyps : m.beam_search(src, o))
    for (const auto& h : hyps) EXPECT_LE(h.tokens.size(), 4u);
  for (const auto& h : m.greedy(src, o)) EXPECT_LE(h.tokens.size(), 4u);
  o.max_len_a = 0.0;
  o.max_len_b = 0;  // only [EOS] is possible: one hypothesis
  const auto beam = m.beam_search(src, o);
  const auto greedy = m.greedy(src, o);
  for (size_t i = 0; i < src.size(); ++i) {
    ASSERT_EQ(beam[i].size(), 1u);
    EXPECT_TRUE(beam[i][0].tokens.empty());
    EXPECT_TRUE(greedy[i].tokens.empty());
    EXPECT_NEAR(beam[i][0].log_prob, rescore(m, src[i], {}), 1e-5);
    EXPECT_NEAR(greedy[i].log_prob, beam[i][0].log_prob, 1e-9);
  }
  o.max_len_b = -4;  // a negative limit is 0
  EXPECT_TRUE(m.greedy(src, o)[0].tokens.empty());
  EXPECT_TRUE(m.beam_search({}, o).empty());
  EXPECT_TRUE(m.greedy({}, o).empty());
}

TEST(TranslationSearch, ErrorsAndTrainingModeRestored) {
  TranslationConfig c = tiny();
  c.max_positions = 6;
  TranslationModel m(c, 61);
  BeamOptions o;
  using Fn = std::function<void(const Sentences&, const BeamOptions&)>;
  const std::vector<std::pair<std::string, Fn>> calls{
      {"greedy", [&m](const Sentences& s, const BeamOptions& b) { m.greedy(s, b); }},
      {"beam_search", [&m](const Sentences& s, const BeamOptions& b) { m.beam_search(s, b); }}};
  for (const auto& [name, call] : calls) {
    SCOPED_TRACE(name);
    EXPECT_THROW_MSG(call({{3, 2}, {}}, o), ValueError, "source sentence 1 is empty");
    EXPECT_THROW_MSG(call({{3, 12, 2}}, o), IndexError, "id 12 is outside the source vocabulary");
    EXPECT_THROW_MSG(call({{-1, 2}}, o), IndexError, "id -1");
    EXPECT_THROW_MSG(call({{3, 4, 5, 6, 7, 8, 2}}, o), ValueError, "more than max_positions (6)");
    EXPECT_THROW_MSG(call({{3, 0, 2}}, o), ValueError, "pad_id");
  }
  BeamOptions b;
  b.beam_size = 0;
  EXPECT_THROW_MSG(m.beam_search({{3, 2}}, b), ValueError, "beam_size must be >= 1, got 0");
  b.beam_size = 2;
  b.nbest = 3;
  EXPECT_THROW_MSG(m.beam_search({{3, 2}}, b), ValueError, "nbest must be in [1, beam_size = 2], got 3");
  b.nbest = 0;
  EXPECT_THROW_MSG(m.beam_search({{3, 2}}, b), ValueError, "nbest");
  EXPECT_TRUE(m.is_training());
  m.greedy({{3, 2}}, o);
  m.beam_search({{3, 2}}, o);
  EXPECT_TRUE(m.is_training());
  m.eval();
  m.greedy({{3, 2}}, o);
  EXPECT_FALSE(m.is_training());
}

}  // namespace
}  // namespace cf::models
