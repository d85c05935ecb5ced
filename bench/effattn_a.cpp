// bench/effattn_a: forward + backward time and peak tensor memory of dense attention
// (scaled_dot_product_attention), memory_efficient_attention and longformer_attention
// (one-sided window w, no global token) at batch 1, 4 heads, width 256 (head dim 64).
// One JSON line per case: the median of R timed runs after one warm-up, and the peak bytes in use
// (cformer/memory.h) during one forward + backward above what the inputs hold.
// Usage: bench_effattn_a [--threads T] [--repeats R] [--window W] [--max-dense-gb G] N...
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "cformer/cformer.h"
#include "cformer/efficient_attention.h"
#include "cformer/memory.h"

using namespace cf;

namespace {

double seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1, repeats = 3;
  int64_t window = 256;
  double max_dense_gb = 8.0;
  std::vector<int64_t> lengths;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--repeats" && i + 1 < argc) repeats = std::atoi(argv[++i]);
    else if (a == "--window" && i + 1 < argc) window = std::atoll(argv[++i]);
    else if (a == "--max-dense-gb" && i + 1 < argc) max_dense_gb = std::atof(argv[++i]);
    else lengths.push_back(std::atoll(argv[i]));
  }
  if (lengths.empty()) lengths = {1024, 4096, 16384};
  set_num_threads(threads);
  std::printf("# %s\n", gemm_backend_description().c_str());
  const int64_t B = 1, H = 4, E = 64;
  for (int64_t N : lengths) {
    Generator gen(N);
    std::vector<Tensor> in;
    for (int i = 0; i < 6; ++i) in.push_back(randn(Shape{B, H, N, E}, gen).requires_grad_());
    Tensor go = randn(Shape{B, H, N, E}, gen);
    Tensor glob = zeros(Shape{B, N}, DType::b8);
    const std::vector<std::pair<std::string, std::function<Tensor()>>> variants = {
        {"dense_sdpa", [&in]() { return scaled_dot_product_attention(in[0], in[1], in[2]); }},
        {"memory_efficient", [&in]() { return memory_efficient_attention(in[0], in[1], in[2]); }},
        {"longformer", [&in, &glob, window]() {
           return longformer_attention(in[0], in[1], in[2], in[3], in[4], in[5], glob, window);
         }}};
    for (const auto& [name, fn] : variants) {
      // dense: P (H N^2) saved plus (threads N^2) backward scratch, 4 bytes each.
      const double dense_gb = 4.0 * (H + threads) * static_cast<double>(N) * N / 1e9;
      if (name == "dense_sdpa" && dense_gb > max_dense_gb) {
        std::printf("{\"variant\": \"%s\", \"N\": %lld, \"skipped\": \"needs ~%.1f GB\"}\n",
                    name.c_str(), static_cast<long long>(N), dense_gb);
        continue;
      }
      auto run = [&fn, &go, &in]() {
        for (Tensor& t : in) t.set_grad(Tensor());
        fn().backward(go);
      };
      run();  // warm-up
      const size_t base = memory_stats().bytes_in_use;
      reset_peak_memory_stats();
      std::vector<double> ts;
      for (int r = 0; r < repeats; ++r) {
        const double t0 = seconds();
        run();
        ts.push_back(seconds() - t0);
      }
      const size_t peak = memory_stats().peak_bytes_in_use - base;
      std::sort(ts.begin(), ts.end());
      std::printf("{\"variant\": \"%s\", \"N\": %lld, \"B\": %lld, \"H\": %lld, \"E\": %lld, "
                  "\"window\": %lld, \"threads\": %d, \"fwd_bwd_ms\": %.2f, \"peak_mib\": %.2f}\n",
                  name.c_str(), static_cast<long long>(N), static_cast<long long>(B),
                  static_cast<long long>(H), static_cast<long long>(E),
                  static_cast<long long>(window), threads, 1e3 * ts[ts.size() / 2],
                  static_cast<double>(peak) / (1 << 20));
      std::fflush(stdout);
    }
  }
  return 0;
}
