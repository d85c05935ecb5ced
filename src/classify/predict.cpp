// predict(): the arg-max of a classifier's scores.
#include <cstdint>
#include <string>
#include <vector>

#include "cformer/classify.h"
#include "util/check.h"

namespace cf::classify {

std::vector<int64_t> predict(TextClassifier& model, const std::vector<std::string>& texts) {
  const std::vector<std::vector<double>> scores = model.scores(texts);
  CF_CHECK(scores.size() == texts.size(), ValueError, "predict: ", model.describe(), " returned ",
           scores.size(), " score rows for ", texts.size(), " texts");
  const size_t k = model.labels().size();
  std::vector<int64_t> out;
  out.reserve(texts.size());
  for (size_t i = 0; i < scores.size(); ++i) {
    CF_CHECK(scores[i].size() == k && k > 0, ValueError, "predict: ", model.describe(),
             " returned ", scores[i].size(), " scores for text ", i, ", expected ", k);
    size_t best = 0;
    for (size_t c = 1; c < k; ++c)
      if (scores[i][c] > scores[i][best]) best = c;
    out.push_back(static_cast<int64_t>(best));
  }
  return out;
}

}  // namespace cf::classify
