#include "train/longdoc_train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>

#include <nlohmann/json.hpp>

#include "cformer/autograd.h"
#include "cformer/io.h"
#include "cformer/listops.h"
#include "cformer/ops.h"
#include "cformer/optim.h"
#include "cformer/runtime.h"
#include "train/checkpoint.h"
#include "train/report.h"
#include "util/check.h"

namespace cf::train {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

std::ifstream open_input(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  CF_CHECK(f.good(), IoError, path, ": cannot open (ListOps: cformer data listops --out data/listops; spam bytes: scripts/prepare_data.sh; or give --data-dir)");
  return f;
}

}  // namespace

LongDocDataset load_listops(const std::string& path) {
  std::ifstream f = open_input(path);
  LongDocDataset ds;
  ds.vocab_size = 17;
  ds.pad_id = 0, ds.cls_id = 1;
  for (int c = 0; c < 10; ++c) ds.class_names.push_back(std::to_string(c));
  std::string line;
  int64_t line_no = 0;
  while (std::getline(f, line)) {
    ++line_no;
    if (line_no == 1) {
      CF_CHECK(line.rfind("Source\tTarget", 0) == 0, FormatError, path,
               ":1: expected the header 'Source\\tTarget'");
      continue;
    }
    if (line.empty()) continue;
    const size_t tab = line.rfind('\t');
    CF_CHECK(tab != std::string::npos, FormatError, path, ":", line_no, ": no tab");
    const std::string target = line.substr(tab + 1);
    CF_CHECK(target.size() == 1 && target[0] >= '0' && target[0] <= '9', FormatError, path, ":",
             line_no, ": the target must be a digit 0-9, got '", target, "'");
    LongDocExample ex;
    ex.label = target[0] - '0';
    std::vector<int64_t> lra;
    try {
      lra = data::listops_encode(line.substr(0, tab));
    } catch (const FormatError& e) {
      CF_THROW(FormatError, path, ":", line_no, ": ", e.what());
    }
    // LRA ids: <pad> 0, "(" 1, ")" 2, then "]", operators, digits from 3: drop the parentheses.
    for (int64_t id : lra)
      if (id >= 3) ex.ids.push_back(static_cast<int32_t>(id - 1));
    CF_CHECK(!ex.ids.empty(), FormatError, path, ":", line_no, ": empty expression");
    ds.examples.push_back(std::move(ex));
  }
  CF_CHECK(line_no >= 1, FormatError, path, ": empty file");
  return ds;
}

LongDocDataset load_spam_bytes(const std::string& path, int64_t max_bytes) {
  CF_CHECK(max_bytes >= 1, ValueError, "load_spam_bytes: max_bytes must be positive, got ", max_bytes);
  std::ifstream f = open_input(path);
  LongDocDataset ds;
  ds.vocab_size = 258;
  ds.pad_id = 256, ds.cls_id = 257;
  ds.class_names = {"ham", "spam"};
  std::string line;
  CF_CHECK(std::getline(f, line) && line == "cformer-bytes-v1", FormatError, path,
           ": not a cformer-bytes-v1 file (tools/data/make_spam_bytes.py writes them)");
  std::string data;
  int64_t record = 0;
  while (std::getline(f, line)) {
    ++record;
    const size_t sp = line.find(' ');
    CF_CHECK(sp != std::string::npos, FormatError, path, ": record ", record,
             ": expected '<label> <bytes>', got '", line.substr(0, 40), "'");
    const std::string label = line.substr(0, sp);
    CF_CHECK(label == "ham" || label == "spam", FormatError, path, ": record ", record,
             ": unknown label '", label, "' (ham, spam)");
    int64_t n = -1;
    try {
      size_t used = 0;
      n = std::stoll(line.substr(sp + 1), &used);
      if (used != line.size() - sp - 1) n = -1;
    } catch (const std::exception&) {
      n = -1;
    }
    CF_CHECK(n >= 0 && n < (int64_t{1} << 31), FormatError, path, ": record ", record,
             ": bad byte count '", line.substr(sp + 1), "'");
    data.resize(static_cast<size_t>(n) + 1);
    f.read(data.data(), n + 1);
    CF_CHECK(f.gcount() == n + 1 && data[static_cast<size_t>(n)] == '\n', FormatError, path,
             ": record ", record, ": truncated (", n, " bytes announced)");
    LongDocExample ex;
    ex.label = label == "spam" ? 1 : 0;
    const int64_t keep = std::min(n, max_bytes);
    ex.ids.resize(static_cast<size_t>(keep));
    for (int64_t i = 0; i < keep; ++i)
      ex.ids[static_cast<size_t>(i)] = static_cast<unsigned char>(data[static_cast<size_t>(i)]);
    if (ex.ids.empty()) continue;
    ds.examples.push_back(std::move(ex));
  }
  return ds;
}

