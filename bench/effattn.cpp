// bench/effattn: forward + backward time and peak tensor memory of the efficient attentions against
// dense scaled_dot_product_attention (its (N, N) matrix) in the same run, batch 1, 4 heads, width
// 256 (head dim 64), q, k, v requiring grad. Variants: dense_sdpa, memory_efficient, longformer
// (one-sided window w, no global token), block_sparse_bigbird (block 64, 3 window + 2 global + 3
// random blocks), performer / performer_causal (m orthogonal random features). The variants run in
// rounds (one timed run of each per round, after one warm-up each) so that load drifting on a
// shared machine hits them alike. One JSON line per case: median wall, process-CPU and (of that)
// system ms, peak bytes in use above the inputs (cformer/memory.h) and, where dense ran, its
// wall time / this wall time.
// Usage: bench_effattn [--threads T] [--repeats R] [--window W] [--features M]
//                      [--max-dense-gb G] [--only NAME[,NAME...]] N...
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <sys/resource.h>

#include "cformer/cformer.h"
#include "cformer/efficient_attention.h"
#include "cformer/memory.h"

using namespace cf;

namespace {

double wall_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return 1e3 * static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_nsec);
}

double sys_ms() {  // the process's system CPU time (page faults, ...)
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return 1e3 * static_cast<double>(u.ru_stime.tv_sec) +
         1e-3 * static_cast<double>(u.ru_stime.tv_usec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Variant {
  std::string name;
  std::function<Tensor()> fn;
  std::vector<double> wall, cpu, sys;
  double peak_mib = 0.0;
};

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, repeats = 3;
  int64_t window = 256, features = 256;
  double max_dense_gb = 8.0;
  std::string only;
  std::vector<int64_t> lengths;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else if (a == "--repeats" && i + 1 < argc)
      repeats = std::max(1, std::atoi(argv[++i]));
    else if (a == "--window" && i + 1 < argc)
      window = std::atoll(argv[++i]);
    else if (a == "--features" && i + 1 < argc)
      features = std::atoll(argv[++i]);
    else if (a == "--max-dense-gb" && i + 1 < argc)
      max_dense_gb = std::atof(argv[++i]);
    else if (a == "--only" && i + 1 < argc)
      only = "," + std::string(argv[++i]) + ",";
    else
      lengths.push_back(std::atoll(argv[i]));
  }
  if (lengths.empty()) lengths = {4096, 8192, 16384};
  set_num_threads(threads);
  std::printf("# gemm backend: %s\n", gemm_backend_description().c_str());
  std::printf("# threads %d, repeats %d (median), batch 1, 4 heads, head dim 64\n", threads,
              repeats);
  const int64_t B = 1, H = 4, E = 64, bs = 64;
  for (int64_t N : lengths) {
    Generator gen(N);
    std::vector<Tensor> in;  // q, k, v, and the global projections qg, kg, vg
    for (int i = 0; i < 6; ++i) in.push_back(randn(Shape{B, H, N, E}, gen).requires_grad_());
    const Tensor go = randn(Shape{B, H, N, E}, gen);
    const Tensor glob = zeros(Shape{B, N}, DType::b8);
    const Tensor layout = bigbird_layout(std::max<int64_t>(N / bs, 1), 3, 2, 3, gen);
    const Tensor w = favor_projection(features, E, gen);
    std::vector<Variant> vs;
    auto add = [&vs, &only](const std::string& name, std::function<Tensor()> fn) {
      if (only.empty() || only.find("," + name + ",") != std::string::npos)
        vs.push_back({name, std::move(fn), {}, {}, {}, 0.0});
    };
    // dense: P (H N^2) saved plus (threads N^2) backward scratch, 4 bytes each.
    const double dense_gb = 4.0 * (H + threads) * static_cast<double>(N) * N / 1e9;
    if (dense_gb <= max_dense_gb)
      add("dense_sdpa", [&in]() { return scaled_dot_product_attention(in[0], in[1], in[2]); });
    else
      std::printf("{\"variant\": \"dense_sdpa\", \"N\": %lld, \"skipped\": \"needs ~%.1f GB\"}\n",
                  static_cast<long long>(N), dense_gb);
    add("memory_efficient", [&in]() { return memory_efficient_attention(in[0], in[1], in[2]); });
    add("longformer", [&in, &glob, window]() {
      return longformer_attention(in[0], in[1], in[2], in[3], in[4], in[5], glob, window);
    });
    add("block_sparse_bigbird",
        [&in, &layout]() { return block_sparse_attention(in[0], in[1], in[2], layout, 64); });
    add("performer", [&in, &w]() { return performer_attention(in[0], in[1], in[2], w, false); });
    add("performer_causal",
        [&in, &w]() { return performer_attention(in[0], in[1], in[2], w, true); });
    auto run = [&in, &go](const Variant& var) {
      for (Tensor& t : in) t.set_grad(Tensor());
      var.fn().backward(go);
    };
    for (Variant& var : vs) {  // warm-up, and the peak memory of one forward + backward
      const size_t base = memory_stats().bytes_in_use;
      reset_peak_memory_stats();
      run(var);
      var.peak_mib = static_cast<double>(memory_stats().peak_bytes_in_use - base) / (1 << 20);
    }
    for (int r = 0; r < repeats; ++r)
      for (Variant& var : vs) {
        const double w0 = wall_ms(), c0 = cpu_ms(), s0 = sys_ms();
        run(var);
        var.wall.push_back(wall_ms() - w0);
        var.cpu.push_back(cpu_ms() - c0);
        var.sys.push_back(sys_ms() - s0);
      }
    const double dense_ms = !vs.empty() && vs[0].name == "dense_sdpa" ? median(vs[0].wall) : 0.0;
    for (const Variant& var : vs) {
      std::ostringstream extra;
      if (var.name == "longformer") extra << ", \"window\": " << window;
      if (var.name.rfind("performer", 0) == 0) extra << ", \"features\": " << features;
      if (dense_ms > 0.0) extra << ", \"dense_over_this\": " << dense_ms / median(var.wall);
      std::printf(
          "{\"variant\": \"%s\", \"N\": %lld, \"threads\": %d, \"fwd_bwd_ms\": %.1f, "
          "\"cpu_ms\": %.1f, \"sys_ms\": %.1f, \"peak_mib\": %.1f%s}\n",
          var.name.c_str(), static_cast<long long>(N), threads, median(var.wall), median(var.cpu),
          median(var.sys), var.peak_mib, extra.str().c_str());
    }
    std::fflush(stdout);
  }
  return 0;
}
