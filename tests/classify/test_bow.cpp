// The bag-of-words classifier: tokens, features (hand-computed), a separable toy task learned to
// 100%, checkpoint round trip, and the errors of training, loading and the classifier loader.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "cformer/classify.h"
#include "cformer/error.h"
#include "cformer/io.h"
#include "cformer/models/bow.h"
#include "cformer/tensor.h"
#include "train/checkpoint.h"

namespace cf::models {
namespace {

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "cformer_bow_" + name;
}

template <class E, class F>
std::string message_of(F fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

classify::LabelledData make_data(const std::vector<std::pair<std::string, std::string>>& rows) {
  classify::LabelledData d;
  for (const auto& [text, label] : rows) {
    d.texts.push_back(text);
    d.labels.push_back(label);
  }
  return d;
}

// Three topics, each text two words of its topic plus one shared filler word.
classify::LabelledData toy(int copies, int offset) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> topics = {
      {"animal", {"cat", "dog", "horse", "bird"}},
      {"food", {"bread", "apple", "cheese", "soup"}},
      {"tool", {"hammer", "saw", "drill", "wrench"}}};
  const std::vector<std::string> filler = {"the", "a", "some", "this"};
  classify::LabelledData d;
  for (int i = 0; i < copies; ++i)
    for (const auto& [label, words] : topics) {
      const size_t j = static_cast<size_t>(i + offset);
      d.texts.push_back(words[j % 4] + " " + filler[(j / 2) % 4] + " " + words[(j + 1) % 4]);
      d.labels.push_back(label);
    }
  return d;
}

TEST(BowTokens, LowerCasedLettersAndNumbersOnly) {
  EXPECT_EQ(bow_tokens("Hello, WORLD! It's 2024-11-21; x2"),
            (std::vector<std::string>{"hello", "world", "it", "s", "2024", "11", "21", "x2"}));
  // Non-ASCII letters stay in the word; punctuation, U+FFFD and invalid bytes separate.
  EXPECT_EQ(bow_tokens("Caf\xC3\xA9 \xE2\x80\x9Cquoted\xE2\x80\x9D a\xFF"
                       "b c\xEF\xBF\xBD"
                       "d"),
            (std::vector<std::string>{"caf\xC3\xA9", "quoted", "a", "b", "c", "d"}));
  EXPECT_TRUE(bow_tokens("  ...  ").empty());
  EXPECT_TRUE(bow_tokens("").empty());
}

TEST(BowFeatures, LogTfTimesIdfL2Normalized) {
  const BowClassifier m({"cat", "dog", "sat"}, {1.0f, 2.0f, 3.0f}, {"a", "b"}, zeros({2, 3}),
                        zeros({2}));
  // cat x2, dog x1, unknown words ignored: v = (log 3 * 1, log 2 * 2), then L2-normalized.
  const auto row = m.features("Cat cat DOG mouse");
  ASSERT_EQ(row.size(), 2u);
  const double a = std::log(3.0), b = 2 * std::log(2.0), n = std::sqrt(a * a + b * b);
  EXPECT_EQ(row[0].first, 0);
  EXPECT_NEAR(row[0].second, a / n, 1e-6);
  EXPECT_EQ(row[1].first, 1);
  EXPECT_NEAR(row[1].second, b / n, 1e-6);
  EXPECT_TRUE(m.features("nothing known").empty());
}

TEST(BowClassifier, ScoresAreLogProbabilitiesOfTheLinearModel) {
  // weight (K=2, V=2): label "x" reads token "up", "y" reads "down"; bias favours "y".
  BowClassifier m({"up", "down"}, {1.0f, 1.0f}, {"x", "y"},
                  from_vector(std::vector<float>{3, 0, 0, 3}, {2, 2}),
                  from_vector(std::vector<float>{0, 0.5f}));
  const auto s = m.scores({"up", "down", "unknown", "up down"});
  ASSERT_EQ(s.size(), 4u);
  const auto logp = [](double za, double zb) {
    const double l = std::log(std::exp(za) + std::exp(zb));
    return std::vector<double>{za - l, zb - l};
  };
  const double h = 3 / std::sqrt(2.0);
  const std::vector<std::vector<double>> want = {logp(3, 0.5), logp(0, 3.5), logp(0, 0.5),
                                                 logp(h, h + 0.5)};
  for (size_t i = 0; i < 4; ++i)
    for (size_t c = 0; c < 2; ++c) EXPECT_NEAR(s[i][c], want[i][c], 1e-5) << i << " " << c;
  EXPECT_EQ(classify::predict(m, {"up", "down", "unknown"}), (std::vector<int64_t>{0, 1, 1}));
  EXPECT_EQ(m.describe(), "bow-classifier: 2 labels, 2-token vocabulary, 6 parameters");
}

TEST(BowClassifier, LearnsASeparableToyTaskAndRoundTrips) {
  const classify::LabelledData train = toy(20, 0), valid = toy(4, 1);
  BowOptions opt;
  opt.min_count = 1;
  opt.epochs = 40;
  opt.patience = 40;
  opt.batch_size = 8;
  opt.lr = 0.05;
  std::vector<BowEpoch> history;
  const auto model = BowClassifier::train(train, valid, opt, nullptr, &history);
  EXPECT_EQ(model->labels(), (std::vector<std::string>{"animal", "food", "tool"}));
  EXPECT_EQ(model->vocab().size(), 16u);
  ASSERT_FALSE(history.empty());
  EXPECT_LT(history.back().train_loss, history.front().train_loss);
  EXPECT_DOUBLE_EQ(history.back().valid_accuracy, 1.0);
  const std::vector<std::string> unseen = {"a dog and a bird", "apple soup", "the saw"};
  EXPECT_EQ(classify::predict(*model, unseen), (std::vector<int64_t>{0, 1, 2}));

  const std::string path = temp_path("toy.safetensors");
  model->save(path, opt, history);
  const auto loaded = load_bow_classifier(path);
  EXPECT_EQ(loaded->vocab(), model->vocab());
  EXPECT_EQ(loaded->idf(), model->idf());
  EXPECT_EQ(loaded->labels(), model->labels());
  EXPECT_EQ(loaded->scores(unseen), model->scores(unseen));
  const auto any = classify::load_classifier(path, {});
  EXPECT_EQ(classify::predict(*any, unseen), (std::vector<int64_t>{0, 1, 2}));
  classify::LoadOptions prompt;
  prompt.prompt_template = "{text}";
  EXPECT_THROW(classify::load_classifier(path, prompt), ValueError);
}

TEST(BowClassifier, TrainingRejectsBadDataAndOptions) {
  const classify::LabelledData train = toy(2, 0), valid = toy(1, 0);
  BowOptions opt;
  opt.min_count = 1;
  EXPECT_THROW(BowClassifier::train({}, valid, opt, nullptr), ValueError);
  EXPECT_THROW(BowClassifier::train(train, {}, opt, nullptr), ValueError);
  EXPECT_NE(message_of<ValueError>([&]() {
              BowClassifier::train(make_data({{"a b", "x"}, {"b c", "x"}}), valid, opt, nullptr);
            }).find("two labels or more"),
            std::string::npos);
  EXPECT_NE(message_of<ValueError>([&]() {
              BowClassifier::train(train, make_data({{"cat", "plant"}}), opt, nullptr);
            }).find("unknown label 'plant'"),
            std::string::npos);
  BowOptions high = opt;
  high.min_count = 1000;
  EXPECT_NE(message_of<ValueError>([&]() {
              BowClassifier::train(train, valid, high, nullptr);
            }).find("min_count"),
            std::string::npos);
  for (auto set :
       {+[](BowOptions& o) { o.lr = 0; }, +[](BowOptions& o) { o.epochs = 0; },
        +[](BowOptions& o) { o.weight_decay = -1; }, +[](BowOptions& o) { o.max_vocab = 0; },
        +[](BowOptions& o) { o.batch_size = 0; }}) {
    BowOptions bad = opt;
    set(bad);
    EXPECT_THROW(BowClassifier::train(train, valid, bad, nullptr), ValueError);
  }
}

TEST(BowClassifier, ConstructorChecksShapes) {
  EXPECT_THROW(BowClassifier({"a"}, {1.0f}, {"x", "y"}, zeros({2, 2}), zeros({2})), ShapeError);
  EXPECT_THROW(BowClassifier({"a"}, {1.0f}, {"x", "y"}, zeros({2, 1}), zeros({3})), ShapeError);
  EXPECT_THROW(BowClassifier({"a", "b"}, {1.0f}, {"x"}, zeros({1, 2}), zeros({1})), ShapeError);
  EXPECT_THROW(BowClassifier({"a", "a"}, {1.0f, 1.0f}, {"x"}, zeros({1, 2}), zeros({1})),
               ValueError);
  EXPECT_THROW(BowClassifier({"a"}, {1.0f}, {"y", "x"}, zeros({2, 1}), zeros({2})), ValueError);
  EXPECT_THROW(BowClassifier({"a"}, {-1.0f}, {"x"}, zeros({1, 1}), zeros({1})), ValueError);
  EXPECT_THROW(BowClassifier({}, {}, {"x"}, zeros({1, 0}), zeros({1})), ValueError);
}

TEST(BowClassifier, LoadingRejectsOtherAndDamagedCheckpoints) {
  const BowClassifier m({"a", "b"}, {1.0f, 2.0f}, {"x", "y"}, zeros({2, 2}), zeros({2}));
  const std::string good = temp_path("good.safetensors");
  m.save(good, BowOptions{}, {});
  train::Checkpoint ck = train::load_checkpoint(good);

  const std::string gpt = temp_path("gpt.safetensors");
  train::Checkpoint other = ck;
  other.meta["model_type"] = "gpt";
  train::save_checkpoint(gpt, other);
  EXPECT_NE(message_of<FormatError>([&]() { load_bow_classifier(gpt); }).find("'gpt'"),
            std::string::npos);
  // A GPT is a classifier only by prompting: without a template and labels it is refused.
  EXPECT_NE(message_of<ValueError>([&]() {
              classify::load_classifier(gpt, {});
            }).find("a GPT classifies by prompting"),
            std::string::npos);
  train::Checkpoint pre = ck;
  pre.meta["model_type"] = "bert-pretraining";
  const std::string pretraining = temp_path("bert_pretraining.safetensors");
  train::save_checkpoint(pretraining, pre);
  EXPECT_NE(message_of<FormatError>([&]() {
              classify::load_classifier(pretraining, {});
            }).find("model type 'bert-pretraining' is not a text classifier"),
            std::string::npos);

  const std::string short_idf = temp_path("short_idf.safetensors");
  train::Checkpoint bad = ck;
  bad.meta["idf"] = {1.0};
  train::save_checkpoint(short_idf, bad);
  EXPECT_NE(message_of<FormatError>([&]() { load_bow_classifier(short_idf); }).find("idf"),
            std::string::npos);

  const std::string wrong_type = temp_path("wrong_type.safetensors");
  bad = ck;
  bad.meta["vocab"] = "a b";
  train::save_checkpoint(wrong_type, bad);
  EXPECT_THROW(load_bow_classifier(wrong_type), FormatError);

  const std::string extra = temp_path("extra.safetensors");
  bad = ck;
  bad.model.emplace_back("classifier.weight", zeros({1}));
  train::save_checkpoint(extra, bad);
  EXPECT_NE(message_of<FormatError>([&]() { load_bow_classifier(extra); }).find("classifier"),
            std::string::npos);

  const std::string plain = temp_path("plain.safetensors");
  io::save_safetensors(plain, {{"weight", zeros({2})}});
  EXPECT_THROW(classify::load_classifier(plain, {}), FormatError);
  EXPECT_THROW(classify::load_classifier(temp_path("missing.safetensors"), {}), IoError);
}

}  // namespace
}  // namespace cf::models
