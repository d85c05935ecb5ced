// cformer data listops --out DIR [--seed S] [--train N --valid N --test N] [...]: the Long Range
// Arena's ListOps task (include/cformer/listops.h) as DIR/{train,valid,test}.tsv.
#include <iostream>
#include <memory>

#include "cformer/listops.h"
#include "cli/commands.h"

namespace cf::cli {

void add_data_listops(CLI::App& app, Commands& cmds) {
  struct Opts {
    std::string out = "data/listops";
    uint64_t seed = 0;
    int64_t train = 96000, valid = 2000, test = 2000;
    data::ListOpsOptions gen;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = data_command(app)->add_subcommand(
      "listops", "ListOps as the Long Range Arena defines it (train/valid/test TSV)");
  sub->add_option("--out", o->out, "Output directory")->capture_default_str();
  sub->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  sub->add_option("--train", o->train, "Training examples")->capture_default_str()->check(non_negative());
  sub->add_option("--valid", o->valid, "Validation examples")->capture_default_str()->check(non_negative());
  sub->add_option("--test", o->test, "Test examples")->capture_default_str()->check(non_negative());
  sub->add_option("--max-depth", o->gen.max_depth, "Deepest nesting")->capture_default_str()->check(positive());
  sub->add_option("--max-args", o->gen.max_args, "Most arguments of a list")->capture_default_str();
  sub->add_option("--min-length", o->gen.min_length, "Length above (digits, operators, ])")->capture_default_str();
  sub->add_option("--max-length", o->gen.max_length, "Length below")->capture_default_str();
  cmds.entries.emplace_back(sub, [o]() {
    data::write_listops_splits(o->out, o->seed, o->train, o->valid, o->test, o->gen);
    std::cout << "listops: " << o->train << " / " << o->valid << " / " << o->test
              << " examples (seed " << o->seed << ", depth <= " << o->gen.max_depth << ", <= "
              << o->gen.max_args << " arguments, lengths in (" << o->gen.min_length << ", "
              << o->gen.max_length << ")) in " << o->out << "/{train,valid,test}.tsv\n";
    return 0;
  });
}

}  // namespace cf::cli
