// End to end on tiny data: pre-training (vocabulary trained on the data, checkpoint, resume),
// fine-tuning from that checkpoint and from scratch on a separable two-class TSV, and the saved
// classifier loaded back through load_bert_classifier (scores are log-probabilities that match
// the saved best epoch's validation accuracy).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cformer/cformer.h"
#include "cformer/classify.h"
#include "cformer/models/bert.h"
#include "train/bert_finetune.h"
#include "train/bert_train.h"
#include "train/checkpoint.h"

namespace cf {
namespace {

namespace fs = std::filesystem;

std::string temp_dir(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("cformer_test_bert_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

const std::vector<std::string> kGood = {"good", "great", "fine", "lovely", "nice", "superb"};
const std::vector<std::string> kBad = {"bad", "awful", "poor", "horrid", "nasty", "dreadful"};
const std::vector<std::string> kFill = {"the", "day", "was", "food", "film", "very", "a", "it", "is"};

// "filler filler WORD filler" sentences; the label is which list WORD comes from.
void write_tsv(const std::string& path, int n, uint64_t seed) {
  Generator g(seed);
  const std::vector<int64_t> r = randint(0, 1000, Shape{n, 5}, g).to_vector<int64_t>();
  std::ofstream f(path);
  for (int i = 0; i < n; ++i) {
    const bool good = i % 2 == 0;
    const auto& words = good ? kGood : kBad;
    f << kFill[r[i * 5] % kFill.size()] << " " << kFill[r[i * 5 + 1] % kFill.size()] << " "
      << words[r[i * 5 + 2] % words.size()] << " " << kFill[r[i * 5 + 3] % kFill.size()] << "\t"
      << (good ? "pos" : "neg") << "\n";
  }
}

TEST(BertEndToEnd, PretrainResumeFinetuneAndLoad) {
  const std::string dir = temp_dir("e2e");
  {
    std::ofstream f(dir + "/text.txt");
    Generator g(1);
    const std::vector<int64_t> r = randint(0, 1000, Shape{400}, g).to_vector<int64_t>();
    for (int i = 0; i < 100; ++i) {
      for (int w = 0; w < 4; ++w) f << kFill[r[i * 4 + w] % kFill.size()] << (w == 3 ? "" : " ");
      f << (i % 2 ? " good day\n" : " bad day\n");
      if (i % 10 == 9) f << "\n";
    }
  }
  train::BertTrainOptions po;
  po.data = {dir + "/text.txt"};
  po.vocab_size = 60;
  po.out_dir = dir + "/pre";
  po.preset = "tiny";
  po.max_len = 16;
  po.steps = 3;
  po.batch = 4;
  po.eval_every = 2;
  po.eval_examples = 8;
  po.checkpoint_every = 2;
  po.progress = false;
  std::ostringstream log;
  const train::BertTrainSummary s1 = train::train_bert(po, {}, log);
  EXPECT_EQ(s1.steps, 3);
  EXPECT_TRUE(fs::exists(po.out_dir + "/tokenizer.json"));
  EXPECT_TRUE(fs::exists(po.out_dir + "/loss.svg"));
  const train::Checkpoint ck = train::load_checkpoint(po.out_dir + "/checkpoint.safetensors");
  EXPECT_EQ(ck.meta.at("model_type"), "bert-pretraining");
  EXPECT_EQ(ck.meta.at("step"), 3);
  // Resume continues from step 3; a contradicting --max-len is refused.
  po.resume = true;
  po.steps = 5;
  po.vocab_size = 0;
  EXPECT_EQ(train::train_bert(po, {}, log).steps, 5);
  po.max_len = 32;
  EXPECT_THROW(train::train_bert(po, {"max-len"}, log), ValueError);

  write_tsv(dir + "/train.tsv", 64, 2);
  write_tsv(dir + "/valid.tsv", 24, 3);
  train::BertFinetuneOptions fo;
  fo.train = dir + "/train.tsv";
  fo.valid = dir + "/valid.tsv";
  fo.out_dir = dir + "/ft";
  fo.init = po.out_dir + "/checkpoint.safetensors";
  fo.epochs = 2;
  fo.batch = 8;
  fo.max_len = 16;
  fo.lr = 1e-3;
  fo.progress = false;
  const train::BertFinetuneSummary fs1 = train::finetune_bert(fo, log);
  EXPECT_EQ(fs1.epochs, 2);
  EXPECT_GE(fs1.best_epoch, 1);

  // From scratch with its own vocabulary: the task is separable by one word.
  fo.init.clear();
  fo.out_dir = dir + "/scratch";
  fo.preset = "tiny";
  fo.vocab_size = 60;
  fo.epochs = 8;
  fo.dropout = 0.0;
  const train::BertFinetuneSummary fs2 = train::finetune_bert(fo, log);
  EXPECT_GE(fs2.best_accuracy, 0.95) << log.str();

  std::unique_ptr<classify::TextClassifier> clf = models::load_bert_classifier(fo.out_dir + "/model.safetensors");
  EXPECT_EQ(clf->labels(), (std::vector<std::string>{"neg", "pos"}));
  EXPECT_NE(clf->describe().find("bert-classifier"), std::string::npos);
  const classify::LabelledData valid = classify::read_tsv(fo.valid);
  const auto scores = clf->scores(valid.texts);
  ASSERT_EQ(scores.size(), valid.texts.size());
  for (const auto& row : scores) {
    ASSERT_EQ(row.size(), 2u);
    EXPECT_NEAR(std::exp(row[0]) + std::exp(row[1]), 1.0, 1e-5);
  }
  const auto pred = classify::predict(*clf, valid.texts);
  const auto gold = classify::label_indices(valid, clf->labels(), fo.valid);
  EXPECT_NEAR(classify::compute_metrics(gold, pred, 2).accuracy, fs2.best_accuracy, 1e-9);
  // Scoring one text alone gives the same scores as inside a padded batch.
  const auto alone = clf->scores({valid.texts[3]});
  EXPECT_NEAR(alone[0][0], scores[3][0], 1e-5);

  EXPECT_THROW(models::load_bert_classifier(po.out_dir + "/checkpoint.safetensors"), FormatError);
  fo.valid = dir + "/missing.tsv";
  EXPECT_THROW(train::finetune_bert(fo, log), IoError);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cf
