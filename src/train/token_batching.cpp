#include "train/token_batching.h"

#include <algorithm>
#include <tuple>

#include "cformer/random.h"
#include "util/check.h"

namespace cf::train {

int64_t PairCorpus::length(int64_t i) const {
  const auto k = static_cast<size_t>(i);
  return std::max(static_cast<int64_t>(src[k].size()), static_cast<int64_t>(tgt[k].size()) + 1);
}

std::vector<int64_t> pairs_within(const PairCorpus& corpus, int64_t max_len, int64_t* dropped) {
  CF_CHECK(corpus.src.size() == corpus.tgt.size(), ValueError, "pairs_within: ",
           corpus.src.size(), " sources but ", corpus.tgt.size(), " targets");
  std::vector<int64_t> kept;
  kept.reserve(corpus.src.size());
  for (int64_t i = 0; i < corpus.size(); ++i)
    if (corpus.length(i) <= max_len) kept.push_back(i);
  if (dropped != nullptr) *dropped = corpus.size() - static_cast<int64_t>(kept.size());
  return kept;
}

std::vector<std::vector<int64_t>> make_token_batches(const PairCorpus& corpus,
                                                     std::vector<int64_t> indices,
                                                     int64_t batch_tokens) {
  CF_CHECK(batch_tokens >= 1, ValueError, "make_token_batches: batch_tokens must be >= 1, got ",
           batch_tokens);
  for (int64_t i : indices)
    CF_CHECK(i >= 0 && i < corpus.size(), IndexError, "make_token_batches: pair index ", i,
             " outside the corpus of ", corpus.size());
  std::sort(indices.begin(), indices.end(), [&corpus](int64_t a, int64_t b) {
    return std::make_tuple(corpus.length(a), corpus.src[static_cast<size_t>(a)].size(), a) <
           std::make_tuple(corpus.length(b), corpus.src[static_cast<size_t>(b)].size(), b);
  });
  std::vector<std::vector<int64_t>> batches;
  std::vector<int64_t> cur;
  int64_t cur_len = 0;
  for (int64_t i : indices) {
    const int64_t len = corpus.length(i);
    CF_CHECK(len <= batch_tokens, ValueError, "make_token_batches: pair ", i, " has ", len,
             " tokens, more than batch_tokens ", batch_tokens, " (raise --batch-tokens or lower --max-len)");
    const int64_t n = static_cast<int64_t>(cur.size()) + 1;
    if (!cur.empty() && n * std::max(cur_len, len) > batch_tokens) {
      batches.push_back(std::move(cur));
      cur.clear();
      cur_len = 0;
    }
    cur.push_back(i);
    cur_len = std::max(cur_len, len);
  }
  if (!cur.empty()) batches.push_back(std::move(cur));
  return batches;
}

BatchSchedule::BatchSchedule(std::vector<std::vector<int64_t>> batches, uint64_t seed)
    : batches_(std::move(batches)), seed_(seed) {
  CF_CHECK(!batches_.empty(), ValueError, "BatchSchedule: no batches (no training pairs left)");
  order_ = order(0);
}

std::vector<int64_t> BatchSchedule::order(int64_t epoch) const {
  // One generator per epoch: any epoch's order is known without replaying the earlier ones.
  Generator gen(seed_ ^ (0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(epoch + 1)));
  const Tensor p = randperm(num_batches(), gen);
  const int64_t* d = p.data_ptr<int64_t>();
  return std::vector<int64_t>(d, d + num_batches());
}

const std::vector<int64_t>& BatchSchedule::next() {
  if (position_ == num_batches()) {
    ++epoch_;
    position_ = 0;
    order_ = order(epoch_);
  }
  return batches_[static_cast<size_t>(order_[static_cast<size_t>(position_++)])];
}

void BatchSchedule::set_position(int64_t epoch, int64_t position) {
  CF_CHECK(epoch >= 0 && position >= 0 && position <= num_batches(), ValueError,
           "BatchSchedule: position (epoch ", epoch, ", batch ", position,
           ") out of range for ", num_batches(), " batches an epoch");
  epoch_ = epoch;
  position_ = position;
  order_ = order(epoch_);
}

PairBatch collate(const PairCorpus& corpus, const std::vector<int64_t>& indices, int64_t pad_id,
                  int64_t bos_id, int64_t eos_id) {
  CF_CHECK(!indices.empty(), ValueError, "collate: empty batch");
  const auto N = static_cast<int64_t>(indices.size());
  int64_t S = 0, T = 0;
  for (int64_t i : indices) {
    CF_CHECK(i >= 0 && i < corpus.size(), IndexError, "collate: pair index ", i,
             " outside the corpus of ", corpus.size());
    S = std::max(S, static_cast<int64_t>(corpus.src[static_cast<size_t>(i)].size()));
    T = std::max(T, static_cast<int64_t>(corpus.tgt[static_cast<size_t>(i)].size()) + 1);
  }
  std::vector<int64_t> src(static_cast<size_t>(N * S), pad_id);
  std::vector<int64_t> tin(static_cast<size_t>(N * T), pad_id), tout(static_cast<size_t>(N * T), pad_id);
  PairBatch b;
  for (int64_t r = 0; r < N; ++r) {
    const auto& s = corpus.src[static_cast<size_t>(indices[static_cast<size_t>(r)])];
    const auto& t = corpus.tgt[static_cast<size_t>(indices[static_cast<size_t>(r)])];
    std::copy(s.begin(), s.end(), src.begin() + r * S);
    tin[static_cast<size_t>(r * T)] = bos_id;
    std::copy(t.begin(), t.end(), tin.begin() + r * T + 1);
    std::copy(t.begin(), t.end(), tout.begin() + r * T);
    tout[static_cast<size_t>(r * T) + t.size()] = eos_id;
    b.src_tokens += static_cast<int64_t>(s.size());
    b.tgt_tokens += static_cast<int64_t>(t.size()) + 1;
  }
  b.src = from_vector<int64_t>(src, Shape{N, S});
  b.tgt_in = from_vector<int64_t>(tin, Shape{N, T});
  b.tgt_out = from_vector<int64_t>(tout, Shape{N, T});
  return b;
}

}  // namespace cf::train
