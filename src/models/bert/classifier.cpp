// A fine-tuned BERT behind the library's TextClassifier interface, and its checkpoint loader
// (model_type "bert-classifier", written by `cformer finetune bert`).
#include <algorithm>
#include <numeric>

#include <nlohmann/json.hpp>

#include "cformer/autograd.h"
#include "cformer/models/bert.h"
#include "cformer/ops.h"
#include "train/checkpoint.h"
#include "util/check.h"

namespace cf::models {

EncodedBatch pad_batch(const std::vector<std::vector<int64_t>>& rows, int64_t pad_id) {
  CF_CHECK(!rows.empty(), ValueError, "pad_batch: no rows");
  const int64_t B = static_cast<int64_t>(rows.size());
  int64_t T = 0;
  for (const auto& r : rows) T = std::max<int64_t>(T, static_cast<int64_t>(r.size()));
  CF_CHECK(T > 0, ValueError, "pad_batch: every row is empty");
  std::vector<int64_t> ids(static_cast<size_t>(B * T), pad_id), mask(ids.size(), 0);
  for (int64_t b = 0; b < B; ++b) {
    const auto& r = rows[static_cast<size_t>(b)];
    std::copy(r.begin(), r.end(), ids.begin() + b * T);
    std::fill(mask.begin() + b * T, mask.begin() + b * T + static_cast<int64_t>(r.size()), 1);
  }
  return {from_vector(ids, Shape{B, T}), zeros(Shape{B, T}, DType::i64), from_vector(mask, Shape{B, T})};
}

BertTextClassifier::BertTextClassifier(std::shared_ptr<BertForSequenceClassification> model,
                                       std::shared_ptr<const tokenizers::WordPieceTokenizer> tokenizer,
                                       std::vector<std::string> labels, int64_t max_len, int64_t batch)
    : model_(std::move(model)), tok_(std::move(tokenizer)), labels_(std::move(labels)),
      max_len_(max_len), batch_(batch) {
  CF_CHECK(model_ && tok_, ValueError, "bert classifier: model and tokenizer are required");
  CF_CHECK(static_cast<int64_t>(labels_.size()) == model_->num_labels(), ValueError,
           "bert classifier: ", labels_.size(), " labels for a model with ", model_->num_labels(), " outputs");
  CF_CHECK(max_len_ >= 3 && max_len_ <= model_->bert().config().max_position_embeddings, ValueError,
           "bert classifier: max_len must be in [3, ", model_->bert().config().max_position_embeddings,
           "], got ", max_len_);
  CF_CHECK(batch_ >= 1, ValueError, "bert classifier: batch must be >= 1, got ", batch_);
}

std::vector<std::vector<double>> BertTextClassifier::scores(const std::vector<std::string>& texts) {
  tokenizers::EncodeOptions eo;
  eo.max_length = max_len_;
  std::vector<std::vector<int64_t>> enc(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) enc[i] = tok_->encode_for_model(texts[i], eo).ids;
  // Longest first, so that each batch pads little and equal lengths share one attention call.
  std::vector<size_t> order(texts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&enc](size_t a, size_t b) { return enc[a].size() > enc[b].size(); });
  const bool was_training = model_->is_training();
  model_->eval();
  NoGradGuard ng;
  const size_t K = labels_.size();
  std::vector<std::vector<double>> out(texts.size());
  for (size_t s = 0; s < order.size(); s += static_cast<size_t>(batch_)) {
    const size_t e = std::min(order.size(), s + static_cast<size_t>(batch_));
    std::vector<std::vector<int64_t>> rows;
    for (size_t i = s; i < e; ++i) rows.push_back(enc[order[i]]);
    const EncodedBatch b = pad_batch(rows, tok_->pad_id());
    const std::vector<double> lp =
        log_softmax(model_->forward(b.input_ids, b.token_type_ids, b.attention_mask), 1)
            .to(DType::f64)
            .contiguous()
            .to_vector<double>();
    for (size_t i = s; i < e; ++i)
      out[order[i]].assign(lp.begin() + static_cast<int64_t>((i - s) * K),
                           lp.begin() + static_cast<int64_t>((i - s + 1) * K));
  }
  model_->train(was_training);
  return out;
}

std::string BertTextClassifier::describe() const {
  const BertConfig& c = model_->bert().config();
  return "bert-classifier: " + std::to_string(labels_.size()) + " labels, " +
         std::to_string(c.num_hidden_layers) + " layers, hidden " + std::to_string(c.hidden_size) + ", " +
         std::to_string(c.vocab_size) + "-token WordPiece vocabulary, " +
         std::to_string(model_->num_parameters()) + " parameters, max_len " + std::to_string(max_len_);
}

std::unique_ptr<classify::TextClassifier> load_bert_classifier(const std::string& path) {
  train::Checkpoint ck = train::load_checkpoint(path);
  const nlohmann::json type = ck.meta.contains("model_type") ? ck.meta["model_type"] : nlohmann::json("none");
  CF_CHECK(type == "bert-classifier", FormatError, path, ": holds a '",
           type.is_string() ? type.get<std::string>() : type.dump(), "' model, not a bert-classifier");
  BertConfig config;
  std::vector<std::string> labels;
  int64_t max_len = 0;
  std::shared_ptr<tokenizers::WordPieceTokenizer> tok;
  try {
    config = BertConfig::from_json(ck.meta.at("config").dump());
    labels = ck.meta.at("labels").get<std::vector<std::string>>();
    max_len = ck.meta.at("max_len");
    tok = std::make_shared<tokenizers::WordPieceTokenizer>(
        tokenizers::WordPieceTokenizer::from_hf_json(ck.meta.at("tokenizer").get<std::string>(), path));
  } catch (const nlohmann::json::exception& e) {
    CF_THROW(FormatError, path, ": incomplete bert-classifier metadata: ", e.what());
  }
  CF_CHECK(!labels.empty(), FormatError, path, ": the checkpoint lists no labels");
  CF_CHECK(tok->vocab_size() == config.vocab_size, FormatError, path, ": the tokenizer has ",
           tok->vocab_size(), " tokens, the model's vocab_size is ", config.vocab_size);
  auto model = std::make_shared<BertForSequenceClassification>(config, static_cast<int64_t>(labels.size()), 0);
  model->load_state_dict(ck.model, true);
  model->eval();
  return std::make_unique<BertTextClassifier>(model, tok, labels, max_len);
}

}  // namespace cf::models
