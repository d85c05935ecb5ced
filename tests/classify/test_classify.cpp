// TSV reading, label indices, metrics (hand-computed cases) and predict().
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "cformer/classify.h"
#include "cformer/error.h"

namespace cf::classify {
namespace {

std::string fixture(const std::string& name) {
  return std::string(CFORMER_SOURCE_DIR) + "/tests/data/classify/" + name;
}

std::string temp_file(const std::string& name, const std::string& bytes) {
  const std::string path = ::testing::TempDir() + "cformer_classify_" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// The message of the exception fn throws as E ("" when it throws nothing).
template <class E, class F>
std::string message_of(F fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

TEST(ReadTsv, ReadsTextsLabelsLinesAndCountsEmptyLines) {
  const LabelledData d = read_tsv(fixture("small.tsv"));
  EXPECT_EQ(d.texts, (std::vector<std::string>{"a good film", "terrible, boring", "fine acting"}));
  EXPECT_EQ(d.labels, (std::vector<std::string>{"pos", "neg", "pos"}));
  EXPECT_EQ(d.lines, (std::vector<int64_t>{1, 3, 4}));
  EXPECT_EQ(d.empty_lines, 1);
  EXPECT_EQ(label_set(d), (std::vector<std::string>{"neg", "pos"}));
}

TEST(ReadTsv, CrlfInvalidUtf8AndNoFinalNewline) {
  const std::string bad = "caf\xC3 \xFF\xFE bytes";
  const LabelledData d = read_tsv(temp_file("crlf.tsv", "one\tx\r\n\r\n" + bad + "\ty\r\nlast\tx"));
  EXPECT_EQ(d.texts, (std::vector<std::string>{"one", bad, "last"}));
  EXPECT_EQ(d.labels, (std::vector<std::string>{"x", "y", "x"}));
  EXPECT_EQ(d.lines, (std::vector<int64_t>{1, 3, 4}));
  EXPECT_EQ(d.empty_lines, 1);
}

TEST(ReadTsv, EmptyFileHasNoExamples) {
  const LabelledData d = read_tsv(fixture("empty.tsv"));
  EXPECT_TRUE(d.texts.empty());
  EXPECT_EQ(d.empty_lines, 0);
  EXPECT_TRUE(label_set(d).empty());
}

TEST(ReadTsv, MalformedLinesNameTheFileAndLine) {
  EXPECT_NE(message_of<FormatError>([]() {
              read_tsv(fixture("no_tab.tsv"));
            }).find("no_tab.tsv:2: expected 'text<TAB>label', found no tab"),
            std::string::npos);
  EXPECT_NE(message_of<FormatError>([]() {
              read_tsv(fixture("empty_text.tsv"));
            }).find("empty_text.tsv:2: empty text"),
            std::string::npos);
  EXPECT_NE(message_of<FormatError>([]() {
              read_tsv(fixture("empty_label.tsv"));
            }).find("empty_label.tsv:3: empty label"),
            std::string::npos);
  EXPECT_NE(message_of<FormatError>([]() {
              read_tsv(fixture("two_tabs.tsv"));
            }).find("two_tabs.tsv:1: expected 'text<TAB>label', found more than one tab"),
            std::string::npos);
  EXPECT_NE(message_of<IoError>([]() { read_tsv(fixture("missing.tsv")); }).find("missing.tsv"),
            std::string::npos);
}

TEST(LabelIndices, MapsAndNamesUnknownLabels) {
  const LabelledData train = read_tsv(fixture("small.tsv"));
  const std::vector<std::string> set = label_set(train);
  EXPECT_EQ(label_indices(train, set, "small.tsv"), (std::vector<int64_t>{1, 0, 1}));
  const LabelledData test = read_tsv(fixture("unknown_label.tsv"));
  const std::string msg =
      message_of<ValueError>([&]() { label_indices(test, set, "unknown_label.tsv"); });
  EXPECT_NE(msg.find("unknown_label.tsv:2: unknown label 'meh'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("neg, pos"), std::string::npos) << msg;
  LabelledData built;  // made in code: no line numbers, the example is named by position
  built.texts = {"t"};
  built.labels = {"other"};
  EXPECT_NE(message_of<ValueError>([&]() {
              label_indices(built, set, "mem");
            }).find("mem: example 1: unknown label 'other'"),
            std::string::npos);
  EXPECT_EQ(label_indices(train, {"pos", "neg"}, "x"), (std::vector<int64_t>{0, 1, 0}));
  EXPECT_THROW(label_indices(train, {"pos", "neg", "pos"}, "x"), ValueError);  // not distinct
}

TEST(Metrics, HandComputedThreeClasses) {
  // confusion [gold][pred]: 0: {2,1,0}, 1: {0,1,1}, 2: {0,0,1}; class 3 occurs nowhere.
  const Metrics m = compute_metrics({0, 0, 0, 1, 1, 2}, {0, 0, 1, 1, 2, 2}, 4);
  EXPECT_EQ(m.n, 6);
  EXPECT_DOUBLE_EQ(m.accuracy, 4.0 / 6.0);
  EXPECT_EQ(m.confusion, (std::vector<std::vector<int64_t>>{
                             {2, 1, 0, 0}, {0, 1, 1, 0}, {0, 0, 1, 0}, {0, 0, 0, 0}}));
  EXPECT_DOUBLE_EQ(m.precision[0], 1.0);
  EXPECT_DOUBLE_EQ(m.recall[0], 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.f1[0], 0.8);
  EXPECT_DOUBLE_EQ(m.precision[1], 0.5);
  EXPECT_DOUBLE_EQ(m.recall[1], 0.5);
  EXPECT_DOUBLE_EQ(m.f1[1], 0.5);
  EXPECT_DOUBLE_EQ(m.precision[2], 0.5);
  EXPECT_DOUBLE_EQ(m.recall[2], 1.0);
  EXPECT_NEAR(m.f1[2], 2.0 / 3.0, 1e-15);
  EXPECT_EQ(m.support, (std::vector<int64_t>{3, 2, 1, 0}));
  EXPECT_DOUBLE_EQ(m.f1[3], 0.0);
  // Class 3 (no gold, never predicted) is left out of the mean.
  EXPECT_NEAR(m.macro_f1, (0.8 + 0.5 + 2.0 / 3.0) / 3.0, 1e-15);
}

TEST(Metrics, NeverPredictedAndNeverGoldClassesCountAsZero) {
  const Metrics a = compute_metrics({0, 1}, {0, 0}, 2);  // class 1 has gold, never predicted
  EXPECT_DOUBLE_EQ(a.accuracy, 0.5);
  EXPECT_NEAR(a.f1[0], 2.0 / 3.0, 1e-15);
  EXPECT_DOUBLE_EQ(a.f1[1], 0.0);
  EXPECT_NEAR(a.macro_f1, 1.0 / 3.0, 1e-15);
  const Metrics b = compute_metrics({0, 0}, {0, 1}, 2);  // class 1 predicted, never gold
  EXPECT_DOUBLE_EQ(b.precision[1], 0.0);
  EXPECT_DOUBLE_EQ(b.recall[1], 0.0);
  EXPECT_NEAR(b.macro_f1, 1.0 / 3.0, 1e-15);
  const Metrics c = compute_metrics({1, 1, 1}, {1, 1, 1}, 3);
  EXPECT_DOUBLE_EQ(c.accuracy, 1.0);
  EXPECT_DOUBLE_EQ(c.macro_f1, 1.0);
}

TEST(Metrics, RejectsBadInput) {
  EXPECT_THROW(compute_metrics({0, 1}, {0}, 2), ValueError);
  EXPECT_THROW(compute_metrics({}, {}, 2), ValueError);
  EXPECT_THROW(compute_metrics({0, 2}, {0, 1}, 2), ValueError);
  EXPECT_THROW(compute_metrics({0, 1}, {0, -1}, 2), ValueError);
  EXPECT_THROW(compute_metrics({0}, {0}, 0), ValueError);
  const Metrics m = compute_metrics({0}, {0}, 2);
  EXPECT_THROW(format_metrics(m, {"a", "b", "c"}), ValueError);
}

TEST(Metrics, FormatShowsEveryNumberAndTheConfusionMatrix) {
  const Metrics m = compute_metrics({0, 0, 0, 1, 1, 2}, {0, 0, 1, 1, 2, 2}, 3);
  const std::string s = format_metrics(m, {"alpha", "beta", "gamma"});
  EXPECT_NE(s.find("examples  6\n"), std::string::npos) << s;
  EXPECT_NE(s.find("accuracy  0.6667\n"), std::string::npos) << s;
  EXPECT_NE(s.find("macro-F1  0.6556\n"), std::string::npos) << s;
  EXPECT_NE(s.find("0    alpha    1.0000    0.6667    0.8000         3\n"), std::string::npos) << s;
  EXPECT_NE(s.find("2    gamma    0.5000    1.0000    0.6667         1\n"), std::string::npos) << s;
  EXPECT_NE(s.find("     0 1 2\n0    2 1 0\n1    0 1 1\n2    0 0 1\n"), std::string::npos) << s;
}

// Scores fixed per text: "a" -> label 0, "b" -> label 1, "tie" -> both equal.
class FixedClassifier : public TextClassifier {
 public:
  explicit FixedClassifier(size_t width) : width_(width) {}
  const std::vector<std::string>& labels() const override { return labels_; }
  std::vector<std::vector<double>> scores(const std::vector<std::string>& texts) override {
    std::vector<std::vector<double>> out;
    for (const std::string& t : texts) {
      std::vector<double> s(width_, -1.0);
      if (t == "a") s[0] = 0.0;
      if (t == "b") s[1] = 0.0;
      out.push_back(s);
    }
    return out;
  }
  std::string describe() const override { return "fixed"; }

 private:
  size_t width_;
  std::vector<std::string> labels_ = {"x", "y"};
};

TEST(Predict, ArgMaxFirstOnTiesAndChecksShapes) {
  FixedClassifier good(2);
  EXPECT_EQ(predict(good, {"a", "b", "tie"}), (std::vector<int64_t>{0, 1, 0}));
  EXPECT_TRUE(predict(good, {}).empty());
  FixedClassifier wrong(3);
  EXPECT_NE(message_of<ValueError>([&]() { predict(wrong, {"a"}); }).find("fixed"),
            std::string::npos);
}

}  // namespace
}  // namespace cf::classify
