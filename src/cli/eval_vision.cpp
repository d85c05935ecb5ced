// `cformer eval-vision`: accuracy, per-class accuracy (recall), precision / F1 and the confusion
// matrix of an image-classifier checkpoint (train vit|vitae|cnn) on a dataset split.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cformer/classify.h"
#include "cformer/io.h"
#include "cli/commands.h"
#include "train/vision_train.h"
#include "util/check.h"

namespace cf::cli {
namespace {

struct EvalVisionOpts {
  std::string model, dataset, split = "test", dir, json;
  int64_t batch = 500;
};

}  // namespace

void add_eval_vision(CLI::App& app, Commands& cmds) {
  CLI::App* sub = app.add_subcommand(
      "eval-vision", "Evaluate an image classifier checkpoint (vit, vitae, cnn) on a dataset split");
  auto o = std::make_shared<EvalVisionOpts>();
  sub->add_option("--model", o->model, "Checkpoint written by cformer train vit|vitae|cnn")
      ->required();
  sub->add_option("--dataset", o->dataset, "fashion-mnist or mnist (default: the checkpoint's)")
      ->check(CLI::IsMember({"fashion-mnist", "mnist"}));
  sub->add_option("--split", o->split, "train or test")
      ->capture_default_str()
      ->check(CLI::IsMember({"train", "test"}));
  sub->add_option("--data-dir", o->dir, "Directory of the dataset files");
  sub->add_option("--batch", o->batch, "Images per forward pass")
      ->capture_default_str()
      ->check(positive());
  sub->add_option("--json", o->json, "Also write the metrics as JSON to this file");
  cmds.entries.emplace_back(sub, [o]() {
    train::LoadedImageModel m = train::load_image_model(o->model);
    const std::string trained_on = m.meta.at("dataset");
    const std::string dataset = o->dataset.empty() ? trained_on : o->dataset;
    const data::ImageDataset ds = train::load_image_dataset(
        dataset, o->split == "train" ? data::Split::train : data::Split::test, o->dir);
    const auto t0 = std::chrono::steady_clock::now();
    // The normalization the model was trained with.
    const train::Predictions p =
        train::predict_images(*m.model, ds, m.meta.at("mean").get<std::vector<float>>(),
                              m.meta.at("std").get<std::vector<float>>(), o->batch);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const classify::Metrics met = classify::compute_metrics(
        ds.labels.to_vector<int64_t>(), p.predicted, static_cast<int64_t>(ds.class_names.size()));
    std::cout << "model: " << m.model->model_type() << " (" << m.model->num_parameters()
              << " parameters, trained on " << trained_on << " for "
              << m.meta.value("step", int64_t{0}) << " steps), " << o->model << "\n"
              << "data: " << dataset << " " << o->split << ", " << ds.size() << " images, "
              << static_cast<int64_t>(static_cast<double>(ds.size()) / std::max(secs, 1e-9))
              << " images/s\n"
              << "loss: " << p.loss << "\n";
    std::cout << "per-class accuracy:\n";
    for (size_t c = 0; c < ds.class_names.size(); ++c) {
      char line[64];
      std::snprintf(line, sizeof line, " %6.2f %% of %lld", met.recall[c] * 100,
                    static_cast<long long>(met.support[c]));
      const std::string& name = ds.class_names[c];
      std::cout << "  " << name << std::string(name.size() < 12 ? 12 - name.size() : 1, ' ')
                << line << "\n";
    }
    std::cout << classify::format_metrics(met, ds.class_names);
    if (!o->json.empty()) {
      nlohmann::json per_class = nlohmann::json::array();
      for (size_t c = 0; c < ds.class_names.size(); ++c)
        per_class.push_back({{"label", ds.class_names[c]},
                             {"accuracy", met.recall[c]},
                             {"precision", met.precision[c]},
                             {"f1", met.f1[c]},
                             {"support", met.support[c]}});
      const nlohmann::json j{{"model", o->model},        {"dataset", dataset},
                             {"split", o->split},        {"n", met.n},
                             {"accuracy", met.accuracy}, {"macro_f1", met.macro_f1},
                             {"loss", p.loss},           {"per_class", per_class},
                             {"confusion", met.confusion}};
      const std::string text = j.dump(2) + "\n";
      io::write_file_atomic(o->json, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
    }
    return 0;
  });
}

}  // namespace cf::cli
