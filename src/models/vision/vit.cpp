// Vision Transformer (Dosovitskiy et al. 2021) as timm's VisionTransformer with a class token:
//   tokens = flatten(conv_P(x)) (B, N, D); z = [cls; tokens] + pos_embed; z = blocks(z);
//   logits = head(norm(z)[:, 0]). Pre-norm blocks: z + attn(norm1(z)), z + mlp(norm2(z)).
// And attention rollout (Abnar & Zuidema 2020) over the blocks' attention probabilities.
// Dims: B batch, C channels, P patch, N = (H / P)^2 patches, T = N + 1 tokens, D, NH heads.
#include <cmath>

#include "cformer/autograd.h"
#include "cformer/models/vision.h"
#include "models/vision/common.h"
#include "util/check.h"

namespace cf::models {

void VitConfig::validate() const {
  CF_CHECK(image_size > 0 && patch_size > 0 && in_chans > 0 && num_classes > 0 && embed_dim > 0 &&
               depth > 0 && num_heads > 0,
           ValueError,
           "vit config: image_size, patch_size, in_chans, num_classes, embed_dim, depth and "
           "num_heads must be positive");
  CF_CHECK(image_size % patch_size == 0, ValueError, "vit config: image_size (", image_size,
           ") is not divisible by patch_size (", patch_size, ")");
  CF_CHECK(embed_dim % num_heads == 0, ValueError, "vit config: embed_dim (", embed_dim,
           ") is not divisible by num_heads (", num_heads, ")");
  CF_CHECK(mlp_ratio > 0.0 && static_cast<int64_t>(embed_dim * mlp_ratio) >= 1, ValueError,
           "vit config: mlp_ratio must be positive, got ", mlp_ratio);
  for (double r : {drop_rate, attn_drop_rate, drop_path_rate})
    CF_CHECK(r >= 0.0 && r < 1.0, ValueError,
             "vit config: drop_rate, attn_drop_rate and drop_path_rate must be in [0, 1), got ", r);
  attention.validate();
  CF_CHECK(attn_drop_rate == 0.0 || attention.kind == "dense", ValueError,
           "vit config: the ", attention.kind,
           " attention kernel has no attention-probability dropout; set attn_drop_rate to 0 "
           "(got ", attn_drop_rate, ") or use the dense kernel");
}

std::string VitConfig::to_json() const {
  nlohmann::json j{{"image_size", image_size}, {"patch_size", patch_size},
                   {"in_chans", in_chans},     {"num_classes", num_classes},
                   {"embed_dim", embed_dim},   {"depth", depth},
                   {"num_heads", num_heads},   {"mlp_ratio", mlp_ratio},
                   {"qkv_bias", qkv_bias},     {"drop_rate", drop_rate},
                   {"attn_drop_rate", attn_drop_rate}, {"drop_path_rate", drop_path_rate},
                   {"attention", nlohmann::json::parse(attention.to_json())}};
  return j.dump();
}

VitConfig VitConfig::from_json(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  CF_CHECK(j.is_object(), FormatError, "vit config: not a JSON object: ", text);
  VitConfig c;
  const char* w = "vit config";
  json_field(j, "image_size", c.image_size, w);
  json_field(j, "patch_size", c.patch_size, w);
  json_field(j, "in_chans", c.in_chans, w);
  json_field(j, "num_classes", c.num_classes, w);
  json_field(j, "embed_dim", c.embed_dim, w);
  json_field(j, "depth", c.depth, w);
  json_field(j, "num_heads", c.num_heads, w);
  json_field(j, "mlp_ratio", c.mlp_ratio, w);
  json_field(j, "qkv_bias", c.qkv_bias, w);
  json_field(j, "drop_rate", c.drop_rate, w);
  json_field(j, "attn_drop_rate", c.attn_drop_rate, w);
  json_field(j, "drop_path_rate", c.drop_path_rate, w);
  if (j.contains("attention")) c.attention = nn::AttentionKernelOptions::from_json(j.at("attention").dump());
  try {
    c.validate();
  } catch (const ValueError& e) {
    CF_THROW(FormatError, e.what());
  }
  return c;
}

VitConfig VitConfig::preset(const std::string& name) {
  VitConfig c;
  if (name == "tiny") {
    c.embed_dim = 32, c.depth = 2, c.num_heads = 2, c.mlp_ratio = 2.0;
  } else if (name == "small") {
    c.embed_dim = 64, c.depth = 4, c.num_heads = 4, c.mlp_ratio = 2.0;
  } else if (name == "default") {
    c.embed_dim = 64, c.depth = 6, c.num_heads = 4, c.mlp_ratio = 2.0, c.drop_path_rate = 0.05;
  } else {
    CF_THROW(ValueError, "vit: unknown preset '", name, "' (tiny, small, default)");
  }
  return c;
}

VitBlock::VitBlock(const VitConfig& c, double dp, Generator& gen, Generator* dgen,
                   Generator& kernel_gen)
    : nn::Module("Block"), drop_path_rate(dp), dropout_gen(dgen) {
  const int64_t D = c.embed_dim, hidden = static_cast<int64_t>(D * c.mlp_ratio);
  const int64_t g = c.image_size / c.patch_size;
  norm1 = register_module("norm1", std::make_shared<nn::LayerNorm>(Shape{D}, 1e-6));
  attn = register_module("attn", std::make_shared<SelfAttention>(
                                     D, c.num_heads, c.qkv_bias, c.attn_drop_rate, c.drop_rate,
                                     gen, dgen, c.attention, g * g + 1, kernel_gen));
  norm2 = register_module("norm2", std::make_shared<nn::LayerNorm>(Shape{D}, 1e-6));
  mlp = register_module("mlp", std::make_shared<nn::MLP>(D, hidden, D, gen, nn::Activation::gelu,
                                                         c.drop_rate, dgen));
  trunc_normal_linear(*mlp->fc1, gen);
  trunc_normal_linear(*mlp->fc2, gen);
}

Tensor VitBlock::forward(const Tensor& x, Tensor* attn_weights) {
  const bool train = is_training();
  Tensor h = attn->forward(norm1->forward(x), attn_weights);
  Tensor x1 = add(x, drop_path(h, drop_path_rate, train, *dropout_gen));
  Tensor m = mlp->forward(norm2->forward(x1));
  // timm's Mlp also drops after fc2; nn::MLP drops only after the activation.
  if (train && mlp->drop->p > 0.0) m = dropout(m, mlp->drop->p, true, *dropout_gen);
  return add(x1, drop_path(m, drop_path_rate, train, *dropout_gen));
}

namespace {

Tensor trunc_normal_param(const Shape& s, Generator& gen) {
  Tensor t = empty(s);
  init::trunc_normal_(t, 0.0, 0.02, -2.0, 2.0, gen);
  return t;
}

const VitConfig& validated(const VitConfig& c) {
  c.validate();
  return c;
}

}  // namespace

Vit::Vit(const VitConfig& config, uint64_t seed)
    : ImageClassifier("VisionTransformer", seed + 1),
      cls_token(register_parameter("cls_token", Tensor())),
      pos_embed(register_parameter("pos_embed", Tensor())),
      config_(validated(config)) {
  Generator gen(seed);
  // The kernels' draws (performer projection, bigbird random blocks) come from their own stream,
  // so a seed gives the same weights whatever the kernel.
  Generator kernel_gen(seed + 2);
  const VitConfig& c = config_;
  const int64_t D = c.embed_dim, g = c.image_size / c.patch_size;
  auto patch_embed = register_module("patch_embed", std::make_shared<NamedGroup>("PatchEmbed"));
  patch_proj = patch_embed->register_module(
      "proj", std::make_shared<Conv2d>(c.in_chans, D, c.patch_size, gen, c.patch_size));
  cls_token = trunc_normal_param(Shape{1, 1, D}, gen).requires_grad_(true);
  pos_embed = trunc_normal_param(Shape{1, g * g + 1, D}, gen).requires_grad_(true);
  blocks = register_module("blocks", std::make_shared<nn::ModuleList>());
  for (int64_t i = 0; i < c.depth; ++i) {
    const double dp = c.depth > 1 ? c.drop_path_rate * static_cast<double>(i) / (c.depth - 1) : 0.0;
    blocks->push_back(std::make_shared<VitBlock>(c, dp, gen, &dropout_gen_, kernel_gen));
  }
  norm = register_module("norm", std::make_shared<nn::LayerNorm>(Shape{D}, 1e-6));
  head = register_module("head", std::make_shared<nn::Linear>(D, c.num_classes, true, gen));
  trunc_normal_linear(*head, gen);
}

Tensor Vit::forward_impl(const Tensor& x, std::vector<Tensor>* maps) {
  check_input("vit", x, config_.in_chans, config_.image_size);
  const int64_t B = x.size(0), D = config_.embed_dim;
  const bool train = is_training();
  Tensor t = patch_proj->forward(x).flatten(2).transpose(1, 2);  // (B, N, D)
  Tensor z = add(cat({cls_token.expand(Shape{B, 1, D}), t}, 1), pos_embed);
  if (train && config_.drop_rate > 0.0) z = dropout(z, config_.drop_rate, true, dropout_gen_);
  for (const auto& m : *blocks) {
    auto* blk = static_cast<VitBlock*>(m.get());
    if (maps) {
      Tensor w;
      z = blk->forward(z, &w);
      maps->push_back(w);
    } else {
      z = blk->forward(z);
    }
  }
  Tensor cls = norm->forward(z).select(1, 0);  // (B, D)
  if (train && config_.drop_rate > 0.0) cls = dropout(cls, config_.drop_rate, true, dropout_gen_);
  return head->forward(cls);
}

Tensor Vit::forward(const Tensor& x) { return forward_impl(x, nullptr); }

std::vector<nn::AttentionKernel*> Vit::attention_kernels() const {
  std::vector<nn::AttentionKernel*> k;
  for (const auto& m : *blocks) k.push_back(static_cast<VitBlock*>(m.get())->attn->kernel.get());
  return k;
}

std::vector<Tensor> Vit::attention_maps(const Tensor& x, Tensor* logits) {
  CF_CHECK(config_.attention.exact(), ValueError,
           "vit: attention maps need the softmax probabilities, which the ",
           config_.attention.kind, " kernel never forms (dense and memory_efficient do)");
  NoGradGuard ng;
  std::vector<Tensor> maps;
  Tensor y = forward_impl(x, &maps);
  if (logits) *logits = y;
  return maps;
}

Tensor attention_rollout(const std::vector<Tensor>& maps) {
  CF_CHECK(!maps.empty(), ValueError, "attention_rollout: no attention maps");
  NoGradGuard ng;
  Tensor r;
  for (size_t l = 0; l < maps.size(); ++l) {
    const Tensor& m = maps[l];
    CF_CHECK(m.dim() == 4 && m.size(2) == m.size(3) && m.shape() == maps[0].shape(), ShapeError,
             "attention_rollout: map ", l, " must be (B, NH, T, T) like map 0 ", maps[0].shape(),
             ", got ", m.shape());
    const int64_t T = m.size(2);
    Tensor eye = zeros(Shape{T, T}, m.dtype());
    for (int64_t i = 0; i < T; ++i) eye.select(0, i).narrow(0, i, 1).fill_(1.0);
    Tensor a = add(mean(m, Dims{1}), eye);           // (B, T, T)
    a = div(a, sum(a, Dims{-1}, true));              // rows sum to 1
    r = l == 0 ? a : matmul(a, r);                   // later layers act on earlier mixes
  }
  return r;
}

}  // namespace cf::models
