// BERT masking statistics over many draws (15% selected, 80/10/10 replacement), its invariants
// (specials never selected, at least one per sequence, whole words selected whole, replacement
// ids never special, determinism), and the pre-training data pipeline (windows, NSP pairs).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "cformer/cformer.h"
#include "cformer/models/bert.h"
#include "train/bert_data.h"
#include "train/bert_train.h"

namespace cf::models {
namespace {

// Vocabulary of 100: 0 [PAD], 1 [UNK], 2 [CLS], 3 [SEP], 4 [MASK]; ids >= 60 are "##" pieces.
MaskingVocab vocab() { return MaskingVocab{100, 4, {0, 1, 2, 3, 4}}; }

struct Seq {
  std::vector<int64_t> ids;
  std::vector<uint8_t> special;
};

// [CLS] n random tokens [SEP] [PAD] x pad.
Seq make_seq(int64_t n, int64_t pad, Generator& g) {
  Seq s;
  s.ids.push_back(2);
  for (int64_t v : randint(5, 100, Shape{n}, g).to_vector<int64_t>()) s.ids.push_back(v);
  s.ids.push_back(3);
  for (int64_t i = 0; i < pad; ++i) s.ids.push_back(0);
  for (int64_t id : s.ids) s.special.push_back(id <= 4);
  return s;
}

TEST(BertMasking, ProportionsOverManyDraws) {
  Generator g(123), data(7);
  MaskingOptions opt;
  int64_t candidates = 0, selected = 0, masked = 0, random = 0, kept = 0;
  for (int rep = 0; rep < 2000; ++rep) {
    const Seq s = make_seq(40, 5, data);
    const MaskedTokens m = mask_tokens(s.ids, s.special, {}, vocab(), opt, g);
    ASSERT_EQ(m.ids.size(), s.ids.size());
    int64_t sel = 0;
    for (size_t i = 0; i < s.ids.size(); ++i) {
      if (s.special[i]) {
        EXPECT_EQ(m.labels[i], -100);
        EXPECT_EQ(m.ids[i], s.ids[i]);
        continue;
      }
      ++candidates;
      if (m.labels[i] == -100) {
        EXPECT_EQ(m.ids[i], s.ids[i]);
        continue;
      }
      ++sel;
      EXPECT_EQ(m.labels[i], s.ids[i]);
      if (m.ids[i] == 4) ++masked;
      else if (m.ids[i] == s.ids[i]) ++kept;
      else {
        ++random;
        EXPECT_GT(m.ids[i], 4) << "a random replacement must not be a special token";
        EXPECT_LT(m.ids[i], 100);
      }
    }
    EXPECT_EQ(sel, 6);  // round(0.15 * 40)
    selected += sel;
  }
  const double n = static_cast<double>(selected);
  EXPECT_NEAR(static_cast<double>(selected) / static_cast<double>(candidates), 0.15, 1e-9);
  // 12,000 selected tokens: the standard error of a 10% share is 0.27%.
  EXPECT_NEAR(masked / n, 0.8, 0.015);
  EXPECT_NEAR(random / n, 0.1, 0.012);  // includes ~1% random draws equal to the original
  EXPECT_NEAR(kept / n, 0.1, 0.012);
}

TEST(BertMasking, PositionsAreUniformAndRandomTokensCoverTheVocabulary) {
  Generator g(5), data(6);
  MaskingOptions opt;
  opt.mask_replace = 0.0;
  opt.random_replace = 1.0;
  std::vector<int64_t> hits(12, 0);
  std::set<int64_t> drawn;
  for (int rep = 0; rep < 4000; ++rep) {
    const Seq s = make_seq(10, 0, data);
    const MaskedTokens m = mask_tokens(s.ids, s.special, {}, vocab(), opt, g);
    for (size_t i = 0; i < m.ids.size(); ++i)
      if (m.labels[i] != -100) {
        ++hits[i];
        drawn.insert(m.ids[i]);
      }
  }
  for (size_t i = 1; i <= 10; ++i) EXPECT_NEAR(hits[i] / 4000.0 * 10.0, 2.0 / 10.0 * 10.0, 0.2) << i;
  EXPECT_EQ(hits[0], 0);
  EXPECT_EQ(hits[11], 0);
  EXPECT_EQ(drawn.size(), 95u);  // every non-special id drawn, no special one
  EXPECT_EQ(*drawn.begin(), 5);
}

TEST(BertMasking, AtLeastOneTokenAndDeterminism) {
  Generator g(1), data(2);
  const Seq s = make_seq(3, 0, data);  // round(0.45) = 0 -> still one
  const MaskedTokens m = mask_tokens(s.ids, s.special, {}, vocab(), MaskingOptions{}, g);
  EXPECT_EQ(std::count_if(m.labels.begin(), m.labels.end(), [](int64_t l) { return l != -100; }), 1);
  Generator a(99), b(99);
  const Seq t = make_seq(50, 3, data);
  const MaskedTokens ma = mask_tokens(t.ids, t.special, {}, vocab(), MaskingOptions{}, a);
  const MaskedTokens mb = mask_tokens(t.ids, t.special, {}, vocab(), MaskingOptions{}, b);
  EXPECT_EQ(ma.ids, mb.ids);
  EXPECT_EQ(ma.labels, mb.labels);
  // Only specials: nothing to select, nothing changes.
  const MaskedTokens none = mask_tokens({2, 3, 0}, {1, 1, 1}, {}, vocab(), MaskingOptions{}, a);
  EXPECT_EQ(none.labels, (std::vector<int64_t>{-100, -100, -100}));
}

TEST(BertMasking, WholeWordMaskingSelectsWholeWords) {
  Generator g(11), data(12);
  MaskingOptions opt;
  opt.whole_word = true;
  int64_t candidates = 0, selected = 0;
  for (int rep = 0; rep < 1000; ++rep) {
    Seq s = make_seq(60, 4, data);
    std::vector<uint8_t> cont(s.ids.size());
    for (size_t i = 0; i < s.ids.size(); ++i) cont[i] = s.ids[i] >= 60;
    const std::vector<int64_t> words = word_ids_from_continuation(cont, s.special);
    const MaskedTokens m = mask_tokens(s.ids, s.special, words, vocab(), opt, g);
    int64_t sel = 0, cand = 0;
    for (size_t i = 0; i < s.ids.size(); ++i) {
      if (s.special[i]) continue;
      ++cand;
      sel += m.labels[i] != -100;
      // Invariant: a word is selected whole: neighbours in the same word share the decision.
      if (i + 1 < s.ids.size() && !s.special[i + 1] && words[i + 1] == words[i]) {
        EXPECT_EQ(m.labels[i] != -100, m.labels[i + 1] != -100) << "rep " << rep << " pos " << i;
      }
    }
    EXPECT_GE(sel, 1);
    EXPECT_LE(sel, 9);  // never beyond the budget round(0.15 * 60) once something is selected
    candidates += cand;
    selected += sel;
  }
  EXPECT_NEAR(static_cast<double>(selected) / static_cast<double>(candidates), 0.15, 0.01);
}

TEST(BertMasking, WordIdsFromContinuationFlags) {
  // [CLS] a ##b c [SEP] ##d e ##f ##g [SEP]
  const std::vector<uint8_t> cont = {0, 0, 1, 0, 0, 1, 0, 1, 1, 0};
  const std::vector<uint8_t> special = {1, 0, 0, 0, 1, 0, 0, 0, 0, 1};
  EXPECT_EQ(word_ids_from_continuation(cont, special),
            (std::vector<int64_t>{-1, 0, 0, 1, -1, 2, 3, 3, 3, -1}));
  EXPECT_THROW(word_ids_from_continuation({0}, {0, 0}), ValueError);
}

TEST(BertMasking, OptionChecks) {
  Generator g(1);
  const std::vector<int64_t> ids = {2, 10, 3};
  const std::vector<uint8_t> sp = {1, 0, 1};
  MaskingOptions bad;
  bad.mask_prob = 0.0;
  EXPECT_THROW(mask_tokens(ids, sp, {}, vocab(), bad, g), ValueError);
  bad = MaskingOptions{};
  bad.mask_replace = 0.95;
  EXPECT_THROW(mask_tokens(ids, sp, {}, vocab(), bad, g), ValueError);
  EXPECT_THROW(mask_tokens(ids, {1, 0}, {}, vocab(), MaskingOptions{}, g), ValueError);
  bad = MaskingOptions{};
  bad.whole_word = true;
  EXPECT_THROW(mask_tokens(ids, sp, {}, vocab(), bad, g), ValueError);
  EXPECT_THROW(mask_tokens(ids, sp, {}, MaskingVocab{100, 100, {}}, MaskingOptions{}, g), ValueError);
  try {
    mask_tokens(ids, {1, 0}, {}, vocab(), MaskingOptions{}, g);
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("mask_tokens"), std::string::npos);
  }
}

}  // namespace
}  // namespace cf::models

