// `cformer train bert`: masked-LM (and optionally next-sentence) pre-training of a BERT on text
// files with AdamW (decay on matrices only), linear warm-up then linear decay to 0 over the step
// or time budget, gradient clipping, periodic validation (MLM loss, masked-token accuracy),
// JSONL metrics, a loss curve, atomic checkpoints and exact resume.
#pragma once
#include <algorithm>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "cformer/models/bert.h"

namespace cf::train {

struct BertTrainOptions {
  std::vector<std::string> data;  // text files: one sentence a line, blank lines end documents
  std::string tokenizer;          // vocab.txt or tokenizer.json; empty: train one (vocab_size)
  int64_t vocab_size = 0;         // > 0: train a WordPiece of this size on the data
  std::string out_dir = "runs/bert";
  std::string preset = "small";
  double dropout = 0.0;           // hidden dropout (and attention dropout unless given)
  double attention_dropout = -1;  // attention-probability dropout; < 0: dropout (dense only)
  nn::AttentionKernelOptions attention;  // the self-attention kernel (--attention flags)
  int64_t max_len = 128;
  int64_t steps = 0;              // > 0: train this many steps
  double minutes = 0.0;           // > 0 (and steps == 0): train for this long
  int64_t batch = 32;
  double lr = 5e-4;
  int64_t warmup = 100;
  double weight_decay = 0.01;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-6;
  double grad_clip = 1.0;         // <= 0: off
  double mask_prob = 0.15;
  bool whole_word = false;
  bool nsp = false;
  uint64_t seed = 1337;
  bool resume = false;
  int64_t eval_every = 200;
  int64_t eval_examples = 256;
  int64_t log_every = 10;
  int64_t checkpoint_every = 200;
  double val_fraction = 0.05;
  bool progress = true;
};

struct BertTrainSummary {
  int64_t steps = 0;
  double val_loss = 0.0;      // MLM loss on the validation examples
  double val_accuracy = 0.0;  // masked-token accuracy
  double elapsed_s = 0.0;
  double tokens_per_s = 0.0;
};

/// Throws cf::Error subclasses on bad input (missing data or tokenizer, corrupt or contradicting
/// checkpoint). `given` names the options set explicitly ("max-len", "nsp", "whole-word",
/// "preset", ...): they must agree with a resumed checkpoint.
BertTrainSummary train_bert(const BertTrainOptions& o, const std::vector<std::string>& given,
                            std::ostream& out);

/// lr * min(1, (step + 1) / warmup) * (1 - progress), progress in [0, 1] of the budget.
inline double bert_lr(double lr, int64_t warmup, int64_t step, double progress) {
  const double w = warmup > 0 ? std::min(1.0, static_cast<double>(step + 1) / static_cast<double>(warmup)) : 1.0;
  return lr * w * std::max(0.0, 1.0 - std::clamp(progress, 0.0, 1.0));
}

}  // namespace cf::train
