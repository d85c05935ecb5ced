// cformer eval translate --model CKPT --data DIR --split test|valid: translates DIR/SPLIT.en with
// a `train translate` checkpoint and scores it against DIR/SPLIT.fr with corpus BLEU (sacreBLEU
// 13a) and chrF, optionally writing the hypotheses (--output) and the scores as JSON (--json).
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cformer/io.h"
#include "cformer/metrics/translation.h"
#include "cli/commands.h"
#include "train/translator.h"
#include "util/check.h"

namespace cf::cli {

void add_eval_translate(CLI::App& app, Commands& cmds) {
  struct Opts {
    std::string model, data = "data/translation", split = "test", json, output;
    models::BeamOptions beam;
    int64_t batch = 32, limit = 0;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* eval = app.get_subcommand("eval");
  CLI::App* sub = eval->add_subcommand("translate", "BLEU and chrF of a translation model on a split");
  sub->add_option("--model", o->model, "Checkpoint (file, or the output directory of train translate)")->required();
  sub->add_option("--data", o->data, "Directory with SPLIT.en and SPLIT.fr")->capture_default_str();
  sub->add_option("--split", o->split, "test or valid")->capture_default_str()->check(CLI::IsMember({"test", "valid"}));
  sub->add_option("--beam", o->beam.beam_size, "Beam size (1: greedy)")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--length-penalty", o->beam.length_penalty, "score = log p / length^penalty")->capture_default_str()->check(cf::cli::non_negative());
  sub->add_option("--max-len-a", o->beam.max_len_a, "At most a * source length + b target tokens")->capture_default_str()->check(cf::cli::non_negative());
  sub->add_option("--max-len-b", o->beam.max_len_b, "See --max-len-a")->capture_default_str()->check(cf::cli::non_negative());
  sub->add_option("--batch", o->batch, "Sentences decoded together")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--limit", o->limit, "Only the first K sentences")->check(cf::cli::positive());
  sub->add_option("--json", o->json, "Also write the scores as JSON to this file");
  sub->add_option("--output", o->output, "Write the translations to this file");
  auto run = [o]() {
    train::Translator t = train::load_translator(o->model);
    const std::string prefix = o->data + "/" + o->split;
    train::ParallelText text = train::read_parallel(prefix, o->limit);
    CF_CHECK(!text.src.empty(), ValueError, "eval translate: ", prefix, ".en has no lines");
    const auto t0 = std::chrono::steady_clock::now();
    const auto result = train::translate_lines(t, text.src, o->beam, o->batch, &std::cerr);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<std::string> hyps(result.size());
    for (size_t i = 0; i < result.size(); ++i)
      if (!result[i].texts.empty()) hyps[i] = result[i].texts[0];
    const std::vector<std::vector<std::string>> refs{text.tgt};
    const metrics::BleuOptions bo;
    const metrics::ChrfOptions co;
    const metrics::BleuScore bleu = metrics::corpus_bleu(hyps, refs, bo);
    const metrics::ChrfScore chrf = metrics::corpus_chrf(hyps, refs, co);
    if (!o->output.empty()) {
      std::string all;
      for (const std::string& h : hyps) all += h + "\n";
      io::write_file_atomic(o->output, {reinterpret_cast<const uint8_t*>(all.data()), all.size()});
    }
    const std::string decoding = o->beam.beam_size == 1 ? "greedy" : "beam " + std::to_string(o->beam.beam_size);
    std::cout << "model: " << t.path << " (step " << t.meta.value("step", int64_t{0}) << ")\n"
              << "data: " << prefix << ".{en,fr}, " << hyps.size() << " sentences, " << decoding
              << ", " << std::fixed << std::setprecision(1) << secs << " s ("
              << static_cast<double>(hyps.size()) / std::max(secs, 1e-9) << " sentences/s)\n"
              << std::defaultfloat << bleu.format() << "\n  BLEU|" << metrics::bleu_signature(bo, 1)
              << "\n" << chrf.format(co) << "\n  chrF2|" << metrics::chrf_signature(co, 1) << "\n";
    if (!o->json.empty()) {
      const nlohmann::json j = {{"model", t.path},
                                {"step", t.meta.value("step", int64_t{0})},
                                {"data", prefix},
                                {"sentences", hyps.size()},
                                {"beam", o->beam.beam_size},
                                {"length_penalty", o->beam.length_penalty},
                                {"bleu", bleu.score},
                                {"bleu_line", bleu.format()},
                                {"bleu_signature", metrics::bleu_signature(bo, 1)},
                                {"chrf", chrf.score},
                                {"chrf_signature", metrics::chrf_signature(co, 1)},
                                {"seconds", secs}};
      const std::string s = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
      io::write_file_atomic(o->json, {reinterpret_cast<const uint8_t*>(s.data()), s.size()});
    }
    return 0;
  };
  // Before `eval`'s own entry: both are parsed when `eval translate` is given.
  cmds.entries.insert(cmds.entries.begin(), {sub, run});
}

}  // namespace cf::cli
