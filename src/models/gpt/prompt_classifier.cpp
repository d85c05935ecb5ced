// Zero-shot classification by prompting a GPT: every (text, label) pair becomes one token
// sequence (the filled template), sequences of similar length are batched (right-padded: with
// causal attention the padding never reaches the positions that are read), and a label's score
// sums log_softmax(logits)[t - 1, tokens[t]] over its scored positions t.
#include "cformer/models/gpt_prompt.h"

#include <algorithm>
#include <numeric>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cformer/autograd.h"
#include "cformer/data.h"
#include "cformer/ops.h"
#include "train/checkpoint.h"
#include "util/check.h"

namespace cf::models {
namespace {

constexpr std::string_view kText = "{text}", kLabel = "{label}";

size_t count_of(const std::string& s, std::string_view what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

void append(std::vector<int64_t>& out, const std::vector<int64_t>& piece) {
  out.insert(out.end(), piece.begin(), piece.end());
}

}  // namespace

GptPromptClassifier::GptPromptClassifier(std::shared_ptr<Gpt> model, Encoder encode,
                                         std::string prompt_template,
                                         std::vector<std::string> labels, GptPromptOptions options)
    : model_(std::move(model)),
      encode_(std::move(encode)),
      template_(std::move(prompt_template)),
      labels_(std::move(labels)),
      options_(options) {
  CF_CHECK(model_ != nullptr && encode_ != nullptr, ValueError,
           "prompt classifier: a model and a tokenizer are required");
  const size_t n_text = count_of(template_, kText), n_label = count_of(template_, kLabel);
  CF_CHECK(n_text == 1, ValueError,
           "prompt classifier: the template must contain {text} exactly once, got ", n_text,
           " in \"", template_, "\"");
  CF_CHECK(n_label <= 1, ValueError,
           "prompt classifier: the template may contain {label} at most once, got ", n_label,
           " in \"", template_, "\"");
  CF_CHECK(labels_.size() >= 2, ValueError, "prompt classifier: at least 2 labels are needed, got ",
           labels_.size());
  for (size_t i = 0; i < labels_.size(); ++i) {
    CF_CHECK(!labels_[i].empty(), ValueError, "prompt classifier: label ", i + 1, " is empty");
    for (size_t j = 0; j < i; ++j)
      CF_CHECK(labels_[i] != labels_[j], ValueError, "prompt classifier: label '", labels_[i],
               "' is given twice");
  }
  CF_CHECK(options_.batch_size >= 1, ValueError, "prompt classifier: batch_size must be >= 1, got ",
           options_.batch_size);
  CF_CHECK(options_.max_length >= 0, ValueError, "prompt classifier: max_length must be >= 0, got ",
           options_.max_length);
  const int64_t block = model_->config().block_size;
  context_ = options_.max_length > 0 ? std::min(options_.max_length, block) : block;

  label_in_template_ = n_label == 1;
  const size_t pt = template_.find(kText);
  const size_t pl = label_in_template_ ? template_.find(kLabel) : std::string::npos;
  text_before_label_ = !label_in_template_ || pt < pl;
  const size_t p1 = std::min(pt, pl), len1 = p1 == pt ? kText.size() : kLabel.size();
  head_ = encode_(std::string_view(template_).substr(0, p1));
  if (label_in_template_) {
    const size_t p2 = std::max(pt, pl), len2 = p2 == pt ? kText.size() : kLabel.size();
    middle_ = encode_(std::string_view(template_).substr(p1 + len1, p2 - p1 - len1));
    tail_ = encode_(std::string_view(template_).substr(p2 + len2));
  } else {
    middle_ = encode_(std::string_view(template_).substr(p1 + len1));
  }
  // Without the text, something must come before the scored part: its first token needs a
  // prediction, and a GPT has none for position 0.
  const size_t context = text_before_label_ ? head_.size() + middle_.size() : head_.size();
  CF_CHECK(context >= 1, ValueError, "prompt classifier: the template \"", template_,
           "\" has nothing before the scored ", label_in_template_ ? "{label}" : "label",
           " other than the text; put a separator there (e.g. a leading newline), since a GPT "
           "predicts no first token");
  const int64_t limit = context_ + 1;
  for (const std::string& l : labels_) {
    label_tokens_.push_back(encode_(l));
    CF_CHECK(!label_tokens_.back().empty(), ValueError, "prompt classifier: label '", l,
             "' encodes to no tokens");
    const int64_t n = static_cast<int64_t>(head_.size() + middle_.size() + tail_.size() +
                                           label_tokens_.back().size());
    CF_CHECK(n <= limit, ValueError, "prompt classifier: the template with label '", l, "' takes ",
             n, " tokens, more than the context + 1 = ", limit, " (block_size ", block,
             ", max_length ", options_.max_length, ")");
  }
  if (options_.calibrate) {
    std::vector<Sequence> seqs;
    for (size_t j = 0; j < labels_.size(); ++j) seqs.push_back(sequence("", j));
    calibration_ = score_sequences(seqs);
  }
}

GptPromptClassifier::Sequence GptPromptClassifier::sequence(std::string_view text,
                                                            size_t label) const {
  CF_CHECK(label < labels_.size(), IndexError, "prompt classifier: label index ", label,
           " is out of range for ", labels_.size(), " labels");
  return build(encode_(text), label);
}

GptPromptClassifier::Sequence GptPromptClassifier::build(std::vector<int64_t> t,
                                                         size_t label) const {
  const std::vector<int64_t>& l = label_tokens_[label];
  const int64_t fixed =
      static_cast<int64_t>(head_.size() + middle_.size() + tail_.size() + l.size());
  const int64_t excess = fixed + static_cast<int64_t>(t.size()) - (context_ + 1);
  if (excess > 0) {  // the constructor ensured fixed <= context_ + 1
    if (text_before_label_)
      t.erase(t.begin(), t.begin() + excess);
    else
      t.resize(t.size() - static_cast<size_t>(excess));
  }
  Sequence s;
  s.tokens = head_;
  if (text_before_label_) {
    append(s.tokens, t);
    append(s.tokens, middle_);
    s.first = static_cast<int64_t>(s.tokens.size());
    append(s.tokens, l);
  } else {
    s.first = static_cast<int64_t>(s.tokens.size());
    append(s.tokens, l);
    append(s.tokens, middle_);
    append(s.tokens, t);
  }
  append(s.tokens, tail_);
  return s;
}

std::vector<double> GptPromptClassifier::score_sequences(const std::vector<Sequence>& seqs) {
  const int64_t V = model_->config().vocab_size;
  for (const Sequence& s : seqs)
    for (int64_t id : s.tokens)
      CF_CHECK(id >= 0 && id < V, IndexError, "prompt classifier: token ", id,
               " is outside the model's vocabulary [0, ", V, ")");
  // Longest first, so each batch pads to lengths close to its own.
  std::vector<size_t> order(seqs.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&seqs](size_t a, size_t b) {
    return seqs[a].tokens.size() > seqs[b].tokens.size();
  });
  NoGradGuard no_grad;
  const bool was_training = model_->is_training();
  model_->eval();
  std::vector<double> out(seqs.size(), 0.0);
  const size_t bs = static_cast<size_t>(options_.batch_size);
  for (size_t i0 = 0; i0 < order.size(); i0 += bs) {
    const size_t B = std::min(bs, order.size() - i0);
    const int64_t T = static_cast<int64_t>(seqs[order[i0]].tokens.size()) - 1;  // model inputs
    std::vector<int64_t> idx(B * static_cast<size_t>(T), 0), tgt(B * static_cast<size_t>(T), 0);
    for (size_t b = 0; b < B; ++b) {
      const std::vector<int64_t>& tok = seqs[order[i0 + b]].tokens;
      for (size_t t = 0; t + 1 < tok.size(); ++t) {
        idx[b * static_cast<size_t>(T) + t] = tok[t];
        tgt[b * static_cast<size_t>(T) + t] = tok[t + 1];
      }
    }
    const Shape shape{static_cast<int64_t>(B), T};
    Tensor logp = log_softmax(model_->forward(from_vector(idx, shape)).to(DType::f64), 2);
    const std::vector<double> lp =
        gather(logp, 2, from_vector(tgt, shape).unsqueeze(2)).contiguous().to_vector<double>();
    for (size_t b = 0; b < B; ++b) {
      const Sequence& s = seqs[order[i0 + b]];
      const size_t n = s.tokens.size();
      double sum = 0.0;
      for (size_t t = static_cast<size_t>(s.first); t < n; ++t)
        sum += lp[b * static_cast<size_t>(T) + t - 1];
      out[order[i0 + b]] = options_.length_normalize
                               ? sum / static_cast<double>(n - static_cast<size_t>(s.first))
                               : sum;
    }
  }
  model_->train(was_training);
  return out;
}

std::vector<std::vector<double>> GptPromptClassifier::scores(
    const std::vector<std::string>& texts) {
  const size_t L = labels_.size();
  std::vector<Sequence> seqs;
  seqs.reserve(texts.size() * L);
  for (const std::string& text : texts) {
    const std::vector<int64_t> t = encode_(text);
    for (size_t j = 0; j < L; ++j) seqs.push_back(build(t, j));
  }
  const std::vector<double> flat = score_sequences(seqs);
  std::vector<std::vector<double>> out(texts.size(), std::vector<double>(L));
  for (size_t i = 0; i < texts.size(); ++i)
    for (size_t j = 0; j < L; ++j)
      out[i][j] = flat[i * L + j] - (options_.calibrate ? calibration_[j] : 0.0);
  return out;
}

std::string GptPromptClassifier::describe() const {
  const GptConfig& c = model_->config();
  std::ostringstream os;
  os << "zero-shot GPT prompting: " << c.n_layer << " layers x " << c.n_embd << ", block "
     << c.block_size << ", vocab " << c.vocab_size << " (" << model_->num_parameters()
     << " parameters); " << labels_.size() << " labels; score "
     << (label_in_template_ ? "log P(from {label} to the end)" : "log P(label | prompt)")
     << (options_.length_normalize ? " per token" : " summed")
     << (options_.calibrate ? ", calibrated on the empty text" : "");
  return os.str();
}

std::unique_ptr<classify::TextClassifier> load_gpt_prompt_classifier(
    const std::string& ckpt, const std::string& prompt_template,
    const std::vector<std::string>& labels, const GptPromptOptions& options) {
  train::Checkpoint ck = train::load_checkpoint(ckpt);
  const std::string type = ck.meta.value("model_type", "");
  CF_CHECK(type == "gpt", FormatError, ckpt, ": holds a '", type.empty() ? "?" : type,
           "' model, not a GPT; zero-shot prompting needs a checkpoint of `cformer train gpt`");
  GptConfig cfg;
  auto tok = std::make_shared<data::CharTokenizer>();
  try {
    cfg = GptConfig::from_json(ck.meta.at("config").dump());
    *tok = data::CharTokenizer::from_json(ck.meta.at("tokenizer").get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    CF_THROW(FormatError, ckpt, ": incomplete checkpoint metadata: ", e.what());
  }
  CF_CHECK(tok->vocab_size() == cfg.vocab_size, FormatError, ckpt, ": tokenizer size ",
           tok->vocab_size(), " does not match the model's vocab_size ", cfg.vocab_size);
  auto model = std::make_shared<Gpt>(cfg, 0);
  model->load_state_dict(ck.model, true);
  GptPromptClassifier::Encoder encode = [tok](std::string_view s) { return tok->encode(s); };
  return std::make_unique<GptPromptClassifier>(std::move(model), std::move(encode), prompt_template,
                                               labels, options);
}

}  // namespace cf::models
