// The encoder-decoder Transformer of "Attention Is All You Need" (Vaswani et al. 2017).
// Batch-first everywhere: src (N, S) i64 ids, tgt (N, T) i64 ids, hidden (N, *, d_model).
// Parameter names follow torch.nn.Transformer inside a "transformer." prefix:
//   transformer.encoder.layers.{i}.self_attn.in_proj_weight, ... (nn::TransformerEncoderLayer),
//   transformer.encoder.norm.{weight,bias}, transformer.decoder.layers.{i}...,
//   transformer.decoder.norm.{weight,bias}   (torch.nn.Transformer always has both final norms)
// plus src_embed.weight, tgt_embed.weight (absent when share_embeddings: then one
// shared_embed.weight), src_pos.weight / tgt_pos.weight when positions are learned, and
// generator.weight (V, d_model) only when tie_output is false (no bias in either case).
// Embeddings are multiplied by sqrt(d_model) before positions are added (paper 3.4), dropout after.
// Dims: N sentences, S source length, T target length, E = d_model, H = nhead, HS = E / H,
// V = tgt_vocab_size, K = beam size. The PyTorch twin is tools/golden/translation_twin.py.
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

enum class PositionKind { sinusoidal, learned };

struct TranslationConfig {
  int64_t src_vocab_size = 0;
  int64_t tgt_vocab_size = 0;  ///< must equal src_vocab_size when share_embeddings
  int64_t d_model = 512;
  int64_t nhead = 8;
  int64_t num_encoder_layers = 6;
  int64_t num_decoder_layers = 6;
  int64_t dim_feedforward = 2048;
  /// Everywhere, except the attention probabilities of an attention (encoder, decoder, cross)
  /// whose kernel is not dense: the efficient kernels have no attention dropout.
  double dropout = 0.1;
  bool norm_first = false;  ///< pre-norm when true; post-norm (the paper) when false
  PositionKind positions = PositionKind::sinusoidal;
  int64_t max_positions = 1024;   ///< longest source or target sequence, BOS/EOS included
  bool share_embeddings = false;  ///< one embedding for source, target (and output if tied)
  bool tie_output = true;         ///< output projection = the target embedding matrix
  int64_t pad_id = 0, bos_id = 1, eos_id = 2;  ///< same ids on both sides
  /// The kernel of the ENCODER self-attention (JSON object "attention"; absent = dense), where
  /// long inputs are; source pads are its key padding mask, block_sparse's layout covers
  /// max_positions.
  nn::AttentionKernelOptions attention;
  /// The kernel of the DECODER's causal self-attention (JSON "decoder_attention"; absent =
  /// dense): dense, memory_efficient, block_sparse with the causal fixed / strided layouts over
  /// max_positions, or performer in its causal prefix-sum form (longformer and bigbird have no
  /// causal form). Incremental decoding gives what decode() gives at each position: the KV
  /// cache (masked by the block's layout row for block_sparse), or the performer's prefix state.
  nn::AttentionKernelOptions decoder_attention;
  /// The kernel of the decoder's cross-attention over the memory (JSON "cross_attention"; absent
  /// = dense): dense, memory_efficient or performer (non-causal), source pads as key padding
  /// mask. longformer and block_sparse are refused: target and source positions are not aligned,
  /// so a window or block layout over (target, source) pairs has no meaning.
  nn::AttentionKernelOptions cross_attention;
  /// Throws ValueError naming the bad field (non-positive sizes, d_model % nhead != 0, dropout
  /// outside [0, 1), pad/bos/eos not distinct or outside either vocabulary, different vocabulary
  /// sizes with share_embeddings, a bad attention kernel, a decoder_attention without a causal
  /// form, a cross_attention other than dense, memory_efficient or performer).
  void validate() const;
  std::string to_json() const;
  /// Throws FormatError on malformed JSON or missing fields.
  static TranslationConfig from_json(const std::string& json);
};

