// CPU caching allocator (see Note [caching allocator] in docs/notes/tensor.md).
#pragma once
#include <cstddef>

namespace cf::detail {

inline constexpr size_t kAlignment = 64;

/// Returns a block of at least nbytes (64-byte aligned); *block_size receives the rounded size
/// that must be passed back to cpu_free. nbytes == 0 returns nullptr.
void* cpu_alloc(size_t nbytes, size_t* block_size);
void cpu_free(void* ptr, size_t block_size);

}  // namespace cf::detail
