// `cformer eval --model CKPT` for image classifiers (train vit|vitae|cnn): accuracy, per-class
// accuracy (recall), precision / F1 and the confusion matrix on a dataset split.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cformer/classify.h"
#include "cformer/io.h"
#include "cli/commands.h"
#include "cli/eval_vision.h"
#include "train/checkpoint.h"
#include "train/vision_train.h"
#include "util/check.h"

namespace cf::cli {

bool is_image_checkpoint(const std::string& path) {
  train::Checkpoint ck;
  try {
    ck = train::load_checkpoint(path);
  } catch (const FormatError&) {
    return false;  // not a cformer training checkpoint: the text classifiers' loader decides
  }
  const std::string type = ck.meta.value("model_type", std::string());
  CF_CHECK(type != "translation", ValueError, "eval: ", path,
           " holds a translation model; evaluate it with `cformer eval translate --model ", path,
           "`");
  CF_CHECK(type != "longdoc", ValueError, "eval: ", path,
           " holds a long-document classifier; evaluate it with `cformer eval longdoc --model ",
           path, "`");
  return type == "vit" || type == "vitae" || type == "cnn";
}

int eval_image_classifier(const ImageEvalOptions& opts) {
  const ImageEvalOptions* o = &opts;
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
}

}  // namespace cf::cli
