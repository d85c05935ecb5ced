#include "tokenizers/bpe_merge.h"

#include <algorithm>
#include <functional>
#include <queue>

namespace cf::tokenizers {

void bpe_merge_simple(std::vector<int32_t>& syms, const MergeTable& merges) {
  while (syms.size() > 1) {
    int32_t best_rank = INT32_MAX, best_a = 0, best_b = 0, best_result = 0;
    for (size_t i = 0; i + 1 < syms.size(); ++i) {
      int32_t rank, result;
      if (merges.find(syms[i], syms[i + 1], rank, result) && rank < best_rank) {
        best_rank = rank;
        best_a = syms[i];
        best_b = syms[i + 1];
        best_result = result;
      }
    }
    if (best_rank == INT32_MAX) return;
    size_t out = 0;
    for (size_t i = 0; i < syms.size();) {
      if (i + 1 < syms.size() && syms[i] == best_a && syms[i + 1] == best_b) {
        syms[out++] = best_result;
        i += 2;
      } else {
        syms[out++] = syms[i++];
      }
    }
    syms.resize(out);
  }
}

void bpe_merge_heap(std::vector<int32_t>& syms, const MergeTable& merges) {
  const int32_t n = static_cast<int32_t>(syms.size());
  if (n < 2) return;
  std::vector<int32_t> next(n), prev(n);
  for (int32_t i = 0; i < n; ++i) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  // (rank << 32 | position of the left symbol), smallest first.
  std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<uint64_t>> heap;
  auto push = [&syms, &next, &merges, &heap](int32_t i) {
    if (i < 0 || next[i] < 0) return;
    int32_t rank, result;
    if (merges.find(syms[i], syms[next[i]], rank, result))
      heap.push((static_cast<uint64_t>(rank) << 32) | static_cast<uint32_t>(i));
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  std::vector<int32_t> merged;
  while (!heap.empty()) {
    const uint64_t rank = heap.top() >> 32;
    merged.clear();
    while (!heap.empty() && (heap.top() >> 32) == rank) {
      const int32_t i = static_cast<int32_t>(heap.top() & 0xFFFFFFFFu);
      heap.pop();
      // Stale entries: the symbol was merged away or its pair changed since the push.
      if (syms[i] < 0 || next[i] < 0) continue;
      int32_t r, result;
      if (!merges.find(syms[i], syms[next[i]], r, result) || static_cast<uint64_t>(r) != rank)
        continue;
      const int32_t j = next[i];
      syms[i] = result;
      syms[j] = -1;
      next[i] = next[j];
      if (next[j] >= 0) prev[next[j]] = i;
      merged.push_back(i);
    }
    for (int32_t i : merged) {
      if (syms[i] < 0) continue;
      push(prev[i]);
      push(i);
    }
  }
  syms.erase(std::remove(syms.begin(), syms.end(), -1), syms.end());
}

}  // namespace cf::tokenizers
