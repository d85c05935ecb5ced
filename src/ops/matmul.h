// matmul / bmm / linear. Shapes: a (..., N, K), b (..., K, M) -> (..., N, M) with the batch dims
// broadcast (torch.matmul); linear: x (..., in), weight (out, in), bias (out) -> (..., out).
// Every product goes through ops/cpu/gemm.h; strided operands whose last two dims are row- or
// column-major are passed to GEMM without a copy (as a transpose flag), others are copied.
// Backward: da = g . b^T, db = a^T . g (summed over broadcast batch dims); linear saves x and w.
#pragma once
#include <cstdint>

namespace cf::ops::cpu {

/// C[c_off[i]] (M, N) = alpha * op(A[a_off[i]]) . op(B[b_off[i]]) + beta * C, for i < batch.
/// Offsets are in elements. Small products run in parallel over the batch, large ones in turn
/// on all threads.
template <class T> struct BatchedGemmArgs {
  const T* a;              // base of A
  const T* b;              // base of B
  T* c;                    // base of C
  const int64_t* a_off;    // (batch)
  const int64_t* b_off;    // (batch)
  const int64_t* c_off;    // (batch)
  int64_t batch, M, N, K;
  int64_t lda, ldb, ldc;
  bool trans_a, trans_b;
  T alpha, beta;
};
template <class T> void batched_gemm(const BatchedGemmArgs<T>& args);

}  // namespace cf::ops::cpu
