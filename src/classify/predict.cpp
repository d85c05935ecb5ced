// predict(): the arg-max of a classifier's scores.
#include <cstdint>
#include <string>
#include <vector>

#include "cformer/classify.h"
#include "util/check.h"

namespace cf::classify {

std::vector<int64_t> predict_from_scores(const std::vector<std::vector<double>>& scores,
                                         size_t num_labels) {
  CF_CHECK(num_labels > 0, ValueError, "predict: no labels");
  std::vector<int64_t> out;
  out.reserve(scores.size());
  for (size_t i = 0; i < scores.size(); ++i) {
    CF_CHECK(scores[i].size() == num_labels, ValueError, "predict: ", scores[i].size(),
             " scores for text ", i, ", expected one per label (", num_labels, ")");
    size_t best = 0;
    for (size_t c = 1; c < num_labels; ++c)
      if (scores[i][c] > scores[i][best]) best = c;
    out.push_back(static_cast<int64_t>(best));
  }
  return out;
}

std::vector<int64_t> predict(TextClassifier& model, const std::vector<std::string>& texts) {
  const std::vector<std::vector<double>> scores = model.scores(texts);
  CF_CHECK(scores.size() == texts.size(), ValueError, "predict: ", model.describe(), " returned ",
           scores.size(), " score rows for ", texts.size(), " texts");
  try {
    return predict_from_scores(scores, model.labels().size());
  } catch (const ValueError& e) {
    CF_THROW(ValueError, e.what(), " (", model.describe(), ")");
  }
}

}  // namespace cf::classify
