#include "train/vision_train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>

#include "cformer/autograd.h"
#include "cformer/ops.h"
#include "cformer/optim.h"
#include "train/checkpoint.h"
#include "train/report.h"
#include "util/check.h"

namespace cf::train {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kValidationSplitSeed = 0x5EED5;

// The options that define a run; on resume they come from the checkpoint.
json options_json(const VisionTrainOptions& o) {
  return json{{"model", o.model},
              {"preset", o.preset},
              {"dataset", o.dataset},
              {"epochs", o.epochs},
              {"minutes", o.minutes},
              {"max_steps", o.max_steps},
              {"batch", o.batch},
              {"lr", o.lr},
              {"min_lr_ratio", o.min_lr_ratio},
              {"warmup", o.warmup},
              {"weight_decay", o.weight_decay},
              {"beta1", o.beta1},
              {"beta2", o.beta2},
              {"grad_clip", o.grad_clip},
              {"augment", o.augment},
              {"label_smoothing", o.label_smoothing},
              {"seed", o.seed},
              {"val_size", o.val_size},
              {"train_limit", o.train_limit}};
}

// Restores the run options of a checkpoint: an option given on the command line must agree,
// except the length of the run (--epochs, --minutes, --max-steps), which may be changed.
void restore_options(const json& saved, const std::vector<std::string>& given, VisionTrainOptions& o,
                     const std::string& path) {
  const json now = options_json(o);
  auto is_given = [&given](const std::string& flag) {
    return std::find(given.begin(), given.end(), flag) != given.end();
  };
  for (const auto& [key, value] : saved.items()) {
    std::string flag = key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    if (key == "epochs" || key == "minutes" || key == "max_steps") continue;
    CF_CHECK(!is_given(flag) || !now.contains(key) || now.at(key) == value, ValueError,
             "train vision: --", flag, " ", now.contains(key) ? now.at(key).dump() : "?",
             " contradicts the checkpoint being resumed (", value.dump(), " in ", path, ")");
  }
  const bool new_length = is_given("epochs") || is_given("minutes") || is_given("max-steps");
  const VisionTrainOptions length = o;
  try {
    o.model = saved.at("model");
    o.preset = saved.at("preset");
    o.dataset = saved.at("dataset");
    o.epochs = saved.at("epochs");
    o.minutes = saved.at("minutes");
    o.max_steps = saved.at("max_steps");
    o.batch = saved.at("batch");
    o.lr = saved.at("lr");
    o.min_lr_ratio = saved.at("min_lr_ratio");
    o.warmup = saved.at("warmup");
    o.weight_decay = saved.at("weight_decay");
    o.beta1 = saved.at("beta1");
    o.beta2 = saved.at("beta2");
    o.grad_clip = saved.at("grad_clip");
    o.augment = saved.at("augment");
    o.label_smoothing = saved.at("label_smoothing");
    o.seed = saved.at("seed");
    o.val_size = saved.at("val_size");
    o.train_limit = saved.at("train_limit");
  } catch (const json::exception& e) {
    CF_THROW(FormatError, path, ": incomplete training options in the checkpoint: ", e.what());
  }
  if (new_length) o.epochs = length.epochs, o.minutes = length.minutes, o.max_steps = length.max_steps;
}

// AdamW groups as timm: no decay on biases, norms, the position embedding and the class token.
std::vector<optim::ParamGroup> decay_groups(const nn::StateDict& params, double wd) {
  optim::ParamGroup decay, no_decay;
  decay.weight_decay = wd;
  no_decay.weight_decay = 0.0;
  for (const auto& [name, p] : params) {
    const bool skip = p.dim() < 2 || name == "pos_embed" || name == "cls_token";
    (skip ? no_decay : decay).params.emplace_back(name, p);
  }
  std::vector<optim::ParamGroup> g;
  if (!decay.params.empty()) g.push_back(decay);
  if (!no_decay.params.empty()) g.push_back(no_decay);
  return g;
}


double accuracy(const std::vector<int64_t>& pred, const Tensor& labels) {
  const int64_t* y = labels.data_ptr<int64_t>();
  int64_t ok = 0;
  for (size_t i = 0; i < pred.size(); ++i) ok += pred[i] == y[i];
  return pred.empty() ? 0.0 : static_cast<double>(ok) / static_cast<double>(pred.size());
}

}  // namespace

double vision_lr(const VisionTrainOptions& o, int64_t step, double progress) {
  if (o.warmup > 0 && step < o.warmup)
    return o.lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup);
  const double t = std::clamp(progress, 0.0, 1.0), min_lr = o.lr * o.min_lr_ratio;
  return min_lr + 0.5 * (o.lr - min_lr) * (1.0 + std::cos(std::numbers::pi * t));
}

