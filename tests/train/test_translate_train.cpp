// Translation training on a tiny synthetic corpus: a run interrupted at a checkpoint and resumed
// ends with exactly the parameters, optimizer state and per-step losses of an uninterrupted run;
// contradicting or foreign checkpoints are refused with clear errors; the translator's handling
// of empty and over-long lines; the options' JSON round trip; decoder and cross-attention kernels
// (performer resumes exactly, an old checkpoint resumes as dense).
#include <filesystem>
#include <fstream>
#include <cstring>
#include <map>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cformer/cformer.h"
#include "support/expect_throw.h"
#include "train/checkpoint.h"
#include "train/translate_train.h"
#include "train/translator.h"

namespace cf::train {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string str(const std::string& rel = "") const { return (path / rel).string(); }
};

void write_corpus(const std::string& dir) {
  const std::vector<std::string> en = {"open", "close", "save", "the file", "a window", "all documents"};
  const std::vector<std::string> fr = {"ouvrir", "fermer", "enregistrer", "le fichier", "une fenêtre", "tous les documents"};
  std::ofstream te(dir + "/train.en"), tf(dir + "/train.fr"), ve(dir + "/valid.en"), vf(dir + "/valid.fr");
  for (int i = 0; i < 60; ++i) {
    te << en[i % 3] << " " << en[3 + i % 3] << "\n";
    tf << fr[i % 3] << " " << fr[3 + i % 3] << "\n";
  }
  for (int i = 0; i < 5; ++i) {
    ve << en[(i + 1) % 3] << " " << en[3 + i % 3] << "\n";
    vf << fr[(i + 1) % 3] << " " << fr[3 + i % 3] << "\n";
  }
}

TranslateTrainOptions tiny(const std::string& data, const std::string& out) {
  TranslateTrainOptions o;
  o.data = data;
  o.out_dir = out;
  o.model.d_model = 16;
  o.model.nhead = 2;
  o.model.num_encoder_layers = 1;
  o.model.num_decoder_layers = 1;
  o.model.dim_feedforward = 32;
  o.model.max_positions = 64;
  o.model.share_embeddings = true;
  o.vocab_size = 300;
  o.max_len = 32;
  o.batch_tokens = 64;
  o.warmup = 4;
  o.lr_factor = 2.0;
  o.grad_clip = 1.0;
  o.eval_every = 4;
  o.val_bleu_sentences = 3;
  o.log_every = 2;
  o.checkpoint_every = 3;
  o.checkpoint_minutes = 0.0;
  o.progress = false;
  o.seed = 5;
  return o;
}

std::map<int64_t, double> step_losses(const std::string& path) {
  std::map<int64_t, double> m;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    const nlohmann::json r = nlohmann::json::parse(line);
    if (r.contains("loss")) m[r["step"].get<int64_t>()] = r["loss"].get<double>();
  }
  return m;
}

void expect_same_tensors(const std::vector<std::pair<std::string, Tensor>>& a,
                         const std::vector<std::pair<std::string, Tensor>>& b) {
  ASSERT_EQ(a.size(), b.size());
  std::map<std::string, Tensor> bm(b.begin(), b.end());
  for (const auto& [name, t] : a) {
    ASSERT_TRUE(bm.count(name)) << name;
    const Tensor u = bm[name];
    ASSERT_EQ(t.shape(), u.shape()) << name;
    ASSERT_EQ(t.dtype(), u.dtype()) << name;
    const Tensor tc = t.contiguous(), uc = u.contiguous();
    EXPECT_EQ(std::memcmp(tc.raw_data_ptr(), uc.raw_data_ptr(), static_cast<size_t>(tc.numel()) * tc.element_size()), 0)
        << name << " differs";
  }
}

