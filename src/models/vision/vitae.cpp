// ViTAE (Xu et al. 2021, "ViTAE: Vision Transformer Advanced by Exploring Intrinsic Inductive
// Bias"), the authors' ViTAE_basic with full softmax attention in the reduction cells:
//   RC: t = PRM(x) = tokens(cat_d GELU(conv_{k, s, dilation d}(x)));
//       y = attn(norm1(t)) + PCM(x); y = y + mlp(norm2(y))       (PRM only: y = t)
//   NC: z = z + attn(norm1(z)) + PCM(z as image); z = z + mlp(norm2(z))
//   logits = head(mean_tokens(z)).
// Every softmax attention (RC token attention, NC attention) runs the configured kernel.
// Dims: B batch, C channels, H W grid, E channels per dilation, D token dim, N = H W tokens.
#include <cmath>

#include "cformer/autograd.h"
#include "cformer/models/vision.h"
#include "models/vision/common.h"
#include "util/check.h"

namespace cf::models {
namespace {

int64_t prm_padding(int64_t k, int64_t stride, int64_t d) {
  const int64_t span = (k - 1) * d + 1 - stride;
  return span <= 0 ? 0 : (span + 1) / 2;  // ceil(span / 2), as the authors' PRM
}

int64_t conv_out(int64_t size, int64_t k, int64_t stride, int64_t pad, int64_t d) {
  const int64_t span = size + 2 * pad - d * (k - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

// The strides of the RC's three parallel convolutions: 2 while the downsampling has factors
// of 2 left (the authors' PCMStride), so that they multiply to the downsampling.
std::vector<int64_t> pcm_strides(int64_t downsample) {
  std::vector<int64_t> s;
  int64_t residual = downsample / 2;
  for (int i = 0; i < 3; ++i) {
    s.push_back(residual > 0 ? 2 : 1);
    residual /= 2;
  }
  return s;
}

int64_t hidden_dim(int64_t dim, double ratio) { return static_cast<int64_t>(dim * ratio); }

}  // namespace

void VitaeConfig::validate() const {
  CF_CHECK(image_size > 0 && in_chans > 0 && num_classes > 0, ValueError,
           "vitae config: image_size, in_chans and num_classes must be positive");
  CF_CHECK(!stages.empty(), ValueError, "vitae config: no stages");
  for (double r : {drop_rate, attn_drop_rate, drop_path_rate})
    CF_CHECK(r >= 0.0 && r < 1.0, ValueError,
             "vitae config: drop_rate, attn_drop_rate and drop_path_rate must be in [0, 1), got ",
             r);
  attention.validate();
  CF_CHECK(attn_drop_rate == 0.0 || attention.kind == "dense", ValueError,
           "vitae config: the ", attention.kind,
           " attention kernel has no attention-probability dropout; set attn_drop_rate to 0 "
           "(got ", attn_drop_rate, ") or use the dense kernel");
  int64_t size = image_size, chans = in_chans;
  for (size_t i = 0; i < stages.size(); ++i) {
    const VitaeStage& s = stages[i];
    CF_CHECK(s.token_dim > 0 && s.nc_depth >= 0 && s.nc_heads > 0 && s.nc_group > 0 &&
                 s.nc_mlp_ratio > 0.0,
             ValueError, "vitae config: stage ", i,
             ": token_dim, nc_heads, nc_group and nc_mlp_ratio must be positive, nc_depth >= 0");
    if (s.reduction_cell) {
      CF_CHECK(s.downsample > 0 && s.kernel_size > 0 && s.embed_dim > 0 && !s.dilations.empty() &&
                   s.rc_heads > 0 && s.rc_group > 0 && s.rc_mlp_ratio > 0.0,
               ValueError, "vitae config: stage ", i,
               ": downsample, kernel_size, embed_dim, dilations, rc_heads, rc_group and "
               "rc_mlp_ratio must be positive");
      int64_t grid = -1;
      for (int64_t d : s.dilations) {
        CF_CHECK(d > 0, ValueError, "vitae config: stage ", i, ": dilation ", d, " must be positive");
        const int64_t o =
            conv_out(size, s.kernel_size, s.downsample, prm_padding(s.kernel_size, s.downsample, d), d);
        CF_CHECK(o > 0, ValueError, "vitae config: stage ", i, ": the ", size, "x", size,
                 " input is too small for kernel ", s.kernel_size, " with dilation ", d);
        CF_CHECK(grid < 0 || o == grid, ValueError, "vitae config: stage ", i,
                 ": the pyramid branches give different token grids (", grid, " and ", o,
                 " at dilation ", d, ") for a ", size, "x", size, " input");
        grid = o;
      }
      const int64_t prm_chans = s.embed_dim * static_cast<int64_t>(s.dilations.size());
      if (s.rc_attention) {
        int64_t g = size;
        for (int64_t st : pcm_strides(s.downsample)) g = conv_out(g, 3, st, 1, 1);
        CF_CHECK(g == grid, ValueError, "vitae config: stage ", i, ": downsample ", s.downsample,
                 " gives a ", grid, "x", grid, " grid in the pyramid but ", g, "x", g,
                 " in the parallel convolutions (use a power of two)");
        CF_CHECK(chans % s.rc_group == 0 && s.embed_dim % s.rc_group == 0 &&
                     s.token_dim % s.rc_group == 0,
                 ValueError, "vitae config: stage ", i, ": rc_group ", s.rc_group,
                 " must divide the channels ", chans, ", embed_dim ", s.embed_dim,
                 " and token_dim ", s.token_dim);
        CF_CHECK(prm_chans % s.rc_heads == 0 && s.token_dim % s.rc_heads == 0, ValueError,
                 "vitae config: stage ", i, ": rc_heads ", s.rc_heads, " must divide ", prm_chans,
                 " and token_dim ", s.token_dim);
        CF_CHECK(hidden_dim(s.token_dim, s.rc_mlp_ratio) >= 1, ValueError, "vitae config: stage ",
                 i, ": rc_mlp_ratio ", s.rc_mlp_ratio, " leaves no hidden units");
      } else {
        CF_CHECK(s.token_dim == prm_chans, ValueError, "vitae config: stage ", i,
                 ": a reduction cell without attention outputs embed_dim * #dilations = ",
                 prm_chans, " channels, but token_dim is ", s.token_dim);
      }
      size = grid;
    } else {
      CF_CHECK(i > 0, ValueError,
               "vitae config: stage 0 needs a reduction cell (it turns the image into tokens)");
      CF_CHECK(s.token_dim == chans, ValueError, "vitae config: stage ", i,
               " has no reduction cell, so its token_dim must be the previous one (", chans,
               "), got ", s.token_dim);
    }
    chans = s.token_dim;
    if (s.nc_depth > 0) {
      const int64_t h = hidden_dim(chans, s.nc_mlp_ratio);
      CF_CHECK(chans % s.nc_heads == 0, ValueError, "vitae config: stage ", i, ": nc_heads ",
               s.nc_heads, " must divide token_dim ", chans);
      CF_CHECK(h >= 1 && chans % s.nc_group == 0 && h % s.nc_group == 0, ValueError,
               "vitae config: stage ", i, ": nc_group ", s.nc_group, " must divide token_dim ",
               chans, " and the hidden width ", h);
    }
  }
}

std::string VitaeConfig::to_json() const {
  nlohmann::json st = nlohmann::json::array();
  for (const VitaeStage& s : stages)
    st.push_back({{"reduction_cell", s.reduction_cell}, {"downsample", s.downsample},
                  {"kernel_size", s.kernel_size},       {"dilations", s.dilations},
                  {"embed_dim", s.embed_dim},           {"token_dim", s.token_dim},
                  {"rc_attention", s.rc_attention},     {"rc_heads", s.rc_heads},
                  {"rc_group", s.rc_group},             {"rc_mlp_ratio", s.rc_mlp_ratio},
                  {"nc_depth", s.nc_depth},             {"nc_heads", s.nc_heads},
                  {"nc_group", s.nc_group},             {"nc_mlp_ratio", s.nc_mlp_ratio}});
  nlohmann::json j{{"image_size", image_size},   {"in_chans", in_chans},
                   {"num_classes", num_classes}, {"stages", st},
                   {"qkv_bias", qkv_bias},       {"drop_rate", drop_rate},
                   {"attn_drop_rate", attn_drop_rate}, {"drop_path_rate", drop_path_rate},
                   {"attention", nlohmann::json::parse(attention.to_json())}};
  return j.dump();
}

VitaeConfig VitaeConfig::from_json(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  CF_CHECK(j.is_object(), FormatError, "vitae config: not a JSON object: ", text);
  const char* w = "vitae config";
  VitaeConfig c;
  json_field(j, "image_size", c.image_size, w);
  json_field(j, "in_chans", c.in_chans, w);
  json_field(j, "num_classes", c.num_classes, w);
  json_field(j, "qkv_bias", c.qkv_bias, w);
  json_field(j, "drop_rate", c.drop_rate, w);
  json_field(j, "attn_drop_rate", c.attn_drop_rate, w);
  json_field(j, "drop_path_rate", c.drop_path_rate, w);
  if (j.contains("attention")) c.attention = nn::AttentionKernelOptions::from_json(j.at("attention").dump());
  nlohmann::json st;
  json_field(j, "stages", st, w);
  CF_CHECK(st.is_array(), FormatError, "vitae config: 'stages' must be an array");
  for (const auto& e : st) {
    CF_CHECK(e.is_object(), FormatError, "vitae config: a stage must be an object");
    VitaeStage s;
    const char* ws = "vitae config stage";
    json_field(e, "reduction_cell", s.reduction_cell, ws);
    json_field(e, "downsample", s.downsample, ws);
    json_field(e, "kernel_size", s.kernel_size, ws);
    json_field(e, "dilations", s.dilations, ws);
    json_field(e, "embed_dim", s.embed_dim, ws);
    json_field(e, "token_dim", s.token_dim, ws);
    json_field(e, "rc_attention", s.rc_attention, ws);
    json_field(e, "rc_heads", s.rc_heads, ws);
    json_field(e, "rc_group", s.rc_group, ws);
    json_field(e, "rc_mlp_ratio", s.rc_mlp_ratio, ws);
    json_field(e, "nc_depth", s.nc_depth, ws);
    json_field(e, "nc_heads", s.nc_heads, ws);
    json_field(e, "nc_group", s.nc_group, ws);
    json_field(e, "nc_mlp_ratio", s.nc_mlp_ratio, ws);
    c.stages.push_back(s);
  }
  try {
    c.validate();
  } catch (const ValueError& e) {
    CF_THROW(FormatError, e.what());
  }
  return c;
}

VitaeConfig VitaeConfig::preset(const std::string& name) {
  // ViTAE-T: RC strides 4, 2, 2 (kernels 7, 3, 3; dilations [1,2,3,4], [1,2,3], [1,2]; embed
  // 64, 64, 128; tokens 64, 64, 256; the third RC pyramid only), then 7 NCs of width 256 with 4
  // heads, MLP ratio 2 and PCM groups 64. For 28x28 inputs the strides become 2, 2, 1 (a 7x7
  // grid as ViT/4 has), kernels 3, and the widths scale down (docs/vision.md).
  auto rc = [](int64_t stride, std::vector<int64_t> dil, int64_t embed, int64_t token, bool attn) {
    VitaeStage s;
    s.downsample = stride, s.kernel_size = 3, s.dilations = std::move(dil);
    s.embed_dim = embed, s.token_dim = token, s.rc_attention = attn, s.nc_depth = 0;
    return s;
  };
  VitaeConfig c;
  if (name == "tiny") {
    c.stages = {rc(2, {1, 2}, 8, 8, true), rc(2, {1, 2}, 8, 8, true), rc(1, {1, 2}, 8, 16, false)};
    c.stages[2].nc_depth = 1, c.stages[2].nc_heads = 2, c.stages[2].nc_group = 4;
  } else if (name == "small" || name == "default") {
    const bool small = name == "small";
    const int64_t e = small ? 16 : 32;
    c.stages = {rc(2, {1, 2, 3, 4}, e, e, true), rc(2, {1, 2, 3}, e, e, true),
                rc(1, {1, 2}, 2 * e, 4 * e, false)};
    c.stages[2].nc_depth = small ? 3 : 5, c.stages[2].nc_heads = 4;
    c.stages[2].nc_group = e, c.stages[2].nc_mlp_ratio = 2.0;
    if (!small) c.drop_path_rate = 0.05;
  } else {
    CF_THROW(ValueError, "vitae: unknown preset '", name, "' (tiny, small, default)");
  }
  return c;
}

PyramidReduction::PyramidReduction(int64_t in_chans, const VitaeStage& s, Generator& gen)
    : nn::Module("PRM") {
  convs = register_module("convs", std::make_shared<nn::ModuleList>());
  for (int64_t d : s.dilations) {
    auto seq = std::make_shared<nn::Sequential>();
    seq->push_back(std::make_shared<Conv2d>(in_chans, s.embed_dim, s.kernel_size, gen, s.downsample,
                                            prm_padding(s.kernel_size, s.downsample, d), d));
    seq->push_back(std::make_shared<nn::GELU>());
    convs->push_back(seq);
  }
}

Tensor PyramidReduction::forward(const Tensor& x) {
  std::vector<Tensor> ys;
  for (const auto& m : *convs) ys.push_back(static_cast<nn::Sequential*>(m.get())->forward(x));
  return cat(ys, 1).flatten(2).transpose(1, 2);  // (B, H' W', E #d)
}

ReductionCell::ReductionCell(int64_t in_chans, const VitaeStage& s, const VitaeConfig& c,
                             Generator& gen, Generator* dgen, int64_t tokens,
                             Generator& kernel_gen)
    : nn::Module("ReductionCell"), with_attention(s.rc_attention) {
  prm = register_module("PRM", std::make_shared<PyramidReduction>(in_chans, s, gen));
  if (!with_attention) return;
  const int64_t prm_chans = s.embed_dim * static_cast<int64_t>(s.dilations.size());
  const int64_t D = s.token_dim;
  attn_block = register_module("attn", std::make_shared<NamedGroup>("Token_transformer"));
  norm1 = attn_block->register_module("norm1", std::make_shared<nn::LayerNorm>(Shape{prm_chans}));
  attn = attn_block->register_module(
      "attn", std::make_shared<SelfAttention>(prm_chans, s.rc_heads, false, c.attn_drop_rate,
                                              c.drop_rate, gen, dgen, c.attention, tokens,
                                              kernel_gen, D, true));
  norm2 = attn_block->register_module("norm2", std::make_shared<nn::LayerNorm>(Shape{D}));
  mlp = attn_block->register_module(
      "mlp", std::make_shared<nn::MLP>(D, hidden_dim(D, s.rc_mlp_ratio), D, gen,
                                       nn::Activation::gelu, c.drop_rate, dgen));
  trunc_normal_linear(*mlp->fc1, gen);
  trunc_normal_linear(*mlp->fc2, gen);
  const std::vector<int64_t> st = pcm_strides(s.downsample);
  const int64_t g = s.rc_group, E = s.embed_dim;
  pcm = register_module("PCM", std::make_shared<nn::Sequential>());
  pcm->push_back(std::make_shared<Conv2d>(in_chans, E, 3, gen, st[0], 1, 1, g));
  pcm->push_back(std::make_shared<nn::SiLU>());
  pcm->push_back(std::make_shared<Conv2d>(E, E, 3, gen, st[1], 1, 1, g));
  pcm->push_back(std::make_shared<BatchNorm2d>(E));
  pcm->push_back(std::make_shared<nn::SiLU>());
  pcm->push_back(std::make_shared<Conv2d>(E, D, 3, gen, st[2], 1, 1, g));
  pcm->push_back(std::make_shared<nn::SiLU>());
}

Tensor ReductionCell::forward(const Tensor& x) {
  Tensor t = prm->forward(x);
  if (!with_attention) return t;
  Tensor conv = pcm->forward(x).flatten(2).transpose(1, 2);  // (B, N, D)
  Tensor y = add(attn->forward(norm1->forward(t)), conv);
  Tensor m = mlp->forward(norm2->forward(y));
  if (is_training() && mlp->drop->p > 0.0) m = dropout(m, mlp->drop->p, true, *attn->dropout_gen);
  return add(y, m);
}

NormalCell::NormalCell(int64_t dim, const VitaeStage& s, const VitaeConfig& c, double dp,
                       Generator& gen, Generator* dgen, int64_t tokens, Generator& kernel_gen)
    : nn::Module("NormalCell"), drop_path_rate(dp), dropout_gen(dgen) {
  const int64_t h = hidden_dim(dim, s.nc_mlp_ratio), g = s.nc_group;
  norm1 = register_module("norm1", std::make_shared<nn::LayerNorm>(Shape{dim}, 1e-6));
  attn = register_module("attn", std::make_shared<SelfAttention>(
                                     dim, s.nc_heads, c.qkv_bias, c.attn_drop_rate, c.drop_rate,
                                     gen, dgen, c.attention, tokens, kernel_gen));
  norm2 = register_module("norm2", std::make_shared<nn::LayerNorm>(Shape{dim}, 1e-6));
  mlp = register_module("mlp", std::make_shared<nn::MLP>(dim, h, dim, gen, nn::Activation::gelu,
                                                         c.drop_rate, dgen));
  trunc_normal_linear(*mlp->fc1, gen);
  trunc_normal_linear(*mlp->fc2, gen);
  pcm = register_module("PCM", std::make_shared<nn::Sequential>());
  pcm->push_back(std::make_shared<Conv2d>(dim, h, 3, gen, 1, 1, 1, g));
  pcm->push_back(std::make_shared<BatchNorm2d>(h));
  pcm->push_back(std::make_shared<nn::SiLU>());
  pcm->push_back(std::make_shared<Conv2d>(h, dim, 3, gen, 1, 1, 1, g));
  pcm->push_back(std::make_shared<BatchNorm2d>(dim));
  pcm->push_back(std::make_shared<nn::SiLU>());
  pcm->push_back(std::make_shared<Conv2d>(dim, dim, 3, gen, 1, 1, 1, g));
  pcm->push_back(std::make_shared<nn::SiLU>());
}

Tensor NormalCell::forward(const Tensor& x, int64_t h, int64_t w) {
  const int64_t B = x.size(0), C = x.size(2);
  const bool train = is_training();
  Tensor img = x.transpose(1, 2).reshape(Shape{B, C, h, w});
  Tensor conv = pcm->forward(img).flatten(2).transpose(1, 2);
  Tensor a = attn->forward(norm1->forward(x));
  Tensor z = add(add(x, drop_path(a, drop_path_rate, train, *dropout_gen)),
                 drop_path(conv, drop_path_rate, train, *dropout_gen));
  Tensor m = mlp->forward(norm2->forward(z));
  if (train && mlp->drop->p > 0.0) m = dropout(m, mlp->drop->p, true, *dropout_gen);
  return add(z, drop_path(m, drop_path_rate, train, *dropout_gen));
}

namespace {

const VitaeConfig& validated(const VitaeConfig& c) {
  c.validate();
  return c;
}

}  // namespace

Vitae::Vitae(const VitaeConfig& config, uint64_t seed)
    : ImageClassifier("ViTAE_basic", seed + 1), config_(validated(config)) {
  Generator gen(seed);
  Generator kernel_gen(seed + 2);  // the kernels' own stream: a seed gives the same weights
  int64_t total_nc = 0;
  for (const VitaeStage& s : config_.stages) total_nc += s.nc_depth;
  auto layers = register_module("layers", std::make_shared<nn::ModuleList>());
  int64_t chans = config_.in_chans, nc_index = 0, size = config_.image_size;
  for (const VitaeStage& s : config_.stages) {
    auto layer = std::make_shared<NamedGroup>("BasicLayer");
    Stage st;
    if (s.reduction_cell) {
      const int64_t d = s.dilations[0], k = s.kernel_size;  // validated: every branch agrees
      size = conv_out(size, k, s.downsample, prm_padding(k, s.downsample, d), d);
      st.rc = layer->register_module(
          "RC", std::make_shared<ReductionCell>(chans, s, config_, gen, &dropout_gen_, size * size,
                                                kernel_gen));
    }
    if (s.nc_depth > 0) {
      auto ncs = layer->register_module("NC", std::make_shared<nn::ModuleList>());
      for (int64_t j = 0; j < s.nc_depth; ++j, ++nc_index) {
        const double dp = total_nc > 1 ? config_.drop_path_rate * static_cast<double>(nc_index) /
                                             static_cast<double>(total_nc - 1)
                                       : 0.0;
        auto nc = std::make_shared<NormalCell>(s.token_dim, s, config_, dp, gen, &dropout_gen_,
                                               size * size, kernel_gen);
        ncs->push_back(nc);
        st.nc.push_back(nc);
      }
    }
    layers->push_back(layer);
    stages_.push_back(std::move(st));
    chans = s.token_dim;
  }
  head_ = register_module("head", std::make_shared<nn::Linear>(chans, config_.num_classes, true, gen));
  trunc_normal_linear(*head_, gen);
}

std::vector<nn::AttentionKernel*> Vitae::attention_kernels() const {
  std::vector<nn::AttentionKernel*> k;
  for (const Stage& st : stages_) {
    if (st.rc && st.rc->attn) k.push_back(st.rc->attn->kernel.get());
    for (const auto& nc : st.nc) k.push_back(nc->attn->kernel.get());
  }
  return k;
}

Tensor Vitae::forward(const Tensor& x) {
  check_input("vitae", x, config_.in_chans, config_.image_size);
  const int64_t B = x.size(0);
  Tensor img = x, tokens;
  int64_t h = x.size(2), w = x.size(3);
  for (size_t i = 0; i < stages_.size(); ++i) {
    const Stage& st = stages_[i];
    if (st.rc) {
      if (!img.defined()) img = tokens.transpose(1, 2).reshape(Shape{B, tokens.size(2), h, w});
      tokens = st.rc->forward(img);
      const int64_t n = tokens.size(1);
      const int64_t side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
      CF_ASSERT(side * side == n, "vitae: a square grid was validated");
      h = w = side;
      img = Tensor();
    }
    for (const auto& nc : st.nc) tokens = nc->forward(tokens, h, w);
  }
  return head_->forward(mean(tokens, Dims{1}));
}

}  // namespace cf::models
