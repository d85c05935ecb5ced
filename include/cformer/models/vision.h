// Image classifiers for small gray images (Fashion-MNIST, MNIST): a Vision Transformer with timm's
// VisionTransformer parameter names, ViTAE (Xu et al. 2021) with the names of the authors'
// ViTAE_basic, and a conv-BN-ReLU-pool CNN baseline. Every model maps x (B, C, H, W) f32 to
// logits (B, num_classes); parameters and buffers carry the PyTorch state_dict names, so a
// checkpoint maps 1:1 onto the PyTorch twins in tools/golden/gen_vision.py. Structure, dims and
// presets: docs/vision.md. ViT's and ViTAE's softmax attentions run the kernel their config's
// "attention" selects (nn::AttentionKernel, not causal, no padding).
// Dims: B batch, C channels, H W image, P patch, N tokens, D embedding, NH heads.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cformer/efficient_attention.h"
#include "cformer/nn.h"
#include "cformer/random.h"
#include "cformer/tensor.h"

namespace cf::models {

// ======================================================================= building blocks

/// torch.nn.Conv2d with square kernels: weight (O, C / groups, k, k), bias (O) optional, both
/// uniform(+-1/sqrt(fan_in)) as torch's default init. x (B, C, H, W) -> (B, O, OH, OW).
class Conv2d : public nn::UnaryModule {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Generator& gen,
         int64_t stride = 1, int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1,
         bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int64_t in_channels, out_channels, kernel_size, stride, padding, dilation, groups;
  Tensor& weight;  // (O, C / groups, k, k)
  Tensor& bias;    // (O) or undefined
};

/// torch.nn.BatchNorm2d: weight 1, bias 0, buffers running_mean 0, running_var 1 and
/// num_batches_tracked (i64, 0-dim). Training normalizes with the batch statistics and updates
/// the running ones (momentum 0.1); eval uses the running ones. x (B, C, H, W).
class BatchNorm2d : public nn::UnaryModule {
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, double momentum = 0.1);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int64_t num_features;
  double eps, momentum;
  Tensor& weight;               // (C)
  Tensor& bias;                 // (C)
  Tensor& running_mean;         // (C)
  Tensor& running_var;          // (C)
  Tensor& num_batches_tracked;  // () i64
};

/// torch.nn.MaxPool2d(kernel_size, stride = kernel_size) (no parameters).
class MaxPool2d : public nn::UnaryModule {
 public:
  explicit MaxPool2d(int64_t kernel_size);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int64_t kernel_size;
};

/// Stochastic depth (timm's drop_path): in training each sample's x is zeroed with probability
/// p and the kept ones are scaled by 1 / (1 - p); identity in eval or when p == 0.
Tensor drop_path(const Tensor& x, double p, bool training, Generator& gen);

/// Multi-head self-attention with timm's names: qkv Linear(dim, 3 out_dim), proj
/// Linear(out_dim, out_dim), scale (dim / NH)^-0.5. out_dim == dim without value_skip is timm's
/// Attention; value_skip is the token attention of T2T-ViT / ViTAE's reduction cells, whose
/// output adds v (heads concatenated) as the skip connection, since its input may have another
/// width. Linear weights trunc_normal(0.02), biases 0. The softmax runs in the AttentionKernel
/// "kernel" (non-causal, for inputs of up to max_len tokens; its draws come from kernel_gen), which
/// has no parameter or buffer when dense. Throws ValueError on a bad configuration, including
/// attn_drop > 0 with a kernel other than dense.
class SelfAttention : public nn::Module {
 public:
  SelfAttention(int64_t dim, int64_t num_heads, bool qkv_bias, double attn_drop, double proj_drop,
                Generator& gen, Generator* dropout_gen, const nn::AttentionKernelOptions& attention,
                int64_t max_len, Generator& kernel_gen, int64_t out_dim = 0,
                bool value_skip = false);
  /// x (B, N, dim) -> (B, N, out_dim). weights, when given, receives the attention
  /// probabilities (B, NH, N, N) (then computed explicitly instead of by the kernel; exact
  /// kernels only, ValueError otherwise).
  Tensor forward(const Tensor& x, Tensor* weights = nullptr);
  int64_t dim, num_heads, out_dim;
  bool value_skip;
  double attn_drop, proj_drop, scale;
  Generator* dropout_gen;
  std::shared_ptr<nn::Linear> qkv, proj;
  std::shared_ptr<nn::AttentionKernel> kernel;
};

