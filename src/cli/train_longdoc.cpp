// `cformer train longdoc`: the long-document Transformer with a chosen attention on ListOps or
// SpamAssassin bytes (src/train/longdoc_train.h; measured runs in docs/long-documents.md).
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "train/longdoc_train.h"

namespace cf::cli {

void add_train_longdoc(CLI::App& train, Commands& cmds) {
  CLI::App* sub = train.add_subcommand(
      "longdoc", "Train the long-document Transformer ([CLS] head, any attention) on ListOps or "
                 "SpamAssassin bytes");
  auto o = std::make_shared<train::LongDocTrainOptions>();
  sub->add_option("--task", o->task, "listops (data/listops) or spam (data/spam_bytes)")
      ->capture_default_str()
      ->check(CLI::IsMember({"listops", "spam"}));
  sub->add_option("--data-dir", o->data_dir, "Directory of the split files");
  sub->add_option("--out", o->out_dir, "Output directory")->capture_default_str();
  sub->add_option("--max-bytes", o->max_bytes, "spam: bytes kept per e-mail (4096, 8192, ...)")
      ->capture_default_str()
      ->check(positive());
  sub->add_option("--d-model", o->d_model, "Width")->capture_default_str()->check(positive());
  sub->add_option("--heads", o->num_heads, "Attention heads")->capture_default_str()->check(positive());
  sub->add_option("--layers", o->num_layers, "Layers")->capture_default_str()->check(positive());
  sub->add_option("--ffn", o->ffn_dim, "Feed-forward width")->capture_default_str()->check(positive());
  sub->add_option("--dropout", o->dropout, "Dropout")->capture_default_str()->check(CLI::Range(0.0, 0.99));
  add_attention_options(*sub, o->attention, "--block-size");
  sub->add_option("--batch", o->batch, "Documents per step")->capture_default_str()->check(positive());
  sub->add_option("--steps", o->max_steps, "Training steps (the schedule's length)")
      ->capture_default_str()
      ->check(positive());
  sub->add_option("--minutes", o->minutes, "Also stop after this many minutes")->check(positive());
  add_adamw_options(*sub, o->lr, o->warmup, o->weight_decay, o->grad_clip);
  sub->add_option("--eval-every", o->eval_every, "Validate every N steps")
      ->capture_default_str()
      ->check(positive());
  sub->add_option("--val-limit", o->val_limit,
                  "Validation documents of the periodic evaluations (0: all)")
      ->capture_default_str()
      ->check(non_negative());
  sub->add_option("--train-limit", o->train_limit, "Train on the first N documents only")
      ->check(positive());
  sub->add_option("--seed", o->seed, "Seed of the weights and the order")->capture_default_str();
  sub->add_flag("!--no-progress", o->progress, "No live progress line");
  cmds.entries.emplace_back(sub, [o]() {
    train::train_longdoc(*o, std::cout);
    return 0;
  });
}

}  // namespace cf::cli
