// GPT with the attention kernel chosen by configuration: the exact and full-coverage kernels
// against dense with the same weights, performer training / save-load / generation, the config
// JSON (old configs load as dense) and the errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <unistd.h>

#include "cformer/cformer.h"
#include "cformer/io.h"
#include "cformer/models/gpt.h"
#include "cformer/optim.h"
#include "support/expect_close.h"
#include "support/expect_throw.h"

namespace cf::models {
namespace {

GptConfig with_kernel(const std::string& kind) {
  GptConfig c{2, 2, 32, 16, 40, 0.0, true, {}};
  c.attention.kind = kind;
  return c;
}

Tensor tokens(int64_t B, int64_t T, uint64_t seed) {
  Generator g(seed);
  return randint(0, 40, Shape{B, T}, g);
}

// Copies the weights of `from` into `to`; the only keys `to` may lack or add are its kernel's.
void copy_weights(const Gpt& from, Gpt& to) {
  const nn::LoadResult r = to.load_state_dict(from.state_dict(), false);
  for (const std::string& k : r.missing_keys)
    EXPECT_NE(k.find(".attn.kernel."), std::string::npos) << k;
  EXPECT_TRUE(r.unexpected_keys.empty());
}

TEST(GptAttention, MemoryEfficientGivesTheDenseLogits) {
  Gpt dense(with_kernel("dense"), 3);
  Gpt me(with_kernel("memory_efficient"), 4);
  copy_weights(dense, me);
  const Tensor x = tokens(2, 16, 1);
  EXPECT_CLOSE(me.forward(x), dense.forward(x), 1e-6, 1e-5);
}

TEST(GptAttention, FullCoverageBlockSparseGivesTheDenseLogits) {
  Gpt dense(with_kernel("dense"), 3);
  const Tensor x = tokens(2, 16, 1), want = dense.forward(x);
  for (const char* layout : {"fixed", "strided"}) {
    GptConfig c = with_kernel("block_sparse");
    c.attention.sparse_layout = layout;
    c.attention.block_size = 4;    // 4 blocks of the 16-token context
    c.attention.local_blocks = 4;  // one fixed window / one stride spans all of them
    c.attention.global_blocks = 1;
    Gpt bs(c, 5);
    EXPECT_EQ(bs.state_dict().size(), dense.state_dict().size() + 2) << "a layout per layer";
    copy_weights(dense, bs);
    SCOPED_TRACE(layout);
    EXPECT_CLOSE(bs.forward(x), want, 1e-6, 1e-5);
  }
}

TEST(GptAttention, DenseKernelKeepsTheStateDictAndSeedGivesTheSameWeights) {
  Gpt plain(with_kernel("dense"), 3), perf(with_kernel("performer"), 3);
  for (const auto& [n, t] : plain.state_dict())
    EXPECT_EQ(n.find("kernel"), std::string::npos) << n;
  const nn::StateDict a = plain.named_parameters(), b = perf.named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_CLOSE(b[i].second, a[i].second, 0.0, 0.0);
}

TEST(GptAttention, PerformerTrainsAndSurvivesSaveAndLoadBitForBit) {
  GptConfig c = with_kernel("performer");
  c.attention.nb_features = 16;
  c.attention.redraw_interval = 1;  // a new projection before every training forward
  c.dropout = 0.1;                  // embeddings and residuals only (no attention dropout)
  Gpt model(c, 3);
  model.train();
  optim::AdamW opt(model.named_parameters(), optim::AdamOptions{1e-3, 0.9, 0.95, 1e-8, 0.0});
  const Tensor proj0 = model.attention_kernels()[0]->projection_matrix->clone();
  for (int step = 0; step < 2; ++step) {
    Tensor loss = model.loss(tokens(2, 16, 10 + step), tokens(2, 16, 20 + step));
    EXPECT_TRUE(std::isfinite(loss.item()));
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  EXPECT_GT(max(abs(sub(*model.attention_kernels()[0]->projection_matrix, proj0))).item(), 0.0)
      << "the projection was redrawn";

  const std::string path = (std::filesystem::temp_directory_path() /
                            ("cformer_gpt_performer_" + std::to_string(::getpid()) + ".safetensors"))
                               .string();
  io::save_safetensors(path, model.state_dict());
  Gpt loaded(GptConfig::from_json(c.to_json()), 99);  // another seed: another projection
  loaded.load_state_dict(io::load_safetensors(path).tensors, true);
  std::filesystem::remove(path);
  model.eval();
  loaded.eval();
  const Tensor x = tokens(2, 16, 7);
  const Tensor a = model.forward(x), b = loaded.forward(x);
  EXPECT_CLOSE(b, a, 0.0, 0.0);
}

TEST(GptAttention, BlockSparseLayoutIsSavedAndLoaded) {
  GptConfig c = with_kernel("block_sparse");
  c.attention.block_size = 4;
  c.attention.local_blocks = 2;
  Gpt model(c, 3);
  const nn::StateDict sd = model.state_dict();
  const auto it = std::find_if(sd.begin(), sd.end(), [](const auto& e) {
    return e.first == "h.1.attn.kernel.layout";
  });
  ASSERT_NE(it, sd.end());
  EXPECT_EQ(it->second.shape(), (Shape{2, 4, 4}));
  Gpt loaded(c, 8);
  loaded.load_state_dict(sd, true);
  const Tensor x = tokens(1, 13, 2);
  EXPECT_CLOSE(loaded.forward(x), model.forward(x), 0.0, 0.0);
}

// Larger attention weights, so that the attention (and so the kernel) decides the next token:
// at GPT-2's init the tied embedding alone decides it.
void sharpen_attention(Gpt& model) {
  NoGradGuard ng;
  for (auto& [n, p] : model.named_parameters())
    if (n.find(".attn.c_attn.weight") != std::string::npos) p.mul_(30.0);
    else if (n.find(".attn.c_proj.weight") != std::string::npos) p.mul_(100.0);
}

// Greedy generation must equal the argmax of a full causal forward over the cropped context,
// step by step: for performer and block_sparse that is what they compute (no KV cache), and it
// differs from what dense attention over cached keys would give.
TEST(GptAttention, GreedyGenerationEqualsFullForwardArgmax) {
  std::vector<GptConfig> cases;
  GptConfig perf = with_kernel("performer");
  perf.attention.nb_features = 16;
  cases.push_back(perf);
  GptConfig bs = with_kernel("block_sparse");
  bs.attention.block_size = 4;
  bs.attention.local_blocks = 2;
  cases.push_back(bs);
  cases.push_back(with_kernel("memory_efficient"));
  for (const GptConfig& c : cases) {
    SCOPED_TRACE(c.attention.to_json());
    Gpt model(c, 3);
    sharpen_attention(model);
    GptSampling s;
    s.temperature = 0.0;
    s.max_new_tokens = 16;  // 19 tokens in all, past block_size 16: the context is cropped
    Generator g(0);
    const std::vector<int64_t> prompt{1, 2, 3};
    const std::vector<int64_t> got = model.generate(prompt, s, g);
    ASSERT_EQ(got.size(), 16u);
    Gpt dense(with_kernel("dense"), 3);
    sharpen_attention(dense);
    const std::vector<int64_t> by_dense = dense.generate(prompt, s, g);
    if (c.attention.exact())
      EXPECT_EQ(got, by_dense);
    else
      EXPECT_NE(got, by_dense) << "the test must see the kernel";
    EXPECT_TRUE(model.is_training()) << "generate restores the mode";
    model.eval();
    std::vector<int64_t> seq = prompt;
    for (size_t i = 0; i < got.size(); ++i) {
      const int64_t ctx = std::min<int64_t>(static_cast<int64_t>(seq.size()), 16);
      const std::vector<int64_t> window(seq.end() - ctx, seq.end());
      const Tensor logits = model.forward(from_vector(window, Shape{1, ctx})).select(1, ctx - 1);
      const int64_t want = static_cast<int64_t>(argmax(logits.select(0, 0)).item());
      EXPECT_EQ(got[i], want) << "token " << i;
      seq.push_back(want);
    }
    model.train();
  }
}

TEST(GptAttention, ConfigJsonRoundTripAndOldConfigsAreDense) {
  GptConfig c = with_kernel("block_sparse");
  c.attention.sparse_layout = "strided";
  c.attention.block_size = 8;
  c.attention.local_blocks = 3;
  const GptConfig back = GptConfig::from_json(c.to_json());
  EXPECT_EQ(back.to_json(), c.to_json());
  EXPECT_EQ(back.attention.sparse_layout, "strided");
  EXPECT_EQ(back.attention.block_size, 8);
  const GptConfig old = GptConfig::from_json(
      R"({"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 16, "vocab_size": 40,
          "dropout": 0.0, "bias": true})");
  EXPECT_EQ(old.attention.kind, "dense");
  Gpt model(old, 1);
  for (const auto& [n, t] : model.state_dict()) EXPECT_EQ(n.find("kernel"), std::string::npos);
}

TEST(GptAttention, KernelsWithoutACausalFormAreRejected) {
  GptConfig lf = with_kernel("longformer");
  EXPECT_THROW_MSG(lf.validate(), ValueError, "'longformer' has no causal form");
  EXPECT_THROW_MSG(Gpt(lf, 0), ValueError, "'longformer' has no causal form");
  GptConfig bb = with_kernel("block_sparse");
  bb.attention.sparse_layout = "bigbird";
  EXPECT_THROW_MSG(Gpt(bb, 0), ValueError, "bigbird sparse layout has no causal form");
  // In a checkpoint's config the same is a FormatError.
  EXPECT_THROW_MSG(GptConfig::from_json(lf.to_json()), FormatError, "no causal form");
  GptConfig bad = with_kernel("flash");
  EXPECT_THROW_MSG(bad.validate(), ValueError, "unknown kind 'flash'");
  EXPECT_THROW(GptConfig::from_json(
                   R"({"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 16, "vocab_size": 40,
                       "dropout": 0.0, "bias": true, "attention": {"kind": 3}})"),
               FormatError);
}

}  // namespace
}  // namespace cf::models
