// bench/ops: cformer's kernels against PyTorch 1.13 on the same machine, thread count and shapes,
// in the same run. Prints the backend settings, the measured peaks (large sgemm, memory copy),
// then one JSON line per case and a Markdown table: time, GFLOP/s or GB/s, % of the measured
// peak, and PyTorch's time / cformer's time (> 1: cformer is faster).
// Both sides: 5 warm-up calls, then the median of R timed calls.
// Usage: bench_ops [--threads N] [--repeats R] [--python /usr/bin/python3] [--quick]
//                  [--only NAME_SUBSTRING[,NAME_SUBSTRING...]] [--clock wall|cpu]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cformer/cformer.h"

using namespace cf;

namespace {

// --clock cpu: the process's CPU time (all threads) instead of wall time. On a machine shared
// with other jobs a preempted OpenMP thread stalls its team for a scheduler slice, which the
// wall clock charges to whichever side it hits; CPU time does not.
bool g_cpu_clock = false;
double now_seconds() {
  if (!g_cpu_clock)
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double median_seconds(const std::function<void()>& fn, int repeats) {
  for (int i = 0; i < 5; ++i) fn();
  std::vector<double> ts;
  for (int i = 0; i < repeats; ++i) {
    const double t0 = now_seconds();
    fn();
    ts.push_back(now_seconds() - t0);
  }
  std::sort(ts.begin(), ts.end());
  return ts[ts.size() / 2];
}

struct Case {
  std::string name, op, mode;
  std::vector<int64_t> shape;
  double flops = 0;  // > 0: report GFLOP/s
  double bytes = 0;  // else: report GB/s
};

std::function<void()> make(const Case& c, Generator& gen) {
  const auto& s = c.shape;
  const bool bwd = c.mode == "fwd+bwd";
  auto rnd = [&gen, bwd](Shape sh) {
    Tensor t = randn(sh, gen);
    if (bwd) t.requires_grad_();
    return t;
  };
  std::function<Tensor()> f;
  if (c.op == "matmul") {
    Tensor a = rnd(Shape{s[0], s[1]}), b = rnd(Shape{s[1], s[2]});
    f = [a, b] { return matmul(a, b); };
  } else if (c.op == "softmax") {
    Tensor x = rnd(Shape(std::span<const int64_t>(s)));
    f = [x] { return softmax(x, -1); };
  } else if (c.op == "layer_norm") {
    Tensor x = rnd(Shape(std::span<const int64_t>(s))), w = rnd(Shape{s.back()}), b = rnd(Shape{s.back()});
    const int64_t C = s.back();
    f = [x, w, b, C] { return layer_norm(x, Shape{C}, w, b); };
  } else if (c.op == "gelu") {
    Tensor x = rnd(Shape(std::span<const int64_t>(s)));
    f = [x] { return gelu(x, GeluApproximation::tanh); };
  } else if (c.op == "cross_entropy") {
    Tensor x = rnd(Shape{s[0], s[1]});
    Tensor t = randint(0, s[1], Shape{s[0]}, gen);
    f = [x, t] { return cross_entropy(x, t); };
  } else if (c.op == "scaled_dot_product_attention") {
    const Shape sh{std::span<const int64_t>(s)};
    Tensor q = rnd(sh), k = rnd(sh), v = rnd(sh);
    f = [q, k, v] { return scaled_dot_product_attention(q, k, v, Tensor(), 0.0, true); };
  }
  // vision: pooling/resampling (s = the input (N, C, H, W); window constants in the case name)
  else if (c.op == "max_pool2d") {
    Tensor x = rnd(Shape(std::span<const int64_t>(s)));
    f = [x] { return max_pool2d(x, Shape{2}); };
  } else if (c.op == "avg_pool2d") {
    Tensor x = rnd(Shape(std::span<const int64_t>(s)));
    f = [x] { return avg_pool2d(x, Shape{3}, Shape{2}, Shape{1}); };
  } else if (c.op == "adaptive_avg_pool2d") {
    Tensor x = rnd(Shape(std::span<const int64_t>(s)));
    f = [x] { return adaptive_avg_pool2d(x, Shape{1}); };
  } else if (c.op == "upsample_nearest2d") {
    Tensor x = rnd(Shape(std::span<const int64_t>(s)));
    f = [x] { return upsample_nearest2d(x, {}, {2.0}); };
  } else if (c.op == "upsample_bilinear2d") {
    Tensor x = rnd(Shape(std::span<const int64_t>(s)));
    f = [x] { return upsample_bilinear2d(x, {}, false, {2.0}); };
  } else if (c.op == "unfold") {
    Tensor x = rnd(Shape(std::span<const int64_t>(s)));
    f = [x] { return unfold(x, Shape{3}, Shape{1}, Shape{1}); };
  } else if (c.op == "fold") {  // s = the image; the input is its 3x3 padding-1 unfolding
    Tensor x = rnd(Shape{s[0], s[1] * 9, s[2] * s[3]});
    const Shape out{s[2], s[3]};
    f = [x, out] { return fold(x, out, Shape{3}, Shape{1}, Shape{1}); };
  }
  if (!bwd) return [f] {
    NoGradGuard ng;
    f();
  };
  return [f] {
    Tensor y = f();
    y.backward(ones_like(y));
  };
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, repeats = 20;
  std::string python = "/usr/bin/python3";
  bool quick = false;
  std::string only;  // run only the cases whose name contains one of these (comma-separated)
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--repeats" && i + 1 < argc) repeats = std::atoi(argv[++i]);
    else if (a == "--python" && i + 1 < argc) python = argv[++i];
    else if (a == "--quick") quick = true;
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else if (a == "--clock" && i + 1 < argc) g_cpu_clock = std::string(argv[++i]) == "cpu";
    else {
      std::fprintf(stderr, "error: unknown argument '%s'\n", a.c_str());
      return 2;
    }
  }
  set_num_threads(threads);
  std::printf("# gemm backend: %s\n", gemm_backend_description().c_str());

  // Measured peaks: a large square sgemm and a large copy (read + write).
  Generator gen(0);
  double peak_gflops, peak_gbs;
  {
    NoGradGuard ng;
    const int64_t n = 2048;
    Tensor a = randn(Shape{n, n}, gen), b = randn(Shape{n, n}, gen);
    const double t = median_seconds([&] { matmul(a, b); }, 5);
    peak_gflops = 2.0 * n * n * n / t / 1e9;
    Tensor x = randn(Shape{64 << 20}, gen);  // 256 MiB, far beyond the caches
    Tensor y = empty_like(x);
    const double tc = median_seconds([&] { y.copy_(x); }, 5);
    peak_gbs = 2.0 * x.numel() * 4 / tc / 1e9;
  }
  std::printf("# measured peaks: sgemm %.0f GFLOP/s (2048^3), memory copy %.1f GB/s, threads %d\n",
              peak_gflops, peak_gbs, threads);

  const int64_t BT = 2048, C = 768, V = quick ? 8192 : 50257;
  std::vector<Case> cases;
  for (std::string mode : {"fwd", "fwd+bwd"}) {
    const double k = mode == "fwd" ? 1.0 : 3.0;
    const double mb = mode == "fwd" ? 1.0 : 2.5;  // bytes of fwd+bwd relative to fwd
    cases.push_back({"matmul " + mode, "matmul", mode, {BT, C, 4 * C}, k * 2.0 * BT * C * 4 * C, 0});
    cases.push_back({"softmax " + mode, "softmax", mode, {8 * 12 * 256, 256}, 0,
                     mb * 2.0 * 8 * 12 * 256 * 256 * 4});
    cases.push_back({"layer_norm " + mode, "layer_norm", mode, {BT, C}, 0, mb * 2.0 * BT * C * 4});
    cases.push_back({"gelu " + mode, "gelu", mode, {BT, 4 * C}, 0, mb * 2.0 * BT * 4 * C * 4});
    cases.push_back({"cross_entropy " + mode, "cross_entropy", mode, {BT, V}, 0,
                     (mode == "fwd" ? 1.0 : 3.0) * BT * V * 4});
    cases.push_back({"sdpa causal " + mode, "scaled_dot_product_attention", mode, {8, 12, 256, 64},
                     k * 4.0 * 8 * 12 * 256 * 256 * 64, 0});
  }

  for (std::string mode : {"fwd", "fwd+bwd"}) {  // vision: pooling/resampling
    const double mb = mode == "fwd" ? 1.0 : 2.5;
    const int64_t mp = 128 * 32 * 28 * 28, gp = 128 * 256 * 7 * 7, up = 64 * 128 * 16 * 16,
                  uf = 32 * 64 * 14 * 14;
    cases.push_back({"max_pool2d 2x2 " + mode, "max_pool2d", mode, {128, 32, 28, 28}, 0,
                     mb * 1.25 * mp * 4});
    cases.push_back({"avg_pool2d 3x3 s2 p1 " + mode, "avg_pool2d", mode, {128, 32, 28, 28}, 0,
                     mb * 1.25 * mp * 4});
    cases.push_back({"adaptive_avg_pool2d 1x1 " + mode, "adaptive_avg_pool2d", mode,
                     {128, 256, 7, 7}, 0, mb * gp * 4});
    cases.push_back({"upsample_nearest2d x2 " + mode, "upsample_nearest2d", mode,
                     {64, 128, 16, 16}, 0, mb * 5.0 * up * 4});
    cases.push_back({"upsample_bilinear2d x2 " + mode, "upsample_bilinear2d", mode,
                     {64, 128, 16, 16}, 0, mb * 5.0 * up * 4});
    cases.push_back({"unfold 3x3 p1 " + mode, "unfold", mode, {32, 64, 14, 14}, 0,
                     mb * 10.0 * uf * 4});
    cases.push_back({"fold 3x3 p1 " + mode, "fold", mode, {32, 64, 14, 14}, 0,
                     mb * 10.0 * uf * 4});
  }
  if (!only.empty()) {
    std::vector<std::string> keep;  // comma-separated name substrings
    for (size_t b = 0, e; b <= only.size(); b = e + 1) {
      e = std::min(only.find(',', b), only.size());
      keep.push_back(only.substr(b, e - b));
    }
    std::erase_if(cases, [&keep](const Case& c) {
      return std::none_of(keep.begin(), keep.end(), [&c](const std::string& k) {
        return c.name.find(k) != std::string::npos;
      });
    });
  }

  std::map<std::string, double> ours;
  for (const Case& c : cases) ours[c.name] = median_seconds(make(c, gen), repeats);

  std::string cmd = "env -u OPENBLAS_CORETYPE " + python + " " + CFORMER_SOURCE_DIR +
                    "/tools/golden/bench_torch_ops.py " + std::to_string(threads) + " " +
                    std::to_string(repeats) + (g_cpu_clock ? " --clock=cpu" : "");
  for (const Case& c : cases) {
    nlohmann::json j{{"name", c.name}, {"op", c.op}, {"mode", c.mode}, {"shape", c.shape}};
    cmd += " '" + j.dump() + "'";
  }
  std::map<std::string, double> torch;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char line[4096];
    while (std::fgets(line, sizeof line, p)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.contains("name")) torch[j["name"]] = j["seconds"];
    }
    pclose(p);
  }
  if (torch.size() != cases.size()) std::printf("# warning: PyTorch timings missing (is %s with torch installed?)\n", python.c_str());

  std::printf("\n| op | shape | cformer ms | rate | %% of peak | PyTorch ms | PyTorch/cformer |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|\n");
  for (const Case& c : cases) {
    const double t = ours[c.name];
    const double tt = torch.count(c.name) ? torch[c.name] : NAN;
    std::string shape;
    for (size_t i = 0; i < c.shape.size(); ++i) {
      if (i) shape += 'x';
      shape += std::to_string(c.shape[i]);
    }
    char rate[64];
    double pct;
    if (c.flops > 0) {
      std::snprintf(rate, sizeof rate, "%.0f GFLOP/s", c.flops / t / 1e9);
      pct = 100.0 * c.flops / t / 1e9 / peak_gflops;
    } else {
      std::snprintf(rate, sizeof rate, "%.1f GB/s", c.bytes / t / 1e9);
      pct = 100.0 * c.bytes / t / 1e9 / peak_gbs;
    }
    std::printf("| %s | %s | %.3f | %s | %.0f%% | %.3f | %.2fx |\n", c.name.c_str(), shape.c_str(),
                t * 1e3, rate, pct, tt * 1e3, tt / t);
    nlohmann::json j{{"name", c.name}, {"shape", c.shape}, {"cformer_ms", t * 1e3},
                     {"pytorch_ms", tt * 1e3}, {"ratio", tt / t}, {"pct_of_peak", pct}, {"threads", threads}};
    std::fprintf(stderr, "%s\n", j.dump().c_str());
  }
  return 0;
}
