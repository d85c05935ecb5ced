// The image-classifier half of `cformer eval` (src/cli/eval.cpp dispatches on the checkpoint).
#pragma once
#include <cstdint>
#include <string>

namespace cf::cli {

struct ImageEvalOptions {
  std::string model, dataset, split = "test", dir, json;
  int64_t batch = 500;
};

/// Whether the checkpoint at path was written by `cformer train vit|vitae|cnn` (false for a file
/// that is not a cformer training checkpoint). Throws IoError when it cannot be read, and
/// ValueError for a translation checkpoint (`eval translate` evaluates those).
bool is_image_checkpoint(const std::string& path);
/// Loads the checkpoint, predicts the split and prints accuracy, per-class accuracy, precision /
/// recall / F1 and the confusion matrix (and writes them as JSON when opts.json is set).
int eval_image_classifier(const ImageEvalOptions& opts);

}  // namespace cf::cli