data::ImageDataset load_image_dataset(const std::string& name, data::Split split,
                                      const std::string& dir) {
  if (name == "fashion-mnist")
    return data::load_fashion_mnist(split, dir.empty() ? data::kFashionMnistDir : dir);
  if (name == "mnist") return data::load_mnist_digits(split, dir.empty() ? data::kMnistDigitsDir : dir);
  CF_THROW(ValueError, "unknown dataset '", name, "' (fashion-mnist, mnist)");
}

std::vector<float> image_dataset_mean(const std::string& name) {
  return {name == "mnist" ? data::kMnistDigitsMean : data::kFashionMnistMean};
}

std::vector<float> image_dataset_std(const std::string& name) {
  return {name == "mnist" ? data::kMnistDigitsStd : data::kFashionMnistStd};
}

std::vector<int64_t> validation_indices(int64_t n, int64_t val_size) {
  const int64_t m = std::min(val_size, n / 5);
  Generator gen(kValidationSplitSeed);
  std::vector<int64_t> perm = randperm(n, gen).to_vector<int64_t>();
  perm.resize(static_cast<size_t>(std::max<int64_t>(m, 0)));
  return perm;
}

data::ImageDataset subset(const data::ImageDataset& ds, const std::vector<int64_t>& idx) {
  const int64_t H = ds.height(), W = ds.width(), C = ds.channels(), n = ds.size();
  const int64_t px = H * W * C;
  data::ImageDataset out;
  out.class_names = ds.class_names;
  out.images = empty(Shape{static_cast<int64_t>(idx.size()), H, W, C}, DType::u8);
  out.labels = empty(Shape{static_cast<int64_t>(idx.size())}, DType::i64);
  const Tensor src = ds.images.contiguous(), lab = ds.labels.contiguous();
  const uint8_t* s = src.data_ptr<uint8_t>();
  const int64_t* l = lab.data_ptr<int64_t>();
  uint8_t* d = out.images.data_ptr<uint8_t>();
  int64_t* dl = out.labels.data_ptr<int64_t>();
  for (size_t i = 0; i < idx.size(); ++i) {
    CF_CHECK(idx[i] >= 0 && idx[i] < n, IndexError, "subset: index ", idx[i], " outside [0, ", n, ")");
    std::memcpy(d + static_cast<int64_t>(i) * px, s + idx[i] * px, static_cast<size_t>(px));
    dl[i] = l[idx[i]];
  }
  return out;
}

Predictions predict_images(models::ImageClassifier& model, const data::ImageDataset& ds,
                           const std::vector<float>& mean, const std::vector<float>& std,
                           int64_t batch) {
  data::LoaderOptions lo;
  lo.batch_size = batch;
  lo.shuffle = false;
  lo.mean = mean;
  lo.std = std;
  data::ImageLoader loader(ds, lo);
  NoGradGuard ng;
  const bool was_training = model.is_training();
  model.eval();
  Predictions p;
  double total = 0.0;
  loader.start_epoch(0);
  data::ImageBatch b;
  while (loader.next(b)) {
    Tensor logits = model.forward(b.x);
    total += cross_entropy(logits, b.y, {}, -100, Reduction::sum).item();
    for (int64_t v : argmax(logits, 1).to_vector<int64_t>()) p.predicted.push_back(v);
  }
  p.loss = ds.size() > 0 ? total / static_cast<double>(ds.size()) : 0.0;
  model.train(was_training);
  return p;
}

LoadedImageModel load_image_model(const std::string& path) {
  CF_CHECK(std::filesystem::exists(path), IoError, path, ": no such checkpoint");
  Checkpoint ck = load_checkpoint(path);
  LoadedImageModel m;
  m.meta = ck.meta;
  const std::string type = ck.meta.value("model_type", "");
  CF_CHECK(type == "vit" || type == "vitae" || type == "cnn", FormatError, path,
           ": the checkpoint holds a '", type.empty() ? "?" : type,
           "' model, not an image classifier (vit, vitae, cnn)");
  CF_CHECK(ck.meta.contains("config") && ck.meta.contains("dataset"), FormatError, path,
           ": incomplete checkpoint metadata (config, dataset)");
  m.model = models::make_image_classifier(type, ck.meta.at("config").dump(), 0);
  try {
    m.model->load_state_dict(ck.model, true);
  } catch (const ValueError& e) {
    CF_THROW(FormatError, path, ": the weights do not fit the configuration: ", e.what());
  }
  m.model->eval();
  return m;
}

