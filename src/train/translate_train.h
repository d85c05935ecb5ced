// `cformer train translate`: an encoder-decoder Transformer (Vaswani et al. 2017) on the aligned
// files DATA/train.{en,fr} with byte-level BPE, token-budget batches, Adam (0.9, 0.98, 1e-9) with
// the paper's inverse-square-root schedule (5.3), label smoothing, periodic validation (loss on
// the whole valid set, greedy BLEU/chrF on its first sentences), JSONL metrics, atomic
// checkpoints (the latest and the best by validation loss) and exact resume.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cformer/models/translation.h"

namespace cf::train {

struct TranslateTrainOptions {
  std::string data = "data/translation";  // holds train.en/.fr and valid.en/.fr
  std::string out_dir = "runs/translate";
  models::TranslationConfig model;  // vocab sizes and special ids come from the tokenizer
  int64_t vocab_size = 8000;
  bool separate_vocab = false;
  int64_t limit_train = 0;   // > 0: the first N training pairs only
  int64_t max_len = 128;     // longer training pairs (either side, BOS/EOS included) are dropped
  int64_t batch_tokens = 4096;  // rows * max(S, T) per batch
  int64_t steps = 0;         // > 0: stop after this many steps
  double minutes = 0.0;      // > 0: stop after this long (whichever limit comes first)
  double lr_factor = 1.0;    // lr = factor * d_model^-0.5 * min(s^-0.5, s * warmup^-1.5)
  int64_t warmup = 4000;
  double beta1 = 0.9, beta2 = 0.98, eps = 1e-9;
  double grad_clip = 0.0;    // > 0: clip the global gradient norm
  double label_smoothing = 0.1;
  uint64_t seed = 1;
  bool resume = false;
  int64_t eval_every = 1000;       // validation every N steps (and at the end)
  int64_t val_bleu_sentences = 300;  // greedy BLEU/chrF on the first N valid sentences (0: off)
  int64_t log_every = 50;
  int64_t checkpoint_every = 1000;  // steps
  double checkpoint_minutes = 10.0;  // also after this long since the last checkpoint
  bool progress = true;
};

struct TranslateTrainSummary {
  int64_t steps = 0;
  double epochs = 0.0;
  double val_loss = 0.0;
  double best_val_loss = 0.0;
  double bleu = 0.0, chrf = 0.0;
  double elapsed_s = 0.0;
  double tokens_per_s = 0.0;  // source + target tokens (pads excluded) per second of training steps
};

/// The options as JSON (stored in checkpoints) and back. Throws FormatError on a bad entry.
nlohmann::json options_to_json(const TranslateTrainOptions& o);
TranslateTrainOptions options_from_json(const nlohmann::json& j);

/// Throws cf::Error subclasses on bad input (missing data, corrupt or contradicting checkpoint).
/// `given` names the options (JSON keys of options_to_json) set explicitly; with resume, those
/// that shape the model, the data or the optimization must agree with the checkpoint.
TranslateTrainSummary train_translate(const TranslateTrainOptions& o,
                                      const std::vector<std::string>& given, std::ostream& out);

}  // namespace cf::train
