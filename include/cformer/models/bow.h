// Bag-of-words logistic regression, the baseline of the text classifiers. A text becomes the
// L2-normalized vector x_t = log(1 + tf_t) * idf_t over a vocabulary built from the training
// texts (idf_t = ln((1 + N) / (1 + df_t)) + 1, sklearn's smooth idf; N training texts, df_t how
// many contain t). Tokens: maximal runs of Unicode letters and numbers, ASCII lower-cased.
// logits = x W^T + b with W (K, V), b (K); K labels, V vocabulary size. Trained by AdamW on the
// mean cross-entropy (decay on W only), early-stopped on the validation accuracy. The PyTorch
// twin is nn.Linear(V, K) over the same features (sklearn's TfidfVectorizer(sublinear_tf=True)).
#pragma once
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cformer/classify.h"
#include "cformer/tensor.h"

namespace cf::models {

/// The lower-cased word and number tokens of text (bytes that are not valid UTF-8 separate).
std::vector<std::string> bow_tokens(std::string_view text);

struct BowOptions {
  int64_t max_vocab = 50000;  ///< the most frequent tokens (by document frequency) are kept
  int64_t min_count = 2;      ///< a token must occur in at least this many training texts
  int64_t epochs = 30;        ///< at most this many passes over the training set
  int64_t patience = 3;       ///< stop after this many epochs without a better valid accuracy
  int64_t batch_size = 64;
  double lr = 0.01;
  double weight_decay = 1e-4;  ///< AdamW's decoupled decay of W
  uint64_t seed = 0;           ///< the order of the training texts
  /// Throws ValueError naming the field that is out of range.
  void validate() const;
};

/// One epoch of training: mean training loss and validation accuracy.
struct BowEpoch {
  int64_t epoch = 0;
  double train_loss = 0;
  double valid_accuracy = 0;
  double seconds = 0;
};

class BowClassifier : public classify::TextClassifier {
 public:
  /// vocab (V) distinct tokens, idf (V), labels (K) sorted and distinct, weight (K, V) and
  /// bias (K) f32. Throws ValueError / ShapeError when they do not fit together.
  BowClassifier(std::vector<std::string> vocab, std::vector<float> idf,
                std::vector<std::string> labels, Tensor weight, Tensor bias);

  /// Builds the vocabulary and idf from train, then trains; keeps the weights of the epoch with
  /// the best validation accuracy. Throws ValueError on empty data, a single label, a valid
  /// label unseen in train, or an empty vocabulary. log (may be null) gets one line per epoch.
  static std::unique_ptr<BowClassifier> train(const classify::LabelledData& train,
                                              const classify::LabelledData& valid,
                                              const BowOptions& options, std::ostream* log,
                                              std::vector<BowEpoch>* history = nullptr);

  const std::vector<std::string>& labels() const override { return labels_; }
  /// Log-probabilities (K per text).
  std::vector<std::vector<double>> scores(const std::vector<std::string>& texts) override;
  std::string describe() const override;

  const std::vector<std::string>& vocab() const { return vocab_; }
  const std::vector<float>& idf() const { return idf_; }
  Tensor weight() const { return weight_t_.t(); }  // (K, V), a view
  const Tensor& bias() const { return bias_; }     // (K)
  /// The feature vector of text: its (token index, value) pairs, indices ascending.
  std::vector<std::pair<int64_t, float>> features(std::string_view text) const;

  /// Writes a checkpoint (model_type "bow-classifier"; vocab, idf, labels, options in the
  /// metadata; tensors model.weight, model.bias).
  void save(const std::string& path, const BowOptions& options,
            const std::vector<BowEpoch>& history) const;

 private:
  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int64_t> index_;
  std::vector<float> idf_;
  std::vector<std::string> labels_;
  Tensor weight_t_;  // (V, K): W transposed, so a token's weights are one contiguous row
  Tensor bias_;      // (K)
};

/// Loads a checkpoint written by BowClassifier::save. Throws IoError, or FormatError naming the
/// path for another model type or inconsistent contents.
std::unique_ptr<BowClassifier> load_bow_classifier(const std::string& path);

}  // namespace cf::models
