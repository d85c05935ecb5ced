#include "train/translate_train.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <set>
#include <sstream>

#include "cformer/autograd.h"
#include "cformer/metrics/translation.h"
#include "cformer/ops.h"
#include "cformer/optim.h"
#include "train/checkpoint.h"
#include "train/report.h"
#include "train/token_batching.h"
#include "train/translate_data.h"
#include "train/translator.h"
#include "util/check.h"

namespace cf::train {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Options a resumed run takes from its checkpoint: they shape the model, the data, the batches or
// the optimization, so a different value would not continue the same run.
const std::set<std::string> kFrozen = {
    "d_model", "heads",    "enc_layers", "dec_layers", "ff",     "dropout",
    "pre_norm", "positions", "max_positions", "share_embeddings", "tie_output", "vocab_size",
    "separate_vocab", "limit_train", "max_len", "batch_tokens", "lr_factor", "warmup", "beta1",
    "beta2", "eps", "grad_clip", "label_smoothing", "seed", "attention", "decoder_attention",
    "cross_attention"};

std::string positions_name(models::PositionKind k) {
  return k == models::PositionKind::learned ? "learned" : "sinusoidal";
}

struct ValResult {
  double loss = 0.0;  // mean cross-entropy per target token, no label smoothing
  double bleu = -1.0, chrf = -1.0;
};

ValResult validate(models::TranslationModel& model, const PairCorpus& val,
                   const std::vector<std::vector<int64_t>>& val_batches,
                   const TranslationVocab& vocab, const ParallelText& val_text, int64_t bleu_n) {
  ValResult r;
  {
    NoGradGuard ng;
    model.eval();
    double total = 0.0;
    int64_t tokens = 0;
    for (const auto& b : val_batches) {
      const PairBatch pb = collate(val, b, vocab.pad_id, vocab.bos_id, vocab.eos_id);
      total += model.loss(pb.src, pb.tgt_in, pb.tgt_out, 0.0).item() * static_cast<double>(pb.tgt_tokens);
      tokens += pb.tgt_tokens;
    }
    r.loss = total / static_cast<double>(std::max<int64_t>(tokens, 1));
  }
  if (bleu_n > 0) {
    const auto n = static_cast<size_t>(std::min<int64_t>(bleu_n, static_cast<int64_t>(val_text.src.size())));
    std::vector<std::vector<int64_t>> src;
    const int64_t max_src = model.config().max_positions;
    for (size_t i = 0; i < n; ++i) {
      std::vector<int64_t> ids = vocab.encode_src(val_text.src[i]);
      if (static_cast<int64_t>(ids.size()) > max_src) {
        ids.resize(static_cast<size_t>(max_src));
        ids.back() = vocab.eos_id;
      }
      src.push_back(std::move(ids));
    }
    models::BeamOptions greedy;
    greedy.beam_size = 1;
    greedy.nbest = 1;
    const auto hyps = decode_batched(model, src, greedy, 64);
    std::vector<std::string> texts(n);
    std::vector<std::vector<std::string>> refs(1);
    for (size_t i = 0; i < n; ++i) {
      if (!hyps[i].empty()) texts[i] = vocab.decode_tgt(hyps[i][0].tokens);
      refs[0].push_back(val_text.tgt[i]);
    }
    r.bleu = metrics::corpus_bleu(texts, refs).score;
    r.chrf = metrics::corpus_chrf(texts, refs).score;
  }
  model.train();
  return r;
}

void check_options(const TranslateTrainOptions& o) {
  CF_CHECK(o.steps > 0 || o.minutes > 0.0, ValueError, "train translate: give --steps or --minutes");
  CF_CHECK(o.vocab_size >= 259, ValueError,
           "train translate: --vocab-size must be >= 259 (256 bytes + 3 special tokens), got ",
           o.vocab_size);
  CF_CHECK(o.max_len >= 2, ValueError, "train translate: --max-len must be >= 2, got ", o.max_len);
  CF_CHECK(o.max_len <= o.model.max_positions, ValueError, "train translate: --max-len ", o.max_len,
           " exceeds --max-positions ", o.model.max_positions);
  CF_CHECK(o.batch_tokens >= o.max_len, ValueError, "train translate: --batch-tokens ",
           o.batch_tokens, " must be >= --max-len ", o.max_len, " (a longest pair must fit a batch)");
  CF_CHECK(o.lr_factor > 0.0 && o.warmup >= 1, ValueError,
           "train translate: --lr-factor must be positive and --warmup >= 1");
  CF_CHECK(o.label_smoothing >= 0.0 && o.label_smoothing < 1.0, ValueError,
           "train translate: --label-smoothing must be in [0, 1), got ", o.label_smoothing);
  CF_CHECK(o.eval_every >= 1 && o.log_every >= 1 && o.checkpoint_every >= 1, ValueError,
           "train translate: --eval-every, --log-every and --checkpoint-every must be >= 1");
  CF_CHECK(!(o.separate_vocab && o.model.share_embeddings), ValueError,
           "train translate: --share-embeddings needs one vocabulary; drop --separate-vocab");
}

}  // namespace

