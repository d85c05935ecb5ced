#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "train/gpt_train.h"
#include "util/check.h"

namespace cf::cli {
namespace {

// Model presets: "default" is the main job's configuration (docs/gpt.md explains the choice).
void apply_preset(const std::string& name, models::GptConfig& c) {
  if (name == "tiny") c = {2, 2, 64, 64, 0, 0.0, true, {}};
  else if (name == "small") c = {4, 4, 128, 128, 0, 0.0, true, {}};
  else if (name == "default") c = {4, 4, 256, 128, 0, 0.0, true, {}};
  else if (name == "bench") c = {6, 6, 384, 256, 0, 0.0, true, {}};
  else CF_THROW(ValueError, "train gpt: unknown --preset '", name, "' (tiny, small, default, bench)");
}

}  // namespace

void add_train_gpt(CLI::App& train, Commands& cmds) {
  CLI::App* sub = train.add_subcommand("gpt", "Train a GPT language model on a text file");
  auto o = std::make_shared<train::GptTrainOptions>();
  auto preset = std::make_shared<std::string>("default");
  auto cfg = std::make_shared<models::GptConfig>();
  sub->add_option("--data", o->data, "UTF-8 text file")->capture_default_str();
  sub->add_option("--out", o->out_dir, "Output directory (checkpoint, metrics, loss curve)")->capture_default_str();
  sub->add_option("--preset", *preset, "Model size: tiny, small, default, bench")->capture_default_str();
  sub->add_option("--n-layer", cfg->n_layer, "Override the preset's layers")->check(cf::cli::positive());
  sub->add_option("--n-head", cfg->n_head, "Override the preset's heads")->check(cf::cli::positive());
  sub->add_option("--n-embd", cfg->n_embd, "Override the preset's width")->check(cf::cli::positive());
  sub->add_option("--block-size", cfg->block_size, "Context length")->check(cf::cli::positive());
  sub->add_option("--dropout", cfg->dropout,
                  "Dropout probability (attention probabilities: dense kernel only)")
      ->check(CLI::Range(0.0, 0.99));
  add_attention_options(*sub, cfg->attention);
  sub->add_option("--steps", o->steps, "Training steps (or use --minutes)")->check(cf::cli::positive());
  sub->add_option("--minutes", o->minutes, "Time budget in minutes")->check(cf::cli::positive());
  sub->add_option("--batch", o->batch, "Sequences per step")->capture_default_str()->check(cf::cli::positive());
  add_adamw_options(*sub, o->lr, o->warmup, o->weight_decay, o->grad_clip);
  sub->add_option("--min-lr-ratio", o->min_lr_ratio, "Final lr / peak lr")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  sub->add_option("--schedule", o->schedule, "cosine, linear or constant")->capture_default_str();
  sub->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  sub->add_option("--eval-every", o->eval_every, "Validation every N steps")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--eval-windows", o->eval_windows, "Validation windows")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--log-every", o->log_every, "Progress line every N steps")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--checkpoint-every", o->checkpoint_every, "Checkpoint every N steps")->capture_default_str()->check(cf::cli::positive());
  sub->add_flag("--resume", o->resume, "Continue from OUT/checkpoint.safetensors");
  sub->add_flag("!--no-progress", o->progress, "No live progress line");
  cmds.entries.emplace_back(sub, [sub, o, preset, cfg]() {
    train::GptTrainOptions opts = *o;
    apply_preset(*preset, opts.model);
    std::vector<std::string> given;
    for (const char* f : {"n-layer", "n-head", "n-embd", "block-size", "dropout"})
      if (sub->count(std::string("--") + f) > 0) given.push_back(f);
    for (const std::string& f : given) {
      if (f == "n-layer") opts.model.n_layer = cfg->n_layer;
      if (f == "n-head") opts.model.n_head = cfg->n_head;
      if (f == "n-embd") opts.model.n_embd = cfg->n_embd;
      if (f == "block-size") opts.model.block_size = cfg->block_size;
      if (f == "dropout") opts.model.dropout = cfg->dropout;
    }
    opts.model.attention = cfg->attention;  // not part of the presets
    if (attention_flags_given(*sub)) given.push_back("attention");
    train::train_gpt(opts, given, std::cout);
    return 0;
  });
}

}  // namespace cf::cli
