#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "cformer/cformer.h"
#include "cformer/data.h"
#include "cformer/models/gpt_prompt.h"
#include "train/checkpoint.h"

namespace cf::models {
namespace {

const char* kCorpus =
    "\nIn the beginning God created the heaven and the earth: yes, no. 0123456789";

struct Fixture {
  std::shared_ptr<data::CharTokenizer> tok =
      std::make_shared<data::CharTokenizer>(data::CharTokenizer::build(kCorpus));
  std::shared_ptr<Gpt> model;
  explicit Fixture(int64_t block_size = 48) {
    model = std::make_shared<Gpt>(GptConfig{2, 2, 32, block_size, tok->vocab_size(), 0.0, true, {}}, 7);
  }
  GptPromptClassifier::Encoder encoder() const {
    return [t = tok](std::string_view s) { return t->encode(s); };
  }
  GptPromptClassifier make(const std::string& tmpl, std::vector<std::string> labels,
                           GptPromptOptions o = {}) const {
    return GptPromptClassifier(model, encoder(), tmpl, std::move(labels), o);
  }
};

std::string fill(std::string s, const std::string& key, const std::string& value) {
  const size_t p = s.find(key);
  return p == std::string::npos ? s : s.replace(p, key.size(), value);
}

// The oracle: one unbatched forward of the whole sequence, log_softmax, summed from `first` on.
double direct_log_prob(Gpt& model, const std::vector<int64_t>& tokens, size_t first) {
  NoGradGuard ng;
  model.eval();
  const int64_t n = static_cast<int64_t>(tokens.size()), V = model.config().vocab_size;
  std::vector<int64_t> in(tokens.begin(), tokens.end() - 1);
  const std::vector<double> lp =
      log_softmax(model.forward(from_vector(in, Shape{1, n - 1})).to(DType::f64), 2)
          .to_vector<double>();
  double sum = 0.0;
  for (size_t t = first; t < tokens.size(); ++t)
    sum += lp[(t - 1) * static_cast<size_t>(V) + static_cast<size_t>(tokens[t])];
  return sum;
}

const std::vector<std::string> kTexts = {"God created the heaven", "no", "",
                                         "the earth and the heaven"};

TEST(GptPrompt, LabelAfterPromptScoresLogProbOfTheLabel) {
  Fixture f;
  const std::string tmpl = "{text}\nanswer:";
  auto clf = f.make(tmpl, {" yes", " no", " the earth"});
  const auto scores = clf.scores(kTexts);
  ASSERT_EQ(scores.size(), kTexts.size());
  for (size_t i = 0; i < kTexts.size(); ++i) {
    for (size_t j = 0; j < clf.labels().size(); ++j) {
      const std::string prompt = fill(tmpl, "{text}", kTexts[i]);
      const auto tokens = f.tok->encode(prompt + clf.labels()[j]);
      const double want = direct_log_prob(*f.model, tokens, f.tok->encode(prompt).size());
      EXPECT_NEAR(scores[i][j], want, 1e-4 * (1 + std::fabs(want)))
          << "text " << i << " label " << j;
    }
  }
}

TEST(GptPrompt, LabelInTemplateScoresFromTheLabelOnAndRanksLikeTheWholeString) {
  Fixture f;
  for (const std::string tmpl : {"\n{label}: {text}.", "In {text} the {label}!\n"}) {
    auto clf = f.make(tmpl, {"yes", "no", "heaven"});
    const auto scores = clf.scores(kTexts);
    for (size_t i = 0; i < kTexts.size(); ++i) {
      std::vector<double> whole;
      for (size_t j = 0; j < 3; ++j) {
        const std::string filled =
            fill(fill(tmpl, "{text}", kTexts[i]), "{label}", clf.labels()[j]);
        const std::string before = fill(tmpl.substr(0, tmpl.find("{label}")), "{text}", kTexts[i]);
        const auto tokens = f.tok->encode(filled);
        const double want = direct_log_prob(*f.model, tokens, f.tok->encode(before).size());
        EXPECT_NEAR(scores[i][j], want, 1e-4 * (1 + std::fabs(want))) << tmpl << " text " << i;
        whole.push_back(direct_log_prob(*f.model, tokens, 1));
      }
      // The part before the label is common to all labels: differences are those of the whole
      // string.
      for (size_t j = 1; j < 3; ++j)
        EXPECT_NEAR(scores[i][j] - scores[i][0], whole[j] - whole[0],
                    1e-4 * (1 + std::fabs(whole[0])));
    }
  }
}

TEST(GptPrompt, SequenceEqualsTheTokenizedFilledTemplate) {
  Fixture f;
  auto clf = f.make("Q {text}\nA {label}.", {"yes", "no"});
  const auto s = clf.sequence("the earth", 1);
  EXPECT_EQ(s.tokens, f.tok->encode("Q the earth\nA no."));
  EXPECT_EQ(s.first, static_cast<int64_t>(f.tok->encode("Q the earth\nA ").size()));
  EXPECT_THROW(clf.sequence("x", 2), IndexError);
}

TEST(GptPrompt, NormalizationAndCalibration) {
  Fixture f;
  const std::string tmpl = "{text} =>";
  const std::vector<std::string> labels = {" yes", " the heaven"};
  auto plain = f.make(tmpl, labels);
  GptPromptOptions o;
  o.length_normalize = true;
  auto norm = f.make(tmpl, labels, o);
  o.length_normalize = false;
  o.calibrate = true;
  auto cal = f.make(tmpl, labels, o);
  const auto p = plain.scores(kTexts), n = norm.scores(kTexts), c = cal.scores(kTexts);
  const auto empty = plain.scores({""})[0];
  for (size_t i = 0; i < kTexts.size(); ++i)
    for (size_t j = 0; j < labels.size(); ++j) {
      const double len = static_cast<double>(f.tok->encode(labels[j]).size());
      EXPECT_NEAR(n[i][j], p[i][j] / len, 1e-9);
      EXPECT_NEAR(c[i][j], p[i][j] - empty[j], 1e-4);
    }
  EXPECT_NEAR(c[2][0], 0.0, 1e-4);  // the empty text itself calibrates to 0
  EXPECT_NE(norm.describe().find("per token"), std::string::npos);
  EXPECT_NE(cal.describe().find("calibrated"), std::string::npos);
}

TEST(GptPrompt, ScoresDoNotDependOnTheBatchSize) {
  Fixture f;
  std::vector<std::string> texts;
  for (int i = 0; i < 11; ++i)
    texts.push_back(std::string(static_cast<size_t>(i * 3), 'e') + "arth");
  GptPromptOptions o;
  o.batch_size = 1;
  const auto one = f.make("\n{label} {text}", {"no", "yes", "God"}, o).scores(texts);
  for (int64_t b : {2, 5, 64}) {
    o.batch_size = b;
    const auto many = f.make("\n{label} {text}", {"no", "yes", "God"}, o).scores(texts);
    for (size_t i = 0; i < texts.size(); ++i)
      for (size_t j = 0; j < 3; ++j) EXPECT_NEAR(many[i][j], one[i][j], 1e-4) << "batch " << b;
  }
}

TEST(GptPrompt, LongTextsLoseTheirStartBeforeTheLabelAndTheirEndAfterIt) {
  Fixture f(16);  // block_size 16: at most 17 tokens per sequence
  const std::string text = "In the beginning God created the heaven and the earth";
  // Text before the label: "Q" + text + ":" + label (2 tokens) keeps the last 17 - 4 text tokens.
  auto before = f.make("Q{text}:", {"no", "ye"});
  const auto s = before.sequence(text, 0);
  EXPECT_EQ(s.tokens.size(), 17u);
  EXPECT_EQ(s.tokens, f.tok->encode("Q" + text.substr(text.size() - 13) + ":no"));
  const auto long_scores = before.scores({text});
  const auto cut_scores = before.scores({text.substr(text.size() - 13)});
  EXPECT_EQ(long_scores, cut_scores);
  EXPECT_NEAR(long_scores[0][0], direct_log_prob(*f.model, s.tokens, 15), 1e-4);
  // Label before the text: "\n" + label + " " + text keeps the first 17 - 4 text tokens.
  auto after = f.make("\n{label} {text}", {"no", "ye"});
  const auto a = after.sequence(text, 1);
  EXPECT_EQ(a.tokens, f.tok->encode("\nye " + text.substr(0, 13)));
  EXPECT_EQ(after.scores({text}), after.scores({text.substr(0, 13)}));
  EXPECT_NEAR(after.scores({text})[0][1], direct_log_prob(*f.model, a.tokens, 1), 1e-4);
  // max_length 16 on a model with block_size 48 cuts the same tokens; 0 or more than block_size
  // means block_size.
  Fixture wide(48);
  GptPromptOptions o;
  o.max_length = 16;
  EXPECT_EQ(wide.make("Q{text}:", {"no", "ye"}, o).sequence(text, 0).tokens, s.tokens);
  EXPECT_EQ(wide.make("\n{label} {text}", {"no", "ye"}, o).sequence(text, 1).tokens, a.tokens);
  o.max_length = 1000;
  EXPECT_EQ(f.make("Q{text}:", {"no", "ye"}, o).sequence(text, 0).tokens, s.tokens);
  EXPECT_EQ(wide.make("Q{text}:", {"no", "ye"}).sequence(text, 0).tokens,
            f.tok->encode("Q" + text.substr(text.size() - 45) + ":no"));  // 49 - 4 text tokens
}

TEST(GptPrompt, ErrorsNameTheProblem) {
  Fixture f(16);
  auto expect_value_error = [&f](const std::string& tmpl, std::vector<std::string> labels,
                                 const std::string& want, GptPromptOptions o = {}) {
    try {
      f.make(tmpl, std::move(labels), o);
      ADD_FAILURE() << "no error for template \"" << tmpl << "\"";
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("prompt classifier"), std::string::npos) << e.what();
    }
  };
  expect_value_error("no placeholder", {"a", "b"}, "{text} exactly once");
  expect_value_error("{text} and {text}:", {"a", "b"}, "{text} exactly once");
  expect_value_error("\n{label} {text} {label}", {"a", "b"}, "{label} at most once");
  expect_value_error("{text}:", {"a"}, "at least 2 labels");
  expect_value_error("{text}:", {"a", ""}, "label 2 is empty");
  expect_value_error("{text}:", {"a", "b", "a"}, "'a' is given twice");
  expect_value_error("{label} {text}", {"a", "b"}, "nothing before");
  expect_value_error("{text}{label}", {"a", "b"}, "nothing before");
  expect_value_error("{text}", {"a", "b"}, "nothing before");
  expect_value_error("{text} the heaven and the earth", {"a", "b"},
                     "more than the context + 1 = 17");
  GptPromptOptions o;
  o.batch_size = 0;
  expect_value_error("{text}:", {"a", "b"}, "batch_size", o);
  o.batch_size = 1;
  o.max_length = -1;
  expect_value_error("{text}:", {"a", "b"}, "max_length", o);
}

TEST(GptPrompt, LoadsACheckpointAndRejectsOtherModels) {
  Fixture f;
  const std::string dir = testing::TempDir() + "/gpt_prompt_test";
  std::filesystem::create_directories(dir);
  train::Checkpoint ck;
  ck.model = f.model->state_dict();
  ck.meta = {{"model_type", "gpt"},
             {"config", nlohmann::json::parse(f.model->config().to_json())},
             {"tokenizer", f.tok->to_json()}};
  train::save_checkpoint(dir + "/gpt.safetensors", ck);
  auto loaded = load_gpt_prompt_classifier(dir + "/gpt.safetensors", "{text}\n", {"yes", "no"});
  const auto want = f.make("{text}\n", {"yes", "no"}).scores(kTexts);
  const auto got = loaded->scores(kTexts);
  for (size_t i = 0; i < kTexts.size(); ++i)
    for (size_t j = 0; j < 2; ++j) EXPECT_NEAR(got[i][j], want[i][j], 1e-6);
  EXPECT_EQ(loaded->labels(), (std::vector<std::string>{"yes", "no"}));
  EXPECT_NE(loaded->describe().find("2 layers x 32"), std::string::npos);

  ck.meta["model_type"] = "bow";
  train::save_checkpoint(dir + "/bow.safetensors", ck);
  try {
    load_gpt_prompt_classifier(dir + "/bow.safetensors", "{text}\n", {"yes", "no"});
    ADD_FAILURE() << "a non-GPT checkpoint was accepted";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("not a GPT"), std::string::npos) << e.what();
  }
  std::ofstream(dir + "/garbage.safetensors") << "not a checkpoint";
  EXPECT_THROW(load_gpt_prompt_classifier(dir + "/garbage.safetensors", "{text}\n", {"a", "b"}),
               Error);
  EXPECT_THROW(load_gpt_prompt_classifier(dir + "/missing.safetensors", "{text}\n", {"a", "b"}),
               Error);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cf::models