LongDocBatch make_longdoc_batch(const LongDocDataset& ds, const std::vector<int64_t>& idx,
                                int64_t max_len) {
  const int64_t B = static_cast<int64_t>(idx.size());
  int64_t n = 1;
  for (int64_t i : idx)
    n = std::max(n, 1 + std::min<int64_t>(static_cast<int64_t>(ds.examples.at(i).ids.size()), max_len - 1));
  LongDocBatch b;
  b.ids = full(Shape{B, n}, static_cast<double>(ds.pad_id), DType::i64);
  Tensor pad = zeros(Shape{B, n}, DType::b8);
  b.labels = empty(Shape{B}, DType::i64);
  int64_t* ids = b.ids.data_ptr<int64_t>();
  bool* p = pad.data_ptr<bool>();
  int64_t* y = b.labels.data_ptr<int64_t>();
  bool any_pad = false;
  for (int64_t r = 0; r < B; ++r) {
    const LongDocExample& e = ds.examples.at(idx[r]);
    const int64_t len = std::min<int64_t>(static_cast<int64_t>(e.ids.size()), max_len - 1);
    ids[r * n] = ds.cls_id;
    for (int64_t t = 0; t < len; ++t) ids[r * n + 1 + t] = e.ids[static_cast<size_t>(t)];
    for (int64_t t = 1 + len; t < n; ++t) p[r * n + t] = true, any_pad = true;
    y[r] = e.label;
  }
  if (any_pad) b.padding = pad;
  return b;
}

LongDocEval evaluate_longdoc(models::LongDocClassifier& model, const LongDocDataset& ds,
                             int64_t limit, int64_t batch) {
  const int64_t n = limit > 0 ? std::min<int64_t>(limit, ds.examples.size())
                              : static_cast<int64_t>(ds.examples.size());
  // Sorted by length so that batches pad little; the result does not depend on the order.
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&ds](int64_t a, int64_t b) {
    return ds.examples[a].ids.size() < ds.examples[b].ids.size();
  });
  NoGradGuard ng;
  const bool was_training = model.is_training();
  model.eval();
  LongDocEval r;
  double loss = 0.0;
  int64_t ok = 0;
  for (int64_t s = 0; s < n; s += batch) {
    std::vector<int64_t> idx(order.begin() + s, order.begin() + std::min(n, s + batch));
    const LongDocBatch b = make_longdoc_batch(ds, idx, model.config.max_len);
    const Tensor logits = model.forward(b.ids, b.padding);
    loss += cross_entropy(logits, b.labels, {}, -100, Reduction::sum).item();
    const std::vector<int64_t> pred = argmax(logits, 1).to_vector<int64_t>();
    const std::vector<int64_t> y = b.labels.to_vector<int64_t>();
    for (size_t i = 0; i < pred.size(); ++i) ok += pred[i] == y[i];
  }
  model.train(was_training);
  r.n = n;
  r.accuracy = n > 0 ? static_cast<double>(ok) / static_cast<double>(n) : 0.0;
  r.loss = n > 0 ? loss / static_cast<double>(n) : 0.0;
  return r;
}

