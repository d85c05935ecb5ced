// cformer eval: accuracy, macro-F1, per-class scores and the confusion matrix of a classifier
// checkpoint (or of the majority-class baseline of a training TSV) on a labelled TSV file; for an
// image classifier's checkpoint (train vit|vitae|cnn), on a split of its image dataset.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cformer/classify.h"
#include "cformer/io.h"
#include "cli/commands.h"
#include "cli/prompt_options.h"
#include "cli/eval_vision.h"
#include "util/check.h"

namespace cf::cli {
namespace {

struct EvalOpts {
  std::string model, majority, data, json;
  classify::LoadOptions load;
  ImageEvalOptions image;
};

void write_json(const std::string& path, const std::string& model, const std::string& data,
                const classify::Metrics& m, const std::vector<std::string>& labels) {
  nlohmann::json per_class = nlohmann::json::array();
  for (size_t c = 0; c < labels.size(); ++c)
    per_class.push_back({{"label", labels[c]},
                         {"precision", m.precision[c]},
                         {"recall", m.recall[c]},
                         {"f1", m.f1[c]},
                         {"support", m.support[c]}});
  const nlohmann::json j = {
      {"model", model},          {"data", data},           {"n", m.n},
      {"accuracy", m.accuracy},  {"macro_f1", m.macro_f1}, {"per_class", per_class},
      {"confusion", m.confusion}};
  const std::string text = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  io::write_file_atomic(path, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

}  // namespace

void add_eval(CLI::App& app, Commands& cmds) {
  CLI::App* sub = app.add_subcommand(
      "eval", "Evaluate a text classifier on a labelled TSV file, or an image classifier");
  auto o = std::make_shared<EvalOpts>();
  CLI::Option* model = sub->add_option("--model", o->model, "Classifier checkpoint");
  CLI::Option* majority =
      sub->add_option("--majority", o->majority,
                      "Instead of a model: the majority-class baseline of this training TSV");
  model->excludes(majority);
  sub->add_option("--data", o->data, "Labelled TSV (text<TAB>label per line); text models only");
  sub->add_option("--dataset", o->image.dataset,
                  "Image models: fashion-mnist or mnist (default: the checkpoint's)")
      ->check(CLI::IsMember({"fashion-mnist", "mnist"}));
  sub->add_option("--split", o->image.split, "Image models: train or test")
      ->capture_default_str()
      ->check(CLI::IsMember({"train", "test"}));
  sub->add_option("--data-dir", o->image.dir, "Image models: directory of the dataset files");
  sub->add_option("--batch", o->image.batch, "Image models: images per forward pass")
      ->capture_default_str()
      ->check(positive());
  sub->add_option("--json", o->json, "Also write the metrics as JSON to this file");
  add_prompt_options(*sub, o->load);
  cmds.entries.emplace_back(sub, [o]() {
    CF_CHECK(!o->model.empty() || !o->majority.empty(), ValueError,
             "eval: give --model CKPT or --majority TRAIN_TSV");
    if (!o->model.empty() && is_image_checkpoint(o->model)) {
      CF_CHECK(o->data.empty(), ValueError, "eval: ", o->model,
               " is an image classifier; it takes --dataset/--split, not --data");
      ImageEvalOptions image = o->image;
      image.model = o->model;
      image.json = o->json;
      return eval_image_classifier(image);
    }
    CF_CHECK(!o->data.empty(), ValueError, "eval: --data TSV is required for a text classifier");
    const classify::LabelledData data = classify::read_tsv(o->data);
    CF_CHECK(!data.texts.empty(), ValueError, o->data, ": no examples");
    std::string name;
    std::vector<std::string> labels;
    std::vector<int64_t> predicted;
    if (!o->model.empty()) {
      const std::unique_ptr<classify::TextClassifier> m =
          load_prompted_classifier(o->model, o->load);
      name = m->describe();
      labels = m->labels();
      classify::label_indices(data, labels, o->data);  // unknown labels fail before the work
      predicted = classify::predict(*m, data.texts);
    } else {
      const classify::LabelledData train = classify::read_tsv(o->majority);
      CF_CHECK(!train.texts.empty(), ValueError, o->majority, ": no examples");
      const std::vector<std::string> train_labels = classify::label_set(train);
      const std::vector<int64_t> y = classify::label_indices(train, train_labels, o->majority);
      std::vector<int64_t> counts(train_labels.size(), 0);
      for (int64_t v : y) ++counts[static_cast<size_t>(v)];
      const std::string top = train_labels[static_cast<size_t>(
          std::max_element(counts.begin(), counts.end()) - counts.begin())];
      // Labels of the data unseen in training count as errors of the baseline, not as failures.
      classify::LabelledData all = train;
      all.labels.insert(all.labels.end(), data.labels.begin(), data.labels.end());
      labels = classify::label_set(all);
      const int64_t top_index =
          std::lower_bound(labels.begin(), labels.end(), top) - labels.begin();
      predicted.assign(data.texts.size(), top_index);
      name = "majority class '" + top + "' of " + o->majority;
    }
    const std::vector<int64_t> gold = classify::label_indices(data, labels, o->data);
    const classify::Metrics m =
        classify::compute_metrics(gold, predicted, static_cast<int64_t>(labels.size()));
    std::cout << "model: " << name << "\ndata: " << o->data << " (" << data.texts.size()
              << " examples";
    if (data.empty_lines > 0) std::cout << ", " << data.empty_lines << " empty lines skipped";
    std::cout << ")\n\n" << classify::format_metrics(m, labels);
    if (!o->json.empty()) write_json(o->json, name, o->data, m, labels);
    return 0;
  });
}

}  // namespace cf::cli
