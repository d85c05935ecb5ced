// cformer bleu --ref FILE [--ref FILE ...] --hyp FILE: corpus BLEU and chrF of a hypothesis file
// against one or more reference files (one segment a line), as sacreBLEU prints them.
#include <iostream>
#include <memory>

#include "cformer/io.h"
#include "cformer/metrics/translation.h"
#include "cli/commands.h"
#include "util/check.h"

namespace cf::cli {
namespace {

std::vector<std::string> read_lines(const std::string& path) {
  const std::vector<uint8_t> bytes = io::read_file(path);
  std::vector<std::string> lines;
  std::string line;
  for (uint8_t b : bytes) {
    if (b == '\n') {
      lines.push_back(std::move(line));
      line.clear();
    } else {
      line += static_cast<char>(b);
    }
  }
  if (!line.empty()) lines.push_back(std::move(line));  // a last line without '\n'
  return lines;
}

}  // namespace

void add_bleu(CLI::App& app, Commands& cmds) {
  struct Opts {
    std::vector<std::string> refs;
    std::string hyp, smooth = "none", tokenize = "13a";
    double smooth_value = -1.0;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "bleu", "Corpus BLEU and chrF of a translation (as sacreBLEU computes them)");
  sub->add_option("--ref", o->refs, "Reference file(s), one segment a line")->required();
  sub->add_option("--hyp", o->hyp, "Hypothesis file, one segment a line")->required();
  sub->add_option("--smooth", o->smooth, "BLEU smoothing (sacreBLEU's command line uses exp)")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "exp", "floor", "add-k"}));
  sub->add_option("--smooth-value", o->smooth_value,
                  "The value of floor (default 0.1) or add-k (default 1)")
      ->check(cf::cli::non_negative());
  sub->add_option("--tokenize", o->tokenize, "BLEU tokenizer")
      ->capture_default_str()
      ->check(CLI::IsMember({"13a", "none"}));
  cmds.entries.emplace_back(sub, [o]() {
    const std::vector<std::string> hyps = read_lines(o->hyp);
    std::vector<std::vector<std::string>> refs;
    for (const std::string& path : o->refs) {
      refs.push_back(read_lines(path));
      CF_CHECK(refs.back().size() == hyps.size(), ValueError, "bleu: ", path, " has ",
               refs.back().size(), " lines, ", o->hyp, " has ", hyps.size());
    }
    metrics::BleuOptions bo;
    bo.tokenizer =
        o->tokenize == "13a" ? metrics::BleuTokenizer::k13a : metrics::BleuTokenizer::kNone;
    bo.smooth = o->smooth == "none"    ? metrics::BleuSmooth::kNone
                : o->smooth == "exp"   ? metrics::BleuSmooth::kExp
                : o->smooth == "floor" ? metrics::BleuSmooth::kFloor
                                       : metrics::BleuSmooth::kAddK;
    bo.smooth_value = o->smooth_value;
    const metrics::BleuScore bleu = metrics::corpus_bleu(hyps, refs, bo);
    const metrics::ChrfOptions co;
    const metrics::ChrfScore chrf = metrics::corpus_chrf(hyps, refs, co);
    const auto nrefs = static_cast<int64_t>(refs.size());
    std::cout << bleu.format() << "\n"
              << "  BLEU|" << metrics::bleu_signature(bo, nrefs) << "\n"
              << chrf.format(co) << "\n"
              << "  chrF2|" << metrics::chrf_signature(co, nrefs) << "\n"
              << hyps.size() << " segments\n";
    return 0;
  });
}

}  // namespace cf::cli
