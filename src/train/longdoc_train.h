// `cformer train longdoc`: the long-document classifier (cformer/models/longdoc.h) on ListOps
// (the Long Range Arena task, `cformer data listops`) or on SpamAssassin e-mails as raw bytes
// (data/spam_bytes, tools/data/make_spam_bytes.py) cut to 4K or 8K bytes. AdamW, linear warm-up
// then linear decay, batches of similar lengths, periodic validation accuracy, the best-validation
// checkpoint, test accuracy of that checkpoint at the end, JSONL metrics and a loss curve.
// Measured runs: docs/long-documents.md.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "cformer/models/longdoc.h"

namespace cf::train {

/// One document: token ids without [CLS] and the class.
struct LongDocExample {
  std::vector<int32_t> ids;
  int64_t label = 0;
};

struct LongDocDataset {
  std::vector<LongDocExample> examples;
  std::vector<std::string> class_names;
  int64_t vocab_size = 0;  ///< including pad and [CLS]
  int64_t pad_id = 0, cls_id = 1;
};

/// ListOps TSV ("Source\tTarget" header, as `cformer data listops` writes it). Parentheses are
/// dropped (they carry no information: every list opens with its operator and closes with "]",
/// as the LRA's length count and the Nystromformer LRA pipeline treat them). Vocabulary: <pad> 0,
/// [CLS] 1, "]" 2, [MIN 3, [MAX 4, [MED 5, [SM 6, digits 7-16. Throws IoError / FormatError
/// naming the file and line.
LongDocDataset load_listops(const std::string& path);
/// data/spam_bytes/<split>.bin (see tools/data/make_spam_bytes.py): each byte is a token (0-255),
/// <pad> 256, [CLS] 257; classes ham, spam. Documents keep at most max_bytes bytes. Throws
/// IoError / FormatError naming the file and the record.
LongDocDataset load_spam_bytes(const std::string& path, int64_t max_bytes);

struct LongDocBatch {
  Tensor ids;      // i64 (B, N): [CLS], tokens, padding
  Tensor padding;  // bool (B, N), true = padding; undefined when nothing is padded
  Tensor labels;   // i64 (B)
};
/// The examples at idx as a batch padded to the longest (tokens cut to max_len - 1).
LongDocBatch make_longdoc_batch(const LongDocDataset& ds, const std::vector<int64_t>& idx,
                                int64_t max_len);

struct LongDocTrainOptions {
  std::string task = "listops";  // listops | spam
  std::string data_dir;          // empty: data/listops or data/spam_bytes
  std::string out_dir = "runs/longdoc";
  int64_t max_bytes = 4096;      // spam: bytes kept per e-mail
  nn::AttentionKernelOptions attention{.kind = "memory_efficient"};
  int64_t d_model = 128, num_heads = 4, num_layers = 2, ffn_dim = 256;
  double dropout = 0.1;
  int64_t batch = 32;
  int64_t max_steps = 1000;
  double minutes = 0.0;  // > 0: also stop when this much time has passed
  double lr = 5e-4;
  int64_t warmup = 100;
  double weight_decay = 0.01;
  double grad_clip = 1.0;
  int64_t eval_every = 200;
  int64_t val_limit = 500;   // validation examples of the periodic evaluations (0: all)
  int64_t train_limit = 0;   // > 0: train on the first N training examples only
  uint64_t seed = 0;
  bool progress = true;
};

struct LongDocSummary {
  int64_t steps = 0;
  double best_val_accuracy = 0.0;
  int64_t best_step = 0;
  double test_accuracy = -1.0;
  double elapsed_s = 0.0;
  double tokens_per_s = 0.0;  // non-padding tokens
};

/// Trains, writes OUT/{best,last}.safetensors, metrics.jsonl, loss.svg and result.json, and
/// returns the summary. Throws cf::Error subclasses on bad options or data.
LongDocSummary train_longdoc(const LongDocTrainOptions& o, std::ostream& out);

/// Accuracy and mean cross-entropy of a model on a dataset (eval mode, no gradients).
struct LongDocEval {
  double accuracy = 0.0, loss = 0.0;
  int64_t n = 0;
};
LongDocEval evaluate_longdoc(models::LongDocClassifier& model, const LongDocDataset& ds,
                             int64_t limit, int64_t batch);

}  // namespace cf::train
