// Text classification shared by every classifier of the library (bag-of-words logistic
// regression, fine-tuned BERT, zero-shot prompting of a GPT): labelled TSV data, the metrics that
// `cformer eval` prints, and one interface that `cformer eval` and `cformer classify` call.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cf::classify {

/// One labelled example: a text and its label's index in the label set.
struct Example {
  std::string text;
  int64_t label = -1;
};

/// A TSV file: one example a line, "text<TAB>label" (the label is the last field; tabs inside
/// the text are not allowed). Empty lines are skipped and counted; a line without a tab, with
/// more than one tab, with an empty text or an empty label throws FormatError naming the file and
/// the line number. "\r\n" line ends are accepted; bytes are kept as they are (no UTF-8 check).
struct LabelledData {
  std::vector<std::string> texts;
  std::vector<std::string> labels;  // label strings, one per text
  std::vector<int64_t> lines;       // 1-based source line of each text (empty: data built in code)
  int64_t empty_lines = 0;
};
LabelledData read_tsv(const std::string& path);

/// The sorted distinct labels of data (the label set a model is trained with).
std::vector<std::string> label_set(const LabelledData& data);
/// Label indices of data in set (any order, distinct labels); a label missing from it throws
/// ValueError naming the label, the file's line (source:line) and the known labels.
std::vector<int64_t> label_indices(const LabelledData& data, const std::vector<std::string>& set,
                                   const std::string& source);

struct Metrics {
  int64_t n = 0;
  double accuracy = 0;
  double macro_f1 = 0;            // mean of F1 over the classes that occur in gold or in the
                                  // predictions (a class in neither is left out; one with gold
                                  // items never predicted, or predicted but never gold, has F1 0)
  std::vector<double> precision;  // per class; 0 when the class is never predicted
  std::vector<double> recall;     // per class; 0 when the class has no gold items
  std::vector<double> f1;         // per class; 0 when precision + recall = 0
  std::vector<int64_t> support;   // gold items per class
  std::vector<std::vector<int64_t>> confusion;  // [gold][predicted]
};
/// Throws ValueError when the sizes differ, there are no items, or an index is outside
/// [0, num_classes).
Metrics compute_metrics(const std::vector<int64_t>& gold, const std::vector<int64_t>& predicted,
                        int64_t num_classes);
/// Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix as text.
std::string format_metrics(const Metrics& m, const std::vector<std::string>& labels);

/// A trained classifier. scores() returns, per text, one score per label (log-probabilities for
/// every classifier of the library); the prediction is the arg-max (first on ties).
class TextClassifier {
 public:
  virtual ~TextClassifier() = default;
  virtual const std::vector<std::string>& labels() const = 0;
  virtual std::vector<std::vector<double>> scores(const std::vector<std::string>& texts) = 0;
  /// One line: model type and size, for the output of eval/classify.
  virtual std::string describe() const = 0;
};

/// The arg-max label index of each text (the first on ties). Throws ValueError when the model
/// returns the wrong number of rows or of scores per row.
std::vector<int64_t> predict(TextClassifier& model, const std::vector<std::string>& texts);
/// The arg-max of each row of scores (the first on ties); throws ValueError for a row that does
/// not hold num_labels scores.
std::vector<int64_t> predict_from_scores(const std::vector<std::vector<double>>& scores,
                                         size_t num_labels);

/// Options only some classifiers use (zero-shot prompting of a GPT needs a template and labels).
struct LoadOptions {
  std::string prompt_template;      // contains "{text}"; may contain "{label}"
  std::vector<std::string> labels;  // the candidate labels for prompting
  int64_t max_length = 0;           // 0: the model's own limit
  bool calibrate = false;           // prompting: subtract each label's score for the empty text
  bool length_normalize = false;    // prompting: mean log-probability per label token
};
/// Loads any classifier checkpoint of the library by its metadata's model_type. Throws
/// FormatError for a checkpoint that is not a classifier (naming its model type) and ValueError
/// when a GPT is given without prompt_template and labels.
std::unique_ptr<TextClassifier> load_classifier(const std::string& path, const LoadOptions& opt);

}  // namespace cf::classify
