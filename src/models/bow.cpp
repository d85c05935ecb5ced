// Bag-of-words logistic regression: tokens, features, inference and the checkpoint format.
// See include/cformer/models/bow.h for the math.
#include "cformer/models/bow.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "cformer/autograd.h"
#include "cformer/ops.h"
#include "models/bow_batch.h"
#include "tokenizers/unicode.h"
#include "train/checkpoint.h"
#include "util/check.h"

namespace cf::models {

using nlohmann::json;
namespace uni = tokenizers::unicode;

namespace bow_detail {

SparseBatch make_batch(const std::vector<SparseRow>& rows, const std::vector<int64_t>& order,
                       size_t begin, size_t end) {
  std::vector<int64_t> index, row;
  std::vector<float> value;
  for (size_t i = begin; i < end; ++i) {
    for (const auto& [t, v] : rows[static_cast<size_t>(order[i])]) {
      index.push_back(t);
      value.push_back(v);
      row.push_back(static_cast<int64_t>(i - begin));
    }
  }
  return {static_cast<int64_t>(end - begin), from_vector(index), from_vector(value),
          from_vector(row)};
}

Tensor batch_logits(const SparseBatch& batch, const Tensor& weight_t, const Tensor& bias) {
  const int64_t K = weight_t.size(1);
  const Tensor picked = index_select(weight_t, 0, batch.index);  // (Z, K)
  const Tensor scaled = picked * batch.value.unsqueeze(1);       // (Z, K)
  return index_add(zeros({batch.rows, K}), 0, batch.row, scaled) + bias;
}

}  // namespace bow_detail

std::vector<std::string> bow_tokens(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    const int n = uni::decode_utf8(text, i, cp);
    const uni::CharClass c = uni::char_class(cp);
    if (c == uni::CharClass::Letter || c == uni::CharClass::Number) {
      if (n == 1) {
        const char ch = text[i];
        cur += (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
      } else {
        cur.append(text.substr(i, static_cast<size_t>(n)));
      }
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
    i += static_cast<size_t>(n);
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

void BowOptions::validate() const {
  CF_CHECK(max_vocab > 0, ValueError, "bow: max_vocab must be positive, got ", max_vocab);
  CF_CHECK(min_count > 0, ValueError, "bow: min_count must be positive, got ", min_count);
  CF_CHECK(epochs > 0, ValueError, "bow: epochs must be positive, got ", epochs);
  CF_CHECK(patience > 0, ValueError, "bow: patience must be positive, got ", patience);
  CF_CHECK(batch_size > 0, ValueError, "bow: batch_size must be positive, got ", batch_size);
  CF_CHECK(std::isfinite(lr) && lr > 0, ValueError, "bow: lr must be positive, got ", lr);
  CF_CHECK(std::isfinite(weight_decay) && weight_decay >= 0, ValueError,
           "bow: weight_decay must be >= 0, got ", weight_decay);
}

BowClassifier::BowClassifier(std::vector<std::string> vocab, std::vector<float> idf,
                             std::vector<std::string> labels, Tensor weight, Tensor bias)
    : vocab_(std::move(vocab)), idf_(std::move(idf)), labels_(std::move(labels)) {
  const int64_t V = static_cast<int64_t>(vocab_.size());
  const int64_t K = static_cast<int64_t>(labels_.size());
  CF_CHECK(V > 0, ValueError, "BowClassifier: empty vocabulary");
  CF_CHECK(K > 0, ValueError, "BowClassifier: no labels");
  CF_CHECK(idf_.size() == vocab_.size(), ShapeError, "BowClassifier: idf must have shape (", V,
           "), got (", idf_.size(), ")");
  for (size_t t = 0; t < idf_.size(); ++t)
    CF_CHECK(std::isfinite(idf_[t]) && idf_[t] > 0, ValueError, "BowClassifier: idf of '",
             vocab_[t], "' must be positive, got ", idf_[t]);
  CF_CHECK(std::is_sorted(labels_.begin(), labels_.end()) &&
               std::adjacent_find(labels_.begin(), labels_.end()) == labels_.end(),
           ValueError, "BowClassifier: labels must be sorted and distinct");
  for (const std::string& l : labels_)
    CF_CHECK(!l.empty(), ValueError, "BowClassifier: empty label");
  CF_CHECK(weight.defined() && weight.dtype() == DType::f32 && weight.shape() == Shape({K, V}),
           ShapeError, "BowClassifier: weight must be f32 of shape (", K, ", ", V, "), got ",
           weight.defined() ? weight.str() : std::string("none"));
  CF_CHECK(bias.defined() && bias.dtype() == DType::f32 && bias.shape() == Shape({K}), ShapeError,
           "BowClassifier: bias must be f32 of shape (", K, "), got ",
           bias.defined() ? bias.str() : std::string("none"));
  index_.reserve(vocab_.size());
  for (size_t t = 0; t < vocab_.size(); ++t) {
    CF_CHECK(!vocab_[t].empty(), ValueError, "BowClassifier: empty token at ", t);
    CF_CHECK(index_.emplace(vocab_[t], static_cast<int64_t>(t)).second, ValueError,
             "BowClassifier: token '", vocab_[t], "' occurs twice in the vocabulary");
  }
  weight_t_ = weight.detach().t().contiguous();
  bias_ = bias.detach().contiguous();
}

std::vector<std::pair<int64_t, float>> BowClassifier::features(std::string_view text) const {
  std::vector<int64_t> ids;
  for (const std::string& tok : bow_tokens(text)) {
    const auto it = index_.find(tok);
    if (it != index_.end()) ids.push_back(it->second);
  }
  std::sort(ids.begin(), ids.end());
  std::vector<std::pair<int64_t, float>> row;
  double norm2 = 0;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j < ids.size() && ids[j] == ids[i]) ++j;
    const double v = std::log1p(static_cast<double>(j - i)) * idf_[static_cast<size_t>(ids[i])];
    row.emplace_back(ids[i], static_cast<float>(v));
    norm2 += v * v;
    i = j;
  }
  const double inv = norm2 > 0 ? 1.0 / std::sqrt(norm2) : 0.0;
  for (auto& [t, v] : row) v = static_cast<float>(v * inv);
  return row;
}

std::vector<std::vector<double>> BowClassifier::scores(const std::vector<std::string>& texts) {
  NoGradGuard no_grad;
  constexpr size_t kChunk = 1024;
  std::vector<std::vector<double>> out;
  out.reserve(texts.size());
  const int64_t K = static_cast<int64_t>(labels_.size());
  for (size_t begin = 0; begin < texts.size(); begin += kChunk) {
    const size_t end = std::min(texts.size(), begin + kChunk);
    std::vector<bow_detail::SparseRow> rows;
    for (size_t i = begin; i < end; ++i) rows.push_back(features(texts[i]));
    std::vector<int64_t> order(rows.size());
    std::iota(order.begin(), order.end(), 0);
    const bow_detail::SparseBatch batch = bow_detail::make_batch(rows, order, 0, rows.size());
    const std::vector<float> lp =
        log_softmax(bow_detail::batch_logits(batch, weight_t_, bias_), 1).to_vector<float>();
    for (size_t i = 0; i < rows.size(); ++i)
      out.emplace_back(lp.begin() + static_cast<int64_t>(i) * K,
                       lp.begin() + static_cast<int64_t>(i + 1) * K);
  }
  return out;
}

std::string BowClassifier::describe() const {
  return "bow-classifier: " + std::to_string(labels_.size()) + " labels, " +
         std::to_string(vocab_.size()) + "-token vocabulary, " +
         std::to_string(weight_t_.numel() + bias_.numel()) + " parameters";
}

void BowClassifier::save(const std::string& path, const BowOptions& options,
                         const std::vector<BowEpoch>& history) const {
  json hist = json::array();
  for (const BowEpoch& e : history)
    hist.push_back({{"epoch", e.epoch},
                    {"train_loss", e.train_loss},
                    {"valid_accuracy", e.valid_accuracy},
                    {"seconds", e.seconds}});
  train::Checkpoint ck;
  ck.model = {{"weight", weight_t_.t().contiguous()}, {"bias", bias_}};
  ck.meta = {{"model_type", "bow-classifier"},
             {"config",
              {{"vocab_size", vocab_.size()},
               {"num_labels", labels_.size()},
               {"features", "log1p(tf) * smooth idf, L2-normalized"},
               {"tokens", "unicode letter/number runs, ASCII lower-cased"}}},
             {"labels", labels_},
             {"vocab", vocab_},
             {"idf", idf_},
             {"options",
              {{"max_vocab", options.max_vocab},
               {"min_count", options.min_count},
               {"epochs", options.epochs},
               {"patience", options.patience},
               {"batch_size", options.batch_size},
               {"lr", options.lr},
               {"weight_decay", options.weight_decay},
               {"seed", options.seed}}},
             {"history", hist}};
  train::save_checkpoint(path, ck);
}

std::unique_ptr<BowClassifier> load_bow_classifier(const std::string& path) {
  train::Checkpoint ck = train::load_checkpoint(path);
  const json& meta = ck.meta;
  const json type = meta.contains("model_type") ? meta["model_type"] : json("none");
  CF_CHECK(type == "bow-classifier", FormatError, path, ": holds a '",
           type.is_string() ? type.get<std::string>() : type.dump(),
           "' model, not a bow-classifier");
  std::vector<std::string> vocab, labels;
  std::vector<float> idf;
  try {
    vocab = meta.at("vocab").get<std::vector<std::string>>();
    labels = meta.at("labels").get<std::vector<std::string>>();
    idf = meta.at("idf").get<std::vector<float>>();
  } catch (const json::exception& e) {
    CF_THROW(FormatError, path, ": bad bow-classifier metadata (vocab, labels, idf): ", e.what());
  }
  Tensor weight, bias;
  for (const auto& [name, t] : ck.model) {
    if (name == "weight")
      weight = t;
    else if (name == "bias")
      bias = t;
    else
      CF_THROW(FormatError, path, ": unexpected tensor 'model.", name, "' in a bow-classifier");
  }
  CF_CHECK(weight.defined() && bias.defined(), FormatError, path,
           ": a bow-classifier needs model.weight and model.bias");
  try {
    return std::make_unique<BowClassifier>(std::move(vocab), std::move(idf), std::move(labels),
                                           weight, bias);
  } catch (const Error& e) {
    CF_THROW(FormatError, path, ": ", e.what());
  }
}

}  // namespace cf::models
