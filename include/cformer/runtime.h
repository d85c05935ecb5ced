// Threads and the GEMM backend.
#pragma once
#include <string>

namespace cf {

/// OpenMP threads used by kernels and the GEMM backend (defaults to OMP_NUM_THREADS or all cores).
int get_num_threads();
void set_num_threads(int n);

/// The GEMM backend: "onednn" (default when compiled in) or "openblas"; CFORMER_GEMM selects
/// one at start-up.
/// Throws ValueError for an unknown name or one not compiled in.
void set_gemm_backend(const std::string& name);
std::string gemm_backend();
/// One line for benchmark headers: backend, version, CPU kernels, threads, and any environment
/// setting that was overridden (see Note [gemm backend]).
std::string gemm_backend_description();

}  // namespace cf
