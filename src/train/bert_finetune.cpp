#include "train/bert_finetune.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cformer/autograd.h"
#include "cformer/classify.h"
#include "cformer/io.h"
#include "cformer/models/bert.h"
#include "cformer/ops.h"
#include "cformer/optim.h"
#include "cformer/tokenizers/wordpiece.h"
#include "train/checkpoint.h"
#include "train/report.h"
#include "util/check.h"

namespace cf::train {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using tokenizers::WordPieceTokenizer;
namespace fs = std::filesystem;

struct Start {
  models::BertConfig config;
  std::shared_ptr<WordPieceTokenizer> tok;
  nn::StateDict encoder;  // "bert.*" weights to load, empty from scratch
  std::string source;     // for the log and the metadata
};

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  CF_CHECK(f.good(), IoError, "finetune bert: cannot open ", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The encoder, config and tokenizer to start from: a cformer checkpoint, an HF file, or scratch.
Start start_from(const BertFinetuneOptions& o, const std::vector<std::string>& train_texts, std::ostream& out) {
  Start s;
  if (o.init.empty()) {
    if (!o.tokenizer.empty()) {
      s.tok = std::make_shared<WordPieceTokenizer>(WordPieceTokenizer::load(o.tokenizer));
    } else {
      s.tok = std::make_shared<WordPieceTokenizer>(WordPieceTokenizer::train(train_texts, o.vocab_size));
      s.tok->save_hf_json(o.out_dir + "/tokenizer.json");
      out << "trained a WordPiece vocabulary of " << s.tok->vocab_size() << " tokens on the training texts: "
          << o.out_dir << "/tokenizer.json\n";
    }
    s.config = models::BertConfig::preset(o.preset, s.tok->vocab_size());
    s.config.max_position_embeddings = std::max<int64_t>(512, o.max_len);
    s.config.attention = o.attention;
    s.source = "scratch (preset " + o.preset + ")";
    return s;
  }
  CF_CHECK(fs::exists(o.init), IoError, "finetune bert: --init: no file ", o.init);
  CF_CHECK(!o.attention_given, ValueError, "finetune bert: --attention applies to a model from "
           "scratch; with --init the attention kernel is the checkpoint's (drop --attention)");
  const io::SafetensorsHeader header = io::read_safetensors_header(o.init);
  s.source = o.init;
  if (header.metadata.count("cformer")) {
    Checkpoint ck = load_checkpoint(o.init);
    const std::string type = ck.meta.value("model_type", "?");
    CF_CHECK(type == "bert-pretraining" || type == "bert-classifier", FormatError, o.init,
             ": holds a '", type, "' model; --init needs a bert-pretraining (or bert-classifier) checkpoint");
    CF_CHECK(o.tokenizer.empty(), ValueError, "finetune bert: --tokenizer does not apply with --init ", o.init,
             " (the checkpoint carries its own tokenizer)");
    try {
      s.config = models::BertConfig::from_json(ck.meta.at("config").dump());
      s.tok = std::make_shared<WordPieceTokenizer>(
          WordPieceTokenizer::from_hf_json(ck.meta.at("tokenizer").get<std::string>(), o.init));
    } catch (const json::exception& e) {
      CF_THROW(FormatError, o.init, ": incomplete checkpoint metadata: ", e.what());
    }
    for (auto& [n, t] : ck.model)
      if (n.rfind("bert.", 0) == 0) s.encoder.emplace_back(n, t);
    return s;
  }
  // A Hugging Face BERT: config.json beside it, and a tokenizer (--tokenizer, or vocab.txt /
  // tokenizer.json beside it).
  const fs::path dir = fs::path(o.init).parent_path();
  const fs::path cfg = dir / "config.json";
  CF_CHECK(fs::exists(cfg), IoError, o.init, ": not a cformer checkpoint, and no config.json beside it "
           "for a Hugging Face BERT");
  s.config = models::BertConfig::from_json(read_file(cfg.string()));
  std::string tok_path = o.tokenizer;
  for (const char* name : {"tokenizer.json", "vocab.txt"})
    if (tok_path.empty() && fs::exists(dir / name)) tok_path = (dir / name).string();
  CF_CHECK(!tok_path.empty(), IoError, o.init, ": give --tokenizer (no tokenizer.json or vocab.txt beside it)");
  s.tok = std::make_shared<WordPieceTokenizer>(WordPieceTokenizer::load(tok_path));
  models::BertForSequenceClassification probe(s.config, 1, 0);
  for (auto& [n, t] : models::hf_bert_state_dict(io::load_safetensors(o.init).tensors, probe))
    if (n.rfind("bert.", 0) == 0) s.encoder.emplace_back(n, t);
  return s;
}

}  // namespace

BertFinetuneSummary finetune_bert(const BertFinetuneOptions& opt, std::ostream& out) {
  BertFinetuneOptions o = opt;
  CF_CHECK(o.epochs > 0 || o.minutes > 0.0, ValueError, "finetune bert: give --epochs or --minutes");
  CF_CHECK(o.batch >= 1, ValueError, "finetune bert: --batch must be >= 1, got ", o.batch);
  CF_CHECK(o.max_len >= 8, ValueError, "finetune bert: --max-len must be >= 8, got ", o.max_len);
  CF_CHECK(o.lr >= 0.0, ValueError, "finetune bert: --lr must be positive, got ", o.lr);
  CF_CHECK(o.warmup_fraction >= 0.0 && o.warmup_fraction < 1.0, ValueError,
           "finetune bert: the warm-up fraction must be in [0, 1), got ", o.warmup_fraction);
  CF_CHECK(o.dropout >= 0.0 && o.dropout < 1.0, ValueError, "finetune bert: --dropout must be in [0, 1), got ",
           o.dropout);
  if (o.lr == 0.0) o.lr = o.init.empty() ? 5e-4 : 5e-5;
  const classify::LabelledData train_data = classify::read_tsv(o.train);
  const classify::LabelledData valid_data = classify::read_tsv(o.valid);
  CF_CHECK(!train_data.texts.empty(), ValueError, "finetune bert: ", o.train, " has no examples");
  CF_CHECK(!valid_data.texts.empty(), ValueError, "finetune bert: ", o.valid, " has no examples");
  const std::vector<std::string> labels = classify::label_set(train_data);
  const std::vector<int64_t> y_train = classify::label_indices(train_data, labels, o.train);
  const std::vector<int64_t> y_valid = classify::label_indices(valid_data, labels, o.valid);
  const int64_t K = static_cast<int64_t>(labels.size());
  fs::create_directories(o.out_dir);

  Start st = start_from(o, train_data.texts, out);
  st.config.hidden_dropout_prob = o.dropout;
  st.config.attention_probs_dropout_prob = 0.0;
  CF_CHECK(o.max_len <= st.config.max_position_embeddings, ValueError, "finetune bert: --max-len ", o.max_len,
           " exceeds the model's max_position_embeddings ", st.config.max_position_embeddings);
  auto model = std::make_shared<models::BertForSequenceClassification>(st.config, K, o.seed);
  if (!st.encoder.empty()) {
    const nn::LoadResult r = model->load_state_dict(st.encoder, false);
    for (const std::string& k : r.missing_keys)
      CF_CHECK(k.rfind("classifier.", 0) == 0, FormatError, o.init, ": the encoder weight '", k, "' is missing");
  }
  model->train();
  models::BertTextClassifier evaluator(model, st.tok, labels, o.max_len, o.batch);

  tokenizers::EncodeOptions eo;
  eo.max_length = o.max_len;
  std::vector<std::vector<int64_t>> enc(train_data.texts.size());
  int64_t truncated = 0;
  for (size_t i = 0; i < enc.size(); ++i) {
    tokenizers::Encoding e = st.tok->encode_for_model(train_data.texts[i], eo);
    truncated += e.truncated > 0;
    enc[i] = std::move(e.ids);
  }
  const int64_t N = static_cast<int64_t>(enc.size());
  const int64_t steps_per_epoch = (N + o.batch - 1) / o.batch;
  const int64_t total_steps = o.epochs > 0 ? o.epochs * steps_per_epoch : 0;
  auto groups = optim::weight_decay_groups(model->named_parameters(), o.weight_decay);
  optim::AdamW adamw(groups, optim::AdamOptions{o.lr, 0.9, 0.999, 1e-8, o.weight_decay});
  Generator gen(o.seed + 3);
  MetricsLog metrics(o.out_dir + "/metrics.jsonl", false);
  const std::string ck_path = o.out_dir + "/model.safetensors";
  out << "cformer finetune bert: from " << st.source << ", " << model->num_parameters() << " parameters, "
      << K << " labels, " << N << " training texts (" << truncated << " truncated to " << o.max_len
      << " tokens), " << valid_data.texts.size() << " validation texts, lr " << o.lr << "\n";

  const auto t0 = Clock::now();
  auto elapsed = [&t0]() { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  const double budget = o.minutes * 60.0;
  auto progress = [&](int64_t step) {
    double p = total_steps > 0 ? static_cast<double>(step) / static_cast<double>(total_steps) : 0.0;
    if (budget > 0.0) p = std::max(p, elapsed() / budget);
    return std::min(1.0, p);
  };
  BertFinetuneSummary s;
  json history = json::array();
  classify::Metrics best;
  int64_t step = 0, tokens = 0;
  bool out_of_time = false;
  for (int64_t epoch = 1; (o.epochs == 0 || epoch <= o.epochs) && !out_of_time; ++epoch) {
    const std::vector<int64_t> perm = randperm(N, gen).to_vector<int64_t>();
    double loss_sum = 0.0;
    int64_t loss_n = 0;
    for (int64_t b0 = 0; b0 < N; b0 += o.batch) {
      if (budget > 0.0 && elapsed() >= budget) {
        out_of_time = true;
        break;
      }
      std::vector<int64_t> idx(perm.begin() + b0, perm.begin() + std::min(N, b0 + o.batch));
      // Longest first: rows of equal length share one fused attention call.
      std::stable_sort(idx.begin(), idx.end(), [&enc](int64_t a, int64_t b) { return enc[a].size() > enc[b].size(); });
      std::vector<std::vector<int64_t>> rows;
      std::vector<int64_t> y;
      for (int64_t i : idx) {
        rows.push_back(enc[static_cast<size_t>(i)]);
        y.push_back(y_train[static_cast<size_t>(i)]);
        tokens += static_cast<int64_t>(enc[static_cast<size_t>(i)].size());
      }
      const models::EncodedBatch b = models::pad_batch(rows, st.tok->pad_id());
      const double p = progress(step);
      const double warm = o.warmup_fraction > 0.0
                              ? std::min(1.0, std::max(p, 1.0 / static_cast<double>(std::max<int64_t>(total_steps, 100))) /
                                                  o.warmup_fraction)
                              : 1.0;
      const double lr = o.lr * warm * (1.0 - p);
      adamw.set_lr(lr);
      Tensor loss = cross_entropy(model->forward(b.input_ids, b.token_type_ids, b.attention_mask), from_vector(y));
      adamw.zero_grad();
      loss.backward();
      if (o.grad_clip > 0.0) optim::clip_grad_norm_(model->parameters(), o.grad_clip);
      adamw.step();
      ++step;
      const double l = loss.item();
      CF_CHECK(std::isfinite(l), ValueError, "finetune bert: the loss became ", l, " at step ", step, "; lower --lr");
      loss_sum += l;
      ++loss_n;
      metrics.write(json{{"step", step}, {"epoch", epoch}, {"loss", l}, {"lr", lr}, {"elapsed", elapsed()}}.dump());
      if (o.progress && step % 10 == 0) {
        const double now = elapsed();
        const double total = total_steps > 0 ? static_cast<double>(total_steps)
                                             : static_cast<double>(step) * budget / std::max(now, 1e-9);
        std::fprintf(stderr, "\r%s   ", progress_line(step, static_cast<int64_t>(total), l,
                                                     static_cast<double>(tokens) / std::max(now, 1e-9), now,
                                                     std::max(0.0, now / std::max(p, 1e-9) - now)).c_str());
        std::fflush(stderr);
      }
    }
    if (loss_n == 0) break;
    const std::vector<int64_t> pred =
        classify::predict_from_scores(evaluator.scores(valid_data.texts), labels.size());
    const classify::Metrics m = classify::compute_metrics(y_valid, pred, K);
    const double train_loss = loss_sum / static_cast<double>(loss_n);
    if (o.progress) std::fprintf(stderr, "\n");
    const bool improved = s.epochs == 0 || m.macro_f1 > best.macro_f1;
    s.epochs = epoch;
    history.push_back({{"epoch", epoch}, {"train_loss", train_loss}, {"valid_accuracy", m.accuracy},
                       {"valid_macro_f1", m.macro_f1}, {"steps", step}, {"partial", out_of_time}});
    metrics.write(json{{"epoch", epoch}, {"step", step}, {"train_loss", train_loss}, {"valid_accuracy", m.accuracy},
                       {"valid_macro_f1", m.macro_f1}, {"elapsed", elapsed()}}.dump());
    out << "epoch " << epoch << (out_of_time ? " (partial, time is up)" : "") << ": train loss " << train_loss
        << ", validation accuracy " << m.accuracy << ", macro-F1 " << m.macro_f1 << (improved ? " (best so far, saved)" : "")
        << "\n";
    if (improved) {
      best = m;
      s.best_epoch = epoch;
      Checkpoint c;
      c.model = model->state_dict();
      c.meta = {{"model_type", "bert-classifier"},
                {"config", json::parse(st.config.to_json())},
                {"tokenizer", st.tok->to_hf_json()},
                {"labels", labels},
                {"max_len", o.max_len},
                {"epoch", epoch},
                {"valid_accuracy", m.accuracy},
                {"valid_macro_f1", m.macro_f1},
                {"init", st.source},
                {"train", o.train},
                {"valid", o.valid},
                {"history", history}};
      save_checkpoint(ck_path, c);
    }
  }
  s.steps = step;
  s.elapsed_s = elapsed();
  s.tokens_per_s = static_cast<double>(tokens) / std::max(1e-9, s.elapsed_s);
  s.best_accuracy = best.accuracy;
  s.best_macro_f1 = best.macro_f1;
  CF_CHECK(s.epochs > 0, ValueError, "finetune bert: the time budget ended before the first training step");
  out << classify::format_metrics(best, labels);
  out << "done: " << s.epochs << " epochs, " << step << " steps in " << format_duration(s.elapsed_s) << ", "
      << static_cast<int64_t>(s.tokens_per_s) << " training tokens/s; best epoch " << s.best_epoch
      << " (validation accuracy " << s.best_accuracy << ", macro-F1 " << s.best_macro_f1 << "): " << ck_path
      << ", metrics " << o.out_dir << "/metrics.jsonl\n";
  return s;
}

}  // namespace cf::train
