#include "train/gpt_train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>

#include <nlohmann/json.hpp>

#include "cformer/autograd.h"
#include "cformer/data.h"
#include "cformer/ops.h"
#include "cformer/optim.h"
#include "train/checkpoint.h"
#include "train/report.h"
#include "util/check.h"

namespace cf::train {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double val_loss(models::Gpt& model, const data::TokenDataset& ds, int64_t windows, int64_t B) {
  const int64_t T = model.config().block_size;
  const int64_t n = std::min(windows, ds.num_val_windows(T));
  CF_CHECK(n > 0, ValueError, "train gpt: the validation split (", ds.val_size(),
           " tokens) is shorter than one block of ", T + 1, " tokens");
  NoGradGuard ng;
  model.eval();
  double total = 0.0;
  for (int64_t i = 0; i < n; i += B) {
    const int64_t m = std::min(B, n - i);
    auto b = ds.val_window(i, m, T);
    total += model.loss(b.x, b.y).item() * static_cast<double>(m);
  }
  model.train();
  return total / static_cast<double>(n);
}


void check_agrees(const std::vector<std::string>& given, const char* flag, int64_t want, int64_t have) {
  for (const auto& g : given)
    if (g == flag)
      CF_CHECK(want == have, ValueError, "train gpt: --", flag, " ", want,
               " contradicts the checkpoint being resumed (", flag, " ", have, ")");
}

}  // namespace

double scheduled_lr(const GptTrainOptions& o, int64_t step, double progress) {
  if (o.warmup > 0 && step < o.warmup) return o.lr * static_cast<double>(step + 1) / o.warmup;
  const double min_lr = o.lr * o.min_lr_ratio;
  const double t = std::clamp(progress, 0.0, 1.0);
  if (o.schedule == "constant") return o.lr;
  if (o.schedule == "linear") return o.lr + (min_lr - o.lr) * t;
  return min_lr + 0.5 * (o.lr - min_lr) * (1.0 + std::cos(std::numbers::pi * t));
}

