// `cformer prompt-classify`: zero-shot classification with a GPT checkpoint and a prompt
// template. With --data (TSV "text<TAB>label") it prints the accuracy, the chance level and the
// exact one-sided binomial p-value of beating it; with --input it prints one label per line.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cformer/models/gpt_prompt.h"
#include "cli/commands.h"
#include "util/check.h"

namespace cf::cli {
namespace {

// \n, \t and \\ in a template given on the command line.

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == ',')
      out.emplace_back();
    else
      out.back() += c;
  }
  return out;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  CF_CHECK(f.good(), IoError, "prompt-classify: cannot open ", path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(f, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

// P(X >= k) for X ~ Binomial(n, p), summed in log space.
double binomial_upper_tail(int64_t k, int64_t n, double p) {
  if (k <= 0) return 1.0;
  if (p <= 0.0) return 0.0;
  if (p >= 1.0) return 1.0;
  double m = -INFINITY;
  std::vector<double> terms;
  for (int64_t i = k; i <= n; ++i) {
    const double di = static_cast<double>(i), dn = static_cast<double>(n);
    terms.push_back(std::lgamma(dn + 1) - std::lgamma(di + 1) - std::lgamma(dn - di + 1) +
                    di * std::log(p) + (dn - di) * std::log1p(-p));
    m = std::max(m, terms.back());
  }
  double s = 0.0;
  for (double t : terms) s += std::exp(t - m);
  return std::min(1.0, std::exp(m) * s);
}

struct Opts {
  std::string model, prompt_template, labels, data, input;
  models::GptPromptOptions o;
  bool show_scores = false;
};

int run(const Opts& o) {
  const auto t0 = std::chrono::steady_clock::now();
  auto clf = models::load_gpt_prompt_classifier(o.model, unescape_template(o.prompt_template),
                                                split_commas(o.labels), o.o);
  const std::vector<std::string>& labels = clf->labels();
  const size_t K = labels.size();
  std::vector<std::string> texts;
  std::vector<size_t> gold;
  const std::vector<std::string> lines = read_lines(o.data.empty() ? o.input : o.data);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (o.data.empty()) {
      texts.push_back(lines[i]);
      continue;
    }
    if (lines[i].empty()) continue;
    const size_t tab = lines[i].rfind('\t');
    CF_CHECK(tab != std::string::npos && tab > 0 && tab + 1 < lines[i].size(), FormatError, o.data,
             ":", i + 1, ": expected \"text<TAB>label\" with a non-empty text and label");
    const std::string label = lines[i].substr(tab + 1);
    size_t j = 0;
    while (j < K && labels[j] != label) ++j;
    CF_CHECK(j < K, ValueError, o.data, ":", i + 1, ": label '", label, "' is not one of --labels ",
             o.labels);
    texts.push_back(lines[i].substr(0, tab));
    gold.push_back(j);
  }
  CF_CHECK(!texts.empty(), ValueError, "prompt-classify: ", o.data.empty() ? o.input : o.data,
           " holds no text");
  const std::vector<std::vector<double>> scores = clf->scores(texts);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<size_t> pred(texts.size());
  for (size_t i = 0; i < texts.size(); ++i)
    pred[i] = static_cast<size_t>(std::max_element(scores[i].begin(), scores[i].end()) -
                                  scores[i].begin());

  if (o.data.empty()) {
    for (size_t i = 0; i < texts.size(); ++i) {
      std::cout << labels[pred[i]];
      if (o.show_scores)
        for (double s : scores[i]) std::cout << '\t' << s;
      std::cout << '\n';
    }
    std::fprintf(stderr, "prompt-classify: %zu texts in %.1f s\n", texts.size(), seconds);
    return 0;
  }
  const int64_t n = static_cast<int64_t>(texts.size());
  std::vector<std::vector<int64_t>> confusion(K, std::vector<int64_t>(K, 0));
  int64_t correct = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    ++confusion[gold[i]][pred[i]];
    correct += gold[i] == pred[i];
  }
  int64_t majority = 0;
  for (size_t g = 0; g < K; ++g) {
    int64_t c = 0;
    for (int64_t v : confusion[g]) c += v;
    majority = std::max(majority, c);
  }
  // The null hypothesis is the better of uniform guessing and always answering the most
  // frequent gold label.
  const double chance = std::max(1.0 / static_cast<double>(K), static_cast<double>(majority) / n);
  std::cout << clf->describe() << "\n";
  std::printf(
      "examples %lld, correct %lld, accuracy %.4f, chance %.4f, p-value %.3g "
      "(one-sided exact binomial test of accuracy > chance), %.1f s\n",
      static_cast<long long>(n), static_cast<long long>(correct),
      static_cast<double>(correct) / static_cast<double>(n), chance,
      binomial_upper_tail(correct, n, chance), seconds);
  std::printf("confusion (rows gold, columns predicted):\n%12s", "");
  for (const std::string& l : labels) std::printf(" %8.8s", l.c_str());
  std::printf("\n");
  for (size_t g = 0; g < K; ++g) {
    std::printf("%12.12s", labels[g].c_str());
    for (int64_t v : confusion[g]) std::printf(" %8lld", static_cast<long long>(v));
    std::printf("\n");
  }
  return 0;
}

}  // namespace

void add_prompt_classify(CLI::App& app, Commands& cmds) {
  CLI::App* sub = app.add_subcommand(
      "prompt-classify",
      "Zero-shot classification by prompting a GPT checkpoint (docs/prompting.md)");
  auto o = std::make_shared<Opts>();
  sub->add_option("--model", o->model, "checkpoint.safetensors of cformer train gpt")->required();
  sub->add_option("--prompt-template", o->prompt_template,
                  "Template with {text} and optionally {label}; \\n and \\t are newline and tab")
      ->required();
  sub->add_option("--labels", o->labels, "Comma-separated candidate labels")->required();
  CLI::Option* data =
      sub->add_option("--data", o->data, "TSV \"text<TAB>label\": print the accuracy");
  CLI::Option* input =
      sub->add_option("--input", o->input, "One text a line: print a label a line");
  data->excludes(input);
  input->excludes(data);
  sub->add_flag("--normalize", o->o.length_normalize, "Mean log-probability per scored token");
  sub->add_flag("--calibrate", o->o.calibrate, "Subtract each label's score for the empty text");
  sub->add_option("--batch", o->o.batch_size, "Sequences per forward pass")
      ->capture_default_str()
      ->check(cf::cli::positive());
  sub->add_flag("--scores", o->show_scores, "With --input: the label scores after each label");
  cmds.entries.emplace_back(sub, [o]() {
    CF_CHECK(!o->data.empty() || !o->input.empty(), ValueError,
             "prompt-classify: give --data TSV or --input FILE");
    return run(*o);
  });
}

}  // namespace cf::cli
