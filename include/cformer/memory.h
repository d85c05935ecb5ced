// The CPU caching allocator's statistics. Tensor memory comes from a cache of 64-byte aligned
// blocks; a block freed by a tensor goes back to the cache, not to the system, so a training loop
// in its steady state asks the system for nothing. See Note [caching allocator].
#pragma once
#include <cstddef>
#include <cstdint>

namespace cf {

struct MemoryStats {
  uint64_t system_allocations = 0;  // blocks ever obtained from the system
  uint64_t system_frees = 0;        // blocks ever returned to the system (empty_cache)
  uint64_t cache_hits = 0;          // allocations served from the cache
  size_t bytes_in_use = 0;          // held by live tensors (rounded block sizes)
  size_t peak_bytes_in_use = 0;
  size_t bytes_reserved = 0;        // in use + cached
  size_t peak_bytes_reserved = 0;
};

MemoryStats memory_stats();
/// Resets both peaks to the current values.
void reset_peak_memory_stats();
/// Returns every cached (unused) block to the system.
void empty_cache();

}  // namespace cf
