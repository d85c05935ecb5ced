// dev: the measurement behind Note [gemm backend] (docs/notes/gemm.md): cformer's GEMM interface
// on the shapes of GPT training, for each backend, with OpenBLAS's own core detection or a forced
// core type. Not built by CMake:
//   g++ -O3 -march=native -std=c++20 -fopenmp -Iinclude -Isrc dev/gemm_backends.cpp \
//       build/libcformer.a -ldl -lz -ldnnl -o /tmp/gemm_backends
//   /tmp/gemm_backends openblas; CFORMER_OPENBLAS_CORETYPE=Haswell /tmp/gemm_backends openblas
//   /tmp/gemm_backends onednn
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "cformer/cformer.h"
#include "ops/cpu/gemm.h"

int main(int argc, char** argv) {
  cf::set_num_threads(2);
  if (argc > 1) cf::set_gemm_backend(argv[1]);
  std::printf("# %s\n", cf::gemm_backend_description().c_str());
  const int64_t shapes[][3] = {{2048, 1152, 384}, {2048, 384, 1536}, {1024, 1024, 1024}, {384, 1152, 2048}};
  for (const auto& s : shapes) {
    const int64_t M = s[0], N = s[1], K = s[2];
    std::vector<float> a(M * K, 0.1f), b(K * N, 0.2f), c(M * N);
    auto run = [&] {
      cf::ops::cpu::gemm(false, false, M, N, K, 1.0f, a.data(), K, b.data(), N, 0.0f, c.data(), N);
    };
    for (int i = 0; i < 3; ++i) run();
    const int reps = 20;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) run();
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
    std::printf("%lld x %lld x %lld: %.0f GFLOP/s\n", (long long)M, (long long)N, (long long)K,
                2.0 * M * N * K / sec / 1e9);
  }
}