TEST(TranslateTrain, ResumeContinuesExactly) {
  TempDir dir("cf_translate_resume");
  write_corpus(dir.str());
  std::ostringstream log;
  TranslateTrainOptions full = tiny(dir.str(), dir.str("full"));
  full.steps = 8;
  const TranslateTrainSummary sf = train_translate(full, {}, log);
  EXPECT_EQ(sf.steps, 8);
  EXPECT_GT(sf.epochs, 0.0);
  EXPECT_TRUE(std::isfinite(sf.val_loss));
  EXPECT_GE(sf.bleu, 0.0);
  EXPECT_NE(log.str().find("val loss"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("tok/s"), std::string::npos) << log.str();
  EXPECT_TRUE(fs::exists(dir.str("full/best.safetensors")));

  TranslateTrainOptions part = tiny(dir.str(), dir.str("part"));
  part.steps = 3;  // stops (and checkpoints) at step 3, inside the first epoch
  train_translate(part, {}, log);
  TranslateTrainOptions rest = tiny(dir.str(), dir.str("part"));
  rest.steps = 8;
  rest.resume = true;
  rest.model.d_model = 999;  // not given explicitly: the checkpoint's value is used
  const TranslateTrainSummary sr = train_translate(rest, {"steps"}, log);
  EXPECT_EQ(sr.steps, 8);
  EXPECT_DOUBLE_EQ(sr.val_loss, sf.val_loss);

  const Checkpoint a = load_checkpoint(dir.str("full/checkpoint.safetensors"));
  const Checkpoint b = load_checkpoint(dir.str("part/checkpoint.safetensors"));
  expect_same_tensors(a.model, b.model);
  expect_same_tensors(a.optim, b.optim);
  EXPECT_EQ(a.meta.at("epoch"), b.meta.at("epoch"));
  EXPECT_EQ(a.meta.at("position"), b.meta.at("position"));
  EXPECT_EQ(a.meta.at("rng"), b.meta.at("rng"));
  const auto la = step_losses(dir.str("full/metrics.jsonl"));
  const auto lb = step_losses(dir.str("part/metrics.jsonl"));
  ASSERT_EQ(la.size(), 8u);
  EXPECT_EQ(la, lb);
}

TEST(TranslateTrain, RefusesContradictingAndForeignCheckpoints) {
  TempDir dir("cf_translate_refuse");
  write_corpus(dir.str());
  std::ostringstream log;
  TranslateTrainOptions o = tiny(dir.str(), dir.str("run"));
  o.steps = 2;
  train_translate(o, {}, log);
  TranslateTrainOptions r = o;
  r.resume = true;
  r.steps = 3;
  r.model.d_model = 32;
  try {
    train_translate(r, {"d_model", "steps"}, log);
    FAIL() << "no throw";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("--d-model 32, which contradicts"), std::string::npos) << e.what();
  }
  TranslateTrainOptions missing = tiny(dir.str(), dir.str("nothing"));
  missing.steps = 1;
  missing.resume = true;
  EXPECT_THROW(train_translate(missing, {}, log), IoError);

  // A checkpoint of another model type.
  Checkpoint gpt;
  gpt.meta = {{"model_type", "gpt"}, {"step", 1}};
  fs::create_directories(dir.str("gpt"));
  save_checkpoint(dir.str("gpt/checkpoint.safetensors"), gpt);
  try {
    load_translator(dir.str("gpt"));
    FAIL() << "no throw";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("'gpt' model, not a translation model"), std::string::npos)
        << e.what();
  }
  TranslateTrainOptions g = tiny(dir.str(), dir.str("gpt"));
  g.resume = true;
  g.steps = 3;
  EXPECT_THROW(train_translate(g, {}, log), FormatError);
  EXPECT_THROW(load_translator(dir.str("no_such_dir/ck")), IoError);

  TranslateTrainOptions bad = tiny(dir.str(), dir.str("bad"));
  EXPECT_THROW(train_translate(bad, {}, log), ValueError);  // neither --steps nor --minutes
  bad.steps = 1;
  bad.max_len = 100;  // > max_positions 64
  EXPECT_THROW(train_translate(bad, {}, log), ValueError);
  bad.max_len = 32;
  bad.separate_vocab = true;  // with share_embeddings
  EXPECT_THROW(train_translate(bad, {}, log), ValueError);
  bad.data = dir.str("no_data");
  bad.separate_vocab = false;
  EXPECT_THROW(train_translate(bad, {}, log), IoError);
}

