// cformer bench attention: forward + backward time and peak tensor memory of one pre-norm
// Transformer block (width 256, 4 heads, FFN 1024, batch 1, f32) for each attention architecture
// and sequence length, the longest length whose peak fits a memory budget (searched by doubling,
// never running a length whose predicted peak exceeds the budget), and markdown tables.
// Rows and method: docs/attention-benchmark.md.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cformer/cformer.h"
#include "cformer/efficient_attention.h"
#include "cformer/io.h"
#include "cformer/memory.h"
#include "cformer/runtime.h"
#include "cli/commands.h"
#include "util/check.h"

namespace cf::cli {
namespace {

constexpr int64_t kWidth = 256, kHeads = 4, kFfn = 1024, kBlock = 64, kExperts = 8;

enum class Arch { naive, memory_efficient, longformer, bigbird, sparse_fixed, performer, moe };

struct RowSpec {
  Arch arch;
  const char* id;          // --rows name, --accuracy key
  const char* name;        // table label
  double memory_exponent;  // growth of the peak with N, for the prediction
  double time_exponent;    // growth of the step time with N
};

const std::vector<RowSpec>& row_specs() {
  static const std::vector<RowSpec> specs = {
      {Arch::naive, "naive", "full attention (naive, (N, N) scores)", 2, 2},
      {Arch::memory_efficient, "memory-efficient", "exact memory-efficient", 1, 2},
      {Arch::longformer, "longformer", "Longformer (window 2 x 256, 1 global)", 1, 1},
      {Arch::bigbird, "bigbird", "BigBird (block 64: 3 window, 2 global, 3 random)", 1, 1},
      {Arch::sparse_fixed, "sparse-fixed", "Sparse Transformer fixed (block 64, l 256, c 64)", 2,
       2},
      {Arch::performer, "performer", "Performer (FAVOR+, 256 features)", 1, 1},
      {Arch::moe, "moe", "MoE FFN (8 experts, top-1) + memory-efficient", 1, 2},
  };
  return specs;
}

const RowSpec& spec_of(const std::string& id) {
  for (const RowSpec& s : row_specs())
    if (id == s.id) return s;
  CF_THROW(ValueError, "bench attention: --rows: unknown row '", id, "'");
}

/// x (1, N, D) -> (1, N, D): the row's self-attention including its output projection.
class BenchAttention : public nn::UnaryModule {
 public:
  BenchAttention(Arch arch, Generator& gen) : UnaryModule("BenchAttention"), arch_(arch) {
    switch (arch) {
      case Arch::naive:
      case Arch::memory_efficient:
      case Arch::moe: {
        nn::EfficientSelfAttentionOptions o;
        o.kernel.kind = arch == Arch::naive ? "dense" : "memory_efficient";
        mha_ = register_module(
            "attn", std::make_shared<nn::EfficientSelfAttention>(kWidth, kHeads, gen, o));
        break;
      }
      case Arch::longformer:
        longformer_ = register_module(
            "attn", std::make_shared<nn::LongformerSelfAttention>(kWidth, kHeads, 512, gen));
        out_proj_ =
            register_module("out_proj", std::make_shared<nn::Linear>(kWidth, kWidth, true, gen));
        break;
      case Arch::bigbird:
      case Arch::sparse_fixed:
        in_proj_ =
            register_module("in_proj", std::make_shared<nn::Linear>(kWidth, 3 * kWidth, true, gen));
        out_proj_ =
            register_module("out_proj", std::make_shared<nn::Linear>(kWidth, kWidth, true, gen));
        break;
      case Arch::performer: {
        nn::PerformerAttentionOptions o;
        o.nb_features = 256;
        o.redraw_interval = 0;
        performer_ = register_module(
            "attn", std::make_shared<nn::PerformerAttention>(kWidth, kHeads, gen, o));
        break;
      }
    }
  }

