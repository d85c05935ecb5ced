#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "train/bert_finetune.h"

namespace cf::cli {

void add_finetune(CLI::App& app, Commands& cmds) {
  CLI::App* ft = app.add_subcommand("finetune", "Fine-tune a pre-trained model on a task");
  ft->require_subcommand(1);
  CLI::App* sub = ft->add_subcommand("bert", "Fine-tune a BERT text classifier on labelled TSV files");
  auto o = std::make_shared<train::BertFinetuneOptions>();
  sub->add_option("--train", o->train, "Training TSV: text<TAB>label")->required()->check(CLI::ExistingFile);
  sub->add_option("--valid", o->valid, "Validation TSV, scored after each epoch")->required()->check(CLI::ExistingFile);
  sub->add_option("--out", o->out_dir, "Output directory (model.safetensors, metrics.jsonl)")->capture_default_str();
  sub->add_option("--init", o->init, "A 'train bert' checkpoint or a Hugging Face BERT model.safetensors")
      ->check(CLI::ExistingFile);
  sub->add_option("--preset", o->preset, "From scratch: tiny, small, base")->capture_default_str();
  sub->add_option("--tokenizer", o->tokenizer, "From scratch: vocab.txt or tokenizer.json (default: train one)")
      ->check(CLI::ExistingFile);
  sub->add_option("--vocab-size", o->vocab_size, "From scratch: size of the WordPiece trained on the texts")
      ->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--epochs", o->epochs, "Epochs (with --minutes: at most this many; 0: no limit)")
      ->capture_default_str()->check(cf::cli::non_negative());
  sub->add_option("--minutes", o->minutes, "Time budget in minutes")->check(cf::cli::positive());
  sub->add_option("--lr", o->lr, "Peak learning rate (default 5e-5 with --init, 5e-4 from scratch)")->check(cf::cli::positive());
  sub->add_option("--batch", o->batch, "Texts per step")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--max-len", o->max_len, "Tokens per text, [CLS] and [SEP] included")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--dropout", o->dropout, "Hidden dropout")->capture_default_str()->check(CLI::Range(0.0, 0.9));
  add_attention_options(*sub, o->attention);
  sub->get_option("--attention")->description("Attention kernel, from scratch only (--init brings the checkpoint's)");
  sub->add_option("--weight-decay", o->weight_decay, "AdamW decoupled weight decay (matrices only)")->capture_default_str()->check(cf::cli::non_negative());
  sub->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  sub->add_flag("!--no-progress", o->progress, "No live progress line");
  cmds.entries.emplace_back(sub, [sub, o]() {
    train::BertFinetuneOptions opts = *o;
    opts.attention_given = sub->count("--attention") > 0;
    if (sub->count("--minutes") > 0 && sub->count("--epochs") == 0) opts.epochs = 0;
    train::finetune_bert(opts, std::cout);
    return 0;
  });
}

}  // namespace cf::cli
