// The GEMM interface: the one door every matmul goes through.
// C (M, N) = alpha * op(A) (M, K) . op(B) (K, N) + beta * C, row-major, leading dims in elements;
// op(X) is X or X^T. f32 goes to the selected vendor backend (oneDNN or OpenBLAS); f64 uses the reference loops
// (gradient checks only). See Note [gemm backend] in docs/notes/gemm.md.
#pragma once
#include <cstdint>
#include <string>

namespace cf::ops::cpu {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
          const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C,
          int64_t ldc);
/// Reference kernel (double accumulation), the oracle for the vendor path.
template <class T>
void gemm_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
              int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

/// Backend selection and description (runtime.h exposes these publicly).
void select_backend(const std::string& name);
std::string backend_name();
std::string backend_description();
/// Tells the backend how many threads to use.
void backend_set_num_threads(int n);

}  // namespace cf::ops::cpu