TEST(TranslateTrain, TranslatorHandlesEmptyAndLongLines) {
  TempDir dir("cf_translate_lines");
  write_corpus(dir.str());
  std::ostringstream log;
  TranslateTrainOptions o = tiny(dir.str(), dir.str("run"));
  o.steps = 2;
  o.separate_vocab = true;
  o.model.share_embeddings = false;
  train_translate(o, {}, log);
  Translator t = load_translator(dir.str("run/checkpoint"));  // ".safetensors" is optional
  EXPECT_FALSE(t.vocab.shared);
  EXPECT_EQ(t.model->config().max_positions, 64);
  std::string long_line;
  for (int i = 0; i < 100; ++i) long_line += "open the file ";
  models::BeamOptions greedy;
  greedy.beam_size = 1;
  greedy.max_len_b = 5;
  std::ostringstream warn;
  const auto out = translate_lines(t, {"open the file", "", "   ", long_line}, greedy, 2, &warn);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].texts.size(), 1u);
  EXPECT_TRUE(out[1].texts.empty());
  EXPECT_TRUE(out[2].texts.empty());
  EXPECT_EQ(out[3].texts.size(), 1u);
  EXPECT_NE(warn.str().find("warning: line 4 has"), std::string::npos) << warn.str();
  EXPECT_NE(warn.str().find("maximum of 64"), std::string::npos) << warn.str();
  models::BeamOptions beam;
  beam.beam_size = 3;
  beam.nbest = 2;
  beam.max_len_b = 5;
  const auto nb = translate_lines(t, {"save a window", ""}, beam, 8, nullptr);
  EXPECT_EQ(nb[0].texts.size(), 2u);
  EXPECT_GE(nb[0].scores[0], nb[0].scores[1]);
  EXPECT_TRUE(nb[1].texts.empty());
}

TEST(TranslateTrain, OptionsJsonRoundTrip) {
  TranslateTrainOptions o = tiny("d", "o");
  o.model.positions = models::PositionKind::learned;
  o.model.norm_first = true;
  o.steps = 17;
  o.minutes = 2.5;
  o.seed = 123456789012345ULL;
  const TranslateTrainOptions b = options_from_json(options_to_json(o));
  EXPECT_EQ(options_to_json(b), options_to_json(o));
  EXPECT_EQ(b.model.positions, models::PositionKind::learned);
  nlohmann::json j = options_to_json(o);
  j["positions"] = "rotary";
  EXPECT_THROW(options_from_json(j), FormatError);
  j.erase("positions");
  EXPECT_THROW(options_from_json(j), FormatError);
}

// tiny() with two decoder layers whose self- and cross-attention kernels are of the given kind
// (performer: 8 features, redrawn every step), a loss logged every step, no checkpoint but the last.
TranslateTrainOptions tiny_kernels(const std::string& data, const std::string& out,
                                   const std::string& kind) {
  TranslateTrainOptions o = tiny(data, out);
  o.model.num_decoder_layers = 2;
  for (nn::AttentionKernelOptions* k : {&o.model.decoder_attention, &o.model.cross_attention}) {
    k->kind = kind;
    k->nb_features = 8;
    k->redraw_interval = 1;
  }
  o.eval_every = 100;
  o.val_bleu_sentences = 2;
  o.log_every = 1;
  o.checkpoint_every = 100;
  return o;
}

