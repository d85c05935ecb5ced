// BERT (Devlin et al. 2019): token + position + segment embeddings, post-norm encoder layers
// (self-attention with a padding mask, exact-erf GELU MLP), a tanh pooler on [CLS], the masked-LM
// head tied to the word embeddings, the next-sentence head and a sequence-classification head.
// Parameter names are Hugging Face's (BertModel, BertForPreTraining,
// BertForSequenceClassification), so an HF safetensors file loads as is.
// Dims: B batch, T time, C = hidden_size, NH heads, HS = C / NH, I = intermediate_size,
// V = vocab_size, M = masked positions of a batch. The PyTorch twin is tools/golden/gen_bert.py.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cformer/classify.h"
#include "cformer/efficient_attention.h"
#include "cformer/nn.h"
#include "cformer/random.h"
#include "cformer/tensor.h"
#include "cformer/tokenizers/wordpiece.h"

namespace cf::models {

/// Hugging Face BertConfig's fields (same names in to_json / from_json).
struct BertConfig {
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  double layer_norm_eps = 1e-12;
  double initializer_range = 0.02;
  /// The self-attention kernel of every layer (JSON object "attention"; absent, as in Hugging
  /// Face and older cformer configs, means dense). dense keeps the fused path below; the other
  /// kinds get the key padding mask; block_sparse's layout covers max_position_embeddings.
  /// Attention-probability dropout exists only for dense: validate() rejects another kind with
  /// attention_probs_dropout_prob > 0 (hidden_dropout_prob applies to every kind).
  nn::AttentionKernelOptions attention;
  /// Throws ValueError naming the bad field.
  void validate() const;
  std::string to_json() const;
  /// Reads an HF config.json too (other keys are ignored; hidden_act must be "gelu" when
  /// present). Throws FormatError on malformed JSON or missing fields.
  static BertConfig from_json(const std::string& json);
  /// tiny (L2, C128, NH2), small (L4, C256, NH4), base (L12, C768, NH12): the sizes of Turc et
  /// al.'s BERT-Tiny, BERT-Mini and BERT-Base, with I = 4C. Throws ValueError on other names.
  static BertConfig preset(const std::string& name, int64_t vocab_size);
};

struct BertOutput {
  Tensor sequence_output;  // (B, T, C) after the last layer
  Tensor pooled_output;    // (B, C) tanh(dense(sequence_output[:, 0]))
};

/// HF BertModel: embeddings.*, encoder.layer.N.*, pooler.dense.*. Initialized as HF does:
/// weights N(0, initializer_range), biases 0, LayerNorms 1/0.
class BertModel : public nn::Module {
 public:
  /// Parameters drawn from init (in f32, then stored as dtype: f32, or f64 for gradient checks);
  /// dropout masks from the model's own generator (dropout_seed). Each layer registers its
  /// nn::AttentionKernel as encoder.layer.N.attention.self.kernel (no tensor for dense; the
  /// block_sparse layout or performer projection as buffers otherwise), drawn from a generator
  /// seeded from dropout_seed, so a seed gives the same parameters for every kind.
  /// Throws DTypeError for another dtype, ValueError for a bad config.
  BertModel(const BertConfig& config, Generator& init, uint64_t dropout_seed, DType dtype = DType::f32);
  const BertConfig& config() const { return config_; }

  /// input_ids (B, T) i64, T <= max_position_embeddings; token_type_ids (B, T) i64 (undefined:
  /// zeros); attention_mask (B, T) i64 or bool, 1 = real token, 0 = padding (undefined: all
  /// real). Padded keys get no attention; padded positions still get outputs, as in HF. With the
  /// dense kernel, when every row's mask is a prefix of ones, attention runs on the fused kernel
  /// (one call per run of rows with equal length); other kernels get the mask as key padding.
  /// Throws ShapeError / IndexError on bad inputs.
  BertOutput forward(const Tensor& input_ids, const Tensor& token_type_ids = {},
                     const Tensor& attention_mask = {});