/// Decoding limits and beam options. The maximum number of target tokens (EOS excluded) of a
/// sentence with src_len source ids (as given, EOS included) is
///   max_len = min(floor(max_len_a * src_len + max_len_b), max_positions - 1), at least 0;
/// a hypothesis that reaches max_len tokens is ended by a forced EOS.
struct BeamOptions {
  int64_t beam_size = 5;
  double length_penalty = 1.0;  ///< hypothesis score = sum log p / (length ^ length_penalty)
  double max_len_a = 1.5;       ///< max target tokens (EOS excluded) = a * src_len + b,
  int64_t max_len_b = 10;       ///< capped by max_positions - 1
  int64_t nbest = 1;            ///< hypotheses returned per sentence, best first (<= beam_size)
};

/// length (for the score) = tokens.size() + 1: the EOS counts, as in fairseq.
struct Hypothesis {
  std::vector<int64_t> tokens;  ///< target ids without BOS and EOS
  double score = 0.0;           ///< length-normalized as in BeamOptions
  double log_prob = 0.0;        ///< sum of token log-probabilities, EOS included
};

class TranslationModel : public nn::Module {
 public:
  /// Init: xavier_uniform for every matrix with dim > 1 (as torch.nn.Transformer's
  /// _reset_parameters), embeddings N(0, d_model^-0.5) (the pad row is not special). Dropout
  /// masks come from the model's own generator (seed + 1).
  /// generator.weight (untied output) is xavier_uniform too; learned positions are
  /// N(0, d_model^-0.5) like the embeddings (fairseq's LearnedPositionalEmbedding).
  /// Every encoder layer registers its nn::AttentionKernel (config.attention) as
  /// transformer.encoder.layers.{i}.self_attn.kernel (no tensor for dense; the block_sparse
  /// layout or performer projection as buffers), every decoder layer its causal
  /// config.decoder_attention as transformer.decoder.layers.{i}.self_attn.kernel and its
  /// config.cross_attention as transformer.decoder.layers.{i}.multihead_attn.kernel; each of the
  /// three groups is drawn from a generator of its own, so a seed gives the same parameters for
  /// every kind.
  TranslationModel(const TranslationConfig& config, uint64_t seed);
  /// The same model with parameters of dtype f32 or f64 (f64 serves gradient checks).
  TranslationModel(const TranslationConfig& config, uint64_t seed, DType dtype);
  const TranslationConfig& config() const { return config_; }
  DType dtype() const { return dtype_; }

  /// src (N, S) i64 -> memory (N, S, d_model). Positions equal to pad_id are masked as keys.
  /// Throws ShapeError unless src is 2-D i64 with 1 <= S <= max_positions, IndexError for ids
  /// outside the source vocabulary.
  Tensor encode(const Tensor& src);
  /// tgt_in (N, T) i64 (BOS first, teacher forcing), memory from encode(src) -> logits (N, T, V)
  /// with causal self-attention, target pads masked as keys, source pads masked in cross-attn.
  /// Throws ShapeError on mismatched batch sizes or T > max_positions, IndexError on bad ids.
  Tensor decode(const Tensor& tgt_in, const Tensor& memory, const Tensor& src);
  /// decode(tgt_in, encode(src), src).
  Tensor forward(const Tensor& src, const Tensor& tgt_in);
  /// Mean label-smoothed cross-entropy of logits against tgt_out (N, T) over non-pad targets
  /// (ops::cross_entropy with ignore_index = pad_id and label_smoothing), as torch.
  Tensor loss(const Tensor& src, const Tensor& tgt_in, const Tensor& tgt_out,
              double label_smoothing = 0.1);

