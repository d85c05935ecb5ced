// BERT pre-training data: documents of sentences (token ids without specials) split into train
// and validation, turned into masked batches. Without NSP, consecutive sentences are packed into
// one stream and an example is a window of max_len - 2 tokens at a random offset, [CLS] w [SEP]
// (no padding, so attention always takes the fused path). With NSP, an example is
// [CLS] A [SEP] B [SEP] built as Google's create_pretraining_data.py: A is the first part of a
// run of sentences from a random position, B its continuation (label 0) or, half of the time,
// sentences from a random other document (label 1); batches are padded to their longest row.
#pragma once
#include <cstdint>
#include <vector>

#include "cformer/models/bert.h"
#include "cformer/random.h"

namespace cf::train {

/// The vocabulary facts the data pipeline needs (from the WordPiece tokenizer).
struct BertVocab {
  int64_t vocab_size = 0;
  int64_t pad_id = -1, cls_id = -1, sep_id = -1, mask_id = -1;
  std::vector<int64_t> special_ids;   // never selected for masking nor drawn as random tokens
  std::vector<uint8_t> continuation;  // per id: 1 for "##" pieces (whole-word masking)
};

using Sentence = std::vector<int64_t>;
using Document = std::vector<Sentence>;

struct BertDataOptions {
  int64_t max_len = 128;
  bool nsp = false;
  models::MaskingOptions masking;
};

class BertPretrainData {
 public:
  /// The last val_fraction of the tokens (in document order) is held out. Empty sentences and
  /// documents are dropped. Throws ValueError when the training part cannot fill one example
  /// or an option is out of range.
  BertPretrainData(const std::vector<Document>& docs, BertVocab vocab, BertDataOptions opt,
                   double val_fraction);
  int64_t train_tokens() const { return count(train_); }
  int64_t val_tokens() const { return count(val_); }

  /// B training examples drawn with gen (positions, pairs and masking), as one batch.
  models::BertBatch sample(int64_t B, Generator& gen) const;
  /// At most n validation examples, the same for the same seed, in batches of B. Without NSP
  /// they are the consecutive windows of the validation stream. Empty when nothing is held out.
  std::vector<models::BertBatch> validation(int64_t n, int64_t B, uint64_t seed) const;

 private:
  struct Example {
    std::vector<int64_t> ids, types;
    int64_t nsp_label = -1;
  };
  static int64_t count(const std::vector<Document>& docs);
  Example window(const std::vector<int64_t>& stream, int64_t start) const;
  Example pair(const std::vector<Document>& docs, Generator& gen) const;
  models::BertBatch collate(const std::vector<Example>& ex, Generator& gen) const;

  BertVocab vocab_;
  BertDataOptions opt_;
  std::vector<Document> train_, val_;
  std::vector<int64_t> train_stream_, val_stream_;  // without NSP: the sentences concatenated
};

}  // namespace cf::train
