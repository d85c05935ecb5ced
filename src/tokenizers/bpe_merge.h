// The merge step of byte-level BPE on one pre-tokenized word, shared by encoding and its tests.
// GPT-2's bpe(): repeatedly take the adjacent pair of lowest rank and merge every occurrence of
// it, left to right without overlap. bpe_merge_simple does exactly that (quadratic, for short
// words); bpe_merge_heap gives the same result in O(n log n) with a linked list and a heap of
// (rank, position): all entries of the lowest rank are applied in position order as one batch,
// and the pairs the batch creates enter the heap only after it, as GPT-2's loop does.
#pragma once
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace cf::tokenizers {

struct MergeTable {
  // key (left << 32 | right) -> value (rank << 32 | result id)
  std::unordered_map<uint64_t, uint64_t> map;
  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  /// False when (a, b) is not a merge.
  bool find(int32_t a, int32_t b, int32_t& rank, int32_t& result) const {
    auto it = map.find(key(a, b));
    if (it == map.end()) return false;
    rank = static_cast<int32_t>(it->second >> 32);
    result = static_cast<int32_t>(it->second & 0xFFFFFFFFu);
    return true;
  }
};

/// syms: the token ids of a word (initially one per byte), merged in place.
void bpe_merge_simple(std::vector<int32_t>& syms, const MergeTable& merges);
void bpe_merge_heap(std::vector<int32_t>& syms, const MergeTable& merges);

}  // namespace cf::tokenizers
