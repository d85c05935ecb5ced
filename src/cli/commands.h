// Subcommand registration: each command adds its options to the app and returns a runner.
#pragma once
#include <cstdint>
#include <string>
#include <CLI/CLI.hpp>

#include "cformer/efficient_attention.h"

#include <functional>
#include <limits>
#include <memory>
#include <vector>

namespace cf::cli {

struct Commands {
  std::vector<std::pair<CLI::App*, std::function<int()>>> entries;
  /// Runs the parsed subcommand.
  int run() const {
    for (const auto& [app, fn] : entries)
      if (app->parsed()) return fn();
    return 2;
  }
};

/// The number v holds, or NaN when it is not a number (std::stod would throw, and CLI11 does not
/// catch that in a validator).
inline double parse_number_or_nan(const std::string& v) {
  try {
    return std::stod(v);
  } catch (const std::exception&) {
    return std::numeric_limits<double>::quiet_NaN();
  }
}
/// Validators with short messages (CLI11's ranges print the largest double as the bound).
inline CLI::Validator positive() {
  return CLI::Validator(
      [](std::string& v) {
        return parse_number_or_nan(v) > 0 ? std::string() : "must be positive, got " + v;
      },
      "POSITIVE");
}
inline CLI::Validator non_negative() {
  return CLI::Validator(
      [](std::string& v) {
        return parse_number_or_nan(v) >= 0 ? std::string() : "must be >= 0, got " + v;
      },
      "NON-NEGATIVE");
}

/// --lr, --warmup, --weight-decay and --grad-clip of the AdamW trainers, with their defaults shown.
inline void add_adamw_options(CLI::App& sub, double& lr, int64_t& warmup, double& weight_decay,
                              double& grad_clip) {
  sub.add_option("--lr", lr, "Peak learning rate")->capture_default_str()->check(positive());
  sub.add_option("--warmup", warmup, "Linear warm-up steps")->capture_default_str()->check(non_negative());
  sub.add_option("--weight-decay", weight_decay, "AdamW decoupled weight decay")
      ->capture_default_str()
      ->check(non_negative());
  sub.add_option("--grad-clip", grad_clip, "Global gradient-norm clip (0: off)")
      ->capture_default_str()
      ->check(non_negative());
}

/// --attention and the kernel's parameters (nn::AttentionKernelOptions), shared by the trainers
/// of every Transformer. block_flag names the block-sparse block size (train gpt's --block-size
/// is its context length). Validated by AttentionKernelOptions::validate when the model is built.
inline void add_attention_options(CLI::App& sub, nn::AttentionKernelOptions& o,
                                  const std::string& block_flag = "--sparse-block") {
  sub.add_option("--attention", o.kind, "Attention kernel")
      ->capture_default_str()
      ->check(CLI::IsMember({"dense", "memory_efficient", "longformer", "block_sparse", "performer"}));
  sub.add_option("--window", o.attention_window,
                 "longformer: attention window, Hugging Face's (even; half on each side)")
      ->capture_default_str()
      ->check(positive());
  sub.add_option("--dilation", o.dilation, "longformer: window dilation")
      ->capture_default_str()
      ->check(positive());
  sub.add_option("--sparse-layout", o.sparse_layout, "block_sparse: fixed, strided or bigbird")
      ->capture_default_str()
      ->check(CLI::IsMember({"fixed", "strided", "bigbird"}));
  sub.add_option(block_flag, o.block_size, "block_sparse: block size")
      ->capture_default_str()
      ->check(positive());
  sub.add_option("--local-blocks", o.local_blocks,
                 "block_sparse: fixed window / strided stride, in blocks")
      ->capture_default_str()
      ->check(positive());
  sub.add_option("--global-blocks", o.global_blocks,
                 "block_sparse: fixed summary blocks per window / bigbird global blocks")
      ->capture_default_str()
      ->check(positive());
  sub.add_option("--window-blocks", o.window_blocks, "block_sparse: bigbird window (odd), in blocks")
      ->capture_default_str()
      ->check(positive());
  sub.add_option("--random-blocks", o.random_blocks, "block_sparse: bigbird random blocks")
      ->capture_default_str()
      ->check(non_negative());
  sub.add_option("--features", o.nb_features, "performer: random features per head")
      ->capture_default_str()
      ->check(positive());
  sub.add_option("--redraw-interval", o.redraw_interval,
                 "performer: training steps between feature redraws (0: never)")
      ->capture_default_str()
      ->check(non_negative());
}

/// True when any flag of add_attention_options was given (a resumed run compares the whole
/// kernel with its checkpoint's, so that e.g. --window alone cannot be silently ignored).
inline bool attention_flags_given(const CLI::App& sub, const std::string& block_flag = "--sparse-block") {
  for (const std::string& f : {std::string("--attention"), std::string("--window"),
                               std::string("--dilation"), std::string("--sparse-layout"), block_flag,
                               std::string("--local-blocks"), std::string("--global-blocks"),
                               std::string("--window-blocks"), std::string("--random-blocks"),
                               std::string("--features"), std::string("--redraw-interval")})
    if (sub.count(f) > 0) return true;
  return false;
}

Commands register_commands(CLI::App& app);
void add_train_gpt(CLI::App& train, Commands& cmds);
void add_train_bert(CLI::App& train, Commands& cmds);
void add_finetune(CLI::App& app, Commands& cmds);
void add_generate(CLI::App& app, Commands& cmds);
void add_info(CLI::App& app, Commands& cmds);
void add_tokenizer(CLI::App& app, Commands& cmds);
void add_images(CLI::App& app, Commands& cmds);
void add_train_bow(CLI::App& train, Commands& cmds);
void add_eval(CLI::App& app, Commands& cmds);
void add_classify(CLI::App& app, Commands& cmds);
void add_train_vision(CLI::App& train, Commands& cmds);
void add_train_longdoc(CLI::App& train, Commands& cmds);
void add_attention_map(CLI::App& app, Commands& cmds);
void add_prompt_classify(CLI::App& app, Commands& cmds);
void add_bleu(CLI::App& app, Commands& cmds);
void add_data_translation(CLI::App& app, Commands& cmds);
void add_data_listops(CLI::App& app, Commands& cmds);
/// The `data` command group (created by the first caller).
CLI::App* data_command(CLI::App& app);
void add_train_translate(CLI::App& train, Commands& cmds);
void add_translate(CLI::App& app, Commands& cmds);
/// `eval translate`: call after add_eval.
void add_eval_translate(CLI::App& app, Commands& cmds);
/// `eval longdoc`: call after add_eval.
void add_eval_longdoc(CLI::App& app, Commands& cmds);
void add_bench_attention(CLI::App& app, Commands& cmds);

/// "\n", "\t" and "\\" in a prompt template given on the command line become the characters.
inline std::string unescape_template(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() &&
        (s[i + 1] == 'n' || s[i + 1] == 't' || s[i + 1] == '\\')) {
      out += s[i + 1] == 'n' ? '\n' : s[i + 1] == 't' ? '\t' : '\\';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace cf::cli
