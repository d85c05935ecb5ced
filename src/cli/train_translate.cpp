// cformer train translate: the encoder-decoder Transformer on DATA/{train,valid}.{en,fr}
// (src/train/translate_train.h). The default model is the small configuration suited to a
// 2-core CPU (d_model 256, 4 heads, 3+3 layers, ff 1024); the paper's base model is
// --d-model 512 --heads 8 --enc-layers 6 --dec-layers 6 --ff 2048.
#include <iostream>
#include <map>
#include <memory>

#include "cli/commands.h"
#include "train/translate_train.h"
#include "util/check.h"

namespace cf::cli {

void add_train_translate(CLI::App& train, Commands& cmds) {
  CLI::App* sub = train.add_subcommand(
      "translate", "Train an English->French encoder-decoder Transformer (Vaswani et al. 2017)");
  auto o = std::make_shared<train::TranslateTrainOptions>();
  models::TranslationConfig& m = o->model;
  m.d_model = 256;
  m.nhead = 4;
  m.num_encoder_layers = 3;
  m.num_decoder_layers = 3;
  m.dim_feedforward = 1024;
  m.max_positions = 256;
  m.share_embeddings = true;
  auto positions = std::make_shared<std::string>("sinusoidal");
  auto no_tie = std::make_shared<bool>(false);
  sub->add_option("--data", o->data, "Directory with train.{en,fr} and valid.{en,fr}")->capture_default_str();
  sub->add_option("--out", o->out_dir, "Output directory (checkpoints, metrics)")->capture_default_str();
  sub->add_option("--d-model", m.d_model, "Model width")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--heads", m.nhead, "Attention heads")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--enc-layers", m.num_encoder_layers, "Encoder layers")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--dec-layers", m.num_decoder_layers, "Decoder layers")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--ff", m.dim_feedforward, "Feed-forward width")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--dropout", m.dropout, "Dropout probability")->capture_default_str()->check(CLI::Range(0.0, 0.99));
  sub->add_flag("--pre-norm", m.norm_first, "Layer norm before each sub-layer (default: post-norm, the paper)");
  sub->add_option("--positions", *positions, "sinusoidal or learned")->capture_default_str()->check(CLI::IsMember({"sinusoidal", "learned"}));
  sub->add_option("--max-positions", m.max_positions, "Longest sequence the model accepts (BOS/EOS included)")->capture_default_str()->check(cf::cli::positive());
  sub->add_flag("--share-embeddings,!--no-share-embeddings", m.share_embeddings,
                "One embedding matrix for source, target and output (needs the shared vocabulary; default on)");
  sub->add_flag("--no-tie-output", *no_tie, "A separate output projection instead of the target embedding");
  sub->add_option("--vocab-size", o->vocab_size, "BPE tokens per vocabulary (3 special tokens included)")->capture_default_str()->check(cf::cli::positive());
  sub->add_flag("--separate-vocab", o->separate_vocab, "One BPE vocabulary per language (implies --no-share-embeddings)");
  sub->add_option("--limit-train", o->limit_train, "Use only the first N training pairs")->check(cf::cli::positive());
  sub->add_option("--max-len", o->max_len, "Drop training pairs with more tokens on either side (BOS/EOS included)")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--batch-tokens", o->batch_tokens, "Tokens per batch: rows x longest padded side")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--steps", o->steps, "Stop after this many steps")->check(cf::cli::positive());
  sub->add_option("--minutes", o->minutes, "Stop after this long (with --steps: whichever comes first)")->check(cf::cli::positive());
  sub->add_option("--lr-factor", o->lr_factor, "lr = factor * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--warmup", o->warmup, "Warm-up steps of the schedule")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--beta2", o->beta2, "Adam beta2")->capture_default_str()->check(CLI::Range(0.0, 0.999999));
  sub->add_option("--grad-clip", o->grad_clip, "Global gradient-norm clip (0: off)")->capture_default_str()->check(cf::cli::non_negative());
  sub->add_option("--label-smoothing", o->label_smoothing, "Label smoothing of the training loss")->capture_default_str()->check(CLI::Range(0.0, 0.99));
  sub->add_option("--seed", o->seed, "Random seed (init, dropout, batch order)")->capture_default_str();
  sub->add_option("--eval-every", o->eval_every, "Validation every N steps (and at the end)")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--val-bleu-sentences", o->val_bleu_sentences, "Greedy BLEU/chrF on the first N valid sentences (0: off)")->capture_default_str()->check(cf::cli::non_negative());
  sub->add_option("--log-every", o->log_every, "A log line every N steps")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--checkpoint-every", o->checkpoint_every, "Checkpoint every N steps")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--checkpoint-minutes", o->checkpoint_minutes, "Also checkpoint after this many minutes (0: off)")->capture_default_str()->check(cf::cli::non_negative());
  add_attention_options(*sub, m.attention);
  sub->get_option("--attention")->description("Attention kernel of the encoder self-attention");
  // The decoder's kernels take their shape (--sparse-layout, --sparse-block, --local-blocks,
  // --global-blocks, --features, --redraw-interval) from the encoder's flags above.
  auto decoder_kind = std::make_shared<std::string>("dense");
  auto cross_kind = std::make_shared<std::string>("dense");
  sub->add_option("--decoder-attention", *decoder_kind,
                  "Attention kernel of the decoder's causal self-attention: dense, "
                  "memory_efficient, block_sparse (fixed or strided layout) or performer; shaped "
                  "by the flags above")
      ->capture_default_str()
      ->check(
          CLI::IsMember({"dense", "memory_efficient", "longformer", "block_sparse", "performer"}));
  sub->add_option("--cross-attention", *cross_kind,
                  "Attention kernel of the decoder's cross-attention: dense, memory_efficient or "
                  "performer; shaped by the flags above")
      ->capture_default_str()
      ->check(
          CLI::IsMember({"dense", "memory_efficient", "longformer", "block_sparse", "performer"}));
  sub->add_flag("--resume", o->resume, "Continue from OUT/checkpoint.safetensors exactly");
  sub->add_flag("!--no-progress", o->progress, "No progress output on stderr");
  cmds.entries.emplace_back(sub, [sub, o, positions, no_tie, decoder_kind, cross_kind]() {
    train::TranslateTrainOptions opts = *o;
    opts.model.decoder_attention = opts.model.attention;
    opts.model.decoder_attention.kind = *decoder_kind;
    opts.model.cross_attention = opts.model.attention;
    opts.model.cross_attention.kind = *cross_kind;
    opts.model.positions =
        *positions == "learned" ? models::PositionKind::learned : models::PositionKind::sinusoidal;
    opts.model.tie_output = !*no_tie;
    // --separate-vocab turns the default embedding sharing off; asking for both is an error.
    if (opts.separate_vocab && sub->count("--share-embeddings") == 0) opts.model.share_embeddings = false;
    const std::map<std::string, std::string> keys = {
        {"--d-model", "d_model"}, {"--heads", "heads"}, {"--enc-layers", "enc_layers"},
        {"--dec-layers", "dec_layers"}, {"--ff", "ff"}, {"--dropout", "dropout"},
        {"--pre-norm", "pre_norm"}, {"--positions", "positions"},
        {"--max-positions", "max_positions"}, {"--share-embeddings", "share_embeddings"},
        {"--no-tie-output", "tie_output"}, {"--vocab-size", "vocab_size"},
        {"--separate-vocab", "separate_vocab"}, {"--limit-train", "limit_train"},
        {"--max-len", "max_len"}, {"--batch-tokens", "batch_tokens"}, {"--lr-factor", "lr_factor"},
        {"--warmup", "warmup"}, {"--beta2", "beta2"}, {"--grad-clip", "grad_clip"},
        {"--label-smoothing", "label_smoothing"}, {"--seed", "seed"},
        {"--decoder-attention", "decoder_attention"}, {"--cross-attention", "cross_attention"}};
    std::vector<std::string> given;
    for (const auto& [flag, key] : keys)
      if (sub->count(flag) > 0) given.push_back(key);
    if (attention_flags_given(*sub)) given.push_back("attention");
    train::train_translate(opts, given, std::cout);
    return 0;
  });
}

}  // namespace cf::cli