  /// Eval mode, no gradients. Batched over sentences (each a vector of source ids, EOS appended
  /// by the caller's tokenizer convention: the ids are used as given). Greedy = argmax each step
  /// with the decoder's self-attention KV cache and cross-attention keys/values computed once.
  /// Source sentences: non-empty (an empty sentence is [EOS] by the tokenizer convention; an
  /// empty vector throws ValueError), at most max_positions ids, ids in [0, src_vocab_size)
  /// (IndexError otherwise) and none equal to pad_id (ValueError). pad_id and bos_id are never
  /// generated (their log-probabilities are set to -inf after the log-softmax, as fairseq), so
  /// log_prob is under the model's full distribution. The training mode is restored on return.
  std::vector<Hypothesis> greedy(const std::vector<std::vector<int64_t>>& src,
                                 const BeamOptions& limits);
  /// Batched beam search (all sentences x beams in one decoder batch, KV caches reordered by
  /// beam origin). Returns, per sentence, min(nbest, beam_size) hypotheses, best first.
  /// beam_size 1 gives exactly greedy's tokens and log_prob.
  ///
  /// fairseq-style: at step 0 only beam 0 of each sentence is live. Each step ranks the top 2K
  /// candidates (cumulative log-prob of beam + token) over K x V; an EOS candidate ranked in the
  /// top K ends a hypothesis (score = log_prob / (len)^length_penalty, len counting the EOS),
  /// the best K non-EOS candidates become the next beams. A sentence is done once it has K
  /// ended hypotheses (fairseq's rule: this keeps beam_size 1 equal to greedy for every
  /// length_penalty) or no live beam is left; at max_len only EOS is allowed. Fewer than
  /// min(nbest, K) hypotheses come back only when fewer exist (e.g. max_len 0 gives just []).
  /// Equal candidates rank by lower (beam, token) index; hypotheses of equal final score keep
  /// the order in which they ended. Throws ValueError when beam_size < 1,
  /// nbest < 1 or nbest > beam_size, and as greedy on bad sources.
  std::vector<std::vector<Hypothesis>> beam_search(const std::vector<std::vector<int64_t>>& src,
                                                   const BeamOptions& options);

  Generator& dropout_generator();
  /// The attention kernel of encoder layer i (0 <= i < num_encoder_layers).
  nn::AttentionKernel& encoder_kernel(int64_t i) { return *encoder_kernels_.at(static_cast<size_t>(i)); }
  /// Every encoder layer's kernel, in layer order.
  std::vector<nn::AttentionKernel*> encoder_kernels() const {
    std::vector<nn::AttentionKernel*> ks;
    for (const auto& k : encoder_kernels_) ks.push_back(k.get());
    return ks;
  }
  /// The causal self-attention kernel of decoder layer i (0 <= i < num_decoder_layers).
  nn::AttentionKernel& decoder_kernel(int64_t i) {
    return *decoder_kernels_.at(static_cast<size_t>(i));
  }
  /// The cross-attention kernel of decoder layer i (0 <= i < num_decoder_layers).
  nn::AttentionKernel& cross_kernel(int64_t i) {
    return *cross_kernels_.at(static_cast<size_t>(i));
  }
  /// Every decoder layer's self-attention kernel in layer order, then every cross-attention one.
  std::vector<nn::AttentionKernel*> decoder_kernels() const {
    std::vector<nn::AttentionKernel*> ks;
    for (const auto& k : decoder_kernels_) ks.push_back(k.get());
    for (const auto& k : cross_kernels_) ks.push_back(k.get());
    return ks;
  }

