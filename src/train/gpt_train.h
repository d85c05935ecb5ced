// `cformer train gpt`: trains a GPT on a text file with AdamW, warm-up + cosine/linear decay,
// gradient clipping, periodic validation, JSONL metrics, atomic checkpoints and exact resume.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>

#include "cformer/models/gpt.h"

namespace cf::train {

struct GptTrainOptions {
  std::string data = "data/kjv.txt";
  std::string out_dir = "runs/gpt";
  models::GptConfig model;       // vocab_size is set from the tokenizer
  int64_t steps = 0;             // > 0: train this many steps
  double minutes = 0.0;          // > 0 (and steps == 0): train for this long
  int64_t batch = 32;
  double lr = 1e-3;
  double min_lr_ratio = 0.1;     // the schedule decays to lr * min_lr_ratio
  std::string schedule = "cosine";  // cosine | linear | constant
  int64_t warmup = 100;
  double weight_decay = 0.1;
  double beta1 = 0.9, beta2 = 0.95;
  double grad_clip = 1.0;        // <= 0: off
  uint64_t seed = 1337;
  bool resume = false;
  int64_t eval_every = 250;
  int64_t eval_windows = 256;    // validation windows of block_size tokens
  int64_t log_every = 10;
  int64_t checkpoint_every = 250;
  double val_fraction = 0.1;
  bool progress = true;          // the live progress line on stderr
};

struct GptTrainSummary {
  int64_t steps = 0;
  double val_loss = 0.0;
  double elapsed_s = 0.0;
  double tokens_per_s = 0.0;
};

/// Throws cf::Error subclasses on bad input (missing data, corrupt or contradicting checkpoint).
/// `given` names the model options the user set explicitly (they must agree with a resumed
/// checkpoint's config).
GptTrainSummary train_gpt(const GptTrainOptions& o, const std::vector<std::string>& given,
                          std::ostream& out);

/// Learning rate at `progress` in [0, 1] of training, `step` for the warm-up.
double scheduled_lr(const GptTrainOptions& o, int64_t step, double progress);

}  // namespace cf::train