json options_to_json(const TranslateTrainOptions& o) {
  const models::TranslationConfig& m = o.model;
  return json{{"data", o.data},
              {"out", o.out_dir},
              {"d_model", m.d_model},
              {"heads", m.nhead},
              {"enc_layers", m.num_encoder_layers},
              {"dec_layers", m.num_decoder_layers},
              {"ff", m.dim_feedforward},
              {"dropout", m.dropout},
              {"pre_norm", m.norm_first},
              {"positions", positions_name(m.positions)},
              {"max_positions", m.max_positions},
              {"share_embeddings", m.share_embeddings},
              {"tie_output", m.tie_output},
              {"attention", json::parse(m.attention.to_json())},
              {"decoder_attention", json::parse(m.decoder_attention.to_json())},
              {"cross_attention", json::parse(m.cross_attention.to_json())},
              {"vocab_size", o.vocab_size},
              {"separate_vocab", o.separate_vocab},
              {"limit_train", o.limit_train},
              {"max_len", o.max_len},
              {"batch_tokens", o.batch_tokens},
              {"steps", o.steps},
              {"minutes", o.minutes},
              {"lr_factor", o.lr_factor},
              {"warmup", o.warmup},
              {"beta1", o.beta1},
              {"beta2", o.beta2},
              {"eps", o.eps},
              {"grad_clip", o.grad_clip},
              {"label_smoothing", o.label_smoothing},
              {"seed", o.seed},
              {"eval_every", o.eval_every},
              {"val_bleu_sentences", o.val_bleu_sentences},
              {"log_every", o.log_every},
              {"checkpoint_every", o.checkpoint_every},
              {"checkpoint_minutes", o.checkpoint_minutes}};
}

TranslateTrainOptions options_from_json(const json& j) {
  TranslateTrainOptions o;
  try {
    models::TranslationConfig& m = o.model;
    o.data = j.at("data");
    o.out_dir = j.at("out");
    m.d_model = j.at("d_model");
    m.nhead = j.at("heads");
    m.num_encoder_layers = j.at("enc_layers");
    m.num_decoder_layers = j.at("dec_layers");
    m.dim_feedforward = j.at("ff");
    m.dropout = j.at("dropout");
    m.norm_first = j.at("pre_norm");
    const std::string pos = j.at("positions");
    CF_CHECK(pos == "learned" || pos == "sinusoidal", FormatError,
             "translation options: positions must be learned or sinusoidal, got '", pos, "'");
    m.positions = pos == "learned" ? models::PositionKind::learned : models::PositionKind::sinusoidal;
    m.max_positions = j.at("max_positions");
    m.share_embeddings = j.at("share_embeddings");
    m.tie_output = j.at("tie_output");
    if (j.contains("attention")) m.attention = nn::AttentionKernelOptions::from_json(j.at("attention").dump());
    if (j.contains("decoder_attention"))
      m.decoder_attention = nn::AttentionKernelOptions::from_json(j.at("decoder_attention").dump());
    if (j.contains("cross_attention"))
      m.cross_attention = nn::AttentionKernelOptions::from_json(j.at("cross_attention").dump());
    o.vocab_size = j.at("vocab_size");
    o.separate_vocab = j.at("separate_vocab");
    o.limit_train = j.at("limit_train");
    o.max_len = j.at("max_len");
    o.batch_tokens = j.at("batch_tokens");
    o.steps = j.at("steps");
    o.minutes = j.at("minutes");
    o.lr_factor = j.at("lr_factor");
    o.warmup = j.at("warmup");
    o.beta1 = j.at("beta1");
    o.beta2 = j.at("beta2");
    o.eps = j.at("eps");
    o.grad_clip = j.at("grad_clip");
    o.label_smoothing = j.at("label_smoothing");
    o.seed = j.at("seed");
    o.eval_every = j.at("eval_every");
    o.val_bleu_sentences = j.at("val_bleu_sentences");
    o.log_every = j.at("log_every");
    o.checkpoint_every = j.at("checkpoint_every");
    o.checkpoint_minutes = j.at("checkpoint_minutes");
  } catch (const json::exception& e) {
    CF_THROW(FormatError, "translation training options: ", e.what());
  }
  return o;
}

