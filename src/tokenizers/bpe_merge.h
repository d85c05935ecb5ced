// The merge step of byte-level BPE on one pre-tokenized word, shared by encoding and its tests.
// GPT-2's bpe(): repeatedly take the adjacent pair of lowest rank and merge every occurrence of
// it, left to right without overlap. bpe_merge_simple does exactly that (quadratic, for short
// words); bpe_merge_heap gives the same result in O(n log n) with a linked list and a heap of
// (rank, position): all entries of the lowest rank are applied in position order as one batch,
// and the pairs the batch creates enter the heap only after it, as GPT-2's loop does.
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cf::tokenizers {

/// (left, right) -> (rank, result id): open addressing with linear probing, since lookups are
/// the inner loop of encoding (about twice as fast as std::unordered_map here).
class MergeTable {
 public:
  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  /// False (and no change) when (a, b) is already a merge. Ids and ranks are >= 0.
  bool insert(int32_t a, int32_t b, int32_t rank, int32_t result) {
    if ((size_ + 1) * 2 > keys_.size()) grow();
    if (!place(key(a, b), pack(rank, result))) return false;
    ++size_;
    return true;
  }
  /// False when (a, b) is not a merge.
  bool find(int32_t a, int32_t b, int32_t& rank, int32_t& result) const {
    if (keys_.empty()) return false;
    const uint64_t k = key(a, b);
    for (size_t i = slot(k);; i = (i + 1) & mask_) {
      if (keys_[i] == k) {
        rank = static_cast<int32_t>(values_[i] >> 32);
        result = static_cast<int32_t>(values_[i] & 0xFFFFFFFFu);
        return true;
      }
      if (keys_[i] == kEmpty) return false;
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};  // no merge has id -1
  static uint64_t pack(int32_t rank, int32_t result) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(rank)) << 32) |
           static_cast<uint32_t>(result);
  }
  size_t slot(uint64_t k) const {
    return static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  bool place(uint64_t k, uint64_t v) {
    for (size_t i = slot(k);; i = (i + 1) & mask_) {
      if (keys_[i] == k) return false;
      if (keys_[i] == kEmpty) {
        keys_[i] = k;
        values_[i] = v;
        return true;
      }
    }
  }
  void grow() {
    std::vector<uint64_t> keys = std::move(keys_), values = std::move(values_);
    const size_t cap = keys.empty() ? 64 : keys.size() * 2;
    keys_.assign(cap, kEmpty);
    values_.assign(cap, 0);
    mask_ = cap - 1;
    shift_ = 64 - std::countr_zero(cap);
    for (size_t i = 0; i < keys.size(); ++i)
      if (keys[i] != kEmpty) place(keys[i], values[i]);
  }

  std::vector<uint64_t> keys_, values_;
  size_t size_ = 0, mask_ = 0;
  int shift_ = 64;
};

/// syms: the token ids of a word (initially one per byte), merged in place.
void bpe_merge_simple(std::vector<int32_t>& syms, const MergeTable& merges);
void bpe_merge_heap(std::vector<int32_t>& syms, const MergeTable& merges);

}  // namespace cf::tokenizers
