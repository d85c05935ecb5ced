// `cformer eval longdoc`: accuracy, per-class accuracy and the confusion matrix of a checkpoint
// written by `cformer train longdoc` on a split of its task (src/train/longdoc_train.h).
#include <cstdio>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cformer/autograd.h"
#include "cformer/io.h"
#include "cformer/ops.h"
#include "cli/commands.h"
#include "train/checkpoint.h"
#include "train/longdoc_train.h"
#include "util/check.h"

namespace cf::cli {
namespace {

struct EvalLongDocOptions {
  std::string model, data_dir, split = "test", json;
  int64_t batch = 32;
};

int run(const EvalLongDocOptions& o) {
  const train::Checkpoint ck = train::load_checkpoint(o.model);
  const std::string type = ck.meta.value("model_type", std::string());
  CF_CHECK(type == "longdoc", FormatError, o.model, ": the checkpoint holds a '",
           type.empty() ? "?" : type, "' model, not a long-document classifier (train longdoc)");
  CF_CHECK(ck.meta.contains("config") && ck.meta.contains("options"), FormatError, o.model,
           ": incomplete checkpoint metadata (config, options)");
  models::LongDocClassifier model(models::LongDocConfig::from_json(ck.meta.at("config").dump()), 0);
  try {
    model.load_state_dict(ck.model, true);
  } catch (const ValueError& e) {
    CF_THROW(FormatError, o.model, ": the weights do not fit the configuration: ", e.what());
  }
  model.eval();
  const nlohmann::json& opt = ck.meta.at("options");
  const std::string task = opt.value("task", std::string());
  train::LongDocDataset ds;
  if (task == "listops") {
    ds = train::load_listops((o.data_dir.empty() ? std::string("data/listops") : o.data_dir) + "/" +
                             o.split + ".tsv");
  } else if (task == "spam") {
    ds = train::load_spam_bytes(
        (o.data_dir.empty() ? std::string("data/spam_bytes") : o.data_dir) + "/" + o.split + ".bin",
        opt.value("max_bytes", int64_t{4096}));
  } else {
    CF_THROW(FormatError, o.model, ": unknown task '", task, "' in the checkpoint");
  }
  CF_CHECK(ds.vocab_size == model.config.vocab_size &&
               static_cast<int64_t>(ds.class_names.size()) == model.config.num_classes,
           FormatError, o.model, ": the model does not fit the ", task, " data");
  const int64_t C = model.config.num_classes;
  std::vector<std::vector<int64_t>> confusion(C, std::vector<int64_t>(C, 0));
  int64_t ok = 0, n = static_cast<int64_t>(ds.examples.size());
  {
    NoGradGuard ng;
    for (int64_t s = 0; s < n; s += o.batch) {
      std::vector<int64_t> idx;
      for (int64_t i = s; i < std::min(n, s + o.batch); ++i) idx.push_back(i);
      const train::LongDocBatch b = train::make_longdoc_batch(ds, idx, model.config.max_len);
      const std::vector<int64_t> pred = argmax(model.forward(b.ids, b.padding), 1).to_vector<int64_t>();
      const std::vector<int64_t> y = b.labels.to_vector<int64_t>();
      for (size_t i = 0; i < y.size(); ++i) {
        ++confusion[y[i]][pred[i]];
        ok += pred[i] == y[i];
      }
    }
  }
  const double acc = n > 0 ? static_cast<double>(ok) / static_cast<double>(n) : 0.0;
  std::printf("%s (%s attention) on %s %s: %lld documents, accuracy %.2f %%\nper-class accuracy:\n",
              o.model.c_str(), model.config.attention.c_str(), task.c_str(), o.split.c_str(),
              static_cast<long long>(n), 100.0 * acc);
  nlohmann::json per_class = nlohmann::json::array();
  for (int64_t c = 0; c < C; ++c) {
    int64_t support = 0;
    for (int64_t v : confusion[c]) support += v;
    const double a = support > 0 ? static_cast<double>(confusion[c][c]) / support : 0.0;
    std::printf("  %-6s %6.2f %% of %lld\n", ds.class_names[c].c_str(), 100.0 * a,
                static_cast<long long>(support));
    per_class.push_back({{"label", ds.class_names[c]}, {"accuracy", a}, {"support", support}});
  }
  std::printf("confusion (rows: true, columns: predicted):\n");
  for (int64_t c = 0; c < C; ++c) {
    std::printf("  %-6s", ds.class_names[c].c_str());
    for (int64_t v : confusion[c]) std::printf(" %6lld", static_cast<long long>(v));
    std::printf("\n");
  }
  if (!o.json.empty()) {
    const nlohmann::json j{{"model", o.model}, {"task", task}, {"split", o.split}, {"n", n},
                           {"accuracy", acc},  {"per_class", per_class}, {"confusion", confusion}};
    const std::string text = j.dump(2) + "\n";
    io::write_file_atomic(o.json, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  }
  return 0;
}

}  // namespace

void add_eval_longdoc(CLI::App& app, Commands& cmds) {
  CLI::App* eval = app.get_subcommand("eval");
  CLI::App* sub = eval->add_subcommand(
      "longdoc", "Accuracy of a long-document classifier (train longdoc) on a split of its task");
  auto o = std::make_shared<EvalLongDocOptions>();
  sub->add_option("--model", o->model, "Checkpoint (best.safetensors or last.safetensors)")->required();
  sub->add_option("--data-dir", o->data_dir, "Directory of the split files (default: the task's)");
  sub->add_option("--split", o->split, "train, valid or test")
      ->capture_default_str()
      ->check(CLI::IsMember({"train", "valid", "test"}));
  sub->add_option("--batch", o->batch, "Documents per forward pass")->capture_default_str()->check(positive());
  sub->add_option("--json", o->json, "Also write the metrics as JSON to this file");
  // Before `eval` itself, which is parsed too when a subcommand of it is.
  cmds.entries.insert(cmds.entries.begin(), {sub, [o]() { return run(*o); }});
}

}  // namespace cf::cli
