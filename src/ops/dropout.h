// Dropout (torch.nn.functional.dropout): y = x m / (1 - p) with m_i ~ Bernoulli(1 - p).
// The mask comes from the Generator's Philox stream: element i is kept iff the top 24 bits of word
// i % 4 of Philox(seed, base + i / 4) are >= ceil(p 2^24), so the mask is a function of (seed,
// offset, i) only: the same for f32 and f64 and for any thread count. Saves the mask as bool (one
// byte per element); backward dx = g m / (1 - p). p = 0 or not training: x itself; p = 1: x * 0.
// No PyTorch parity (different generators): tests/ops/test_dropout.cpp checks it statistically.
#pragma once
#include <cstdint>

namespace cf::ops::cpu {

/// The 24-bit threshold: a draw r (top 24 bits of a Philox word) keeps its element iff r >= it.
inline uint32_t dropout_threshold(double p) {
  const double t = p * 16777216.0;  // 2^24
  const uint32_t ti = static_cast<uint32_t>(t);
  return static_cast<double>(ti) == t ? ti : ti + 1;  // ceil
}

template <class T>
struct DropoutArgs {
  const T* x;  // (n) contiguous input
  T* y;        // (n) output (=)
  bool* mask;  // (n) true where kept (=)
  int64_t n;
  double p;             // in (0, 1)
  uint64_t seed, base;  // Philox key and the first counter (the generator advanced (n + 3) / 4)
};
template <class T>
struct DropoutBackwardArgs {
  const T* g;        // (n) upstream gradient, contiguous
  const bool* mask;  // (n) the forward's mask
  T* dx;             // (n) (=)
  int64_t n;
  double scale;  // 1 / (1 - p)
};
/// Optimized f32: OpenMP over blocks of counters; the mask of a block, then a vector multiply.
void dropout_forward(const DropoutArgs<float>& a);
void dropout_backward(const DropoutBackwardArgs<float>& a);
/// Reference: one Philox evaluation per element, double arithmetic; also the f64 path.
template <class T>
void dropout_forward_ref(const DropoutArgs<T>& a);
template <class T>
void dropout_backward_ref(const DropoutBackwardArgs<T>& a);

}  // namespace cf::ops::cpu
