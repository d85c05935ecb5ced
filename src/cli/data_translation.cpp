// cformer data translation --out DIR --mo ORIGIN=DIR ... --aligned ORIGIN=FILE ...: builds the
// en->fr corpus (train/valid/test.{en,fr} and stats.json) from gettext catalogues and aligned
// help paragraphs. See docs/translation-data.md.
#include <filesystem>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cformer/io.h"
#include "cformer/translation_data.h"
#include "cli/commands.h"
#include "util/check.h"

namespace cf::cli {
namespace {

std::pair<std::string, std::string> origin_and_path(const std::string& arg, const char* option) {
  const size_t eq = arg.find('=');
  CF_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < arg.size(), ValueError,
           "data translation: ", option, " expects ORIGIN=PATH, got '", arg, "'");
  return {arg.substr(0, eq), arg.substr(eq + 1)};
}

void write_lines(const std::string& path, const std::vector<data::TranslationPair>& pairs,
                 bool english) {
  std::string text;
  for (const data::TranslationPair& p : pairs) {
    text += english ? p.en : p.fr;
    text += '\n';
  }
  io::write_file_atomic(
      path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

}  // namespace

CLI::App* data_command(CLI::App& app) {
  try {
    return app.get_subcommand("data");
  } catch (const CLI::OptionNotFound&) {
    CLI::App* data = app.add_subcommand("data", "Build datasets under data/");
    data->require_subcommand(1);
    return data;
  }
}

void add_data_translation(CLI::App& app, Commands& cmds) {
  struct Opts {
    std::string out;
    std::vector<std::string> mo, aligned;
    data::SplitOptions split;
    data::CleanOptions clean;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = data_command(app)->add_subcommand(
      "translation", "Build the en->fr corpus from .mo catalogues and aligned help pages");
  sub->add_option("--out", o->out, "Output directory")->required();
  sub->add_option("--mo", o->mo, "ORIGIN=DIR: every *.mo of DIR is a unit ORIGIN:<domain>");
  sub->add_option("--aligned", o->aligned,
                  "ORIGIN=FILE: unit<TAB>english<TAB>french lines (tools/data/lo_help_align.py)");
  sub->add_option("--valid", o->split.valid_pairs, "Pairs in valid (whole units)")
      ->capture_default_str()
      ->check(cf::cli::positive());
  sub->add_option("--test", o->split.test_pairs, "Pairs in test (whole units)")
      ->capture_default_str()
      ->check(cf::cli::positive());
  sub->add_option("--max-unit-pairs", o->split.max_unit_pairs,
                  "Units with more pairs always go to train")
      ->capture_default_str()
      ->check(cf::cli::positive());
  sub->add_option("--seed", o->split.seed, "Seed of the unit order")->capture_default_str();
  sub->add_option("--min-words", o->clean.min_words, "Fewest English words of a pair")
      ->capture_default_str()
      ->check(cf::cli::positive());
  cmds.entries.emplace_back(sub, [o]() {
    CF_CHECK(!o->mo.empty() || !o->aligned.empty(), ValueError,
             "data translation: give at least one --mo or --aligned source");
    data::CleanCounts counts;
    std::vector<data::CorpusUnit> units;
    for (const std::string& arg : o->mo) {
      const auto [origin, dir] = origin_and_path(arg, "--mo");
      for (auto& u : data::load_mo_dir(dir, origin, o->clean, counts))
        units.push_back(std::move(u));
    }
    for (const std::string& arg : o->aligned) {
      const auto [origin, file] = origin_and_path(arg, "--aligned");
      data::CleanOptions clean = o->clean;
      clean.strip_mnemonics = false;  // help prose: '_' '&' '~' are text
      for (auto& u : data::load_aligned_tsv(file, origin, clean, counts))
        units.push_back(std::move(u));
    }
    nlohmann::json unit_sizes = nlohmann::json::object();
    for (const data::CorpusUnit& u : units)
      if (u.name.rfind("lo-help:", 0) != 0)  // 2,500 help pages would drown the catalogues
        unit_sizes[u.name] = u.pairs.size();
    const size_t num_units = units.size();
    const data::TranslationSplits s = data::split_translation_corpus(std::move(units), o->split);

    std::filesystem::create_directories(o->out);
    const std::string base = (std::filesystem::path(o->out) / "").string();
    write_lines(base + "train.en", s.train, true);
    write_lines(base + "train.fr", s.train, false);
    write_lines(base + "valid.en", s.valid, true);
    write_lines(base + "valid.fr", s.valid, false);
    write_lines(base + "test.en", s.test, true);
    write_lines(base + "test.fr", s.test, false);
    nlohmann::json stats;
    stats["pairs"] = {
        {"train", s.train.size()}, {"valid", s.valid.size()}, {"test", s.test.size()}};
    stats["units"] = num_units;
    stats["duplicates_removed"] = s.duplicates;
    stats["eval_overlap_removed"] = s.overlap_removed;
    for (const auto& [origin, n] : s.by_origin)
      stats["by_origin"][origin] = {{"train", n[0]}, {"valid", n[1]}, {"test", n[2]}};
    stats["cleaning"] = counts.by_origin;
    stats["valid_units"] = s.valid_units;
    stats["test_units"] = s.test_units;
    stats["catalogue_pairs_after_cleaning"] = unit_sizes;
    stats["options"] = {{"valid", o->split.valid_pairs},
                        {"test", o->split.test_pairs},
                        {"max_unit_pairs", o->split.max_unit_pairs},
                        {"seed", o->split.seed},
                        {"min_words", o->clean.min_words},
                        {"max_words", o->clean.max_words},
                        {"max_chars", o->clean.max_chars},
                        {"max_ratio", o->clean.max_ratio}};
    const std::string json = stats.dump(1) + "\n";
    io::write_file_atomic(
        base + "stats.json",
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(json.data()), json.size()));
    std::cout << o->out << ": " << s.train.size() << " train, " << s.valid.size() << " valid, "
              << s.test.size() << " test pairs from " << num_units << " units ("
              << s.valid_units.size() << " valid, " << s.test_units.size() << " test); "
              << s.duplicates << " duplicates and " << s.overlap_removed
              << " pairs whose English is in valid/test removed\n";
    return 0;
  });
}

}  // namespace cf::cli
