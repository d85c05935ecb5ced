// Caching allocator: blocks are rounded to size classes (64 B steps up to 4 KiB, then eight
// classes per power of two, so at most 12.5 % is wasted) and kept on per-class free lists. A
// large request (>= 1 MiB) that misses its class takes the smallest free block of up to twice its
// size; a miss that would still go to the system first returns the cached blocks to it when they
// hold more than kCacheSlack bytes and more than the bytes in use, so inputs whose shapes change
// every step (variable-length batches) do not grow the cache without bound.
// The cache is process-wide, like PyTorch's; it is the one piece of global mutable state in the
// library (see Note [caching allocator] in docs/notes/tensor.md).
#include "tensor/allocator.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <mutex>
#include <new>
#include <map>
#include <vector>

#include "cformer/memory.h"
#include "util/check.h"

namespace cf::detail {
namespace {

size_t round_size(size_t n) {
  if (n <= 4096) return (n + kAlignment - 1) / kAlignment * kAlignment;
  const int top = std::bit_width(n - 1);         // n <= 2^top
  const size_t step = size_t{1} << (top - 4);    // 8 classes in (2^(top-1), 2^top]
  return (n + step - 1) / step * step;
}

constexpr size_t kLargeBlock = size_t{1} << 20;
constexpr size_t kCacheSlack = size_t{1} << 30;

struct Cache {
  std::mutex mu;
  std::map<size_t, std::vector<void*>> free_blocks;  // ordered: the best fit of a large request
  MemoryStats stats;
};

// Frees every cached block; c.mu must be held.
void release_cached(Cache& c) {
  for (auto& [size, blocks] : c.free_blocks) {
    for (void* p : blocks) {
      std::free(p);
      c.stats.system_frees++;
      c.stats.bytes_reserved -= size;
    }
    blocks.clear();
  }
}

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: tensors may outlive static destructors
  return *c;
}

void note_use(MemoryStats& s, size_t bytes) {
  s.bytes_in_use += bytes;
  s.peak_bytes_in_use = std::max(s.peak_bytes_in_use, s.bytes_in_use);
  s.peak_bytes_reserved = std::max(s.peak_bytes_reserved, s.bytes_reserved);
}

}  // namespace

void* cpu_alloc(size_t nbytes, size_t* block_size) {
  *block_size = 0;
  if (nbytes == 0) return nullptr;
  CF_CHECK(nbytes <= (size_t{1} << 46), OutOfMemoryError, "allocation of ", nbytes,
           " bytes is beyond any machine's memory");
  const size_t size = round_size(nbytes);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    const size_t limit = size >= kLargeBlock ? 2 * size : size;
    for (auto it = c.free_blocks.lower_bound(size); it != c.free_blocks.end() && it->first <= limit;
         ++it) {
      if (it->second.empty()) continue;
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.cache_hits++;
      note_use(c.stats, it->first);
      *block_size = it->first;
      return p;
    }
    const size_t cached = c.stats.bytes_reserved - c.stats.bytes_in_use;
    if (cached > kCacheSlack && cached > c.stats.bytes_in_use) release_cached(c);
  }
  void* p = std::aligned_alloc(kAlignment, size);
  if (p == nullptr) {
    empty_cache();
    p = std::aligned_alloc(kAlignment, size);
  }
  CF_CHECK(p != nullptr, OutOfMemoryError, "out of memory allocating ", nbytes, " bytes");
  std::lock_guard<std::mutex> lock(c.mu);
  c.stats.system_allocations++;
  c.stats.bytes_reserved += size;
  note_use(c.stats, size);
  *block_size = size;
  return p;
}

void cpu_free(void* ptr, size_t block_size) {
  if (ptr == nullptr) return;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.free_blocks[block_size].push_back(ptr);
  c.stats.bytes_in_use -= block_size;
}

}  // namespace cf::detail

namespace cf {

MemoryStats memory_stats() {
  auto& c = detail::cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.stats;
}

void reset_peak_memory_stats() {
  auto& c = detail::cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.stats.peak_bytes_in_use = c.stats.bytes_in_use;
  c.stats.peak_bytes_reserved = c.stats.bytes_reserved;
}

void empty_cache() {
  auto& c = detail::cache();
  std::lock_guard<std::mutex> lock(c.mu);
  detail::release_cached(c);
}

}  // namespace cf
