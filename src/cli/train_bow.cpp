// cformer train bow: the bag-of-words logistic-regression baseline on labelled TSV files.
#include <filesystem>
#include <iostream>
#include <memory>

#include "cformer/classify.h"
#include "cformer/models/bow.h"
#include "cli/commands.h"
#include "util/check.h"

namespace cf::cli {

void add_train_bow(CLI::App& train, Commands& cmds) {
  CLI::App* sub =
      train.add_subcommand("bow", "Train a bag-of-words logistic-regression text classifier");
  struct Opts {
    std::string train, valid, out;
    models::BowOptions bow;
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("--train", o->train, "Training TSV (text<TAB>label per line)")->required();
  sub->add_option("--valid", o->valid, "Validation TSV (early stopping)")->required();
  sub->add_option("--out", o->out, "Output directory (checkpoint.safetensors)")->required();
  sub->add_option("--max-vocab", o->bow.max_vocab, "Vocabulary size at most")
      ->capture_default_str()
      ->check(cf::cli::positive());
  sub->add_option("--min-count", o->bow.min_count, "Training texts a token must occur in")
      ->capture_default_str()
      ->check(cf::cli::positive());
  sub->add_option("--epochs", o->bow.epochs, "Passes over the training set at most")
      ->capture_default_str()
      ->check(cf::cli::positive());
  sub->add_option("--patience", o->bow.patience, "Epochs without a better valid accuracy")
      ->capture_default_str()
      ->check(cf::cli::positive());
  sub->add_option("--batch", o->bow.batch_size, "Texts per step")
      ->capture_default_str()
      ->check(cf::cli::positive());
  sub->add_option("--lr", o->bow.lr, "AdamW learning rate")
      ->capture_default_str()
      ->check(cf::cli::positive());
  sub->add_option("--weight-decay", o->bow.weight_decay, "AdamW decoupled weight decay")
      ->capture_default_str()
      ->check(cf::cli::non_negative());
  sub->add_option("--seed", o->bow.seed, "Seed of the shuffling")->capture_default_str();
  cmds.entries.emplace_back(sub, [o]() {
    const classify::LabelledData train = classify::read_tsv(o->train);
    const classify::LabelledData valid = classify::read_tsv(o->valid);
    CF_CHECK(!train.texts.empty(), ValueError, o->train, ": no examples");
    CF_CHECK(!valid.texts.empty(), ValueError, o->valid, ": no examples");
    classify::label_indices(valid, classify::label_set(train), o->valid);  // names the line
    std::filesystem::create_directories(o->out);
    std::vector<models::BowEpoch> history;
    const std::unique_ptr<models::BowClassifier> model =
        models::BowClassifier::train(train, valid, o->bow, &std::cout, &history);
    const std::string path = o->out + "/checkpoint.safetensors";
    model->save(path, o->bow, history);
    double best = 0;
    for (const models::BowEpoch& e : history) best = std::max(best, e.valid_accuracy);
    std::cout << path << ": " << model->describe() << ", best valid accuracy " << best << "\n";
    return 0;
  });
}

}  // namespace cf::cli