  Tensor forward(const Tensor& x) override {
    const int64_t N = x.size(1);
    switch (arch_) {
      case Arch::naive:
      case Arch::memory_efficient:
      case Arch::moe:
        return mha_->forward(x);
      case Arch::longformer: {
        Tensor global = zeros(Shape{1, N}, DType::b8);
        global.narrow(1, 0, 1).fill_(1.0);  // the [CLS]-like first token
        return out_proj_->forward(longformer_->forward(x, global));
      }
      case Arch::bigbird:
      case Arch::sparse_fixed: {
        const int64_t blocks = (N + kBlock - 1) / kBlock;
        if (blocks != layout_blocks_) {  // built once per length, outside the timed steps
          Generator layout_gen(7);
          layout_ = arch_ == Arch::bigbird ? bigbird_layout(blocks, 3, 2, 3, layout_gen, kHeads)
                                           : sparse_fixed_layout(blocks, 4, 1, false);
          layout_blocks_ = blocks;
        }
        const std::vector<Tensor> qkv = chunk(in_proj_->forward(x), 3, -1);
        auto heads = [N](const Tensor& t) {
          return t.view(Shape{1, N, kHeads, kWidth / kHeads}).transpose(1, 2);
        };
        const Tensor o =
            block_sparse_attention(heads(qkv[0]), heads(qkv[1]), heads(qkv[2]), layout_, kBlock);
        return out_proj_->forward(o.transpose(1, 2).reshape(Shape{1, N, kWidth}));
      }
      case Arch::performer:
        return performer_->forward(x);
    }
    CF_THROW(ValueError, "bench attention: unknown architecture");
  }

