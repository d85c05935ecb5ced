// `cformer finetune bert`: fine-tunes a BERT sequence classifier on a labelled TSV, from a
// `train bert` checkpoint (or a Hugging Face BERT safetensors file with its config.json) or from
// scratch (a preset, with a WordPiece trained on the training texts unless --tokenizer). AdamW
// with warm-up over the first 10% of the budget then linear decay to 0; after each epoch (and at
// the end of a time budget) the validation TSV is scored (accuracy, macro-F1) and the best
// checkpoint by macro-F1 is kept as OUT/model.safetensors (model_type "bert-classifier").
// The attention kernel is the --init checkpoint's (dense for a Hugging Face file), or
// attention's from scratch.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "cformer/efficient_attention.h"

namespace cf::train {

struct BertFinetuneOptions {
  std::string train, valid;   // TSV files: text<TAB>label
  std::string out_dir = "runs/bert-classifier";
  std::string init;           // pretraining checkpoint or HF model.safetensors; empty: from scratch
  std::string preset = "small";
  std::string tokenizer;      // from scratch: vocab.txt / tokenizer.json (else one is trained)
  int64_t vocab_size = 8000;  // from scratch without --tokenizer
  int64_t epochs = 3;         // with minutes > 0: at most this many (0: until the time is up)
  double minutes = 0.0;
  double lr = 0.0;            // 0: 5e-5 with init, 5e-4 from scratch
  int64_t batch = 32;
  int64_t max_len = 128;
  double dropout = 0.1;       // hidden dropout (attention dropout stays 0 for the fused kernel)
  nn::AttentionKernelOptions attention;  // from scratch only (--init brings its own)
  bool attention_given = false;          // --attention was given: an error with --init
  double weight_decay = 0.01;
  double warmup_fraction = 0.1;
  double grad_clip = 1.0;
  uint64_t seed = 1337;
  bool progress = true;
};

struct BertFinetuneSummary {
  int64_t epochs = 0, steps = 0, best_epoch = 0;
  double best_accuracy = 0.0, best_macro_f1 = 0.0;
  double elapsed_s = 0.0, tokens_per_s = 0.0;
};

/// Throws cf::Error subclasses (missing files, bad TSV, unknown validation labels, a checkpoint
/// of the wrong type).
BertFinetuneSummary finetune_bert(const BertFinetuneOptions& o, std::ostream& out);

}  // namespace cf::train
