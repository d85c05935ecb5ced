// bench/gpt_train: GPT training steps (forward, backward, AdamW) of cformer against the PyTorch
// twin (tools/golden/gpt_twin.py) at the same configuration and thread count, in the same run.
// Each measurement runs in a fresh process so peak memory (max RSS) is comparable.
// Usage: bench_gpt_train [--threads N] [--steps S] [--vocab V ...]   (driver)
//        bench_gpt_train --worker V --threads N --steps S             (one cformer measurement)
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cformer/cformer.h"
#include "cformer/models/gpt.h"
#include "cformer/optim.h"

using namespace cf;
using json = nlohmann::json;

namespace {

constexpr int64_t kLayers = 6, kHeads = 6, kEmbd = 384, kBlock = 256, kBatch = 8;

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

// Training FLOPs per step: 6 per parameter per token for the matmuls (embedding lookups
// excluded, the tied LM head included) plus the attention score and value products.
double step_flops(int64_t V) {
  const double C = kEmbd, L = kLayers, T = kBlock, tokens = kBatch * kBlock;
  const double matmul_params = L * 12.0 * C * C + V * C;
  return 6.0 * matmul_params * tokens + 3.0 * L * 4.0 * T * C * tokens;
}

int worker(int64_t V, int steps) {
  models::GptConfig cfg{kLayers, kHeads, kEmbd, kBlock, V, 0.0, true, {}};
  models::Gpt model(cfg, 0);
  auto groups = optim::weight_decay_groups(model.named_parameters(), 0.1);
  optim::AdamW opt(groups, optim::AdamOptions{1e-4, 0.9, 0.95, 1e-8, 0.1});
  Generator gen(1);
  Tensor x = randint(0, V, Shape{kBatch, kBlock}, gen), y = randint(0, V, Shape{kBatch, kBlock}, gen);
  std::vector<double> ts;
  for (int i = 0; i < steps + 2; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    Tensor loss = model.loss(x, y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (i >= 2) ts.push_back(dt);
  }
  std::sort(ts.begin(), ts.end());
  const double ms = ts[ts.size() / 2] * 1e3;
  std::printf("%s\n", json{{"impl", "cformer"}, {"threads", get_num_threads()}, {"ms_per_step", ms},
                           {"tokens_per_s", kBatch * kBlock / (ms / 1e3)},
                           {"peak_rss_mib", peak_rss_mib()},
                           {"system_allocations", memory_stats().system_allocations}}
                          .dump()
                          .c_str());
  return 0;
}

json run_json(const std::string& cmd) {
  json last;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char line[4096];
    while (std::fgets(line, sizeof line, p)) {
      auto j = json::parse(line, nullptr, false);
      if (j.is_object()) last = j;
    }
    pclose(p);
  }
  return last;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, steps = 5;
  int64_t worker_vocab = 0;
  std::vector<int64_t> vocabs;
  std::string self = argv[0];
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--steps" && i + 1 < argc) steps = std::atoi(argv[++i]);
    else if (a == "--vocab" && i + 1 < argc) vocabs.push_back(std::atoll(argv[++i]));
    else if (a == "--worker" && i + 1 < argc) worker_vocab = std::atoll(argv[++i]);
    else {
      std::fprintf(stderr, "error: unknown argument '%s'\n", a.c_str());
      return 2;
    }
  }
  set_num_threads(threads);
  if (worker_vocab > 0) return worker(worker_vocab, steps);
  if (vocabs.empty()) vocabs = {256, 50257};

  double peak;
  {
    NoGradGuard ng;
    Generator gen(0);
    Tensor a = randn(Shape{2048, 2048}, gen), b = randn(Shape{2048, 2048}, gen);
    for (int i = 0; i < 2; ++i) matmul(a, b);
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 5; ++i) matmul(a, b);
    peak = 5 * 2.0 * 2048.0 * 2048 * 2048 /
           std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 1e9;
  }
  std::printf("# gemm backend: %s\n# measured sgemm peak %.0f GFLOP/s; GPT n_layer %lld n_head %lld "
              "n_embd %lld block %lld batch %lld, %d threads, median of %d steps\n",
              gemm_backend_description().c_str(), peak, (long long)kLayers, (long long)kHeads,
              (long long)kEmbd, (long long)kBlock, (long long)kBatch, threads, steps);
  std::printf("\n| vocab | impl | ms/step | tokens/s | GFLOP/s | %% of sgemm peak | peak RSS MiB | tokens/s vs PyTorch |\n");
  std::printf("|---:|---|---:|---:|---:|---:|---:|---:|\n");
  for (int64_t V : vocabs) {
    const std::string n = std::to_string(threads), s = std::to_string(steps), v = std::to_string(V);
    json ours = run_json(self + " --worker " + v + " --threads " + n + " --steps " + s);
    json torch = run_json("env -u OPENBLAS_CORETYPE /usr/bin/python3 " + std::string(CFORMER_SOURCE_DIR) +
                          "/tools/golden/gpt_twin.py bench --n-layer 6 --n-head 6 --n-embd 384 "
                          "--block-size 256 --batch 8 --vocab " + v + " --threads " + n + " --steps " + s);
    const double flops = step_flops(V);
    for (const json* r : {&ours, &torch}) {
      if (!r->contains("ms_per_step")) {
        std::printf("| %lld | %s | failed | | | | | |\n", (long long)V, r == &ours ? "cformer" : "pytorch");
        continue;
      }
      const double ms = (*r)["ms_per_step"], tps = (*r)["tokens_per_s"];
      const double gf = flops / (ms / 1e3) / 1e9;
      const double ratio = torch.contains("tokens_per_s") ? tps / torch["tokens_per_s"].get<double>() : NAN;
      std::printf("| %lld | %s | %.0f | %.0f | %.0f | %.0f%% | %.0f | %.2fx |\n", (long long)V,
                  (*r)["impl"].get<std::string>().c_str(), ms, tps, gf, 100.0 * gf / peak,
                  (*r)["peak_rss_mib"].get<double>(), ratio);
    }
  }
  return 0;
}
