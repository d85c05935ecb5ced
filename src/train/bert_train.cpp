#include "train/bert_train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "cformer/autograd.h"
#include "cformer/data.h"
#include "cformer/ops.h"
#include "cformer/optim.h"
#include "cformer/tokenizers/wordpiece.h"
#include "train/bert_data.h"
#include "train/checkpoint.h"
#include "train/report.h"
#include "util/check.h"

namespace cf::train {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using tokenizers::WordPieceTokenizer;

// Lines of the files; a blank line or the end of a file ends a document (an empty vector marks
// the boundary).
std::vector<std::string> read_lines(const std::vector<std::string>& files) {
  std::vector<std::string> lines;
  for (const std::string& path : files) {
    const std::string text = data::read_text_file(path);
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      std::string line = text.substr(start, end - start);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines.push_back(std::move(line));
      start = end + 1;
    }
    lines.emplace_back();
  }
  return lines;
}

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t'; });
}

std::vector<Document> tokenize_documents(const std::vector<std::string>& lines, const WordPieceTokenizer& tok) {
  std::vector<Document> docs(1);
  for (const std::string& line : lines) {
    if (blank(line)) {
      if (!docs.back().empty()) docs.emplace_back();
      continue;
    }
    docs.back().push_back(tok.encode(line));
  }
  if (docs.back().empty()) docs.pop_back();
  return docs;
}

BertVocab vocab_of(const WordPieceTokenizer& tok) {
  BertVocab v;
  v.vocab_size = tok.vocab_size();
  v.pad_id = tok.pad_id();
  v.cls_id = tok.cls_id();
  v.sep_id = tok.sep_id();
  v.mask_id = tok.mask_id();
  v.special_ids = {tok.pad_id(), tok.unk_id(), tok.cls_id(), tok.sep_id(), tok.mask_id()};
  v.continuation.resize(static_cast<size_t>(v.vocab_size));
  for (int64_t i = 0; i < v.vocab_size; ++i) v.continuation[static_cast<size_t>(i)] = tok.is_continuation(i);
  return v;
}

struct Eval {
  double loss = 0.0, accuracy = 0.0, nsp_accuracy = -1.0;
};

Eval evaluate(models::BertForPreTraining& model, const std::vector<models::BertBatch>& val) {
  NoGradGuard ng;
  model.eval();
  double loss = 0.0, correct = 0.0, masked = 0.0, nsp_correct = 0.0, nsp_n = 0.0;
  for (const models::BertBatch& b : val) {
    const models::BertPreTrainingOutput o = model.forward(b);
    const double m = static_cast<double>(o.mlm_logits.size(0));
    loss += o.mlm_loss.item() * m;
    masked += m;
    Tensor targets = index_select(b.mlm_labels.reshape(Shape{-1}), 0, o.mlm_positions);
    correct += sum(eq(argmax(o.mlm_logits, 1), targets).to(DType::f64)).item();
    if (b.nsp_labels.defined()) {
      nsp_correct += sum(eq(argmax(o.nsp_logits, 1), b.nsp_labels).to(DType::f64)).item();
      nsp_n += static_cast<double>(b.nsp_labels.size(0));
    }
  }
  model.train();
  Eval e;
  e.loss = loss / std::max(1.0, masked);
  e.accuracy = correct / std::max(1.0, masked);
  if (nsp_n > 0) e.nsp_accuracy = nsp_correct / nsp_n;
  return e;
}


bool was_given(const std::vector<std::string>& given, const char* flag) {
  return std::find(given.begin(), given.end(), flag) != given.end();
}

}  // namespace