namespace {

LongDocDataset load_split(const LongDocTrainOptions& o, const std::string& split) {
  if (o.task == "listops")
    return load_listops((o.data_dir.empty() ? std::string("data/listops") : o.data_dir) + "/" +
                        split + ".tsv");
  if (o.task == "spam")
    return load_spam_bytes(
        (o.data_dir.empty() ? std::string("data/spam_bytes") : o.data_dir) + "/" + split + ".bin",
        o.max_bytes);
  CF_THROW(ValueError, "train longdoc: unknown --task '", o.task, "' (listops, spam)");
}

// Batches of similar lengths: the epoch's shuffled order is cut into pools of 50 batches, each
// pool sorted by length and cut into batches, and the batches shuffled.
std::vector<std::vector<int64_t>> epoch_batches(const LongDocDataset& ds, int64_t n, int64_t batch,
                                                std::mt19937_64& rng) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  const int64_t pool = batch * 50;
  std::vector<std::vector<int64_t>> out;
  for (int64_t s = 0; s < n; s += pool) {
    auto first = order.begin() + s, last = order.begin() + std::min(n, s + pool);
    std::stable_sort(first, last, [&ds](int64_t a, int64_t b) {
      return ds.examples[a].ids.size() < ds.examples[b].ids.size();
    });
    for (auto it = first; it < last; it += std::min<int64_t>(batch, last - it))
      out.emplace_back(it, it + std::min<int64_t>(batch, last - it));
  }
  std::shuffle(out.begin(), out.end(), rng);
  return out;
}

}  // namespace