/// The base of the image classifiers: forward, the model type and the configuration as JSON.
class ImageClassifier : public nn::Module {
 public:
  ImageClassifier(std::string type_name, uint64_t dropout_seed)
      : nn::Module(std::move(type_name)), dropout_gen_(dropout_seed) {}
  /// x (B, C, H, W) f32 -> logits (B, num_classes). Throws ShapeError naming the model when x
  /// is not 4-D or its channels or size differ from the configuration.
  virtual Tensor forward(const Tensor& x) = 0;
  /// "vit", "vitae" or "cnn".
  virtual std::string model_type() const = 0;
  virtual std::string config_json() const = 0;
  /// Draws the dropout and drop-path masks; its state is checkpointed.
  Generator& dropout_generator() { return dropout_gen_; }
  /// The attention kernel of every softmax attention, in registration order (none for the CNN).
  virtual std::vector<nn::AttentionKernel*> attention_kernels() const { return {}; }

 protected:
  /// Checks x against (C, H, W) and names `model` in the error.
  static void check_input(const char* model, const Tensor& x, int64_t channels, int64_t size);
  Generator dropout_gen_;
};

// ======================================================================= ViT

struct VitConfig {
  int64_t image_size = 28;
  int64_t patch_size = 4;
  int64_t in_chans = 1;
  int64_t num_classes = 10;
  int64_t embed_dim = 64;
  int64_t depth = 6;
  int64_t num_heads = 4;
  double mlp_ratio = 4.0;
  bool qkv_bias = true;
  double drop_rate = 0.0;       ///< after the position embedding, attention proj, MLP, head
  double attn_drop_rate = 0.0;  ///< on the attention probabilities
  double drop_path_rate = 0.0;  ///< stochastic depth, linear from 0 to this over the blocks
  /// The kernel of every block's attention, max_len = patches + 1. JSON object "attention";
  /// absent (configs before it existed) = dense.
  nn::AttentionKernelOptions attention;
  /// Throws ValueError naming the field: an image size not divisible by the patch size,
  /// embed_dim not divisible by num_heads, non-positive sizes, rates outside [0, 1), a bad
  /// attention kernel, attn_drop_rate > 0 with a kernel other than dense.
  void validate() const;
  std::string to_json() const;
  /// Throws FormatError on malformed JSON or missing fields ("attention" may be absent).
  static VitConfig from_json(const std::string& json);
  /// "tiny" (tests), "small", "default" (the 30-minute Fashion-MNIST run); ValueError otherwise.
  static VitConfig preset(const std::string& name);
};

/// timm VisionTransformer block (pre-norm): x + attn(norm1(x)), then x + mlp(norm2(x)), with
/// LayerNorm eps 1e-6, GELU (erf) MLP, drop path on both branches.
class VitBlock : public nn::Module {
 public:
  VitBlock(const VitConfig& c, double drop_path, Generator& gen, Generator* dropout_gen,
           Generator& kernel_gen);
  Tensor forward(const Tensor& x, Tensor* attn_weights = nullptr);
  double drop_path_rate;
  Generator* dropout_gen;
  std::shared_ptr<nn::LayerNorm> norm1;
  std::shared_ptr<SelfAttention> attn;
  std::shared_ptr<nn::LayerNorm> norm2;
  std::shared_ptr<nn::MLP> mlp;
};

/// timm VisionTransformer with a class token: patch_embed.proj (Conv2d, kernel = stride = P),
/// cls_token (1, 1, D), pos_embed (1, N + 1, D), blocks.i.*, norm, head (on the class token).
/// Init as timm: cls_token and pos_embed trunc_normal(0.02), Linear weights trunc_normal(0.02)
/// with zero biases, LayerNorms 1 / 0, the patch conv as torch's default.
class Vit : public ImageClassifier {
 public:
  Vit(const VitConfig& config, uint64_t seed);
  const VitConfig& config() const { return config_; }
  Tensor forward(const Tensor& x) override;
  std::string model_type() const override { return "vit"; }
  std::string config_json() const override { return config_.to_json(); }
  std::vector<nn::AttentionKernel*> attention_kernels() const override;
  /// Without gradients, in the current mode: the attention probabilities of every block,
  /// (B, NH, N + 1, N + 1) each (token 0 is the class token), and the logits. Throws ValueError
  /// for a kernel that never forms them (longformer, block_sparse, performer).
  std::vector<Tensor> attention_maps(const Tensor& x, Tensor* logits = nullptr);