GptTrainSummary train_gpt(const GptTrainOptions& opt, const std::vector<std::string>& given,
                          std::ostream& out) {
  GptTrainOptions o = opt;
  CF_CHECK(o.steps > 0 || o.minutes > 0.0, ValueError, "train gpt: give --steps or --minutes");
  CF_CHECK(o.batch >= 1, ValueError, "train gpt: --batch must be >= 1, got ", o.batch);
  CF_CHECK(o.lr > 0.0, ValueError, "train gpt: --lr must be positive, got ", o.lr);
  CF_CHECK(o.schedule == "cosine" || o.schedule == "linear" || o.schedule == "constant", ValueError,
           "train gpt: --schedule must be cosine, linear or constant, got '", o.schedule, "'");
  CF_CHECK(o.eval_every >= 1 && o.log_every >= 1 && o.checkpoint_every >= 1, ValueError,
           "train gpt: --eval-every, --log-every and --checkpoint-every must be >= 1");
  namespace fs = std::filesystem;
  const std::string ck_path = o.out_dir + "/checkpoint.safetensors";

  Checkpoint ck;
  data::CharTokenizer tok;
  int64_t start_step = 0;
  double start_elapsed = 0.0;
  if (o.resume) {
    CF_CHECK(fs::exists(ck_path), IoError, "train gpt: --resume: no checkpoint at ", ck_path);
    ck = load_checkpoint(ck_path);
    CF_CHECK(ck.meta.value("model_type", "") == "gpt", FormatError, ck_path,
             ": the checkpoint holds a '", ck.meta.value("model_type", "?"), "' model, not gpt");
    try {
      const models::GptConfig saved = models::GptConfig::from_json(ck.meta.at("config").dump());
      check_agrees(given, "n-layer", o.model.n_layer, saved.n_layer);
      check_agrees(given, "n-head", o.model.n_head, saved.n_head);
      check_agrees(given, "n-embd", o.model.n_embd, saved.n_embd);
      check_agrees(given, "block-size", o.model.block_size, saved.block_size);
      if (std::find(given.begin(), given.end(), "attention") != given.end())
        CF_CHECK(o.model.attention.to_json() == saved.attention.to_json(), ValueError,
                 "train gpt: the attention flags give ", o.model.attention.to_json(),
                 ", which contradicts the checkpoint being resumed (", saved.attention.to_json(),
                 ")");
      o.model = saved;
      tok = data::CharTokenizer::from_json(ck.meta.at("tokenizer").get<std::string>());
      start_step = ck.meta.at("step");
      start_elapsed = ck.meta.at("elapsed");
    } catch (const json::exception& e) {
      CF_THROW(FormatError, ck_path, ": incomplete checkpoint metadata: ", e.what());
    }
  }
  const std::string text = data::read_text_file(o.data);
  if (!o.resume) tok = data::CharTokenizer::build(text);
  o.model.vocab_size = tok.vocab_size();
  data::TokenDataset ds(tok.encode(text), o.val_fraction);
  CF_CHECK(ds.train_size() > o.model.block_size + 1, ValueError, "train gpt: ", o.data, " has ",
           ds.train_size(), " training tokens, too few for block_size ", o.model.block_size);

  models::Gpt model(o.model, o.seed);
  model.train();
  Generator data_gen(o.seed);
  auto groups = optim::weight_decay_groups(model.named_parameters(), o.weight_decay);
  optim::AdamW adamw(groups, optim::AdamOptions{o.lr, o.beta1, o.beta2, 1e-8, o.weight_decay});
  if (o.resume) {
    model.load_state_dict(ck.model, true);
    adamw.load_state_dict(ck.optim);
    const json& rng = ck.meta.at("rng");
    data_gen.set_state(rng.at("data")[0], rng.at("data")[1]);
    model.dropout_generator().set_state(rng.at("dropout")[0], rng.at("dropout")[1]);
    // Performer kernels: the redraw stream and how far into the redraw interval each layer is.
    if (rng.contains("kernels"))
      restore_kernel_rng_state(model.attention_kernels(), rng.at("kernels"), ck_path);
  }
  fs::create_directories(o.out_dir);
  MetricsLog metrics(o.out_dir + "/metrics.jsonl", o.resume);

  auto save = [&](int64_t step, double elapsed) {
    const json kernels = kernel_rng_state(model.attention_kernels());
    Checkpoint c;
    c.model = model.state_dict();
    c.optim = adamw.state_dict();
    c.meta = {{"model_type", "gpt"},
              {"config", json::parse(o.model.to_json())},
              {"tokenizer", tok.to_json()},
              {"step", step},
              {"elapsed", elapsed},
              {"rng", {{"data", {data_gen.seed(), data_gen.offset()}},
                       {"dropout", {model.dropout_generator().seed(), model.dropout_generator().offset()}},
                       {"kernels", kernels}}},
              {"data", o.data}};
    save_checkpoint(ck_path, c);
  };

  out << "cformer train gpt: " << model.num_parameters() << " parameters, config "
      << o.model.to_json() << ", " << ds.train_size() << " training / " << ds.val_size()
      << " validation tokens\n";
  const int64_t T = o.model.block_size, B = o.batch;
  const auto t_start = Clock::now();
  auto elapsed = [&]() {
    return start_elapsed + std::chrono::duration<double>(Clock::now() - t_start).count();
  };
  const double budget = o.minutes * 60.0;
  int64_t step = start_step;
  double last_loss = NAN;
  double window_t = elapsed();
  int64_t window_steps = 0;
  double tok_s = 0.0;
  while (o.steps > 0 ? step < o.steps : elapsed() < budget) {
    const double progress =
        o.steps > 0 ? static_cast<double>(step) / static_cast<double>(o.steps) : elapsed() / budget;
    const double lr = scheduled_lr(o, step, progress);
    adamw.set_lr(lr);
    auto batch = ds.sample(true, B, T, data_gen);
    Tensor loss = model.loss(batch.x, batch.y);
    adamw.zero_grad();
    loss.backward();
    double gnorm = 0.0;
    if (o.grad_clip > 0.0) gnorm = optim::clip_grad_norm_(model.parameters(), o.grad_clip);
    adamw.step();
    ++step;
    ++window_steps;
    last_loss = loss.item();
    CF_CHECK(std::isfinite(last_loss), ValueError, "train gpt: the loss became ", last_loss,
             " at step ", step, "; lower --lr");
    const double now = elapsed();
    json rec{{"step", step}, {"loss", last_loss}, {"lr", lr}, {"grad_norm", gnorm}, {"elapsed", now}};
    if (step % o.log_every == 0 || step == o.steps) {
      tok_s = static_cast<double>(window_steps * B * T) / std::max(1e-9, now - window_t);
      window_t = now;
      window_steps = 0;
      rec["tokens_per_s"] = tok_s;
      if (o.progress) {
        const double total = o.steps > 0 ? static_cast<double>(o.steps)
                                         : static_cast<double>(step) * budget / std::max(now, 1e-9);
        const double eta = o.steps > 0 ? (now - start_elapsed) / std::max<int64_t>(1, step - start_step) *
                                             static_cast<double>(o.steps - step)
                                       : budget - now;
        std::fprintf(stderr, "\r%s   ", progress_line(step, static_cast<int64_t>(total), last_loss,
                                                     tok_s, now, eta).c_str());
        std::fflush(stderr);
      }
    }
    metrics.write(rec.dump());
    if (step % o.eval_every == 0) {
      const double v = val_loss(model, ds, o.eval_windows, B);
      metrics.write(json{{"step", step}, {"val_loss", v}, {"elapsed", elapsed()}}.dump());
      if (o.progress) std::fprintf(stderr, "\n");
      out << "step " << step << ": validation loss " << v << "\n";
    }
    if (step % o.checkpoint_every == 0) save(step, elapsed());
  }
  if (o.progress) std::fprintf(stderr, "\n");
  GptTrainSummary s;
  s.steps = step;
  s.elapsed_s = elapsed();
  s.val_loss = val_loss(model, ds, o.eval_windows, B);
  s.tokens_per_s = static_cast<double>((step - start_step) * B * T) / std::max(1e-9, s.elapsed_s - start_elapsed);
  metrics.write(json{{"step", step}, {"val_loss", s.val_loss}, {"final", true},
                     {"elapsed", s.elapsed_s}, {"tokens_per_s", s.tokens_per_s}}.dump());
  save(step, s.elapsed_s);
  std::vector<CurvePoint> train_curve, val_curve;
  read_curves(o.out_dir + "/metrics.jsonl", "loss", o.log_every, train_curve, val_curve);
  write_loss_curve_svg(o.out_dir + "/loss.svg", train_curve, val_curve, "cformer GPT training");
  out << "done: " << step << " steps in " << format_duration(s.elapsed_s) << ", final validation loss "
      << s.val_loss << " nats/token, " << static_cast<int64_t>(s.tokens_per_s) << " tokens/s; checkpoint "
      << ck_path << ", metrics " << o.out_dir << "/metrics.jsonl, curve " << o.out_dir << "/loss.svg\n";
  return s;
}

}  // namespace cf::train
