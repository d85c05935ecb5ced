// Training of the bag-of-words classifier: vocabulary and idf from the training texts, then
// AdamW on the mean cross-entropy over shuffled sparse mini-batches, early-stopped on the
// validation accuracy (the best epoch's weights are kept).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <ostream>
#include <unordered_map>

#include "cformer/autograd.h"
#include "cformer/models/bow.h"
#include "cformer/ops.h"
#include "cformer/optim.h"
#include "cformer/random.h"
#include "models/bow_batch.h"
#include "util/check.h"

namespace cf::models {

namespace {

using bow_detail::SparseRow;

// Accuracy of the arg-max of the logits over rows (the first label on ties, as predict()).
double accuracy(const std::vector<SparseRow>& rows, const std::vector<int64_t>& gold,
                const Tensor& weight_t, const Tensor& bias) {
  NoGradGuard no_grad;
  constexpr size_t kChunk = 4096;
  const size_t K = static_cast<size_t>(weight_t.size(1));
  std::vector<int64_t> order(rows.size());
  std::iota(order.begin(), order.end(), 0);
  int64_t correct = 0;
  for (size_t begin = 0; begin < rows.size(); begin += kChunk) {
    const size_t end = std::min(rows.size(), begin + kChunk);
    const std::vector<float> logits =
        bow_detail::batch_logits(bow_detail::make_batch(rows, order, begin, end), weight_t, bias)
            .to_vector<float>();
    for (size_t i = begin; i < end; ++i) {
      const float* l = logits.data() + (i - begin) * K;
      correct += std::max_element(l, l + K) - l == gold[i];
    }
  }
  return static_cast<double>(correct) / static_cast<double>(rows.size());
}

}  // namespace

std::unique_ptr<BowClassifier> BowClassifier::train(const classify::LabelledData& train,
                                                    const classify::LabelledData& valid,
                                                    const BowOptions& options, std::ostream* log,
                                                    std::vector<BowEpoch>* history) {
  using Clock = std::chrono::steady_clock;
  options.validate();
  CF_CHECK(!train.texts.empty(), ValueError, "bow: no training texts");
  CF_CHECK(!valid.texts.empty(), ValueError,
           "bow: no validation texts (early stopping needs them)");
  std::vector<std::string> labels = classify::label_set(train);
  CF_CHECK(labels.size() >= 2, ValueError, "bow: the training texts all have the label '",
           labels[0], "'; a classifier needs two labels or more");
  const std::vector<int64_t> y_train = classify::label_indices(train, labels, "training data");
  const std::vector<int64_t> y_valid = classify::label_indices(valid, labels, "validation data");

  // Document frequencies; the vocabulary is the max_vocab most frequent tokens (ties by token).
  std::unordered_map<std::string, int64_t> df;
  for (const std::string& text : train.texts) {
    std::vector<std::string> toks = bow_tokens(text);
    std::sort(toks.begin(), toks.end());
    toks.erase(std::unique(toks.begin(), toks.end()), toks.end());
    for (std::string& t : toks) ++df[std::move(t)];
  }
  std::vector<std::pair<std::string, int64_t>> kept;
  for (auto& [tok, n] : df)
    if (n >= options.min_count) kept.emplace_back(tok, n);
  CF_CHECK(!kept.empty(), ValueError, "bow: no token occurs in ", options.min_count,
           " or more training texts (min_count); the vocabulary would be empty");
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (static_cast<int64_t>(kept.size()) > options.max_vocab)
    kept.resize(static_cast<size_t>(options.max_vocab));
  const double N = static_cast<double>(train.texts.size());
  std::vector<std::string> vocab;
  std::vector<float> idf;
  for (auto& [tok, n] : kept) {
    vocab.push_back(tok);
    idf.push_back(static_cast<float>(std::log((1.0 + N) / (1.0 + static_cast<double>(n))) + 1.0));
  }
  const int64_t K = static_cast<int64_t>(labels.size());
  const int64_t V = static_cast<int64_t>(vocab.size());
  auto model = std::make_unique<BowClassifier>(std::move(vocab), std::move(idf), std::move(labels),
                                               zeros({K, V}), zeros({K}));

  std::vector<SparseRow> x_train, x_valid;
  x_train.reserve(train.texts.size());
  for (const std::string& t : train.texts) x_train.push_back(model->features(t));
  for (const std::string& t : valid.texts) x_valid.push_back(model->features(t));

  Tensor weight_t = model->weight_t_.clone().requires_grad_(true);  // (V, K)
  Tensor bias = model->bias_.clone().requires_grad_(true);          // (K)
  optim::AdamOptions adam;
  adam.lr = options.lr;
  adam.weight_decay = options.weight_decay;
  optim::AdamW opt(
      optim::weight_decay_groups({{"weight", weight_t}, {"bias", bias}}, options.weight_decay),
      adam);
  if (log)
    *log << "bow: " << x_train.size() << " training / " << x_valid.size() << " validation texts, "
         << K << " labels, " << V << "-token vocabulary\n";

  Generator gen(options.seed);
  double best = -1;
  int64_t since_best = 0;
  const size_t B = static_cast<size_t>(options.batch_size);
  for (int64_t epoch = 1; epoch <= options.epochs; ++epoch) {
    const auto start = Clock::now();
    const std::vector<int64_t> perm =
        randperm(static_cast<int64_t>(x_train.size()), gen).to_vector<int64_t>();
    double loss_sum = 0;
    for (size_t begin = 0; begin < perm.size(); begin += B) {
      const size_t end = std::min(perm.size(), begin + B);
      std::vector<int64_t> target;
      for (size_t i = begin; i < end; ++i) target.push_back(y_train[static_cast<size_t>(perm[i])]);
      const Tensor loss =
          cross_entropy(bow_detail::batch_logits(bow_detail::make_batch(x_train, perm, begin, end),
                                                 weight_t, bias),
                        from_vector(target));
      opt.zero_grad();
      loss.backward();
      opt.step();
      loss_sum += loss.item() * static_cast<double>(end - begin);
    }
    BowEpoch e;
    e.epoch = epoch;
    e.train_loss = loss_sum / static_cast<double>(x_train.size());
    e.valid_accuracy = accuracy(x_valid, y_valid, weight_t, bias);
    e.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (history) history->push_back(e);
    const bool improved = e.valid_accuracy > best;
    if (improved) {
      best = e.valid_accuracy;
      since_best = 0;
      model->weight_t_ = weight_t.detach().clone();
      model->bias_ = bias.detach().clone();
    } else {
      ++since_best;
    }
    if (log) {
      char line[160];
      std::snprintf(line, sizeof(line),
                    "epoch %3lld  train loss %.4f  valid accuracy %.4f%s  %.1f s\n",
                    static_cast<long long>(epoch), e.train_loss, e.valid_accuracy,
                    improved ? " (best)" : "", e.seconds);
      *log << line << std::flush;
    }
    CF_CHECK(std::isfinite(e.train_loss), ValueError, "bow: the training loss is ", e.train_loss,
             " at epoch ", epoch, "; lower --lr");
    if (since_best >= options.patience) {
      if (log)
        *log << "early stop: no better validation accuracy for " << options.patience << " epochs\n";
      break;
    }
  }
  return model;
}

}  // namespace cf::models
