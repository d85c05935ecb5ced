// Zero-shot text classification by prompting a GPT language model (the "prompting" recipe of
// GPT-2/GPT-3: Radford et al. 2019, Brown et al. 2020; contextual calibration: Zhao et al. 2021).
// No training: each label is scored by the log-probability the model gives its continuation of
// a filled template, and the prediction is the best-scoring label. docs/prompting.md has the
// rules and a measured result.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cformer/classify.h"
#include "cformer/models/gpt.h"

namespace cf::models {

struct GptPromptOptions {
  bool length_normalize = false;  // mean log-probability per scored token instead of the sum
  bool calibrate = false;         // subtract each label's score for the empty text
  int64_t batch_size = 16;        // sequences per forward pass (scores do not depend on it)
  int64_t max_length = 0;         // tokens per model input, at most block_size; 0: block_size
};

/// Scores, for a text and each label, a log-probability under the GPT:
/// - template with "{label}" (e.g. "\n{label} {text}" or "Review: {text}\nSentiment: {label}\n"):
///   log P(everything from the label's first token to the end | everything before the label).
///   The part before the label is the same for every label, so this ranks the labels exactly as
///   the log-probability of the whole filled string does, and it is cheaper;
/// - template without "{label}" (e.g. "{text}\nThe topic is"): log P(label | filled template),
///   the label's tokens appended right after the template.
/// Sums over the scored tokens (their mean with length_normalize); with calibrate, minus the
/// same score for the empty text. Every piece (template parts, text, label) is tokenized on its
/// own, which equals tokenizing the whole string with the character tokenizer. Sequences longer
/// than context + 1 tokens (context = block_size or a smaller max_length: the model's inputs are
/// all tokens but the last) lose tokens of the text: from its start when the text comes before
/// the label (the context keeps its last tokens), from its end when it comes after the label.
/// The template and the label are never cut; log-softmax is exact (float64).
class GptPromptClassifier : public classify::TextClassifier {
 public:
  using Encoder = std::function<std::vector<int64_t>(std::string_view)>;

  /// Throws ValueError when the template lacks "{text}" or holds "{text}" or "{label}" more than
  /// once, when it has no character before the scored part other than the text (a GPT predicts no
  /// first token), when there are fewer than 2 labels, an empty or a duplicate label, when a
  /// label with the template alone exceeds context + 1 tokens, batch_size < 1 or max_length < 0.
  GptPromptClassifier(std::shared_ptr<Gpt> model, Encoder encode, std::string prompt_template,
                      std::vector<std::string> labels, GptPromptOptions options = {});

  const std::vector<std::string>& labels() const override { return labels_; }
  /// One score per label for each text (see the class comment); runs the model in eval mode
  /// without gradients.
  std::vector<std::vector<double>> scores(const std::vector<std::string>& texts) override;
  std::string describe() const override;

  /// The tokens of the filled template for text and labels()[label] after truncation, and the
  /// position of the first scored token (>= 1); the score sums log P(tokens[t] | tokens[:t]) for
  /// t >= first.
  struct Sequence {
    std::vector<int64_t> tokens;
    int64_t first = 0;
  };
  Sequence sequence(std::string_view text, size_t label) const;

 private:
  Sequence build(std::vector<int64_t> text_tokens, size_t label) const;
  std::vector<double> score_sequences(const std::vector<Sequence>& seqs);

  std::shared_ptr<Gpt> model_;
  Encoder encode_;
  std::string template_;
  std::vector<std::string> labels_;
  GptPromptOptions options_;
  bool label_in_template_ = false;
  bool text_before_label_ = true;
  int64_t context_ = 0;  // model inputs per sequence: block_size or a smaller max_length
  // The template split around its placeholders: before the first one, between, after the second.
  std::vector<int64_t> head_, middle_, tail_;
  std::vector<std::vector<int64_t>> label_tokens_;
  std::vector<double> calibration_;  // per label; empty unless options_.calibrate
};

/// Loads a checkpoint of `cformer train gpt` (model and character tokenizer) as a zero-shot
/// classifier. Throws IoError / FormatError naming the path (not a cformer checkpoint, a model
/// type other than gpt, inconsistent metadata) and the constructor's ValueErrors.
std::unique_ptr<classify::TextClassifier> load_gpt_prompt_classifier(
    const std::string& ckpt, const std::string& prompt_template,
    const std::vector<std::string>& labels, const GptPromptOptions& options = {});

}  // namespace cf::models
