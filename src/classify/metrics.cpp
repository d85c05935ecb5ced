// Classification metrics: accuracy, per-class precision / recall / F1, macro-F1 and the
// confusion matrix; their text form is what `cformer eval` prints.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "cformer/classify.h"
#include "util/check.h"

namespace cf::classify {

Metrics compute_metrics(const std::vector<int64_t>& gold, const std::vector<int64_t>& predicted,
                        int64_t num_classes) {
  CF_CHECK(gold.size() == predicted.size(), ValueError, "compute_metrics: ", gold.size(),
           " gold labels but ", predicted.size(), " predictions");
  CF_CHECK(!gold.empty(), ValueError, "compute_metrics: no examples");
  CF_CHECK(num_classes > 0, ValueError, "compute_metrics: num_classes must be positive, got ",
           num_classes);
  const size_t k = static_cast<size_t>(num_classes);
  Metrics m;
  m.n = static_cast<int64_t>(gold.size());
  m.confusion.assign(k, std::vector<int64_t>(k, 0));
  int64_t correct = 0;
  for (size_t i = 0; i < gold.size(); ++i) {
    CF_CHECK(gold[i] >= 0 && gold[i] < num_classes, ValueError, "compute_metrics: gold label ",
             gold[i], " of item ", i, " is outside [0, ", num_classes, ")");
    CF_CHECK(predicted[i] >= 0 && predicted[i] < num_classes, ValueError,
             "compute_metrics: predicted label ", predicted[i], " of item ", i, " is outside [0, ",
             num_classes, ")");
    ++m.confusion[static_cast<size_t>(gold[i])][static_cast<size_t>(predicted[i])];
    correct += gold[i] == predicted[i];
  }
  m.accuracy = static_cast<double>(correct) / static_cast<double>(m.n);
  m.precision.assign(k, 0.0);
  m.recall.assign(k, 0.0);
  m.f1.assign(k, 0.0);
  m.support.assign(k, 0);
  double f1_sum = 0;
  int64_t present = 0;
  for (size_t c = 0; c < k; ++c) {
    int64_t gold_c = 0, pred_c = 0;
    for (size_t o = 0; o < k; ++o) {
      gold_c += m.confusion[c][o];
      pred_c += m.confusion[o][c];
    }
    const double tp = static_cast<double>(m.confusion[c][c]);
    m.support[c] = gold_c;
    if (pred_c > 0) m.precision[c] = tp / static_cast<double>(pred_c);
    if (gold_c > 0) m.recall[c] = tp / static_cast<double>(gold_c);
    if (m.precision[c] + m.recall[c] > 0)
      m.f1[c] = 2 * m.precision[c] * m.recall[c] / (m.precision[c] + m.recall[c]);
    if (gold_c > 0 || pred_c > 0) {
      f1_sum += m.f1[c];
      ++present;
    }
  }
  m.macro_f1 = f1_sum / static_cast<double>(present);
  return m;
}

std::string format_metrics(const Metrics& m, const std::vector<std::string>& labels) {
  const size_t k = labels.size();
  CF_CHECK(m.confusion.size() == k && m.f1.size() == k && m.precision.size() == k &&
               m.recall.size() == k && m.support.size() == k,
           ValueError, "format_metrics: metrics of ", m.confusion.size(), " classes but ", k,
           " labels");
  size_t width = 5;  // "label"
  for (const std::string& l : labels) width = std::max(width, l.size());
  const int w = static_cast<int>(width);
  std::string out;
  char buf[512];
  std::snprintf(buf, sizeof(buf), "examples  %lld\naccuracy  %.4f\nmacro-F1  %.4f\n\n",
                static_cast<long long>(m.n), m.accuracy, m.macro_f1);
  out += buf;
  std::snprintf(buf, sizeof(buf), "%-4s %-*s %9s %9s %9s %9s\n", "#", w, "label", "precision",
                "recall", "F1", "support");
  out += buf;
  for (size_t c = 0; c < k; ++c) {
    std::snprintf(buf, sizeof(buf), "%-4zu %-*s %9.4f %9.4f %9.4f %9lld\n", c, w, labels[c].c_str(),
                  m.precision[c], m.recall[c], m.f1[c], static_cast<long long>(m.support[c]));
    out += buf;
  }
  int64_t largest = 1;
  for (const auto& row : m.confusion)
    for (int64_t v : row) largest = std::max(largest, v);
  const int cw = std::max(static_cast<int>(std::to_string(largest).size()),
                          static_cast<int>(std::to_string(k - 1).size())) +
                 1;
  out += "\nconfusion matrix (rows: gold, columns: predicted, by class #)\n";
  const auto right = [cw](const std::string& v) {
    return std::string(static_cast<size_t>(cw) - std::min(v.size(), static_cast<size_t>(cw)), ' ') +
           v;
  };
  out += "    ";
  for (size_t c = 0; c < k; ++c) out += right(std::to_string(c));
  out += "\n";
  for (size_t g = 0; g < k; ++g) {
    std::string head = std::to_string(g);
    out += head + std::string(head.size() < 4 ? 4 - head.size() : 0, ' ');
    for (size_t p = 0; p < k; ++p) out += right(std::to_string(m.confusion[g][p]));
    out += "\n";
  }
  return out;
}

}  // namespace cf::classify
