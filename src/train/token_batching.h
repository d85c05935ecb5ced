// Token-budget batching of sentence pairs for sequence-to-sequence training (fairseq's
// max_tokens): pairs are sorted by padded length and cut greedily into batches whose rows times
// longest padded side (max(S, T)) stay within the budget; the batch order is reshuffled every
// epoch by a generator keyed on (seed, epoch), so a position (epoch, index) resumes exactly.
// Sequences: src = ids + EOS (S), tgt_in = BOS + ids and tgt_out = ids + EOS (T each).
#pragma once
#include <cstdint>
#include <vector>

#include "cformer/tensor.h"

namespace cf::train {

/// Tokenized parallel text: src[i] = source ids + EOS, tgt[i] = target ids (no BOS, no EOS).
struct PairCorpus {
  std::vector<std::vector<int64_t>> src;
  std::vector<std::vector<int64_t>> tgt;
  int64_t size() const { return static_cast<int64_t>(src.size()); }
  /// Padded length of pair i: max(S, T) with T = tgt[i].size() + 1.
  int64_t length(int64_t i) const;
};

/// Indices of the pairs whose source (EOS included) and target (BOS or EOS included) both have
/// at most max_len tokens; *dropped counts the others.
std::vector<int64_t> pairs_within(const PairCorpus& corpus, int64_t max_len, int64_t* dropped);

/// Cuts the pairs `indices` (sorted here by (length, source length, index)) into batches with
/// rows * max length <= batch_tokens. Throws ValueError when a pair alone exceeds the budget.
std::vector<std::vector<int64_t>> make_token_batches(const PairCorpus& corpus,
                                                     std::vector<int64_t> indices,
                                                     int64_t batch_tokens);

/// Endless epochs over fixed batches in a per-epoch shuffled order.
class BatchSchedule {
 public:
  BatchSchedule(std::vector<std::vector<int64_t>> batches, uint64_t seed);
  /// The next batch's pair indices; moves the position on (a new epoch after the last batch).
  const std::vector<int64_t>& next();
  int64_t epoch() const { return epoch_; }      ///< completed epochs
  int64_t position() const { return position_; }  ///< batches taken in the current epoch
  /// Restores a position from epoch() and position(). Throws ValueError when out of range.
  void set_position(int64_t epoch, int64_t position);
  int64_t num_batches() const { return static_cast<int64_t>(batches_.size()); }
  const std::vector<std::vector<int64_t>>& batches() const { return batches_; }
  /// The batch order of an epoch (a permutation of 0..num_batches-1).
  std::vector<int64_t> order(int64_t epoch) const;

 private:
  std::vector<std::vector<int64_t>> batches_;
  uint64_t seed_;
  int64_t epoch_ = 0, position_ = 0;
  std::vector<int64_t> order_;  // of epoch_
};

struct PairBatch {
  Tensor src;      // (N, S) i64, padded with pad_id
  Tensor tgt_in;   // (N, T) i64, BOS + ids, padded
  Tensor tgt_out;  // (N, T) i64, ids + EOS, padded
  int64_t src_tokens = 0;  // non-pad source tokens
  int64_t tgt_tokens = 0;  // non-pad target tokens (tgt_out)
};

/// The padded tensors of the pairs `indices`.
PairBatch collate(const PairCorpus& corpus, const std::vector<int64_t>& indices, int64_t pad_id,
                  int64_t bos_id, int64_t eos_id);

}  // namespace cf::train