  std::shared_ptr<Conv2d> patch_proj;  // "patch_embed.proj"
  Tensor& cls_token;                   // (1, 1, D)
  Tensor& pos_embed;                   // (1, N + 1, D)
  std::shared_ptr<nn::ModuleList> blocks;
  std::shared_ptr<nn::LayerNorm> norm;
  std::shared_ptr<nn::Linear> head;

 private:
  Tensor forward_impl(const Tensor& x, std::vector<Tensor>* maps);
  VitConfig config_;
};

/// Attention rollout (Abnar & Zuidema 2020): per layer the heads' mean plus the identity, rows
/// renormalized to sum 1, multiplied from the first layer to the last. maps: (B, NH, T, T) per
/// layer -> (B, T, T); row 0 is how much the class token draws from each input token.
Tensor attention_rollout(const std::vector<Tensor>& maps);

// ======================================================================= ViTAE

/// One stage of ViTAE: an optional reduction cell (RC) followed by nc_depth normal cells (NC).
struct VitaeStage {
  bool reduction_cell = true;  ///< false: the stage is normal cells on its input tokens
  int64_t downsample = 2;      ///< the RC's stride (1 keeps the token grid)
  int64_t kernel_size = 3;     ///< of the pyramid reduction convolutions
  std::vector<int64_t> dilations{1, 2};
  int64_t embed_dim = 32;      ///< channels of each dilated convolution
  int64_t token_dim = 32;      ///< the stage's token width
  bool rc_attention = true;    ///< false: the RC is the pyramid reduction only (ViTAE-T's third
                               ///< RC, "performer_less"); then token_dim = embed_dim * #dilations
  int64_t rc_heads = 1;
  int64_t rc_group = 1;        ///< groups of the RC's parallel convolutions
  double rc_mlp_ratio = 1.0;
  int64_t nc_depth = 0;
  int64_t nc_heads = 4;
  int64_t nc_group = 1;        ///< groups of the NC's parallel convolutions
  double nc_mlp_ratio = 2.0;
};

struct VitaeConfig {
  int64_t image_size = 28;
  int64_t in_chans = 1;
  int64_t num_classes = 10;
  std::vector<VitaeStage> stages;
  bool qkv_bias = true;         ///< of the NCs' attention (the RCs' token attention has none)
  double drop_rate = 0.0;
  double attn_drop_rate = 0.0;
  double drop_path_rate = 0.0;  ///< stochastic depth over the NCs, linear from 0
  /// The kernel of every softmax attention: the RCs' token attention (max_len = the tokens after
  /// the PRM) and the NCs' (max_len = the stage's tokens). JSON object "attention"; absent = dense.
  nn::AttentionKernelOptions attention;
  /// Throws ValueError naming the stage and field: non-positive sizes, a PRM branch or the
  /// parallel convolution giving a different token grid, groups not dividing the channels, a
  /// first stage without an RC, an RC without attention whose token_dim is not
  /// embed_dim * #dilations, heads not dividing dims, a bad attention kernel, attn_drop_rate > 0
  /// with a kernel other than dense.
  void validate() const;
  std::string to_json() const;
  static VitaeConfig from_json(const std::string& json);
  /// "tiny" (tests), "small", "default" (ViTAE-T's structure scaled to 28x28; docs/vision.md).
  static VitaeConfig preset(const std::string& name);
};

/// Pyramid reduction module: parallel Conv2d(k, stride, dilation d, padding
/// ceil(((k - 1) d + 1 - stride) / 2)) + GELU per dilation rate ("convs.i.0"), outputs
/// concatenated along channels in dilation order and flattened to tokens (B, H' W', E #d).
class PyramidReduction : public nn::Module {
 public:
  PyramidReduction(int64_t in_chans, const VitaeStage& s, Generator& gen);
  Tensor forward(const Tensor& x);  // (B, C, H, W) -> (B, H' W', E #dilations)
  std::shared_ptr<nn::ModuleList> convs;
};

/// Reduction cell: tokens = PRM(x); with attention, y = attn(norm1(tokens)) (token attention,
/// out = token_dim) + PCM(x) (Conv-SiLU-Conv-BN-SiLU-Conv-SiLU with strides that multiply to
/// the downsampling), then y + mlp(norm2(y)). Without attention the PRM tokens are the output.
/// Names as the authors' ReductionCell: PRM.convs.i.0, attn.{norm1, attn.qkv, attn.proj, norm2,
/// mlp.fc1, mlp.fc2}, PCM.{0, 2, 3, 5}.
class ReductionCell : public nn::Module {
 public:
  /// tokens: H' W', the token count after the PRM (the kernel's max_len).
  ReductionCell(int64_t in_chans, const VitaeStage& s, const VitaeConfig& c, Generator& gen,
                Generator* dropout_gen, int64_t tokens, Generator& kernel_gen);
  /// x (B, C, H, W) -> (B, H' W', token_dim).
  Tensor forward(const Tensor& x);
  bool with_attention;
  std::shared_ptr<PyramidReduction> prm;
  std::shared_ptr<nn::Module> attn_block;  // "attn": norm1, attn, norm2, mlp
  std::shared_ptr<nn::LayerNorm> norm1, norm2;
  std::shared_ptr<SelfAttention> attn;
  std::shared_ptr<nn::MLP> mlp;
  std::shared_ptr<nn::Sequential> pcm;
};

