// Translation training with decoder and cross-attention kernels: a performer run (projections
// redrawn every step) resumed from a checkpoint ends with the uninterrupted run's parameters and
// losses (the decoder kernels' redraw state travels in rng.decoder_kernels); a checkpoint from
// before the decoder kernels resumes as dense, and contradicting kernels are refused.
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cformer/cformer.h"
#include "support/expect_throw.h"
#include "train/checkpoint.h"
#include "train/translate_train.h"

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
  const std::vector<std::string> en = {"open",     "close",    "save",
                                       "the file", "a window", "all documents"};
  const std::vector<std::string> fr = {"ouvrir",     "fermer",      "enregistrer",
                                       "le fichier", "une fenetre", "tous les documents"};
  std::ofstream te(dir + "/train.en"), tf(dir + "/train.fr"), ve(dir + "/valid.en"),
      vf(dir + "/valid.fr");
  for (int i = 0; i < 60; ++i) {
    te << en[i % 3] << " " << en[3 + i % 3] << "\n";
    tf << fr[i % 3] << " " << fr[3 + i % 3] << "\n";
  }
  for (int i = 0; i < 5; ++i) {
    ve << en[(i + 1) % 3] << " " << en[3 + i % 3] << "\n";
    vf << fr[(i + 1) % 3] << " " << fr[3 + i % 3] << "\n";
  }
}

TranslateTrainOptions tiny(const std::string& data, const std::string& out,
                           const std::string& kind) {
  TranslateTrainOptions o;
  o.data = data;
  o.out_dir = out;
  o.model.d_model = 16;
  o.model.nhead = 2;
  o.model.num_encoder_layers = 1;
  o.model.num_decoder_layers = 2;
  o.model.dim_feedforward = 32;
  o.model.max_positions = 64;
  o.model.share_embeddings = true;
  for (nn::AttentionKernelOptions* k : {&o.model.decoder_attention, &o.model.cross_attention}) {
    k->kind = kind;
    k->nb_features = 8;
    k->redraw_interval = 1;
  }
  o.vocab_size = 300;
  o.max_len = 32;
  o.batch_tokens = 64;
  o.warmup = 4;
  o.eval_every = 100;
  o.val_bleu_sentences = 2;
  o.log_every = 1;
  o.checkpoint_every = 100;
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

TEST(TranslateTrainKernels, PerformerDecoderResumesExactly) {
  TempDir dir("cf_translate_dec_kernels");
  write_corpus(dir.str());
  std::ostringstream log;
  TranslateTrainOptions full = tiny(dir.str(), dir.str("full"), "performer");
  full.steps = 6;
  train_translate(full, {}, log);
  TranslateTrainOptions part = tiny(dir.str(), dir.str("part"), "performer");
  part.steps = 3;
  train_translate(part, {}, log);
  TranslateTrainOptions rest = tiny(dir.str(), dir.str("part"), "dense");  // not given: unused
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

  TranslateTrainOptions other = tiny(dir.str(), dir.str("part"), "memory_efficient");
  other.steps = 8;
  other.resume = true;
  EXPECT_THROW_MSG(train_translate(other, {"cross_attention"}, log), ValueError,
                   "--cross-attention {\"kind\":\"memory_efficient\"}, which contradicts");
}

TEST(TranslateTrainKernels, OldCheckpointResumesAsDense) {
  TempDir dir("cf_translate_old_ck");
  write_corpus(dir.str());
  std::ostringstream log;
  TranslateTrainOptions o = tiny(dir.str(), dir.str("run"), "dense");
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
  TranslateTrainOptions p = tiny(dir.str(), dir.str("run"), "performer");
  p.steps = 4;
  p.resume = true;
  EXPECT_THROW_MSG(train_translate(p, {"decoder_attention"}, log), ValueError,
                   "contradicts the checkpoint being resumed ({\"kind\":\"dense\"})");
  TranslateTrainOptions r = tiny(dir.str(), dir.str("run"), "dense");
  r.steps = 3;
  r.resume = true;
  EXPECT_EQ(train_translate(r, {"steps", "decoder_attention", "cross_attention"}, log).steps, 3);
  EXPECT_EQ(load_checkpoint(path).meta.at("config").at("cross_attention").at("kind"), "dense");
}

}  // namespace
}  // namespace cf::train
