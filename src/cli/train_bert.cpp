#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "train/bert_train.h"

namespace cf::cli {

void add_train_bert(CLI::App& train, Commands& cmds) {
  CLI::App* sub = train.add_subcommand("bert", "Pre-train a BERT (masked LM, optional NSP) on text files");
  auto o = std::make_shared<train::BertTrainOptions>();
  sub->add_option("--data", o->data, "Text files: one sentence a line, blank lines end documents")
      ->required()->check(CLI::ExistingFile);
  sub->add_option("--tokenizer", o->tokenizer, "WordPiece vocab.txt or tokenizer.json")->check(CLI::ExistingFile);
  sub->add_option("--vocab-size", o->vocab_size, "Train a WordPiece of this size on the data (saved in --out)")
      ->check(cf::cli::positive());
  sub->add_option("--out", o->out_dir, "Output directory (checkpoint, metrics, loss curve)")->capture_default_str();
  sub->add_option("--preset", o->preset, "Model size: tiny, small, base")->capture_default_str();
  sub->add_option("--dropout", o->dropout, "Hidden dropout, and attention dropout unless --attention-dropout")->capture_default_str()->check(CLI::Range(0.0, 0.99));
  sub->add_option("--attention-dropout", o->attention_dropout,
                  "Attention-probability dropout (default: --dropout; must be 0 with --attention other than dense)")
      ->check(CLI::Range(0.0, 0.99));
  add_attention_options(*sub, o->attention);
  sub->add_option("--max-len", o->max_len, "Tokens per sequence, [CLS] and [SEP] included")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--steps", o->steps, "Training steps (or use --minutes)")->check(cf::cli::positive());
  sub->add_option("--minutes", o->minutes, "Time budget in minutes")->check(cf::cli::positive());
  sub->add_option("--batch", o->batch, "Sequences per step")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--lr", o->lr, "Peak learning rate")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--warmup", o->warmup, "Linear warm-up steps, then linear decay to 0")->capture_default_str()->check(cf::cli::non_negative());
  sub->add_option("--weight-decay", o->weight_decay, "AdamW decoupled weight decay (matrices only)")->capture_default_str()->check(cf::cli::non_negative());
  sub->add_option("--grad-clip", o->grad_clip, "Global gradient-norm clip (0: off)")->capture_default_str()->check(cf::cli::non_negative());
  sub->add_option("--mask-prob", o->mask_prob, "Fraction of tokens selected for the MLM loss")->capture_default_str()->check(CLI::Range(0.01, 1.0));
  sub->add_flag("--whole-word", o->whole_word, "Whole-word masking");
  sub->add_flag("--nsp", o->nsp, "Next-sentence prediction pairs and head");
  sub->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  sub->add_option("--eval-every", o->eval_every, "Validation every N steps")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--eval-examples", o->eval_examples, "Validation sequences")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--val-fraction", o->val_fraction, "Held-out fraction of the data")->capture_default_str()->check(CLI::Range(0.0, 0.5));
  sub->add_option("--log-every", o->log_every, "Progress line every N steps")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--checkpoint-every", o->checkpoint_every, "Checkpoint every N steps")->capture_default_str()->check(cf::cli::positive());
  sub->add_flag("--resume", o->resume, "Continue from OUT/checkpoint.safetensors");
  sub->add_flag("!--no-progress", o->progress, "No live progress line");
  cmds.entries.emplace_back(sub, [sub, o]() {
    std::vector<std::string> given;
    for (const char* f : {"max-len", "nsp", "whole-word", "mask-prob", "preset"})
      if (sub->count(std::string("--") + f) > 0) given.push_back(f);
    if (attention_flags_given(*sub)) given.push_back("attention");
    train::train_bert(*o, given, std::cout);
    return 0;
  });
}

}  // namespace cf::cli
