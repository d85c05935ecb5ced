// Thread count and backend selection (public runtime.h).
#include <omp.h>

#include "cformer/runtime.h"
#include "ops/cpu/gemm.h"
#include "util/check.h"

namespace cf {

int get_num_threads() { return omp_get_max_threads(); }

void set_num_threads(int n) {
  CF_CHECK(n >= 1, ValueError, "set_num_threads: need at least 1 thread, got ", n);
  omp_set_num_threads(n);
  ops::cpu::backend_set_num_threads(n);
}

void set_gemm_backend(const std::string& name) { ops::cpu::select_backend(name); }
std::string gemm_backend() { return ops::cpu::backend_name(); }
std::string gemm_backend_description() {
  return ops::cpu::backend_description() + " omp_threads=" + std::to_string(get_num_threads());
}

}  // namespace cf