namespace cf::train {
namespace {

BertVocab data_vocab() {
  BertVocab v;
  v.vocab_size = 100;
  v.pad_id = 0;
  v.cls_id = 2;
  v.sep_id = 3;
  v.mask_id = 4;
  v.special_ids = {0, 1, 2, 3, 4};
  v.continuation.assign(100, 0);
  for (int i = 60; i < 100; ++i) v.continuation[static_cast<size_t>(i)] = 1;
  return v;
}

// Documents whose sentences are runs of consecutive ids (so order can be checked): document d,
// sentence s holds ids 10 + d * 20 + s, repeated (s % 3 + 2) times.
std::vector<Document> docs(int n_docs, int n_sent) {
  std::vector<Document> out(static_cast<size_t>(n_docs));
  for (int d = 0; d < n_docs; ++d)
    for (int s = 0; s < n_sent; ++s)
      out[static_cast<size_t>(d)].push_back(Sentence(static_cast<size_t>(s % 3 + 2), 10 + d * 20 + s));
  return out;
}

TEST(BertData, WindowsArePackedWithoutPadding) {
  BertDataOptions opt;
  opt.max_len = 12;
  BertPretrainData ds(docs(3, 15), data_vocab(), opt, 0.1);
  EXPECT_EQ(ds.train_tokens() + ds.val_tokens(), 3 * (5 * 2 + 5 * 3 + 5 * 4));
  EXPECT_GT(ds.val_tokens(), 0);
  Generator g(3);
  const models::BertBatch b = ds.sample(8, g);
  EXPECT_EQ(b.input_ids.shape(), (Shape{8, 12}));
  EXPECT_EQ(sum(b.attention_mask).item(), 8 * 12);
  EXPECT_FALSE(b.nsp_labels.defined());
  const auto ids = b.input_ids.to_vector<int64_t>();
  const auto lab = b.mlm_labels.to_vector<int64_t>();
  for (int r = 0; r < 8; ++r) {
    EXPECT_EQ(ids[r * 12], 2);
    EXPECT_EQ(ids[r * 12 + 11], 3);
    EXPECT_EQ(std::count_if(lab.begin() + r * 12, lab.begin() + r * 12 + 12, [](int64_t l) { return l != -100; }),
              2);  // round(0.15 * 10)
  }
  const auto val = ds.validation(100, 4, 5);
  ASSERT_FALSE(val.empty());
  const auto val2 = ds.validation(100, 4, 5);
  EXPECT_EQ(val[0].input_ids.to_vector<int64_t>(), val2[0].input_ids.to_vector<int64_t>());
  EXPECT_EQ(val[0].mlm_labels.to_vector<int64_t>(), val2[0].mlm_labels.to_vector<int64_t>());
  EXPECT_THROW(BertPretrainData(docs(1, 2), data_vocab(), opt, 0.0), ValueError);  // 5 tokens < 10
}

TEST(BertData, NspPairsAreHalfRandomAndOrdered) {
  BertDataOptions opt;
  opt.max_len = 16;
  opt.nsp = true;
  BertVocab v = data_vocab();
  v.vocab_size = 200;
  v.continuation.assign(200, 0);
  BertPretrainData ds(docs(6, 12), v, opt, 0.0);
  Generator g(4);
  int64_t random = 0, total = 0;
  for (int rep = 0; rep < 50; ++rep) {
    const models::BertBatch b = ds.sample(16, g);
    const int64_t T = b.input_ids.size(1);
    EXPECT_LE(T, 16);
    const auto lab = b.nsp_labels.to_vector<int64_t>();
    const auto mask = b.attention_mask.to_vector<int64_t>();
    const auto types = b.token_type_ids.to_vector<int64_t>();
    const auto lbl = b.mlm_labels.to_vector<int64_t>();
    const auto ids = b.input_ids.to_vector<int64_t>();
    for (int64_t r = 0; r < 16; ++r) {
      // Recover the original tokens (the MLM labels hold the replaced ones).
      std::vector<int64_t> a, bb;
      int64_t seps = 0;
      for (int64_t t = 0; t < T && mask[r * T + t]; ++t) {
        const int64_t id = lbl[r * T + t] != -100 ? lbl[r * T + t] : ids[r * T + t];
        if (id == 3) {
          ++seps;
          continue;
        }
        if (id == 2) continue;
        EXPECT_EQ(types[r * T + t], seps == 0 ? 0 : 1);
        (seps == 0 ? a : bb).push_back(id);
      }
      EXPECT_EQ(seps, 2);
      ASSERT_FALSE(a.empty());
      ASSERT_FALSE(bb.empty());
      const int64_t doc_a = (a.back() - 10) / 20, doc_b = (bb.front() - 10) / 20;
      if (lab[r] == 0) {
        EXPECT_EQ(doc_a, doc_b);
        // B continues A (truncation may have cut A's last sentence, hence + 2).
        EXPECT_GT(bb.front(), a.back());
        EXPECT_LE(bb.front(), a.back() + 2);
      } else {
        EXPECT_NE(doc_a, doc_b);
      }
      random += lab[r];
      ++total;
    }
  }
  EXPECT_NEAR(static_cast<double>(random) / static_cast<double>(total), 0.5, 0.08);
}

TEST(BertTrain, LearningRateWarmsUpThenDecaysToZero) {
  EXPECT_DOUBLE_EQ(bert_lr(1.0, 10, 0, 0.0), 0.1);
  EXPECT_DOUBLE_EQ(bert_lr(1.0, 10, 9, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(bert_lr(1.0, 10, 50, 0.5), 0.5);
  EXPECT_DOUBLE_EQ(bert_lr(1.0, 10, 99, 1.0), 0.0);
  EXPECT_DOUBLE_EQ(bert_lr(2.0, 0, 0, 0.25), 1.5);
}

}  // namespace
}  // namespace cf::train
