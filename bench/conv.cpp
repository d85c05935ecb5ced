// bench/conv: conv2d and conv_transpose2d against PyTorch 1.13 (tools/golden/bench_torch_conv.py)
// on the same machine, thread count and shapes, in the same run: the convolutions of the vision
// models (ViT patch embedding, CNN 3x3, ViTAE dilated and depthwise 3x3, DCGAN generator).
// Prints the settings (GEMM backend, conv kernel path) and the measured sgemm peak, one JSON line
// per case (stderr) and a Markdown table: time, GFLOP/s, % of peak, PyTorch's time / cformer's
// time (> 1: cformer faster).
// Both sides: 5 warm-up calls, then the median of R timed calls (wall clock, and separately the
// process's CPU time: on a shared machine the CPU-time ratio is the steadier one; with more than
// one thread it includes OpenMP's spin-waiting). fwd+bwd: y.backward(ones).
// Usage: bench_conv [--threads N] [--repeats R] [--python /usr/bin/python3] [--only NAME]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cformer/cformer.h"
#include "ops/conv.h"

using namespace cf;

namespace {

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct Timing {
  double wall, cpu;  // medians, seconds: wall clock, and CPU time of all the process's threads
};

Timing median_seconds(const std::function<void()>& fn, int repeats) {
  for (int i = 0; i < 5; ++i) fn();
  std::vector<double> ts, cs;
  for (int i = 0; i < repeats; ++i) {
    const double c0 = cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    fn();
    ts.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    cs.push_back(cpu_seconds() - c0);
  }
  std::sort(ts.begin(), ts.end());
  std::sort(cs.begin(), cs.end());
  return {ts[ts.size() / 2], cs[cs.size() / 2]};
}

struct Case {
  std::string name, op, mode;
  int64_t N, C, O, H, W, k, stride, padding, dilation, groups, output_padding;

