// cformer classify: the label and its probability for each line of a file or of stdin.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

#include "cformer/classify.h"
#include "cformer/io.h"
#include "cli/commands.h"
#include "cli/prompt_options.h"
#include "util/check.h"

namespace cf::cli {

void add_classify(CLI::App& app, Commands& cmds) {
  CLI::App* sub = app.add_subcommand(
      "classify", "Classify texts, one a line; prints line number, label and probability");
  struct Opts {
    std::string model, input;
    classify::LoadOptions load;
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("--model", o->model, "Classifier checkpoint")->required();
  sub->add_option("--input", o->input, "Text file, one text a line (default: stdin)");
  add_prompt_options(*sub, o->load);
  cmds.entries.emplace_back(sub, [o]() {
    const std::unique_ptr<classify::TextClassifier> model =
        load_prompted_classifier(o->model, o->load);
    std::string all;
    if (o->input.empty()) {
      all.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      const std::vector<uint8_t> bytes = io::read_file(o->input);
      all.assign(bytes.begin(), bytes.end());
    }
    const std::string source = o->input.empty() ? "stdin" : o->input;
    std::vector<std::string> texts;
    std::vector<int64_t> lines;
    int64_t line_no = 0;
    for (size_t pos = 0; pos < all.size();) {
      size_t end = all.find('\n', pos);
      if (end == std::string::npos) end = all.size();
      std::string line = all.substr(pos, end - pos);
      pos = end + 1;
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) {
        std::cerr << source << ":" << line_no << ": empty line skipped\n";
        continue;
      }
      texts.push_back(std::move(line));
      lines.push_back(line_no);
    }
    CF_CHECK(!texts.empty(), ValueError, "classify: ", source, " has no text to classify");
    std::cerr << model->describe() << "\n";
    const std::vector<std::string>& labels = model->labels();
    constexpr size_t kChunk = 512;
    for (size_t begin = 0; begin < texts.size(); begin += kChunk) {
      const std::vector<std::string> chunk(
          texts.begin() + static_cast<std::ptrdiff_t>(begin),
          texts.begin() + static_cast<std::ptrdiff_t>(std::min(texts.size(), begin + kChunk)));
      const std::vector<std::vector<double>> scores = model->scores(chunk);
      const std::vector<int64_t> best = classify::predict_from_scores(scores, labels.size());
      for (size_t i = 0; i < chunk.size(); ++i) {
        const size_t b = static_cast<size_t>(best[i]);
        std::printf("%lld\t%s\t%.4f\n", static_cast<long long>(lines[begin + i]), labels[b].c_str(),
                    std::exp(scores[i][b]));
      }
    }
    return 0;
  });
}

}  // namespace cf::cli