 private:
  Arch arch_;
  std::shared_ptr<nn::EfficientSelfAttention> mha_;
  std::shared_ptr<nn::LongformerSelfAttention> longformer_;
  std::shared_ptr<nn::PerformerAttention> performer_;
  std::shared_ptr<nn::Linear> in_proj_, out_proj_;
  Tensor layout_;
  int64_t layout_blocks_ = -1;
};

/// x -> h = x + Attn(LN1(x)) -> h + FFN(LN2(h)); FFN = fc1 (1024), GELU, fc2, or the MoE.
class BenchBlock : public nn::Module {
 public:
  BenchBlock(Arch arch, Generator& gen) : Module("BenchBlock") {
    ln1 = register_module("ln1", std::make_shared<nn::LayerNorm>(Shape{kWidth}));
    attn = register_module("attn", std::make_shared<BenchAttention>(arch, gen));
    ln2 = register_module("ln2", std::make_shared<nn::LayerNorm>(Shape{kWidth}));
    if (arch == Arch::moe) {
      nn::MoEOptions o;
      o.top_k = 1;
      ffn = register_module("ffn",
                            std::make_shared<nn::MoEFeedForward>(kWidth, kFfn, kExperts, gen, o));
    } else {
      ffn = register_module("ffn", std::make_shared<nn::MLP>(kWidth, kFfn, kWidth, gen));
    }
  }
  Tensor forward(const Tensor& x) {
    const Tensor h = add(x, attn->forward(ln1->forward(x)));
    return add(h, ffn->forward(ln2->forward(h)));
  }
  std::shared_ptr<nn::LayerNorm> ln1, ln2;
  std::shared_ptr<BenchAttention> attn;
  std::shared_ptr<nn::UnaryModule> ffn;
};

struct Measurement {
  int64_t n = 0;
  double ms = 0;     // median step time
  double bytes = 0;  // peak tensor bytes in use during a step
  double fixed = 0;  // bytes that do not grow with N: the parameters and their gradients
};

/// Parameters and their gradients, f32.
double fixed_bytes(const BenchBlock& block) {
  double bytes = 0;
  for (const Tensor& p : block.parameters()) bytes += 2.0 * 4.0 * static_cast<double>(p.numel());
  return bytes;
}

Measurement measure(BenchBlock& block, int64_t N, int repeats) {
  Generator gen(static_cast<uint64_t>(N));
  const Tensor x = randn(Shape{1, N, kWidth}, gen);
  const Tensor r = randn(Shape{1, N, kWidth}, gen);  // the fixed projection of the loss
  auto step = [&block, &x, &r]() { sum(mul(block.forward(x), r)).backward(); };
  block.zero_grad();
  step();  // warm-up
  std::vector<double> ms;
  size_t peak = 0;
  for (int i = 0; i < repeats; ++i) {
    block.zero_grad();  // gradients are allocated inside the measured step
    reset_peak_memory_stats();
    const auto t0 = std::chrono::steady_clock::now();
    step();
    const auto t1 = std::chrono::steady_clock::now();
    peak = std::max(peak, memory_stats().peak_bytes_in_use);
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  block.zero_grad();
  std::sort(ms.begin(), ms.end());
  return {N, ms[ms.size() / 2], static_cast<double>(peak), fixed_bytes(block)};
}

/// Extrapolates the last measurement to N: time as ms * (N / n_last)^p; the peak as
/// fixed + (peak - fixed) * (N / n_last)^p, fixed = parameters + gradients. p is the larger of the
/// model's exponent and the one observed over the last two measurements (capped at 3 against
/// timing noise): conservative for a + b N^p growth with a >= 0. Without a measurement: no time,
/// and the fixed bytes as the (lower bound of the) peak.
double predict(const std::vector<Measurement>& done, int64_t N, double model_exponent, bool time,
               double fixed_bytes) {
  if (done.empty()) return time ? 0.0 : fixed_bytes;
  const Measurement& last = done.back();
  auto value = [time](const Measurement& m) { return time ? m.ms : m.bytes - m.fixed; };
  double p = model_exponent;
  if (done.size() >= 2) {
    const Measurement& prev = done[done.size() - 2];
    if (value(prev) > 0 && value(last) > 0 && last.n > prev.n)
      p = std::max(p, std::min(3.0, std::log(value(last) / value(prev)) /
                                        std::log(static_cast<double>(last.n) / prev.n)));
  }
  const double ratio = static_cast<double>(N) / last.n;
  return (time ? 0.0 : last.fixed) + std::max(0.0, value(last)) * std::pow(ratio, p);
}

enum class State { run, predicted_over_budget, skipped_time, after_over_budget };

struct Cell {
  State state = State::run;
  Measurement m;
  double predicted = 0;  // bytes (predicted_over_budget) or seconds (skipped_time)
};

struct RowResult {
  const RowSpec* spec = nullptr;
  std::map<int64_t, Cell> cells;
  std::string max_length;  // the summary's text
};

std::string with_commas(int64_t v) {
  std::string s = std::to_string(v), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

/// Three significant digits, shortest form: 8 -> "8", 0.01 -> "0.01", 123.4 -> "123".
std::string general(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.3g", v);
  return buf;
}

std::string mib(double bytes) {
  return fixed(bytes / (1024.0 * 1024.0), 1);
}

/// "16K" for multiples of 1024, else the number with commas.
std::string short_length(int64_t n) {
  return n % 1024 == 0 ? std::to_string(n / 1024) + "K" : with_commas(n);
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      std::string v = line.substr(line.find(':') + 1);
      v.erase(0, v.find_first_not_of(' '));
      return v;
    }
  return "unknown";
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

struct BenchOpts {
  std::vector<int64_t> lengths = {512, 1024, 2048, 4096, 8192, 16384, 32768, 65536};
  std::vector<std::string> rows = {"naive",   "memory-efficient", "longformer",
                                   "bigbird", "performer",        "moe"};
  int repeats = 3;
  int threads = 0;
  double budget_gib = 8.0;
  int64_t max_search = 262144;
  double max_seconds = 60.0;
  std::string out, accuracy;
};

/// Runs one row over the candidate lengths: predicts before each length, stops at the first one
/// predicted (or measured) over the budget, skips those predicted slower than max_seconds.
RowResult run_row(const RowSpec& spec, const std::vector<int64_t>& candidates, const BenchOpts& o) {
  RowResult res;
  res.spec = &spec;
  const double budget = o.budget_gib * 1024.0 * 1024.0 * 1024.0;
  Generator gen(42);
  BenchBlock block(spec.arch, gen);
  std::vector<Measurement> done;
  int64_t fit = 0;  // the largest length measured within the budget
  std::string stop_note;
  bool stopped = false, time_limited = false;
  for (int64_t N : candidates) {
    Cell c;
    const double mem = predict(done, N, spec.memory_exponent, false, fixed_bytes(block));
    const double secs = predict(done, N, spec.time_exponent, true, 0.0) / 1e3;
    if (stopped) {  // every longer length is over the budget or slower still
      c.state = time_limited ? State::skipped_time : State::after_over_budget;
      c.predicted = time_limited ? secs : mem;
      res.cells[N] = c;
      continue;
    }
    if (mem > budget) {
      c.state = State::predicted_over_budget;
      c.predicted = mem;
      stop_note = with_commas(N) + " predicted " + mib(mem) + " MiB, not run";
      stopped = true;
      std::printf("  %-18s N=%-8s predicted peak %s MiB > budget: not run\n", spec.id,
                  with_commas(N).c_str(), mib(mem).c_str());
    } else if (secs > o.max_seconds) {
      c.state = State::skipped_time;
      c.predicted = secs;
      stop_note = with_commas(N) + " skipped: predicted " + general(secs) + " s";
      stopped = time_limited = true;
      std::printf("  %-18s N=%-8s skipped (predicted %s s)\n", spec.id, with_commas(N).c_str(),
                  general(secs).c_str());
    } else {
      c.m = measure(block, N, o.repeats);
      empty_cache();  // give the cached blocks back before the next length
      done.push_back(c.m);
      std::printf("  %-18s N=%-8s %10s ms %10s MiB\n", spec.id, with_commas(N).c_str(),
                  fixed(c.m.ms, 1).c_str(), mib(c.m.bytes).c_str());
      if (c.m.bytes <= budget) {
        fit = std::max(fit, N);
      } else {
        stop_note = with_commas(N) + " measured " + mib(c.m.bytes) + " MiB";
        stopped = true;
      }
    }
    std::fflush(stdout);
    res.cells[N] = c;
  }
  const std::string fit_text = fit > 0 ? with_commas(fit) : "< " + with_commas(candidates.front());
  if (!stopped || time_limited)
    res.max_length = (fit > 0 ? ">= " : "") + fit_text;
  else
    res.max_length = fit_text;
  if (!stop_note.empty()) res.max_length += " (" + stop_note + ")";
  return res;
}

std::string table_cell(const Cell& c, const Cell* naive) {
  switch (c.state) {
    case State::run: {
      std::string speed = "n/a";
      if (naive && naive->state == State::run && c.m.ms > 0)
        speed = fixed(naive->m.ms / c.m.ms, 2) + "x";
      return fixed(c.m.ms, 1) + " | " + mib(c.m.bytes) + " | " + speed;
    }
    case State::predicted_over_budget:
      return "not run: predicted " + mib(c.predicted) + " MiB > budget | - | -";
    case State::skipped_time:
      return "skipped (predicted " + general(c.predicted) + " s) | - | -";
    case State::after_over_budget:
      return "not run (over budget) | - | -";
  }
  return "";
}

std::map<std::string, std::string> read_accuracy(const std::string& path) {
  std::map<std::string, std::string> acc;
  if (path.empty()) return acc;
  std::vector<uint8_t> bytes;
  try {
    bytes = io::read_file(path);
  } catch (const Error& e) {
    CF_THROW(IoError, "bench attention: --accuracy: ", e.what());
  }
  const nlohmann::json j = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  CF_CHECK(j.is_object(), FormatError, "bench attention: --accuracy: ", path,
           " must hold a JSON object {row: accuracy}");
  for (const auto& [key, value] : j.items()) {
    const RowSpec* found = nullptr;
    for (const RowSpec& s : row_specs())
      if (key == s.id || key == s.name) found = &s;
    CF_CHECK(found != nullptr, ValueError, "bench attention: --accuracy: unknown row '", key,
             "' in ", path);
    CF_CHECK(value.is_string() || value.is_number(), FormatError,
             "bench attention: --accuracy: the value of '", key, "' must be a string or number");
    acc[found->id] = value.is_string() ? value.get<std::string>() : value.dump();
  }
  return acc;
}

int run_bench(const BenchOpts& o) {
  CF_CHECK(!o.lengths.empty(), ValueError,
           "bench attention: --lengths must list at least one length");
  for (int64_t n : o.lengths)
    CF_CHECK(n >= 1 && n <= (int64_t{1} << 24), ValueError,
             "bench attention: --lengths must be in [1, 16777216], got ", n);
  CF_CHECK(!o.rows.empty(), ValueError, "bench attention: --rows must list at least one row");
  CF_CHECK(o.max_search <= (int64_t{1} << 24), ValueError,
           "bench attention: --max-search must be <= 16777216, got ", o.max_search);
  std::vector<const RowSpec*> rows;
  for (const std::string& id : o.rows) {
    const RowSpec* s = &spec_of(id);
    if (std::find(rows.begin(), rows.end(), s) == rows.end()) rows.push_back(s);
  }
  const std::map<std::string, std::string> accuracy = read_accuracy(o.accuracy);
  if (o.threads > 0) set_num_threads(o.threads);

  std::vector<int64_t> lengths = o.lengths;
  std::sort(lengths.begin(), lengths.end());
  lengths.erase(std::unique(lengths.begin(), lengths.end()), lengths.end());
  // Candidates: the table's lengths and the doubling search from min(512, smallest length).
  std::vector<int64_t> candidates = lengths;
  for (int64_t n = std::min<int64_t>(512, lengths.front()); n <= o.max_search; n *= 2)
    candidates.push_back(n);
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  const int64_t summary_n =
      std::find(lengths.begin(), lengths.end(), 16384) != lengths.end() ? 16384 : lengths.back();

  std::ostringstream md;
  md << "# cformer bench attention\n\n"
     << "GEMM backend: " << gemm_backend_description() << "; threads: " << get_num_threads()
     << "; CPU: " << cpu_model() << "; date: " << utc_now() << "\n\n"
     << "One pre-norm Transformer block (width " << kWidth << ", " << kHeads << " heads, FFN "
     << kFfn << ", GELU), batch 1, f32: forward + backward of sum(block(x) * R), R a fixed "
     << "random tensor, parameters requiring grad; median of " << o.repeats
     << " steps after a warm-up. Peak: tensor bytes in use (reset_peak_memory_stats before a "
     << "step, memory_stats().peak_bytes_in_use after; parameters, gradients, inputs and "
     << "activations), not the process RSS. Budget " << general(o.budget_gib)
     << " GiB, search up to " << with_commas(o.max_search) << ", at most "
     << fixed(o.max_seconds, 0) << " s per step.\n";
  std::string header = md.str();
  std::cout << header << "\n" << std::flush;

  std::vector<RowResult> results;
  for (const RowSpec* s : rows) results.push_back(run_row(*s, candidates, o));
  const RowResult* naive = nullptr;
  for (const RowResult& r : results)
    if (r.spec->arch == Arch::naive) naive = &r;
  auto naive_cell = [naive](int64_t n) -> const Cell* {
    if (!naive || !naive->cells.count(n)) return nullptr;
    return &naive->cells.at(n);
  };

  for (int64_t n : lengths) {
    md << "\n## N = " << with_commas(n) << "\n\n"
       << "| architecture | time (ms) | peak (MiB) | speedup vs naive |\n|---|---:|---:|---:|\n";
    for (const RowResult& r : results)
      md << "| " << r.spec->name << " | " << table_cell(r.cells.at(n), naive_cell(n)) << " |\n";
  }
  md << "\n## Summary\n\n| architecture | max length (" << general(o.budget_gib)
     << " GiB) | memory at " << short_length(summary_n) << " | speed at " << short_length(summary_n)
     << " vs naive | accuracy |\n|---|---|---:|---:|---|\n";
  for (const RowResult& r : results) {
    const Cell& c = r.cells.at(summary_n);
    const Cell* nc = naive_cell(summary_n);
    std::string memory = "n/a", speed = "n/a";
    if (c.state == State::run) {
      memory = mib(c.m.bytes) + " MiB";
      if (nc && nc->state == State::run) speed = fixed(nc->m.ms / c.m.ms, 2) + "x";
    }
    const auto a = accuracy.find(r.spec->id);
    md << "| " << r.spec->name << " | " << r.max_length << " | " << memory << " | " << speed
       << " | " << (a == accuracy.end() ? "n/a" : a->second) << " |\n";
  }
  const std::string text = md.str();
  std::cout << text.substr(header.size()) << std::flush;
  if (!o.out.empty())
    io::write_file_atomic(o.out, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  return 0;
}

}  // namespace

void add_bench_attention(CLI::App& app, Commands& cmds) {
  CLI::App* bench;
  try {
    bench = app.get_subcommand("bench");
  } catch (const CLI::OptionNotFound&) {
    bench = app.add_subcommand("bench", "Benchmarks");
    bench->require_subcommand(1);
  }
  CLI::App* sub = bench->add_subcommand(
      "attention",
      "Time and peak memory of a Transformer block per attention architecture and length");
  auto o = std::make_shared<BenchOpts>();
  std::vector<std::string> ids;
  for (const RowSpec& s : row_specs()) ids.push_back(s.id);
  sub->add_option("--lengths", o->lengths, "Sequence lengths of the tables (comma-separated)")
      ->delimiter(',')
      ->capture_default_str()
      ->check(positive());
  sub->add_option("--rows", o->rows, "Architectures (comma-separated)")
      ->delimiter(',')
      ->check(CLI::IsMember(ids))
      ->capture_default_str();
  sub->add_option("--repeats", o->repeats, "Timed steps per length (median)")
      ->capture_default_str()
      ->check(positive());
  sub->add_option("--threads", o->threads, "CPU threads (default: all cores)")->check(positive());
  sub->add_option("--budget-gib", o->budget_gib, "Memory budget of the max-length search")
      ->capture_default_str()
      ->check(positive());
  sub->add_option("--max-search", o->max_search, "Longest length the search tries")
      ->capture_default_str()
      ->check(positive());
  sub->add_option("--max-seconds", o->max_seconds,
                  "Skip a length whose predicted step time exceeds this")
      ->capture_default_str()
      ->check(positive());
  sub->add_option("--out", o->out, "Also write the markdown tables to this file");
  sub->add_option("--accuracy", o->accuracy,
                  "JSON file {row: accuracy} for the summary's accuracy column");
  cmds.entries.emplace_back(sub, [o]() { return run_bench(*o); });
}

}  // namespace cf::cli