  // ---- incremental decoding (what greedy and beam_search run on; public for tests and tools)
  /// Caches of one decoding batch of R rows (sentences, or sentences x beams, sentence-major).
  /// Per layer, by kernel kind (M = nb_features; the performer states carry a column of ones
  /// after the values, so one product gives numerator and normalizer):
  ///   self-attention, dense / memory_efficient / block_sparse: the KV cache self_k, self_v;
  ///   self-attention, performer: with e_j = exp(w . k_j' - |k_j'|^2 / 2 - c) the key features
  ///     before favor_features' eps and 1 / sqrt(M), c = self_max the running maximum of
  ///     w . k_j' (the prefix's stabilizer; the states are rescaled when it grows):
  ///     self_kv = sum_j e_j^T [v_j, 1], self_vsum = sum_j [v_j, 1];
  ///   cross-attention, dense / memory_efficient: cross_k, cross_v;
  ///   cross-attention, performer: cross_kv = phi(K)^T [V, 1] over the non-pad source keys.
  struct DecoderState {
    std::vector<Tensor> self_k, self_v;    // (R, H, max_steps, HS)
    std::vector<Tensor> self_kv;           // (R, H, M, HS + 1)
    std::vector<Tensor> self_vsum;         // (R, H, 1, HS + 1)
    std::vector<Tensor> self_max;          // (R, H, 1, 1)
    std::vector<Tensor> cross_k, cross_v;  // (R, H, S, HS)
    std::vector<Tensor> cross_kv;          // (R, H, M, HS + 1)
    Tensor memory_mask;                    // (R, 1, 1, S) bool, true = attend
    int64_t rows = 0;                      // R
    int64_t max_steps = 0;                 // decoder positions the state can take
    int64_t len = 0;                       // target positions already in the state
  };
  /// Encodes src (N, S) i64 (eval mode, no gradients) and prepares caches for up to max_steps
  /// decoder inputs per row; rows_per_sentence K > 1 repeats each sentence (row = n * K + k).
  /// Throws ValueError unless 1 <= max_steps <= max_positions and K >= 1, and as encode().
  DecoderState begin_decoding(const Tensor& src, int64_t max_steps, int64_t rows_per_sentence = 1);
  /// tokens (R) i64: the decoder input at position state.len for every row -> log-probabilities
  /// (R, V) of the next token (full log-softmax), equal to the teacher-forced decode() at that
  /// position (no dropout, no gradients) for every kernel; the causal performer's up to its eps
  /// term only (favor_features' key stabilizer here is the maximum over the keys so far, in
  /// decode() over the whole target). Appends this position's keys/values (or adds them to the
  /// performer's prefix state). Throws ValueError on a state not made by begin_decoding,
  /// ShapeError when tokens is not (R) i64 or the caches are full, IndexError on bad ids.
  Tensor decode_step(DecoderState& state, const Tensor& tokens);
  /// Keeps the rows in index (R') i64 of every cache and performer state, in that order (beam
  /// reordering and dropping finished sentences). cross_too = false leaves the cross-attention
  /// caches alone (valid when every row keeps its sentence).
  static void reorder(DecoderState& state, const Tensor& index, bool cross_too);

 private:
  void build(uint64_t seed);
  Tensor embed_src(const Tensor& src);
  /// Encoder layer i on x (N, S, E) with source key padding kpm (N, S) bool, true = pad.
  Tensor encoder_layer(size_t i, const Tensor& x, const Tensor& kpm);
  /// Decoder layer i on x (N, T, E) over memory (N, S, E) with the target and source key
  /// padding masks (bool, true = pad), through the configured decoder and cross kernels.
  Tensor decoder_layer(size_t i, const Tensor& x, const Tensor& memory, const Tensor& tgt_kpm,
                       const Tensor& mem_kpm);
  /// ids * sqrt(E) + positions [offset, offset + T), then dropout in training when with_dropout.
  Tensor embed_tgt(const Tensor& tgt, int64_t offset, bool with_dropout);
  Tensor output_weight() const;
  void check_ids(const char* op, const Tensor& ids, int64_t vocab, const char* what) const;
  /// Validates sentences and returns them as a padded (N, S) batch.
  Tensor source_batch(const char* op, const std::vector<std::vector<int64_t>>& src) const;
  int64_t max_len(int64_t src_len, const BeamOptions& o) const;

  TranslationConfig config_;
  DType dtype_;
  Generator dropout_gen_;
  std::shared_ptr<nn::Embedding> src_embed_, tgt_embed_;  // the same module when shared
  std::shared_ptr<nn::Module> src_pos_, tgt_pos_;         // Sinusoidal or Learned encodings
  std::vector<std::shared_ptr<nn::TransformerEncoderLayer>> encoder_layers_;
  std::vector<std::shared_ptr<nn::AttentionKernel>> encoder_kernels_;
  std::vector<std::shared_ptr<nn::TransformerDecoderLayer>> decoder_layers_;
  std::vector<std::shared_ptr<nn::AttentionKernel>> decoder_kernels_, cross_kernels_;
  std::shared_ptr<nn::LayerNorm> encoder_norm_, decoder_norm_;
  std::shared_ptr<nn::Linear> generator_;  // null when tie_output
};

}  // namespace cf::models
