#include "ops/matmul.h"

#include "ops/cpu/gemm.h"
#include "ops/cpu/parallel.h"

namespace cf::ops::cpu {

template <class T> void batched_gemm(const BatchedGemmArgs<T>& p) {
  auto one = [&p](int64_t i) {
    gemm(p.trans_a, p.trans_b, p.M, p.N, p.K, p.alpha, p.a + p.a_off[i], p.lda, p.b + p.b_off[i],
         p.ldb, p.beta, p.c + p.c_off[i], p.ldc);
  };
  const double flops = 2.0 * static_cast<double>(p.M) * p.N * p.K;
  const int threads = omp_get_max_threads();
  // Small products: one GEMM per thread (BLAS runs single-threaded inside the region).
  if (p.batch >= threads && threads > 1 && flops < 8.0e6) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < p.batch; ++i) one(i);
    return;
  }
  for (int64_t i = 0; i < p.batch; ++i) one(i);
}

template void batched_gemm<float>(const BatchedGemmArgs<float>&);
template void batched_gemm<double>(const BatchedGemmArgs<double>&);

}  // namespace cf::ops::cpu