LongDocSummary train_longdoc(const LongDocTrainOptions& o, std::ostream& out) {
  namespace fs = std::filesystem;
  CF_CHECK(o.batch >= 1 && o.max_steps >= 1 && o.eval_every >= 1, ValueError,
           "train longdoc: --batch, --steps and --eval-every must be >= 1");
  CF_CHECK(o.lr > 0.0, ValueError, "train longdoc: --lr must be positive, got ", o.lr);
  CF_CHECK(o.task != "spam" || o.max_bytes >= 1, ValueError,
           "train longdoc: --max-bytes must be positive, got ", o.max_bytes);
  const LongDocDataset train = load_split(o, "train"), valid = load_split(o, "valid");
  const int64_t n_train = o.train_limit > 0
                              ? std::min<int64_t>(o.train_limit, train.examples.size())
                              : static_cast<int64_t>(train.examples.size());
  CF_CHECK(n_train >= 1 && !valid.examples.empty(), ValueError,
           "train longdoc: no training or validation examples");
  int64_t longest = 0;
  for (const auto& e : train.examples) longest = std::max<int64_t>(longest, e.ids.size());

  models::LongDocConfig c;
  c.vocab_size = train.vocab_size;
  c.pad_id = train.pad_id, c.cls_id = train.cls_id;
  c.max_len = 1 + (o.task == "spam" ? o.max_bytes : longest);
  c.num_classes = static_cast<int64_t>(train.class_names.size());
  c.d_model = o.d_model, c.num_heads = o.num_heads, c.num_layers = o.num_layers;
  c.ffn_dim = o.ffn_dim, c.dropout = o.dropout;
  const nn::AttentionKernelOptions& a = o.attention;
  c.attention = a.kind, c.attention_window = a.attention_window, c.dilation = a.dilation;
  c.sparse_layout = a.sparse_layout, c.block_size = a.block_size;
  c.local_blocks = a.local_blocks, c.global_blocks = a.global_blocks;
  c.window_blocks = a.window_blocks, c.random_blocks = a.random_blocks;
  c.nb_features = a.nb_features, c.redraw_interval = a.redraw_interval;
  models::LongDocClassifier model(c, o.seed);
  model.train();
  optim::AdamW adamw(optim::weight_decay_groups(model.named_parameters(), o.weight_decay),
                     optim::AdamOptions{o.lr, 0.9, 0.98, 1e-8, o.weight_decay});
  fs::create_directories(o.out_dir);
  MetricsLog metrics(o.out_dir + "/metrics.jsonl", false);
  const json options{{"task", o.task},          {"max_bytes", o.max_bytes},
                     {"batch", o.batch},        {"steps", o.max_steps},
                     {"minutes", o.minutes},    {"lr", o.lr},
                     {"warmup", o.warmup},      {"weight_decay", o.weight_decay},
                     {"grad_clip", o.grad_clip}, {"seed", o.seed},
                     {"train_limit", o.train_limit}, {"threads", get_num_threads()}};
  auto save = [&model, &c, &train, &options](const std::string& path, int64_t step, double val_acc) {
    Checkpoint ck;
    ck.model = model.state_dict();
    ck.meta = {{"model_type", "longdoc"}, {"config", json::parse(c.to_json())},
               {"class_names", train.class_names}, {"options", options},
               {"step", step}, {"val_accuracy", val_acc}};
    save_checkpoint(path, ck);
  };

  out << "cformer train longdoc: " << model.num_parameters() << " parameters, config "
      << c.to_json() << "\n"
      << o.task << ": " << n_train << " training / " << valid.examples.size()
      << " validation documents, longest " << longest << " tokens, batch " << o.batch
      << ", threads " << get_num_threads() << std::endl;
  const auto t0 = Clock::now();
  auto elapsed = [t0]() { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  std::mt19937_64 rng(o.seed);
  LongDocSummary s;
  s.best_step = -1;
  int64_t last_eval = -1;
  std::vector<std::vector<int64_t>> batches;
  size_t next = 0;
  int64_t epoch = 0, tokens = 0, window_tokens = 0, window_n = 0;
  double window_loss = 0.0, window_t = 0.0;
  auto evaluate = [&](int64_t step) {
    last_eval = step;
    const LongDocEval v = evaluate_longdoc(model, valid, o.val_limit, o.batch);
    metrics.write(json{{"step", step}, {"val_loss", v.loss}, {"val_accuracy", v.accuracy},
                       {"val_n", v.n}, {"elapsed", elapsed()}}.dump());
    if (o.progress) std::fprintf(stderr, "\n");
    out << "step " << step << " (" << format_duration(elapsed()) << "): validation loss " << v.loss
        << ", accuracy " << v.accuracy * 100 << " % (" << v.n << " documents)" << std::endl;
    if (s.best_step < 0 || v.accuracy > s.best_val_accuracy) {
      s.best_val_accuracy = v.accuracy, s.best_step = step;
      save(o.out_dir + "/best.safetensors", step, v.accuracy);
    }
  };
  int64_t step = 0;
  for (; step < o.max_steps; ++step) {
    if (o.minutes > 0.0 && elapsed() >= o.minutes * 60.0) break;
    if (next >= batches.size()) {
      batches = epoch_batches(train, n_train, o.batch, rng);
      next = 0;
      ++epoch;
    }
    const LongDocBatch b = make_longdoc_batch(train, batches[next++], c.max_len);
    const double lr = step < o.warmup
                          ? o.lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup)
                          : o.lr * std::max(0.0, static_cast<double>(o.max_steps - step)) /
                                std::max<double>(1.0, static_cast<double>(o.max_steps - o.warmup));
    adamw.set_lr(lr);
    Tensor loss = cross_entropy(model.forward(b.ids, b.padding), b.labels);
    adamw.zero_grad();
    loss.backward();
    double gnorm = 0.0;
    if (o.grad_clip > 0.0) gnorm = optim::clip_grad_norm_(model.parameters(), o.grad_clip);
    adamw.step();
    const double l = loss.item();
    CF_CHECK(std::isfinite(l), ValueError, "train longdoc: the loss became ", l, " at step ",
             step + 1, "; lower --lr");
    int64_t real = b.ids.numel();
    if (b.padding.defined()) real -= static_cast<int64_t>(sum(b.padding.to(DType::i64)).item());
    tokens += real, window_tokens += real;
    window_loss += l, ++window_n;
    if ((step + 1) % 10 == 0 || step + 1 == o.max_steps) {
      const double now = elapsed();
      const double tps = static_cast<double>(window_tokens) / std::max(1e-9, now - window_t);
      metrics.write(json{{"step", step + 1}, {"epoch", epoch}, {"loss", window_loss / window_n},
                         {"lr", lr}, {"grad_norm", gnorm}, {"tokens_per_s", tps},
                         {"elapsed", now}}.dump());
      if (o.progress) {
        std::fprintf(stderr, "\r%s   ",
                     progress_line(step + 1, o.max_steps, window_loss / window_n, tps, now,
                                   (now / (step + 1)) * (o.max_steps - step - 1)).c_str());
        std::fflush(stderr);
      }
      window_loss = 0.0, window_n = 0, window_tokens = 0, window_t = now;
    }
    if ((step + 1) % o.eval_every == 0) evaluate(step + 1);
  }
  s.steps = step;
  if (last_eval != step) evaluate(step);
  save(o.out_dir + "/last.safetensors", step, s.best_val_accuracy);
  s.elapsed_s = elapsed();
  s.tokens_per_s = static_cast<double>(tokens) / std::max(1e-9, s.elapsed_s);

  // Test accuracy of the best-validation checkpoint; the full validation set as well.
  const double train_s = s.elapsed_s;
  Checkpoint best = load_checkpoint(o.out_dir + "/best.safetensors");
  model.load_state_dict(best.model, true);
  const LongDocDataset test = load_split(o, "test");
  const LongDocEval tv = evaluate_longdoc(model, test, 0, o.batch);
  const LongDocEval fv = evaluate_longdoc(model, valid, 0, o.batch);
  s.test_accuracy = tv.accuracy;
  const json result{{"task", o.task},
                    {"max_bytes", o.task == "spam" ? o.max_bytes : 0},
                    {"attention", c.attention},
                    {"config", json::parse(c.to_json())},
                    {"options", options},
                    {"parameters", model.num_parameters()},
                    {"steps", step},
                    {"epochs", static_cast<double>(step * o.batch) / static_cast<double>(n_train)},
                    {"train_seconds", train_s},
                    {"tokens_per_s", s.tokens_per_s},
                    {"best_step", s.best_step},
                    {"valid_accuracy", fv.accuracy},
                    {"valid_n", fv.n},
                    {"test_accuracy", tv.accuracy},
                    {"test_loss", tv.loss},
                    {"test_n", tv.n}};
  metrics.write(json{{"step", step}, {"final", true}, {"test_accuracy", tv.accuracy},
                     {"valid_accuracy", fv.accuracy}}.dump());
  {
    const std::string text = result.dump(2) + "\n";
    io::write_file_atomic(o.out_dir + "/result.json",
                          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()),
                                                   text.size()));
  }
  std::vector<CurvePoint> train_curve, val_curve;
  read_curves(o.out_dir + "/metrics.jsonl", "loss", 1, train_curve, val_curve);
  write_loss_curve_svg(o.out_dir + "/loss.svg", train_curve, val_curve,
                       "cformer longdoc (" + c.attention + ") on " + o.task);
  out << "done: " << step << " steps in " << format_duration(train_s) << ", "
      << static_cast<int64_t>(s.tokens_per_s) << " tokens/s; best validation step " << s.best_step
      << ": validation accuracy " << fv.accuracy * 100 << " % (" << fv.n << "), test accuracy "
      << tv.accuracy * 100 << " % (" << tv.n << " documents); " << o.out_dir << "/result.json\n";
  return s;
}

}  // namespace cf::train