  const Tensor& word_embeddings() const { return word_emb_; }
  Generator& dropout_generator() { return dropout_gen_; }
  /// The attention kernel of layer i (0 <= i < num_hidden_layers).
  nn::AttentionKernel& attention_kernel(int64_t i) { return *layers_.at(static_cast<size_t>(i)).kernel; }
  /// Every layer's kernel, in layer order.
  std::vector<nn::AttentionKernel*> attention_kernels() const {
    std::vector<nn::AttentionKernel*> ks;
    for (const auto& l : layers_) ks.push_back(l.kernel.get());
    return ks;
  }

 private:
  struct Layer {
    Tensor q_w, q_b, k_w, k_b, v_w, v_b, ao_w, ao_b, ao_ln_w, ao_ln_b;
    Tensor i_w, i_b, o_w, o_b, o_ln_w, o_ln_b;
    std::shared_ptr<nn::AttentionKernel> kernel;
  };
  /// bool_mask / lengths serve the dense kernel (see forward), key_pad (B, T) bool, true =
  /// padding, the others.
  Tensor layer_forward(const Layer& l, const Tensor& x, const Tensor& bool_mask,
                       const std::vector<int64_t>& lengths, const Tensor& key_pad);

  BertConfig config_;
  Generator dropout_gen_;
  Tensor word_emb_, pos_emb_, type_emb_, emb_ln_w_, emb_ln_b_, pool_w_, pool_b_;
  std::vector<Layer> layers_;
};

/// One pre-training batch. mlm_labels (B, T) i64: the original token at masked positions,
/// -100 elsewhere. nsp_labels (B) i64: 0 = B follows A, 1 = B is random (undefined: no NSP).
struct BertBatch {
  Tensor input_ids, token_type_ids, attention_mask, mlm_labels, nsp_labels;
};

struct BertPreTrainingOutput {
  Tensor loss;          // mlm_loss (+ nsp_loss)
  Tensor mlm_loss;      // mean cross-entropy over the masked positions
  Tensor nsp_loss;      // undefined without nsp_labels
  Tensor mlm_logits;    // (M, V) at the masked positions, row-major order of (b, t)
  Tensor mlm_positions; // (M) i64 flat indices b * T + t of those positions
  Tensor nsp_logits;    // (B, 2), undefined without the NSP head
  BertOutput encoder;
};

/// HF BertForPreTraining: bert.*, cls.predictions.transform.{dense,LayerNorm}, cls.predictions.bias
/// (the decoder weight is bert.embeddings.word_embeddings.weight), cls.seq_relationship when nsp.
/// The MLM head runs only on the masked positions: the loss equals HF's (which computes logits
/// at every position and ignores the -100 labels) at a fraction of the cost (M ~ 0.15 B T rows
/// of the (C, V) decoder GEMM instead of B T).
class BertForPreTraining : public nn::Module {
 public:
  BertForPreTraining(const BertConfig& config, uint64_t seed, bool nsp, DType dtype = DType::f32);
  BertPreTrainingOutput forward(const BertBatch& batch);
  /// The MLM head on hidden states h (..., C) -> logits (..., V).
  Tensor mlm_head(const Tensor& h);
  BertModel& bert() { return *bert_; }
  bool has_nsp() const { return nsp_; }

 private:
  std::shared_ptr<BertModel> bert_;
  bool nsp_;
  Tensor tr_w_, tr_b_, tr_ln_w_, tr_ln_b_, dec_b_, nsp_w_, nsp_b_;
};

/// HF BertForSequenceClassification: bert.*, dropout (hidden_dropout_prob) and classifier.{weight,
/// bias} on the pooled output.
class BertForSequenceClassification : public nn::Module {
 public:
  BertForSequenceClassification(const BertConfig& config, int64_t num_labels, uint64_t seed,
                                DType dtype = DType::f32);
  /// -> logits (B, num_labels).
  Tensor forward(const Tensor& input_ids, const Tensor& token_type_ids = {},
                 const Tensor& attention_mask = {});
  BertModel& bert() { return *bert_; }
  int64_t num_labels() const { return num_labels_; }

