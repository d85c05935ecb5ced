// Token-budget batching: every pair exactly once per epoch, no batch over the budget, the order
// a function of the seed, resumable from (epoch, position); collate's padding and BOS/EOS.
#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "cformer/cformer.h"
#include "train/token_batching.h"

namespace cf::train {
namespace {

PairCorpus random_corpus(int64_t n, uint64_t seed) {
  PairCorpus c;
  uint64_t x = seed * 2654435761ULL + 1;
  auto next = [&x]() {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int64_t>(x >> 33);
  };
  for (int64_t i = 0; i < n; ++i) {
    std::vector<int64_t> s(static_cast<size_t>(1 + next() % 40)), t(static_cast<size_t>(next() % 45));
    for (auto& v : s) v = 3 + next() % 50;
    for (auto& v : t) v = 3 + next() % 50;
    s.back() = 2;  // EOS
    c.src.push_back(s);
    c.tgt.push_back(t);
  }
  return c;
}

TEST(TranslateBatching, EveryPairOncePerEpochWithinBudget) {
  const PairCorpus c = random_corpus(1000, 1);
  int64_t dropped = -1;
  const std::vector<int64_t> kept = pairs_within(c, 40, &dropped);
  EXPECT_GT(dropped, 0);
  EXPECT_EQ(static_cast<int64_t>(kept.size()) + dropped, 1000);
  for (int64_t i = 0; i < c.size(); ++i)
    EXPECT_EQ(std::binary_search(kept.begin(), kept.end(), i), c.length(i) <= 40) << i;
  const auto batches = make_token_batches(c, kept, 300);
  BatchSchedule sched(batches, 7);
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::multiset<int64_t> seen;
    for (int64_t b = 0; b < sched.num_batches(); ++b) {
      const std::vector<int64_t>& batch = sched.next();
      int64_t len = 0;
      for (int64_t i : batch) len = std::max(len, c.length(i));
      EXPECT_LE(len * static_cast<int64_t>(batch.size()), 300);
      const PairBatch pb = collate(c, batch, 0, 1, 2);
      EXPECT_LE(pb.src.numel(), 300);
      EXPECT_LE(pb.tgt_in.numel(), 300);
      seen.insert(batch.begin(), batch.end());
    }
    EXPECT_EQ(sched.epoch(), epoch);
    EXPECT_EQ(seen.size(), kept.size());
    EXPECT_TRUE(std::equal(seen.begin(), seen.end(), kept.begin(), kept.end()));
  }
  // Batches are filled greedily: adding the next pair (in sorted order) would exceed the budget.
  for (size_t b = 0; b + 1 < batches.size(); ++b) {
    int64_t len = 0;
    for (int64_t i : batches[b]) len = std::max(len, c.length(i));
    len = std::max(len, c.length(batches[b + 1].front()));
    EXPECT_GT(len * static_cast<int64_t>(batches[b].size() + 1), 300) << "batch " << b;
  }
}

TEST(TranslateBatching, OrderIsDeterministicPerSeedAndChangesPerEpoch) {
  const PairCorpus c = random_corpus(500, 2);
  const auto batches = make_token_batches(c, pairs_within(c, 64, nullptr), 256);
  ASSERT_GT(batches.size(), 20u);
  BatchSchedule a(batches, 11), b(batches, 11), d(batches, 12);
  EXPECT_EQ(a.order(0), b.order(0));
  EXPECT_NE(a.order(0), d.order(0));
  EXPECT_NE(a.order(0), a.order(1));
  std::vector<int64_t> sorted = a.order(3);
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) EXPECT_EQ(sorted[i], static_cast<int64_t>(i));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next(), b.next());
}

TEST(TranslateBatching, ResumesFromAPosition) {
  const PairCorpus c = random_corpus(300, 3);
  const auto batches = make_token_batches(c, pairs_within(c, 64, nullptr), 200);
  BatchSchedule full(batches, 5);
  const int64_t n = full.num_batches();
  for (int64_t i = 0; i < n + 7; ++i) full.next();
  EXPECT_EQ(full.epoch(), 1);
  EXPECT_EQ(full.position(), 7);
  BatchSchedule resumed(batches, 5);
  resumed.set_position(full.epoch(), full.position());
  for (int64_t i = 0; i < 2 * n; ++i) ASSERT_EQ(full.next(), resumed.next()) << "batch " << i;
  // The end of an epoch is a valid position too: the next call starts the next epoch.
  BatchSchedule at_end(batches, 5);
  at_end.set_position(0, n);
  BatchSchedule fresh(batches, 5);
  for (int64_t i = 0; i < n; ++i) fresh.next();
  EXPECT_EQ(at_end.next(), fresh.next());
  EXPECT_EQ(at_end.epoch(), 1);
  EXPECT_THROW(at_end.set_position(0, n + 1), ValueError);
  EXPECT_THROW(at_end.set_position(-1, 0), ValueError);
}

TEST(TranslateBatching, CollatePadsAndAddsBosEos) {
  PairCorpus c;
  c.src = {{10, 11, 2}, {12, 2}};
  c.tgt = {{20}, {21, 22, 23}};
  const PairBatch b = collate(c, {0, 1}, 0, 1, 2);
  EXPECT_EQ(b.src.shape(), (Shape{2, 3}));
  EXPECT_EQ(b.tgt_in.shape(), (Shape{2, 4}));
  auto vec = [](const Tensor& t) {
    const int64_t* d = t.data_ptr<int64_t>();
    return std::vector<int64_t>(d, d + t.numel());
  };
  EXPECT_EQ(vec(b.src), (std::vector<int64_t>{10, 11, 2, 12, 2, 0}));
  EXPECT_EQ(vec(b.tgt_in), (std::vector<int64_t>{1, 20, 0, 0, 1, 21, 22, 23}));
  EXPECT_EQ(vec(b.tgt_out), (std::vector<int64_t>{20, 2, 0, 0, 21, 22, 23, 2}));
  EXPECT_EQ(b.src_tokens, 5);
  EXPECT_EQ(b.tgt_tokens, 6);
  EXPECT_THROW(collate(c, {}, 0, 1, 2), ValueError);
  EXPECT_THROW(collate(c, {2}, 0, 1, 2), IndexError);
}

TEST(TranslateBatching, RejectsAPairOverTheBudget) {
  PairCorpus c;
  c.src = {{5, 5, 5, 5, 2}};
  c.tgt = {{6}};
  EXPECT_THROW(make_token_batches(c, {0}, 4), ValueError);
  EXPECT_EQ(make_token_batches(c, {0}, 5).size(), 1u);
  EXPECT_THROW(BatchSchedule({}, 1), ValueError);
}

}  // namespace
}  // namespace cf::train
