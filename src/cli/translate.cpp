// cformer translate --model CKPT [--input FILE]: translates one sentence a line (stdin by
// default) with a `train translate` checkpoint, one translation a line on stdout, in order.
// An empty (or blank) input line gives an empty output line. A line longer than the model's
// max_positions source tokens is truncated (its EOS kept), with a warning on stderr.
// --nbest K > 1 prints K lines per input as "i ||| hypothesis ||| score" (i counts from 0); an
// empty input line then has no lines.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "train/translator.h"
#include "util/check.h"

namespace cf::cli {

void add_translate(CLI::App& app, Commands& cmds) {
  struct Opts {
    std::string model, input;
    models::BeamOptions beam;
    int64_t batch = 32;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand("translate", "Translate English lines to French with a trained model");
  sub->add_option("--model", o->model, "Checkpoint (file, or the output directory of train translate)")->required();
  sub->add_option("--input", o->input, "Input file, one sentence a line (default: stdin)");
  sub->add_option("--beam", o->beam.beam_size, "Beam size (1: greedy)")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--length-penalty", o->beam.length_penalty, "score = log p / length^penalty")->capture_default_str()->check(cf::cli::non_negative());
  sub->add_option("--max-len-a", o->beam.max_len_a, "At most a * source length + b target tokens")->capture_default_str()->check(cf::cli::non_negative());
  sub->add_option("--max-len-b", o->beam.max_len_b, "See --max-len-a")->capture_default_str()->check(cf::cli::non_negative());
  sub->add_option("--nbest", o->beam.nbest, "Hypotheses per sentence (<= --beam)")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--batch", o->batch, "Sentences decoded together")->capture_default_str()->check(cf::cli::positive());
  cmds.entries.emplace_back(sub, [o]() {
    CF_CHECK(o->beam.nbest <= o->beam.beam_size, ValueError, "translate: --nbest ", o->beam.nbest,
             " exceeds --beam ", o->beam.beam_size);
    train::Translator t = train::load_translator(o->model);
    std::vector<std::string> lines;
    if (o->input.empty()) {
      std::string line;
      while (std::getline(std::cin, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        lines.push_back(std::move(line));
      }
    } else {
      lines = train::read_lines(o->input);
    }
    const auto result = train::translate_lines(t, lines, o->beam, o->batch, &std::cerr);
    for (size_t i = 0; i < result.size(); ++i) {
      if (o->beam.nbest == 1) {
        std::cout << (result[i].texts.empty() ? std::string() : result[i].texts[0]) << "\n";
        continue;
      }
      for (size_t k = 0; k < result[i].texts.size(); ++k)
        std::cout << i << " ||| " << result[i].texts[k] << " ||| " << result[i].scores[k] << "\n";
    }
    std::cout.flush();
    return 0;
  });
}

}  // namespace cf::cli
