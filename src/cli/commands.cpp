#include "cli/commands.h"

namespace cf::cli {

Commands register_commands(CLI::App& app) {
  Commands cmds;
  CLI::App* train = app.add_subcommand("train", "Train a model");
  train->require_subcommand(1);
  add_train_gpt(*train, cmds);
  add_train_bert(*train, cmds);
  add_train_bow(*train, cmds);
  add_train_vision(*train, cmds);
  add_train_longdoc(*train, cmds);
  add_train_translate(*train, cmds);
  add_finetune(app, cmds);
  add_generate(app, cmds);
  add_info(app, cmds);
  add_tokenizer(app, cmds);
  add_images(app, cmds);
  add_eval(app, cmds);
  add_classify(app, cmds);
  add_attention_map(app, cmds);
  add_prompt_classify(app, cmds);
  add_bleu(app, cmds);
  add_data_translation(app, cmds);
  add_data_listops(app, cmds);
  add_translate(app, cmds);
  add_eval_translate(app, cmds);
  add_eval_longdoc(app, cmds);
  add_bench_attention(app, cmds);
  return cmds;
}

}  // namespace cf::cli