/// Normal cell: x + attn(norm1(x)) + PCM(x as an image) (Conv-BN-SiLU-Conv-BN-SiLU-Conv-SiLU, 3x3,
/// grouped), then x + mlp(norm2(x)); LayerNorm eps 1e-6, drop path on all three branches. Names:
/// norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2, PCM.{0, 1, 3, 4, 6}.
class NormalCell : public nn::Module {
 public:
  /// tokens: h w, the stage's token count (the kernel's max_len).
  NormalCell(int64_t dim, const VitaeStage& s, const VitaeConfig& c, double drop_path,
             Generator& gen, Generator* dropout_gen, int64_t tokens, Generator& kernel_gen);
  /// x (B, h w, dim) -> same.
  Tensor forward(const Tensor& x, int64_t h, int64_t w);
  double drop_path_rate;
  Generator* dropout_gen;
  std::shared_ptr<nn::LayerNorm> norm1;
  std::shared_ptr<SelfAttention> attn;
  std::shared_ptr<nn::LayerNorm> norm2;
  std::shared_ptr<nn::MLP> mlp;
  std::shared_ptr<nn::Sequential> pcm;
};

/// ViTAE (ViTAE_basic): layers.i.RC (when the stage downsamples) and layers.i.NC.j, then the
/// mean over tokens and head. Linear weights trunc_normal(0.02) with zero biases.
class Vitae : public ImageClassifier {
 public:
  Vitae(const VitaeConfig& config, uint64_t seed);
  const VitaeConfig& config() const { return config_; }
  Tensor forward(const Tensor& x) override;
  std::string model_type() const override { return "vitae"; }
  std::string config_json() const override { return config_.to_json(); }
  std::vector<nn::AttentionKernel*> attention_kernels() const override;

 private:
  struct Stage {
    std::shared_ptr<ReductionCell> rc;  // null when the stage does not downsample
    std::vector<std::shared_ptr<NormalCell>> nc;
  };
  VitaeConfig config_;
  std::vector<Stage> stages_;
  std::shared_ptr<nn::Linear> head_;
};

// ======================================================================= CNN

struct CnnConfig {
  int64_t image_size = 28;
  int64_t in_chans = 1;
  int64_t num_classes = 10;
  std::vector<int64_t> channels{32, 64};  ///< per stage; each stage ends with a 2x2 max pool
  int64_t convs_per_stage = 2;
  double dropout = 0.0;                   ///< before the head
  /// Throws ValueError: empty or non-positive channels, an image size not divisible by
  /// 2^#stages.
  void validate() const;
  std::string to_json() const;
  static CnnConfig from_json(const std::string& json);
  /// "tiny", "small", "default".
  static CnnConfig preset(const std::string& name);
};

/// features: per stage convs_per_stage x (Conv2d 3x3 pad 1 no bias, BatchNorm2d, ReLU), then
/// MaxPool2d(2), numbered as a torch.nn.Sequential; then flatten and head Linear(C h w, classes).
class Cnn : public ImageClassifier {
 public:
  Cnn(const CnnConfig& config, uint64_t seed);
  const CnnConfig& config() const { return config_; }
  Tensor forward(const Tensor& x) override;
  std::string model_type() const override { return "cnn"; }
  std::string config_json() const override { return config_.to_json(); }
  std::shared_ptr<nn::Sequential> features;
  std::shared_ptr<nn::Linear> head;

 private:
  CnnConfig config_;
};

/// A model of type "vit", "vitae" or "cnn" from its configuration JSON (config_json()).
/// Throws ValueError for another type, FormatError for a bad configuration.
std::unique_ptr<ImageClassifier> make_image_classifier(const std::string& type,
                                                       const std::string& config_json,
                                                       uint64_t seed);
/// The configuration JSON of a preset of a model type.
std::string image_classifier_preset(const std::string& type, const std::string& preset);

}  // namespace cf::models