// Decoder and cross-attention kernels: a performer run (projections redrawn every step) resumed
// from a checkpoint ends with the uninterrupted run's parameters and losses (the decoder kernels'
// redraw state travels in rng.decoder_kernels); a checkpoint from before the decoder kernels
// resumes as dense, and contradicting kernels are refused.
TEST(TranslateTrainKernels, PerformerDecoderResumesExactly) {
  TempDir dir("cf_translate_dec_kernels");
  write_corpus(dir.str());
  std::ostringstream log;
  TranslateTrainOptions full = tiny_kernels(dir.str(), dir.str("full"), "performer");
  full.steps = 6;
  train_translate(full, {}, log);
  TranslateTrainOptions part = tiny_kernels(dir.str(), dir.str("part"), "performer");
  part.steps = 3;
  train_translate(part, {}, log);
  TranslateTrainOptions rest = tiny_kernels(dir.str(), dir.str("part"), "dense");  // not given: unused
  rest.steps = 6;
  rest.resume = true;
  train_translate(rest, {"steps"}, log);
  const Checkpoint a = load_checkpoint(dir.str("full/checkpoint.safetensors"));
  const Checkpoint b = load_checkpoint(dir.str("part/checkpoint.safetensors"));
  EXPECT_EQ(a.meta.at("config").at("decoder_attention").at("kind"), "performer");
  ASSERT_EQ(a.meta.at("rng").at("decoder_kernels").size(), 4u);  // 2 layers x (self, cross)
  EXPECT_EQ(a.meta.at("rng"), b.meta.at("rng"));
  std::map<std::string, Tensor> bm(b.model.begin(), b.model.end());
  int projections = 0;
  for (const auto& [name, t] : a.model) {
    ASSERT_TRUE(bm.count(name)) << name;
    EXPECT_EQ(max(abs(sub(t, bm[name]))).item(), 0.0) << name;
    projections +=
        name.find("decoder.layers.1.multihead_attn.kernel.projection_matrix") != std::string::npos;
  }
  EXPECT_EQ(projections, 1);
  const auto la = step_losses(dir.str("full/metrics.jsonl"));
  ASSERT_EQ(la.size(), 6u);
  EXPECT_EQ(la, step_losses(dir.str("part/metrics.jsonl")));

  TranslateTrainOptions other = tiny_kernels(dir.str(), dir.str("part"), "memory_efficient");
  other.steps = 8;
  other.resume = true;
  EXPECT_THROW_MSG(train_translate(other, {"cross_attention"}, log), ValueError,
                   "--cross-attention {\"kind\":\"memory_efficient\"}, which contradicts");
}

TEST(TranslateTrainKernels, OldCheckpointResumesAsDense) {
  TempDir dir("cf_translate_old_ck");
  write_corpus(dir.str());
  std::ostringstream log;
  TranslateTrainOptions o = tiny_kernels(dir.str(), dir.str("run"), "dense");
  o.steps = 2;
  train_translate(o, {}, log);
  // Strip what a checkpoint from before the decoder kernels lacks.
  const std::string path = dir.str("run/checkpoint.safetensors");
  Checkpoint ck = load_checkpoint(path);
  for (const char* k : {"decoder_attention", "cross_attention"}) {
    ck.meta["config"].erase(k);
    ck.meta["options"].erase(k);
  }
  ck.meta["rng"].erase("decoder_kernels");
  save_checkpoint(path, ck);
  TranslateTrainOptions p = tiny_kernels(dir.str(), dir.str("run"), "performer");
  p.steps = 4;
  p.resume = true;
  EXPECT_THROW_MSG(train_translate(p, {"decoder_attention"}, log), ValueError,
                   "contradicts the checkpoint being resumed ({\"kind\":\"dense\"})");
  TranslateTrainOptions r = tiny_kernels(dir.str(), dir.str("run"), "dense");
  r.steps = 3;
  r.resume = true;
  EXPECT_EQ(train_translate(r, {"steps", "decoder_attention", "cross_attention"}, log).steps, 3);
  EXPECT_EQ(load_checkpoint(path).meta.at("config").at("cross_attention").at("kind"), "dense");
}

}  // namespace
}  // namespace cf::train