TranslateTrainSummary train_translate(const TranslateTrainOptions& opt,
                                      const std::vector<std::string>& given, std::ostream& out) {
  namespace fs = std::filesystem;
  TranslateTrainOptions o = opt;
  const std::string ck_path = o.out_dir + "/checkpoint.safetensors";
  const std::string best_path = o.out_dir + "/best.safetensors";

  Checkpoint ck;
  TranslationVocab vocab;
  int64_t start_step = 0, start_epoch = 0, start_position = 0;
  double start_elapsed = 0.0, best_val = INFINITY;
  if (o.resume) {
    CF_CHECK(fs::exists(ck_path), IoError, "train translate: --resume: no checkpoint at ", ck_path);
    ck = load_checkpoint(ck_path);
    const std::string type = ck.meta.value("model_type", "");
    CF_CHECK(type == kTranslationModelType, FormatError, ck_path, ": the checkpoint holds a '",
             type.empty() ? "?" : type, "' model, not a translation model");
    try {
      const json saved = ck.meta.at("options");
      const json now = options_to_json(o);
      // A checkpoint from before the kernels has no "attention" entries: its kernels are dense.
      const json dense_kernel = json::parse(nn::AttentionKernelOptions{}.to_json());
      for (const std::string& g : given) {
        const bool kernel = g == "attention" || g == "decoder_attention" || g == "cross_attention";
        if (kFrozen.count(g) == 0 || !(saved.contains(g) || kernel)) continue;
        const json& was = saved.contains(g) ? saved.at(g) : dense_kernel;
        CF_CHECK(was == now.at(g), ValueError, "train translate: ",
                 [&g]() {
                   if (g == "attention") return std::string("the attention flags give");
                   std::string f = "--" + g;
                   for (char& c : f) if (c == '_') c = '-';
                   return f;
                 }(),
                 " ", now.at(g).dump(), ", which contradicts the checkpoint being resumed (",
                 was.dump(), ")");
      }
      json merged = saved;
      for (const auto& [k, v] : now.items())
        if (kFrozen.count(k) == 0) merged[k] = v;  // run limits, logging, paths: the new ones
      const bool progress = o.progress;
      o = options_from_json(merged);
      o.progress = progress;
      o.resume = true;
      o.model = models::TranslationConfig::from_json(ck.meta.at("config").dump());
      vocab = TranslationVocab::from_json(ck.meta.at("vocab"), ck_path);
      start_step = ck.meta.at("step");
      start_elapsed = ck.meta.at("elapsed");
      start_epoch = ck.meta.at("epoch");
      start_position = ck.meta.at("position");
      best_val = ck.meta.at("best_val_loss").is_null() ? INFINITY
                                                       : ck.meta.at("best_val_loss").get<double>();
    } catch (const json::exception& e) {
      CF_THROW(FormatError, ck_path, ": incomplete checkpoint metadata: ", e.what());
    }
  }
  check_options(o);

  const auto t_prep = Clock::now();
  const ParallelText train_text = read_parallel(o.data + "/train", o.limit_train);
  const ParallelText val_text = read_parallel(o.data + "/valid");
  CF_CHECK(!train_text.src.empty(), ValueError, "train translate: ", o.data, "/train.en is empty");
  CF_CHECK(!val_text.src.empty(), ValueError, "train translate: ", o.data, "/valid.en is empty");
  double bpe_s = 0.0;
  if (!o.resume) {
    const auto t0 = Clock::now();
    vocab = TranslationVocab::train(train_text.src, train_text.tgt, o.vocab_size, !o.separate_vocab);
    bpe_s = std::chrono::duration<double>(Clock::now() - t0).count();
    o.model.src_vocab_size = vocab.src->vocab_size();
    o.model.tgt_vocab_size = vocab.tgt->vocab_size();
    o.model.pad_id = vocab.pad_id;
    o.model.bos_id = vocab.bos_id;
    o.model.eos_id = vocab.eos_id;
  }
  o.model.validate();
  const PairCorpus train_corpus = encode_corpus(vocab, train_text);
  const PairCorpus val_corpus = encode_corpus(vocab, val_text);
  int64_t dropped = 0, val_dropped = 0;
  const std::vector<int64_t> kept = pairs_within(train_corpus, o.max_len, &dropped);
  CF_CHECK(!kept.empty(), ValueError, "train translate: every training pair is longer than --max-len ",
           o.max_len);
  BatchSchedule schedule(make_token_batches(train_corpus, kept, o.batch_tokens), o.seed);
  const std::vector<int64_t> val_kept = pairs_within(val_corpus, o.model.max_positions, &val_dropped);
  const auto val_batches = make_token_batches(
      val_corpus, val_kept, std::max(o.batch_tokens, o.model.max_positions));
  int64_t train_tokens = 0;
  for (int64_t i : kept)
    train_tokens += static_cast<int64_t>(train_corpus.src[static_cast<size_t>(i)].size() +
                                         train_corpus.tgt[static_cast<size_t>(i)].size() + 1);
  const double prep_s = std::chrono::duration<double>(Clock::now() - t_prep).count();

  models::TranslationModel model(o.model, o.seed);
  model.train();
  optim::Adam adam(model.named_parameters(), optim::AdamOptions{1.0, o.beta1, o.beta2, o.eps, 0.0});
  const double peak_lr = optim::LRSchedule::inverse_sqrt_peak_lr(o.lr_factor, o.model.d_model, o.warmup);
  const optim::LRSchedule lr_schedule = optim::LRSchedule::inverse_sqrt(o.warmup);
  if (o.resume) {
    model.load_state_dict(ck.model, true);
    adam.load_state_dict(ck.optim);
    try {
      const json& d = ck.meta.at("rng").at("dropout");
      model.dropout_generator().set_state(d[0], d[1]);
      if (o.model.attention.kind == "performer")  // the projections' redraw streams
        restore_kernel_rng_state(model.encoder_kernels(), ck.meta.at("rng").at("kernels"), ck_path);
      // A checkpoint from before the decoder kernels has no "decoder_kernels": its decoder and
      // cross kernels are dense, so there is nothing to restore.
      if (o.model.decoder_attention.kind == "performer" ||
          o.model.cross_attention.kind == "performer")
        restore_kernel_rng_state(model.decoder_kernels(), ck.meta.at("rng").at("decoder_kernels"),
                                 ck_path);
    } catch (const json::exception& e) {
      CF_THROW(FormatError, ck_path, ": incomplete checkpoint metadata: ", e.what());
    }
    schedule.set_position(start_epoch, start_position);
    ck = Checkpoint{};
  }
  fs::create_directories(o.out_dir);
  MetricsLog metrics(o.out_dir + "/metrics.jsonl", o.resume);

  auto save = [&](const std::string& path, int64_t step, double elapsed) {
    Checkpoint c;
    c.model = model.state_dict();
    c.optim = adam.state_dict();
    const json kernels = kernel_rng_state(model.encoder_kernels());
    const json decoder_kernels = kernel_rng_state(model.decoder_kernels());
    c.meta = {{"model_type", kTranslationModelType},
              {"config", json::parse(o.model.to_json())},
              {"vocab", vocab.to_json()},
              {"options", options_to_json(o)},
              {"step", step},
              {"elapsed", elapsed},
              {"epoch", schedule.epoch()},
              {"position", schedule.position()},
              {"best_val_loss", std::isfinite(best_val) ? json(best_val) : json(nullptr)},
              {"rng", {{"dropout", {model.dropout_generator().seed(), model.dropout_generator().offset()}},
                       {"kernels", kernels},
                       {"decoder_kernels", decoder_kernels}}}};
    save_checkpoint(path, c);
  };

  out << "cformer train translate: " << model.num_parameters() << " parameters, config "
      << o.model.to_json() << "\n"
      << "data: " << train_corpus.size() << " training pairs (" << dropped
      << " longer than --max-len " << o.max_len << " dropped, " << train_tokens
      << " tokens), " << schedule.num_batches() << " batches of <= " << o.batch_tokens
      << " tokens an epoch; " << val_kept.size() << " validation pairs";
  if (val_dropped > 0) out << " (" << val_dropped << " longer than max_positions left out of the loss)";
  out << "\nvocabulary: " << (vocab.shared ? "shared" : "separate") << " byte-level BPE, "
      << vocab.src->vocab_size();
  if (!vocab.shared) out << "/" << vocab.tgt->vocab_size();
  out << " tokens (pad " << vocab.pad_id << ", bos " << vocab.bos_id << ", eos " << vocab.eos_id << ")";
  if (!o.resume) out << ", learned in " << std::fixed << std::setprecision(1) << bpe_s << " s";
  out << "; data prepared in " << std::fixed << std::setprecision(1) << prep_s << " s\n";
  out << std::defaultfloat << std::setprecision(6);
  out << "schedule: inverse_sqrt, peak lr " << peak_lr << " at step " << o.warmup
      << ", Adam (" << o.beta1 << ", " << o.beta2 << ", " << o.eps << "), label smoothing "
      << o.label_smoothing;
  if (o.grad_clip > 0.0) out << ", grad clip " << o.grad_clip;
  if (o.resume) out << ", resumed at step " << start_step;
  out << "\n";
  out.flush();

  const auto t_start = Clock::now();
  auto elapsed = [&start_elapsed, &t_start]() {
    return start_elapsed + std::chrono::duration<double>(Clock::now() - t_start).count();
  };
  const double budget = o.minutes * 60.0;
  auto done = [&o, budget, &elapsed](int64_t step) {
    return (o.steps > 0 && step >= o.steps) || (o.minutes > 0.0 && elapsed() >= budget);
  };
  auto epochs = [&schedule]() {
    return static_cast<double>(schedule.epoch()) +
           static_cast<double>(schedule.position()) / static_cast<double>(schedule.num_batches());
  };
  int64_t step = start_step;
  // Throughput counts training steps only (validation and checkpoints excluded).
  double window_train_s = 0.0, run_train_s = 0.0, last_ck = elapsed();
  int64_t window_tokens = 0, run_tokens = 0;
  double loss_sum = 0.0;
  int64_t loss_n = 0;
  ValResult last_val;
  bool evaluated_at_end = false;
  auto evaluate = [&]() {
    const double t0 = elapsed();
    last_val = validate(model, val_corpus, val_batches, vocab, val_text, o.val_bleu_sentences);
    const double took = elapsed() - t0;
    json rec{{"step", step}, {"val_loss", last_val.loss}, {"epoch", epochs()}, {"elapsed", elapsed()}};
    std::ostringstream line;
    line << std::fixed << "step " << step << " | val loss " << std::setprecision(4) << last_val.loss
         << " | ppl " << std::setprecision(2) << std::exp(last_val.loss);
    if (last_val.bleu >= 0.0) {
      rec["bleu"] = last_val.bleu;
      rec["chrf"] = last_val.chrf;
      line << " | BLEU " << last_val.bleu << " | chrF " << last_val.chrf << " (greedy, first "
           << std::min<int64_t>(o.val_bleu_sentences, static_cast<int64_t>(val_text.src.size()))
           << " valid sentences)";
    }
    line << " | " << std::setprecision(1) << took << " s";
    metrics.write(rec.dump());
    if (o.progress) std::fprintf(stderr, "\n");
    out << line.str() << "\n";
    out.flush();
    if (last_val.loss < best_val) {
      best_val = last_val.loss;
      save(best_path, step, elapsed());
    }
  };

  while (!done(step)) {
    const double step_t0 = elapsed();
    const std::clock_t cpu0 = std::clock();
    const double lr = lr_schedule.lr(peak_lr, step);
    adam.set_lr(lr);
    const PairBatch b = collate(train_corpus, schedule.next(), vocab.pad_id, vocab.bos_id, vocab.eos_id);
    Tensor loss = model.loss(b.src, b.tgt_in, b.tgt_out, o.label_smoothing);
    adam.zero_grad();
    loss.backward();
    const double gnorm = o.grad_clip > 0.0 ? optim::clip_grad_norm_(model.parameters(), o.grad_clip)
                                           : optim::grad_norm(model.parameters());
    adam.step();
    ++step;
    const double l = loss.item();
    CF_CHECK(std::isfinite(l), ValueError, "train translate: the loss became ", l, " at step ",
             step, "; lower --lr-factor or raise --warmup");
    window_tokens += b.src_tokens + b.tgt_tokens;
    run_tokens += b.src_tokens + b.tgt_tokens;
    loss_sum += l;
    ++loss_n;
    const double now = elapsed();
    window_train_s += now - step_t0;
    run_train_s += now - step_t0;
    // Process CPU seconds of the step (all threads): throughput on a shared machine.
    const double cpu_s = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
    json rec{{"step", step}, {"loss", l}, {"lr", lr}, {"grad_norm", gnorm},
             {"tokens", b.src_tokens + b.tgt_tokens}, {"elapsed", now}, {"cpu_s", cpu_s}};
    if (step % o.log_every == 0) {
      const double tok_s = static_cast<double>(window_tokens) / std::max(1e-9, window_train_s);
      rec["tokens_per_s"] = tok_s;
      if (o.progress) std::fprintf(stderr, "\r");
      std::ostringstream line;
      line << "step " << step << " | epoch " << std::fixed << std::setprecision(2) << epochs()
           << " | " << static_cast<int64_t>(tok_s) << " tok/s | lr " << std::scientific
           << std::setprecision(2) << lr << " | loss " << std::fixed << std::setprecision(4)
           << loss_sum / static_cast<double>(loss_n) << " | " << format_duration(now);
      if (o.minutes > 0.0) line << " of " << format_duration(budget);
      out << line.str() << "\n";
      out.flush();
      window_train_s = 0.0;
      window_tokens = 0;
      loss_sum = 0.0;
      loss_n = 0;
    }
    metrics.write(rec.dump());
    const bool last = done(step);
    if (step % o.eval_every == 0 || last) {
      evaluate();
      evaluated_at_end = last;
    }
    if (!last && (step % o.checkpoint_every == 0 ||
                  (o.checkpoint_minutes > 0.0 && elapsed() - last_ck >= o.checkpoint_minutes * 60.0))) {
      save(ck_path, step, elapsed());
      last_ck = elapsed();
    }
  }
  if (!evaluated_at_end) evaluate();  // a resume with nothing left to train still reports
  TranslateTrainSummary s;
  s.steps = step;
  s.epochs = epochs();
  s.elapsed_s = elapsed();
  s.val_loss = last_val.loss;
  s.best_val_loss = best_val;
  s.bleu = last_val.bleu;
  s.chrf = last_val.chrf;
  s.tokens_per_s = static_cast<double>(run_tokens) / std::max(1e-9, run_train_s);
  json fin{{"step", step}, {"final", true}, {"val_loss", s.val_loss}, {"elapsed", s.elapsed_s},
           {"tokens_per_s", s.tokens_per_s}, {"epoch", s.epochs}};
  metrics.write(fin.dump());
  save(ck_path, step, s.elapsed_s);
  out << "done: " << step << " steps (" << std::fixed << std::setprecision(2) << s.epochs
      << " epochs) in " << format_duration(s.elapsed_s) << ", " << static_cast<int64_t>(s.tokens_per_s)
      << " tokens/s while training (source + target, pads excluded); validation loss " << std::setprecision(4) << s.val_loss << " (best "
      << best_val << ")";
  if (s.bleu >= 0.0) out << ", greedy BLEU " << std::setprecision(2) << s.bleu << ", chrF " << s.chrf;
  out << "\ncheckpoints: " << ck_path << " (last), " << best_path << " (best validation loss); metrics "
      << o.out_dir << "/metrics.jsonl\n";
  out << std::defaultfloat;
  return s;
}

}  // namespace cf::train