  // Multiply-adds x 2 of the forward (conv_transpose2d: of the conv2d it is the gradient of).
  double flops() const {
    const bool tr = op == "conv_transpose2d";
    const int64_t ek = dilation * (k - 1) + 1;
    if (!tr) {
      const int64_t OH = (H + 2 * padding - ek) / stride + 1,
                    OW = (W + 2 * padding - ek) / stride + 1;
      return 2.0 * N * O * OH * OW * (C / groups) * k * k * (mode == "fwd" ? 1 : 3);
    }
    return 2.0 * N * C * H * W * (O / groups) * k * k * (mode == "fwd" ? 1 : 3);
  }
  nlohmann::json json() const {
    return {{"name", name},
            {"op", op},
            {"mode", mode},
            {"N", N},
            {"C", C},
            {"O", O},
            {"H", H},
            {"W", W},
            {"k", k},
            {"stride", stride},
            {"padding", padding},
            {"dilation", dilation},
            {"groups", groups},
            {"output_padding", output_padding}};
  }
};

std::function<void()> make(const Case& c, Generator& gen) {
  const bool bwd = c.mode == "fwd+bwd";
  auto rnd = [&gen, bwd](Shape sh) {
    Tensor t = randn(sh, gen);
    if (bwd) t.requires_grad_();
    return t;
  };
  Tensor x = rnd(Shape{c.N, c.C, c.H, c.W}), b = rnd(Shape{c.O});
  std::function<Tensor()> f;
  if (c.op == "conv2d") {
    Tensor w = rnd(Shape{c.O, c.C / c.groups, c.k, c.k});
    f = [x, w, b, c] { return conv2d(x, w, b, {c.stride}, {c.padding}, {c.dilation}, c.groups); };
  } else {
    Tensor w = rnd(Shape{c.C, c.O / c.groups, c.k, c.k});
    f = [x, w, b, c] {
      return conv_transpose2d(x, w, b, {c.stride}, {c.padding}, {c.output_padding}, c.groups,
                              {c.dilation});
    };
  }
  if (!bwd)
    return [f] {
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
  std::string python = "/usr/bin/python3", only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else if (a == "--repeats" && i + 1 < argc)
      repeats = std::atoi(argv[++i]);
    else if (a == "--python" && i + 1 < argc)
      python = argv[++i];
    else if (a == "--only" && i + 1 < argc)
      only = argv[++i];
    else {
      std::fprintf(stderr, "error: unknown argument '%s'\n", a.c_str());
      return 2;
    }
  }
  set_num_threads(threads);
  std::printf("# gemm backend: %s\n", gemm_backend_description().c_str());
  const ops::cpu::ConvPath path = ops::cpu::conv_path();
  std::printf("# conv path: %s (CFORMER_CONV=auto|onednn|im2col)\n",
              path == ops::cpu::ConvPath::automatic ? "auto (per-pass rule)"
              : path == ops::cpu::ConvPath::onednn  ? "onednn"
                                                    : "im2col");
  Generator gen(0);
  double peak_gflops;
  {
    NoGradGuard ng;
    const int64_t n = 2048;
    Tensor a = randn(Shape{n, n}, gen), b = randn(Shape{n, n}, gen);
    const double t = median_seconds([&a, &b] { matmul(a, b); }, 5).wall;
    peak_gflops = 2.0 * n * n * n / t / 1e9;
  }
  std::printf("# measured peak: sgemm %.0f GFLOP/s (2048^3), threads %d\n", peak_gflops, threads);

  // name, op, N, C, O, H=W, kernel, stride, padding, dilation, groups, output_padding
  const std::vector<Case> shapes = {
      {"vit patch 4", "conv2d", "", 128, 1, 192, 28, 28, 4, 4, 0, 1, 1, 0},
      {"vit patch 7", "conv2d", "", 128, 1, 192, 28, 28, 7, 7, 0, 1, 1, 0},
      {"cnn 3x3 32->64 28", "conv2d", "", 128, 32, 64, 28, 28, 3, 1, 1, 1, 1, 0},
      {"cnn 3x3 64->64 14", "conv2d", "", 128, 64, 64, 14, 14, 3, 1, 1, 1, 1, 0},
      {"vitae 3x3 dil 2", "conv2d", "", 128, 64, 64, 14, 14, 3, 1, 2, 2, 1, 0},
      {"vitae 3x3 dil 3", "conv2d", "", 128, 64, 64, 14, 14, 3, 1, 3, 3, 1, 0},
      {"depthwise 3x3 64 14", "conv2d", "", 128, 64, 64, 14, 14, 3, 1, 1, 1, 64, 0},
      {"dcgan 256->128 8->16", "conv_transpose2d", "", 64, 256, 128, 8, 8, 4, 2, 1, 1, 1, 0},
      {"dcgan 128->1 16->32", "conv_transpose2d", "", 64, 128, 1, 16, 16, 4, 2, 1, 1, 1, 0},
  };
  std::vector<Case> cases;
  for (std::string mode : {"fwd", "fwd+bwd"})
    for (Case c : shapes) {
      c.mode = mode;
      c.name += " " + mode;
      if (only.empty() || c.name.find(only) != std::string::npos) cases.push_back(c);
    }

  std::map<std::string, Timing> ours;
  for (const Case& c : cases) ours[c.name] = median_seconds(make(c, gen), repeats);

  std::string cmd = "env -u OPENBLAS_CORETYPE " + python + " " + CFORMER_SOURCE_DIR +
                    "/tools/golden/bench_torch_conv.py " + std::to_string(threads) + " " +
                    std::to_string(repeats);
  for (const Case& c : cases) cmd += " '" + c.json().dump() + "'";
  std::map<std::string, Timing> torch;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char line[4096];
    while (std::fgets(line, sizeof line, p)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object()) continue;
      if (j.contains("name"))
        torch[j["name"]] = {j["seconds"], j["cpu_seconds"]};
      else
        std::printf("# pytorch: %s\n", j.dump().c_str());
    }
    pclose(p);
  }
  if (torch.size() != cases.size())
    std::printf("# warning: PyTorch timings missing (is %s with torch installed?)\n",
                python.c_str());

  std::printf(
      "\n| case | shape (N, C->O, HxW, k, s, p, d, g) | cformer ms | GFLOP/s | %% of peak "
      "| PyTorch ms | PyTorch/cformer | CPU-time ratio |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|\n");
  for (const Case& c : cases) {
    const double t = ours[c.name].wall, ct = ours[c.name].cpu;
    const bool have = torch.count(c.name) > 0;
    const double tt = have ? torch[c.name].wall : NAN, ctt = have ? torch[c.name].cpu : NAN;
    const double gf = c.flops() / t / 1e9;
    char shape[128];
    std::snprintf(shape, sizeof shape, "%ld, %ld->%ld, %ldx%ld, %ld, %ld, %ld, %ld, %ld",
                  static_cast<long>(c.N), static_cast<long>(c.C), static_cast<long>(c.O),
                  static_cast<long>(c.H), static_cast<long>(c.W), static_cast<long>(c.k),
                  static_cast<long>(c.stride), static_cast<long>(c.padding),
                  static_cast<long>(c.dilation), static_cast<long>(c.groups));
    std::printf("| %s | %s | %.3f | %.0f | %.0f%% | %.3f | %.2fx | %.2fx |\n", c.name.c_str(),
                shape, t * 1e3, gf, 100.0 * gf / peak_gflops, tt * 1e3, tt / t, ctt / ct);
    nlohmann::json j = c.json();
    j["cformer_ms"] = t * 1e3;
    j["pytorch_ms"] = tt * 1e3;
    j["ratio"] = tt / t;
    j["cformer_cpu_ms"] = ct * 1e3;
    j["pytorch_cpu_ms"] = ctt * 1e3;
    j["cpu_ratio"] = ctt / ct;
    j["gflops"] = gf;
    j["threads"] = threads;
    std::fprintf(stderr, "%s\n", j.dump().c_str());
  }
  return 0;
}