 private:
  std::shared_ptr<BertModel> bert_;
  int64_t num_labels_;
  Tensor cls_w_, cls_b_;
};

/// Normalizes a Hugging Face BERT state dict to this library's names for `model`: renames
/// LayerNorm gamma/beta to weight/bias, drops the position_ids buffer, the tied
/// cls.predictions.decoder.{weight,bias} (checked equal to word_embeddings / cls.predictions.bias)
/// and, for a bare BertModel file loaded into a BertFor* model, adds the "bert." prefix.
/// Throws FormatError when a tied tensor differs from its twin.
nn::StateDict hf_bert_state_dict(const nn::StateDict& hf, const nn::Module& model);

// ======================================================================= masking

/// BERT's masked-LM corruption: of the candidate tokens (not special), mask_prob are selected
/// (at least one per sequence, by rounding, as Google's create_pretraining_data.py); a selected
/// token becomes [MASK] with probability mask_replace, a random non-special token with
/// random_replace, and stays unchanged otherwise. With whole_word, whole words are selected
/// (a word whose tokens would exceed the budget is skipped, unless nothing was selected yet).
struct MaskingOptions {
  double mask_prob = 0.15;
  double mask_replace = 0.8;
  double random_replace = 0.1;
  bool whole_word = false;
};

/// The vocabulary facts masking needs.
struct MaskingVocab {
  int64_t vocab_size = 0;
  int64_t mask_id = -1;
  std::vector<int64_t> special_ids;  // never drawn as random replacements
};

struct MaskedTokens {
  std::vector<int64_t> ids;     // corrupted input
  std::vector<int64_t> labels;  // original id at selected positions, -100 elsewhere
};

/// ids: one sequence; special: 1 for positions never selected ([CLS], [SEP], [PAD]); word_ids:
/// the word of each position (needed with whole_word, ignored otherwise; specials' values are
/// not used). Throws ValueError on mismatched lengths or bad options.
MaskedTokens mask_tokens(const std::vector<int64_t>& ids, const std::vector<uint8_t>& special,
                         const std::vector<int64_t>& word_ids, const MaskingVocab& vocab,
                         const MaskingOptions& opt, Generator& gen);

/// Word index of each token from WordPiece continuation flags ("##" pieces join the previous
/// token's word); special positions get -1 and end the current word.
std::vector<int64_t> word_ids_from_continuation(const std::vector<uint8_t>& is_continuation,
                                                const std::vector<uint8_t>& special);

// ======================================================================= classifier

/// A fine-tuned BERT as a text classifier: [CLS] text [SEP] truncated to max_len tokens, scores
/// are log-softmax of the logits. Texts are scored in batches of similar length (sorted, padded
/// to the batch's longest) in eval mode without gradients.
class BertTextClassifier : public classify::TextClassifier {
 public:
  BertTextClassifier(std::shared_ptr<BertForSequenceClassification> model,
                     std::shared_ptr<const tokenizers::WordPieceTokenizer> tokenizer,
                     std::vector<std::string> labels, int64_t max_len, int64_t batch = 32);
  const std::vector<std::string>& labels() const override { return labels_; }
  std::vector<std::vector<double>> scores(const std::vector<std::string>& texts) override;
  std::string describe() const override;
  BertForSequenceClassification& model() { return *model_; }

 private:
  std::shared_ptr<BertForSequenceClassification> model_;
  std::shared_ptr<const tokenizers::WordPieceTokenizer> tok_;
  std::vector<std::string> labels_;
  int64_t max_len_, batch_;
};

/// One encoded batch for the classifier: rows padded with [PAD] to the longest.
struct EncodedBatch {
  Tensor input_ids, token_type_ids, attention_mask;  // (B, T) i64
};
/// Pads token-id rows (each [CLS] ... [SEP]) into a batch.
EncodedBatch pad_batch(const std::vector<std::vector<int64_t>>& rows, int64_t pad_id);

/// Loads a `cformer finetune bert` checkpoint (model_type "bert-classifier") as a text
/// classifier. Throws IoError / FormatError naming the path.
std::unique_ptr<classify::TextClassifier> load_bert_classifier(const std::string& path);

}  // namespace cf::models
