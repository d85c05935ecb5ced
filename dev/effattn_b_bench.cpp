// Forward + backward time and peak memory of block-sparse (BigBird), Performer (bidirectional,
// causal) and dense scaled_dot_product_attention at batch 1, 4 heads, width 256 (head dim 64).
// Standalone driver (dev/): build with the library, e.g.
//   g++ -O3 -march=native -fopenmp -std=c++20 -Isrc -Iinclude dev/effattn_b_bench.cpp
//       build/libcformer.a -ldl -lz -ldnnl -o /tmp/effattn_b_bench
// Usage: effattn_b_bench N [N...]; one JSON line per (variant, N): median of 3 after a warm-up.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "cformer/cformer.h"
#include "cformer/efficient_attention.h"
#include "cformer/memory.h"

using namespace cf;

namespace {

struct Result {
  double ms;
  double peak_mib;
};

Result measure(const std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>& f,
               int64_t N, int reps) {
  Generator gen(0);
  const int64_t H = 4, E = 64;
  Tensor q = randn(Shape{1, H, N, E}, gen).requires_grad_(), k = randn(Shape{1, H, N, E}, gen).requires_grad_();
  Tensor v = randn(Shape{1, H, N, E}, gen).requires_grad_();
  Tensor gout = randn(Shape{1, H, N, E}, gen);
  std::vector<double> times;
  size_t peak = 0;
  for (int r = 0; r < reps + 1; ++r) {
    q.set_grad(Tensor());
    k.set_grad(Tensor());
    v.set_grad(Tensor());
    const size_t base = memory_stats().bytes_in_use;
    reset_peak_memory_stats();
    const auto t0 = std::chrono::steady_clock::now();
    Tensor out = f(q, k, v);
    out.backward(gout);
    const auto t1 = std::chrono::steady_clock::now();
    peak = std::max(peak, memory_stats().peak_bytes_in_use - base);
    if (r > 0) times.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(times.begin(), times.end());
  return {times[times.size() / 2], static_cast<double>(peak) / (1024.0 * 1024.0)};
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t bs = 64, m = 256;
  for (int a = 1; a < argc; ++a) {
    const int64_t N = std::atoll(argv[a]);
    Generator gen(1);
    const Tensor layout = bigbird_layout(N / bs, 3, 2, 3, gen);
    const Tensor w = favor_projection(m, 64, gen);
    const int reps = N >= 16384 ? 1 : 3;
    struct Variant {
      const char* name;
      std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)> f;
    };
    std::vector<Variant> vs = {
        {"block_sparse_bigbird",
         [&layout](const Tensor& q, const Tensor& k, const Tensor& v) {
           return block_sparse_attention(q, k, v, layout, bs);
         }},
        {"performer_bidirectional",
         [&w](const Tensor& q, const Tensor& k, const Tensor& v) {
           return performer_attention(q, k, v, w, false);
         }},
        {"performer_causal",
         [&w](const Tensor& q, const Tensor& k, const Tensor& v) {
           return performer_attention(q, k, v, w, true);
         }},
        {"sdpa_dense",
         [](const Tensor& q, const Tensor& k, const Tensor& v) {
           return scaled_dot_product_attention(q, k, v);
         }},
    };
    for (const Variant& var : vs) {
      if (std::string(var.name) == "sdpa_dense" && std::getenv("SKIP_DENSE_ABOVE") &&
          N > std::atoll(std::getenv("SKIP_DENSE_ABOVE")))
        continue;
      const Result r = measure(var.f, N, reps);
      std::printf("{\"variant\": \"%s\", \"N\": %lld, \"fwd_bwd_ms\": %.1f, \"peak_mib\": %.1f}\n",
                  var.name, static_cast<long long>(N), r.ms, r.peak_mib);
      std::fflush(stdout);
    }
  }
  return 0;
}
