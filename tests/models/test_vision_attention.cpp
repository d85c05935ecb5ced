// ViT and ViTAE with the attention kernel chosen by configuration: the exact and full-coverage
// kernels against dense with the same weights (ViTAE's token attention also checks a scale other
// than 1 / sqrt(head_dim)), performer training and save-load, the config JSON and the errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cformer/cformer.h"
#include "cformer/io.h"
#include "cformer/models/vision.h"
#include "cformer/optim.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"

namespace cf::models {
namespace {

Tensor images(int64_t B, uint64_t seed, int64_t size = 28) {
  Generator g(seed);
  return randn(Shape{B, 1, size, size}, g);
}

// The tiny presets on 16x16 images (kept small for the tests' run time). ViT: 16 patches and
// the class token; ViTAE: token attention over 64 then 16 tokens, normal cells over 16.
VitConfig small_vit() {
  VitConfig c = VitConfig::preset("tiny");
  c.image_size = 16;
  return c;
}

VitaeConfig small_vitae() {
  VitaeConfig c = VitaeConfig::preset("tiny");
  c.image_size = 16;
  return c;
}

// The kinds that must give dense attention for inputs of up to `tokens` tokens.
std::vector<nn::AttentionKernelOptions> full_coverage(int64_t tokens) {
  std::vector<nn::AttentionKernelOptions> cases;
  nn::AttentionKernelOptions o;
  o.kind = "memory_efficient";
  cases.push_back(o);
  o = {};
  o.kind = "longformer";
  o.attention_window = 2 * tokens;  // every key is inside the window
  cases.push_back(o);
  const int64_t block = 16, nb = (tokens + block - 1) / block;
  for (const char* layout : {"fixed", "strided", "bigbird"}) {
    o = {};
    o.kind = "block_sparse";
    o.sparse_layout = layout;
    o.block_size = block;
    o.local_blocks = nb;           // fixed: one window; strided: one stride spans every block
    o.window_blocks = 2 * nb + 1;  // bigbird: the sliding window spans every block
    o.random_blocks = 0;
    cases.push_back(o);
  }
  return cases;
}

// Copies the weights of `from` into `to`; the only keys either may have alone are kernel buffers.
void copy_weights(const nn::Module& from, nn::Module& to) {
  const nn::LoadResult r = to.load_state_dict(from.state_dict(), false);
  for (const std::string& k : r.missing_keys) EXPECT_NE(k.find(".kernel."), std::string::npos) << k;
  EXPECT_TRUE(r.unexpected_keys.empty());
}

TEST(VisionAttention, VitExactAndFullCoverageKernelsGiveTheDenseLogits) {
  const VitConfig base = small_vit();
  Vit dense(base, 1);
  dense.eval();
  const Tensor x = images(2, 3, 16), want = dense.forward(x);
  for (const nn::AttentionKernelOptions& o : full_coverage(17)) {
    VitConfig c = base;
    c.attention = o;
    Vit m(c, 2);
    m.eval();
    copy_weights(dense, m);
    SCOPED_TRACE(o.to_json());
    EXPECT_CLOSE(m.forward(x), want, 1e-6, 1e-5);
  }
}

TEST(VisionAttention, VitaeExactAndFullCoverageKernelsGiveTheDenseLogits) {
  // The token attention's scale is (PRM width / heads)^-0.5, not head_dim^-0.5.
  const VitaeConfig base = small_vitae();
  Vitae dense(base, 1);
  dense.eval();
  EXPECT_EQ(dense.attention_kernels().size(), 3u);
  const Tensor x = images(2, 3, 16), want = dense.forward(x);
  for (const nn::AttentionKernelOptions& o : full_coverage(64)) {
    VitaeConfig c = base;
    c.attention = o;
    Vitae m(c, 2);
    m.eval();
    copy_weights(dense, m);
    SCOPED_TRACE(o.to_json());
    EXPECT_CLOSE(m.forward(x), want, 1e-6, 1e-5);
  }
}

TEST(VisionAttention, KernelMaxLenIsEachAttentionsTokenCount) {
  VitaeConfig c = VitaeConfig::preset("tiny");
  c.attention.kind = "block_sparse";
  c.attention.block_size = 8;
  Vitae vitae(c, 1);
  std::vector<int64_t> lens;
  for (const nn::AttentionKernel* k : vitae.attention_kernels()) lens.push_back(k->max_len);
  EXPECT_EQ(lens, (std::vector<int64_t>{196, 49, 49}));
  VitConfig v = VitConfig::preset("tiny");
  v.attention = c.attention;
  Vit vit(v, 1);
  EXPECT_EQ(vit.attention_kernels()[0]->max_len, 50);
  EXPECT_EQ(vit.attention_kernels()[0]->layout->shape(), (Shape{2, 7, 7}));
}

template <class Model, class Config>
void performer_trains_and_reloads(Config c, const std::string& buffer) {
  const int64_t size = c.image_size;
  c.attention.kind = "performer";
  c.attention.nb_features = 8;
  c.attention.redraw_interval = 1;
  c.drop_rate = 0.1;  // dropout elsewhere is fine
  Model model(c, 3);
  model.train();
  optim::AdamW opt(model.named_parameters(), optim::AdamOptions{1e-3, 0.9, 0.999, 1e-8, 0.0});
  Generator g(4);
  const Tensor labels = randint(0, 10, Shape{2}, g);
  Tensor loss = cross_entropy(model.forward(images(2, 5, size)), labels);
  EXPECT_TRUE(std::isfinite(loss.item()));
  opt.zero_grad();
  loss.backward();
  opt.step();
  const nn::StateDict sd = model.state_dict();
  EXPECT_NE(std::find_if(sd.begin(), sd.end(), [&buffer](const auto& e) { return e.first == buffer; }),
            sd.end())
      << buffer;
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("cformer_vision_performer_" + std::to_string(::getpid()) + ".safetensors"))
                               .string();
  io::save_safetensors(path, sd);
  Model loaded(Config::from_json(c.to_json()), 99);
  loaded.load_state_dict(io::load_safetensors(path).tensors, true);
  std::filesystem::remove(path);
  model.eval();
  loaded.eval();
  const Tensor x = images(2, 6, size);
  EXPECT_CLOSE(loaded.forward(x), model.forward(x), 0.0, 0.0);
}

TEST(VisionAttention, PerformerTrainsAndSurvivesSaveAndLoadBitForBit) {
  performer_trains_and_reloads<Vit>(small_vit(),
                                    "blocks.1.attn.kernel.projection_matrix");
  performer_trains_and_reloads<Vitae>(small_vitae(),
                                      "layers.0.RC.attn.attn.kernel.projection_matrix");
}

TEST(VisionAttention, ConfigJsonRoundTripAndOldConfigsAreDense) {
  for (const char* type : {"vit", "vitae"}) {
    SCOPED_TRACE(type);
    nlohmann::json j = nlohmann::json::parse(image_classifier_preset(type, "tiny"));
    EXPECT_EQ(j.at("attention").at("kind"), "dense");
    j["attention"] = {{"kind", "block_sparse"}, {"sparse_layout", "strided"}, {"block_size", 8}};
    auto m = make_image_classifier(type, j.dump(), 1);
    const nlohmann::json back = nlohmann::json::parse(m->config_json());
    EXPECT_EQ(back.at("attention").at("sparse_layout"), "strided");
    EXPECT_EQ(back.at("attention").at("block_size"), 8);
    EXPECT_EQ(make_image_classifier(type, m->config_json(), 1)->config_json(), m->config_json());
    j.erase("attention");  // a configuration written before the kernels existed
    auto old = make_image_classifier(type, j.dump(), 1);
    for (const nn::AttentionKernel* k : old->attention_kernels()) EXPECT_EQ(k->options.kind, "dense");
    for (const auto& [n, t] : old->state_dict()) EXPECT_EQ(n.find("kernel"), std::string::npos) << n;
  }
}

TEST(VisionAttention, ErrorsNameTheFieldToChange) {
  VitConfig v = VitConfig::preset("tiny");
  v.attention.kind = "performer";
  v.attn_drop_rate = 0.1;
  EXPECT_THROW_MSG(v.validate(), ValueError,
                   "vit config: the performer attention kernel has no attention-probability "
                   "dropout; set attn_drop_rate to 0");
  EXPECT_THROW_MSG(Vit(v, 0), ValueError, "set attn_drop_rate to 0");
  EXPECT_THROW_MSG(VitConfig::from_json(v.to_json()), FormatError, "set attn_drop_rate to 0");
  VitaeConfig a = VitaeConfig::preset("tiny");
  a.attention.kind = "memory_efficient";
  a.attn_drop_rate = 0.2;
  EXPECT_THROW_MSG(a.validate(), ValueError,
                   "vitae config: the memory_efficient attention kernel has no "
                   "attention-probability dropout; set attn_drop_rate to 0");
  v = VitConfig::preset("tiny");
  v.attention.kind = "sparse";
  EXPECT_THROW_MSG(v.validate(), ValueError, "unknown kind 'sparse'");
  v.attention.kind = "performer";
  Vit vit(v, 0);
  EXPECT_THROW_MSG(vit.attention_maps(images(1, 1)), ValueError,
                   "vit: attention maps need the softmax probabilities, which the performer "
                   "kernel never forms");
  v.attention.kind = "memory_efficient";  // exact: the maps are the probabilities it computes
  Vit exact(v, 0);
  EXPECT_EQ(exact.attention_maps(images(1, 1)).size(), 2u);
}

TEST(VisionAttention, SelfAttentionChecksItsKernel) {
  Generator gen(1), dgen(2), kgen(3);
  nn::AttentionKernelOptions perf;
  perf.kind = "performer";
  EXPECT_THROW_MSG(SelfAttention(8, 2, true, 0.1, 0.0, gen, &dgen, perf, 4, kgen), ValueError,
                   "Attention: the performer kernel has no attention-probability dropout");
  SelfAttention a(8, 2, true, 0.0, 0.0, gen, &dgen, perf, 4, kgen);
  Tensor w;
  EXPECT_THROW_MSG(a.forward(randn(Shape{1, 4, 8}, gen), &w), ValueError,
                   "Attention: the performer kernel never forms the attention probabilities");
}

}  // namespace
}  // namespace cf::models