BertTrainSummary train_bert(const BertTrainOptions& opt, const std::vector<std::string>& given,
                            std::ostream& out) {
  BertTrainOptions o = opt;
  CF_CHECK(!o.data.empty(), ValueError, "train bert: give at least one --data file");
  CF_CHECK(o.steps > 0 || o.minutes > 0.0, ValueError, "train bert: give --steps or --minutes");
  CF_CHECK(o.batch >= 1, ValueError, "train bert: --batch must be >= 1, got ", o.batch);
  CF_CHECK(o.lr > 0.0, ValueError, "train bert: --lr must be positive, got ", o.lr);
  CF_CHECK(o.mask_prob > 0.0 && o.mask_prob <= 1.0, ValueError,
           "train bert: --mask-prob must be in (0, 1], got ", o.mask_prob);
  CF_CHECK(o.max_len >= 8, ValueError, "train bert: --max-len must be >= 8, got ", o.max_len);
  CF_CHECK(o.eval_every >= 1 && o.log_every >= 1 && o.checkpoint_every >= 1, ValueError,
           "train bert: --eval-every, --log-every and --checkpoint-every must be >= 1");
  CF_CHECK(o.resume || !o.tokenizer.empty() || o.vocab_size > 0, ValueError,
           "train bert: give --tokenizer FILE or --vocab-size N (to train a WordPiece on the data)");
  CF_CHECK(o.tokenizer.empty() || o.vocab_size == 0, ValueError,
           "train bert: give either --tokenizer or --vocab-size, not both");
  for (const std::string& f : o.data)
    CF_CHECK(std::filesystem::exists(f), IoError, "train bert: no data file ", f);
  namespace fs = std::filesystem;
  const std::string ck_path = o.out_dir + "/checkpoint.safetensors";
  if (!o.resume) {  // the attention settings fail before any tokenizer or data work
    models::BertConfig probe;
    probe.attention_probs_dropout_prob = o.attention_dropout >= 0.0 ? o.attention_dropout : o.dropout;
    probe.attention = o.attention;
    probe.validate();
  }

  Checkpoint ck;
  WordPieceTokenizer tok;
  models::BertConfig config;
  int64_t start_step = 0;
  double start_elapsed = 0.0;
  if (o.resume) {
    CF_CHECK(fs::exists(ck_path), IoError, "train bert: --resume: no checkpoint at ", ck_path);
    ck = load_checkpoint(ck_path);
    CF_CHECK(ck.meta.value("model_type", "") == "bert-pretraining", FormatError, ck_path,
             ": the checkpoint holds a '", ck.meta.value("model_type", "?"),
             "' model, not bert-pretraining");
    try {
      config = models::BertConfig::from_json(ck.meta.at("config").dump());
      tok = WordPieceTokenizer::from_hf_json(ck.meta.at("tokenizer").get<std::string>(), ck_path);
      const json& t = ck.meta.at("training");
      auto agree = [&given](const char* flag, const json& want, const json& have) {
        CF_CHECK(!was_given(given, flag) || want == have, ValueError, "train bert: --", flag, " ",
                 want.dump(), " contradicts the checkpoint being resumed (", have.dump(), ")");
      };
      agree("max-len", o.max_len, t.at("max_len"));
      agree("nsp", o.nsp, t.at("nsp"));
      agree("whole-word", o.whole_word, t.at("whole_word"));
      agree("mask-prob", o.mask_prob, t.at("mask_prob"));
      agree("preset", o.preset, t.at("preset"));
      CF_CHECK(!was_given(given, "attention") || o.attention.to_json() == config.attention.to_json(),
               ValueError, "train bert: the attention flags give ", o.attention.to_json(),
               ", which contradicts the checkpoint being resumed (", config.attention.to_json(),
               "); drop them or repeat the checkpoint's");
      o.max_len = t.at("max_len");
      o.nsp = t.at("nsp");
      o.whole_word = t.at("whole_word");
      o.mask_prob = t.at("mask_prob");
      o.preset = t.at("preset");
      start_step = ck.meta.at("step");
      start_elapsed = ck.meta.at("elapsed");
    } catch (const json::exception& e) {
      CF_THROW(FormatError, ck_path, ": incomplete checkpoint metadata: ", e.what());
    }
  }
  fs::create_directories(o.out_dir);
  const auto t_read = Clock::now();
  const std::vector<std::string> lines = read_lines(o.data);
  if (!o.resume) {
    if (!o.tokenizer.empty()) {
      tok = WordPieceTokenizer::load(o.tokenizer);
    } else {
      std::vector<std::string> texts;
      for (const std::string& l : lines)
        if (!blank(l)) texts.push_back(l);
      tok = WordPieceTokenizer::train(texts, o.vocab_size);
      tok.save_hf_json(o.out_dir + "/tokenizer.json");
      tok.save_vocab_file(o.out_dir + "/vocab.txt");
      out << "trained a WordPiece vocabulary of " << tok.vocab_size() << " tokens: " << o.out_dir
          << "/tokenizer.json, " << o.out_dir << "/vocab.txt\n";
    }
    config = models::BertConfig::preset(o.preset, tok.vocab_size());
    config.hidden_dropout_prob = o.dropout;
    config.attention_probs_dropout_prob = o.attention_dropout >= 0.0 ? o.attention_dropout : o.dropout;
    config.attention = o.attention;
    config.max_position_embeddings = std::max<int64_t>(512, o.max_len);
  }
  CF_CHECK(config.vocab_size == tok.vocab_size(), FormatError, ck_path, ": the config's vocab_size ",
           config.vocab_size, " differs from the tokenizer's ", tok.vocab_size());
  CF_CHECK(o.max_len <= config.max_position_embeddings, ValueError, "train bert: --max-len ", o.max_len,
           " exceeds max_position_embeddings ", config.max_position_embeddings);
  BertDataOptions dopt;
  dopt.max_len = o.max_len;
  dopt.nsp = o.nsp;
  dopt.masking.mask_prob = o.mask_prob;
  dopt.masking.whole_word = o.whole_word;
  const BertPretrainData ds(tokenize_documents(lines, tok), vocab_of(tok), dopt, o.val_fraction);
  const double read_s = std::chrono::duration<double>(Clock::now() - t_read).count();
  const std::vector<models::BertBatch> val = ds.validation(o.eval_examples, o.batch, o.seed + 7);

  models::BertForPreTraining model(config, o.seed, o.nsp);
  model.train();
  Generator data_gen(o.seed + 2);
  auto groups = optim::weight_decay_groups(model.named_parameters(), o.weight_decay);
  optim::AdamW adamw(groups, optim::AdamOptions{o.lr, o.beta1, o.beta2, o.eps, o.weight_decay});
  if (o.resume) {
    model.load_state_dict(ck.model, true);
    adamw.load_state_dict(ck.optim);
    try {
      const json& rng = ck.meta.at("rng");
      data_gen.set_state(rng.at("data")[0], rng.at("data")[1]);
      model.bert().dropout_generator().set_state(rng.at("dropout")[0], rng.at("dropout")[1]);
      if (config.attention.kind == "performer")  // the projections' redraw streams
        restore_kernel_rng_state(model.bert().attention_kernels(), rng.at("kernels"), ck_path);
    } catch (const json::exception& e) {
      CF_THROW(FormatError, ck_path, ": incomplete checkpoint metadata: ", e.what());
    }
  }
  MetricsLog metrics(o.out_dir + "/metrics.jsonl", o.resume);
  const std::string tok_json = tok.to_hf_json();
  auto save = [&](int64_t step, double elapsed) {
    Checkpoint c;
    c.model = model.state_dict();
    c.optim = adamw.state_dict();
    Generator& dg = model.bert().dropout_generator();
    const json kernels = kernel_rng_state(model.bert().attention_kernels());
    c.meta = {{"model_type", "bert-pretraining"},
              {"config", json::parse(config.to_json())},
              {"tokenizer", tok_json},
              {"step", step},
              {"elapsed", elapsed},
              {"rng", {{"data", {data_gen.seed(), data_gen.offset()}}, {"dropout", {dg.seed(), dg.offset()}},
                      {"kernels", kernels}}},
              {"training", {{"max_len", o.max_len}, {"nsp", o.nsp}, {"whole_word", o.whole_word},
                            {"mask_prob", o.mask_prob}, {"preset", o.preset}}},
              {"data", o.data}};
    save_checkpoint(ck_path, c);
  };

  out << "cformer train bert: " << model.num_parameters() << " parameters, config " << config.to_json()
      << "\n  " << ds.train_tokens() << " training / " << ds.val_tokens() << " validation tokens ("
      << val.size() << " validation batches), read and tokenized in " << format_duration(read_s)
      << (o.nsp ? ", NSP on" : "") << (o.whole_word ? ", whole-word masking" : "") << "\n";
  const int64_t B = o.batch;
  const auto t_start = Clock::now();
  auto elapsed = [&]() { return start_elapsed + std::chrono::duration<double>(Clock::now() - t_start).count(); };
  const double budget = o.minutes * 60.0;
  int64_t step = start_step, window_tokens = 0, run_tokens = 0;
  double window_t = elapsed(), tok_s = 0.0;
  while (o.steps > 0 ? step < o.steps : elapsed() < budget) {
    const double progress = o.steps > 0 ? static_cast<double>(step) / static_cast<double>(o.steps) : elapsed() / budget;
    const double lr = bert_lr(o.lr, o.warmup, step, progress);
    adamw.set_lr(lr);
    const models::BertBatch batch = ds.sample(B, data_gen);
    const int64_t tokens = sum(batch.attention_mask).item();
    models::BertPreTrainingOutput res = model.forward(batch);
    adamw.zero_grad();
    res.loss.backward();
    double gnorm = 0.0;
    if (o.grad_clip > 0.0) gnorm = optim::clip_grad_norm_(model.parameters(), o.grad_clip);
    adamw.step();
    ++step;
    window_tokens += tokens;
    run_tokens += tokens;
    const double loss = res.loss.item();
    CF_CHECK(std::isfinite(loss), ValueError, "train bert: the loss became ", loss, " at step ", step,
             "; lower --lr");
    const double now = elapsed();
    json rec{{"step", step}, {"loss", loss}, {"mlm_loss", res.mlm_loss.item()}, {"lr", lr},
             {"grad_norm", gnorm}, {"elapsed", now}};
    if (res.nsp_loss.defined()) rec["nsp_loss"] = res.nsp_loss.item();
    if (step % o.log_every == 0 || step == o.steps) {
      tok_s = static_cast<double>(window_tokens) / std::max(1e-9, now - window_t);
      window_t = now;
      window_tokens = 0;
      rec["tokens_per_s"] = tok_s;
      if (o.progress) {
        const double total = o.steps > 0 ? static_cast<double>(o.steps)
                                         : static_cast<double>(step) * budget / std::max(now, 1e-9);
        const double eta = o.steps > 0 ? (now - start_elapsed) / static_cast<double>(std::max<int64_t>(1, step - start_step)) *
                                             static_cast<double>(o.steps - step)
                                       : budget - now;
        std::fprintf(stderr, "\r%s   ", progress_line(step, static_cast<int64_t>(total), loss, tok_s, now, eta).c_str());
        std::fflush(stderr);
      }
    }
    metrics.write(rec.dump());
    if (step % o.eval_every == 0 && !val.empty()) {
      const Eval e = evaluate(model, val);
      json v{{"step", step}, {"val_loss", e.loss}, {"val_mlm_accuracy", e.accuracy}, {"elapsed", elapsed()}};
      if (e.nsp_accuracy >= 0) v["val_nsp_accuracy"] = e.nsp_accuracy;
      metrics.write(v.dump());
      if (o.progress) std::fprintf(stderr, "\n");
      out << "step " << step << ": validation MLM loss " << e.loss << ", masked-token accuracy " << e.accuracy;
      if (e.nsp_accuracy >= 0) out << ", NSP accuracy " << e.nsp_accuracy;
      out << "\n";
    }
    if (step % o.checkpoint_every == 0) save(step, elapsed());
  }
  if (o.progress) std::fprintf(stderr, "\n");
  BertTrainSummary s;
  s.steps = step;
  s.elapsed_s = elapsed();
  s.tokens_per_s = static_cast<double>(run_tokens) / std::max(1e-9, s.elapsed_s - start_elapsed);
  json fin{{"step", step}, {"final", true}, {"elapsed", s.elapsed_s}, {"tokens_per_s", s.tokens_per_s}};
  if (!val.empty()) {
    const Eval e = evaluate(model, val);
    s.val_loss = e.loss;
    s.val_accuracy = e.accuracy;
    fin["val_loss"] = e.loss;
    fin["val_mlm_accuracy"] = e.accuracy;
    if (e.nsp_accuracy >= 0) fin["val_nsp_accuracy"] = e.nsp_accuracy;
  }
  metrics.write(fin.dump());
  save(step, s.elapsed_s);
  std::vector<CurvePoint> train_curve, val_curve;
  read_curves(o.out_dir + "/metrics.jsonl", "mlm_loss", o.log_every, train_curve, val_curve);
  write_loss_curve_svg(o.out_dir + "/loss.svg", train_curve, val_curve, "cformer BERT pre-training (MLM loss)");
  out << "done: " << step << " steps in " << format_duration(s.elapsed_s);
  if (!val.empty()) out << ", validation MLM loss " << s.val_loss << ", masked-token accuracy " << s.val_accuracy;
  out << ", " << static_cast<int64_t>(s.tokens_per_s) << " tokens/s; checkpoint " << ck_path << ", metrics "
      << o.out_dir << "/metrics.jsonl, curve " << o.out_dir << "/loss.svg\n";
  return s;
}

}  // namespace cf::train