VisionTrainSummary train_vision(const VisionTrainOptions& opt, const std::vector<std::string>& given,
                                std::ostream& out) {
  namespace fs = std::filesystem;
  VisionTrainOptions o = opt;
  const std::string ck_path = o.out_dir + "/checkpoint.safetensors";
  Checkpoint ck;
  int64_t start_step = 0, start_epoch = 0, start_batch = 0;
  double start_elapsed = 0.0;
  std::string config = o.config_json;
  if (o.resume) {
    CF_CHECK(fs::exists(ck_path), IoError, "train vision: --resume: no checkpoint at ", ck_path);
    ck = load_checkpoint(ck_path);
    const std::string type = ck.meta.value("model_type", "");
    CF_CHECK(type == o.model, FormatError, ck_path, ": the checkpoint holds a '",
             type.empty() ? "?" : type, "' model, not ", o.model);
    try {
      restore_options(ck.meta.at("options"), given, o, ck_path);
      config = ck.meta.at("config").dump();
      if (!o.attention_json.empty()) {
        const json& c = ck.meta.at("config");
        const std::string saved =
            c.contains("attention") ? nn::AttentionKernelOptions::from_json(c.at("attention").dump()).to_json()
                                    : nn::AttentionKernelOptions().to_json();
        const std::string now = nn::AttentionKernelOptions::from_json(o.attention_json).to_json();
        CF_CHECK(now == saved, ValueError, "train vision: the attention flags give ", now,
                 ", which contradicts the checkpoint being resumed (", saved, " in ", ck_path, ")");
      }
      start_step = ck.meta.at("step");
      start_epoch = ck.meta.at("epoch");
      start_batch = ck.meta.at("batch_in_epoch");
      start_elapsed = ck.meta.at("elapsed");
    } catch (const json::exception& e) {
      CF_THROW(FormatError, ck_path, ": incomplete checkpoint metadata: ", e.what());
    }
  }
  CF_CHECK(o.epochs > 0 || o.minutes > 0.0 || o.max_steps > 0, ValueError,
           "train vision: give --epochs or --minutes");
  CF_CHECK(o.batch >= 1, ValueError, "train vision: --batch must be >= 1, got ", o.batch);
  CF_CHECK(o.lr > 0.0, ValueError, "train vision: --lr must be positive, got ", o.lr);
  CF_CHECK(o.label_smoothing >= 0.0 && o.label_smoothing < 1.0, ValueError,
           "train vision: --label-smoothing must be in [0, 1), got ", o.label_smoothing);
  CF_CHECK(o.log_every >= 1 && o.checkpoint_every >= 1, ValueError,
           "train vision: --log-every and --checkpoint-every must be >= 1");

  // Data: the training split minus the held-out validation images.
  const data::ImageDataset full = load_image_dataset(o.dataset, data::Split::train, o.data_dir);
  const std::vector<int64_t> val_idx = validation_indices(full.size(), o.val_size);
  std::vector<char> is_val(static_cast<size_t>(full.size()), 0);
  for (int64_t i : val_idx) is_val[static_cast<size_t>(i)] = 1;
  std::vector<int64_t> train_idx;
  for (int64_t i = 0; i < full.size(); ++i)
    if (!is_val[static_cast<size_t>(i)]) train_idx.push_back(i);
  if (o.train_limit > 0 && o.train_limit < static_cast<int64_t>(train_idx.size()))
    train_idx.resize(static_cast<size_t>(o.train_limit));
  const data::ImageDataset val_ds = subset(full, val_idx);
  const std::vector<float> mean = image_dataset_mean(o.dataset), stdv = image_dataset_std(o.dataset);
  data::LoaderOptions lo;
  lo.batch_size = o.batch;
  lo.shuffle = true;
  lo.drop_last = static_cast<int64_t>(train_idx.size()) >= o.batch;
  lo.seed = o.seed;
  lo.mean = mean;
  lo.std = stdv;
  lo.augment = o.augment;
  lo.flip_prob = o.dataset == "mnist" ? 0.0 : 0.5;
  data::ImageLoader loader(subset(full, train_idx), lo);
  const int64_t per_epoch = loader.num_batches();
  CF_CHECK(per_epoch > 0, ValueError, "train vision: no training images");

  // Model and optimizer.
  if (config.empty()) config = models::image_classifier_preset(o.model, o.preset);
  if (!o.attention_json.empty() && !o.resume) {
    CF_CHECK(o.model != "cnn", ValueError, "train vision: the cnn has no attention to configure");
    json c = json::parse(config, nullptr, false);
    CF_CHECK(c.is_object(), FormatError, "train vision: --config is not a JSON object: ", config);
    c["attention"] = json::parse(o.attention_json);
    config = c.dump();
  }
  std::unique_ptr<models::ImageClassifier> model = models::make_image_classifier(o.model, config, o.seed);
  {
    const json c = json::parse(config);
    CF_CHECK(c.value("image_size", int64_t{0}) == full.height() && full.height() == full.width() &&
                 c.value("in_chans", int64_t{0}) == full.channels() &&
                 c.value("num_classes", int64_t{0}) == static_cast<int64_t>(full.class_names.size()),
             ValueError, "train vision: the model takes ", c.value("image_size", int64_t{0}), "x",
             c.value("image_size", int64_t{0}), "x", c.value("in_chans", int64_t{0}), " images and ",
             c.value("num_classes", int64_t{0}), " classes, ", o.dataset, " has ", full.height(), "x",
             full.width(), "x", full.channels(), " and ", full.class_names.size());
  }
  model->train();
  optim::AdamW adamw(decay_groups(model->named_parameters(), o.weight_decay),
                     optim::AdamOptions{o.lr, o.beta1, o.beta2, 1e-8, o.weight_decay});
  if (o.resume) {
    model->load_state_dict(ck.model, true);
    adamw.load_state_dict(ck.optim);
    const json& rng = ck.meta.at("rng").at("dropout");
    model->dropout_generator().set_state(rng[0], rng[1]);
    // Performer kernels: the redraw stream and how far into the redraw interval each one is.
    const json& all = ck.meta.at("rng");
    if (all.contains("kernels"))
      restore_kernel_rng_state(model->attention_kernels(), all.at("kernels"), ck_path);
  }
  fs::create_directories(o.out_dir);
  MetricsLog metrics(o.out_dir + "/metrics.jsonl", o.resume);

  const auto t_start = Clock::now();
  auto elapsed = [start_elapsed, t_start]() {
    return start_elapsed + std::chrono::duration<double>(Clock::now() - t_start).count();
  };
  VisionTrainSummary s;
  auto save = [&model, &adamw, &o, &full, &mean, &stdv, &s, &ck_path, &elapsed](
                  int64_t step, int64_t epoch, int64_t batch_in_epoch) {
    Checkpoint c;
    c.model = model->state_dict();
    c.optim = adamw.state_dict();
    Generator& g = model->dropout_generator();
    const json kernels = kernel_rng_state(model->attention_kernels());
    c.meta = {{"model_type", o.model},
              {"config", json::parse(model->config_json())},
              {"options", options_json(o)},
              {"dataset", o.dataset},
              {"class_names", full.class_names},
              {"mean", mean},
              {"std", stdv},
              {"step", step},
              {"epoch", epoch},
              {"batch_in_epoch", batch_in_epoch},
              {"elapsed", elapsed()},
              {"val_accuracy", s.val_accuracy},
              {"rng", {{"dropout", {g.seed(), g.offset()}}, {"kernels", kernels}}}};
    if (s.test_accuracy >= 0.0) c.meta["test_accuracy"] = s.test_accuracy;
    save_checkpoint(ck_path, c);
  };

  const int64_t total_steps = o.epochs > 0 ? o.epochs * per_epoch : 0;
  const double budget = o.minutes * 60.0;
  out << "cformer train " << o.model << ": " << model->num_parameters() << " parameters, config "
      << model->config_json() << "\n"
      << o.dataset << ": " << train_idx.size() << " training / " << val_ds.size()
      << " validation images, " << per_epoch << " steps per epoch of " << o.batch << "\n";
  auto done = [&o, &elapsed, budget](int64_t step, int64_t epoch) {
    if (o.max_steps > 0 && step >= o.max_steps) return true;
    if (o.epochs > 0) return epoch >= o.epochs;
    return o.minutes > 0.0 && elapsed() >= budget;
  };
  int64_t step = start_step, epoch = start_epoch;
  double window_loss = 0.0, window_t = elapsed();
  int64_t window_n = 0, window_images = 0;
  bool first_window = start_step == 0;
  int64_t resume_batch = 0;  // the position inside the epoch of the last checkpoint
  data::ImageBatch batch;
  while (!done(step, epoch)) {
    loader.start_epoch(epoch);
    int64_t b = 0;
    for (; b < start_batch; ++b) loader.next(batch);  // resume inside an epoch
    start_batch = 0;
    bool stopped = false;
    while (loader.next(batch)) {
      const double progress = total_steps > 0 ? static_cast<double>(step) / total_steps
                              : budget > 0.0  ? elapsed() / budget
                                              : static_cast<double>(step) / o.max_steps;
      const double lr = vision_lr(o, step, progress);
      adamw.set_lr(lr);
      Tensor loss = cross_entropy(model->forward(batch.x), batch.y, {}, -100, Reduction::mean,
                                  o.label_smoothing);
      adamw.zero_grad();
      loss.backward();
      double gnorm = 0.0;
      if (o.grad_clip > 0.0) gnorm = optim::clip_grad_norm_(model->parameters(), o.grad_clip);
      adamw.step();
      ++step;
      ++b;
      const double l = loss.item();
      CF_CHECK(std::isfinite(l), ValueError, "train vision: the loss became ", l, " at step ",
               step, "; lower --lr");
      window_loss += l;
      ++window_n;
      window_images += batch.x.size(0);
      if (step % o.log_every == 0) {
        const double now = elapsed(), mean_loss = window_loss / window_n;
        const double ips = static_cast<double>(window_images) / std::max(1e-9, now - window_t);
        if (first_window) s.first_loss = mean_loss, first_window = false;
        s.last_loss = mean_loss;
        metrics.write(json{{"step", step}, {"epoch", epoch}, {"loss", mean_loss}, {"lr", lr},
                           {"grad_norm", gnorm}, {"images_per_s", ips}, {"elapsed", now}}.dump());
        if (o.progress) {
          const int64_t total = total_steps > 0 ? total_steps
                                : budget > 0.0 ? static_cast<int64_t>(step * budget / std::max(now, 1e-9))
                                               : o.max_steps;
          const double eta = total_steps > 0 ? (now - start_elapsed) / std::max<int64_t>(1, step - start_step) *
                                                   static_cast<double>(total_steps - step)
                                             : budget - now;
          std::fprintf(stderr, "\r%s | epoch %lld   ",
                       progress_line(step, total, mean_loss, ips, now, eta).c_str(),
                       static_cast<long long>(epoch + 1));
          std::fflush(stderr);
        }
        window_loss = 0.0, window_n = 0, window_images = 0, window_t = now;
      }
      if (step % o.checkpoint_every == 0) save(step, epoch, b);
      if (done(step, epoch)) {
        stopped = true;
        break;
      }
    }
    if (!stopped) ++epoch;
    // Validation after every epoch (and when the budget ends inside one).
    const Predictions p = predict_images(*model, val_ds, mean, stdv, 500);
    s.val_accuracy = accuracy(p.predicted, val_ds.labels);
    s.val_loss = p.loss;
    metrics.write(json{{"step", step}, {"epoch", epoch}, {"val_loss", p.loss},
                       {"val_accuracy", s.val_accuracy}, {"elapsed", elapsed()}}.dump());
    if (o.progress) std::fprintf(stderr, "\n");
    out << "epoch " << epoch << " (step " << step << ", " << format_duration(elapsed())
        << "): validation loss " << p.loss << ", accuracy " << s.val_accuracy * 100 << " %\n";
    resume_batch = stopped ? b : 0;
    save(step, epoch, resume_batch);
    if (stopped) break;
  }
  s.steps = step;
  s.epochs = epoch;
  s.elapsed_s = elapsed();
  s.images_per_s = static_cast<double>((step - start_step) * o.batch) /
                   std::max(1e-9, s.elapsed_s - start_elapsed);
  json fin{{"step", step}, {"final", true}, {"val_accuracy", s.val_accuracy},
           {"elapsed", s.elapsed_s}, {"images_per_s", s.images_per_s}};
  if (o.test_at_end) {
    const data::ImageDataset test = load_image_dataset(o.dataset, data::Split::test, o.data_dir);
    const Predictions p = predict_images(*model, test, mean, stdv, 500);
    s.test_accuracy = accuracy(p.predicted, test.labels);
    fin["test_accuracy"] = s.test_accuracy;
    fin["test_loss"] = p.loss;
    out << "test accuracy " << s.test_accuracy * 100 << " % (" << test.size() << " images)\n";
  }
  metrics.write(fin.dump());
  save(step, epoch, resume_batch);
  std::vector<CurvePoint> train_curve, val_curve;
  read_curves(o.out_dir + "/metrics.jsonl", "loss", 1, train_curve, val_curve);
  write_loss_curve_svg(o.out_dir + "/loss.svg", train_curve, val_curve,
                       "cformer " + o.model + " on " + o.dataset);
  out << "done: " << step << " steps, " << epoch << " epochs in " << format_duration(s.elapsed_s)
      << ", " << static_cast<int64_t>(s.images_per_s) << " images/s; checkpoint " << ck_path
      << ", metrics " << o.out_dir << "/metrics.jsonl, curve " << o.out_dir << "/loss.svg\n";
  return s;
}

}  // namespace cf::train
