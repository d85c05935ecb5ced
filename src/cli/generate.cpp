#include <iostream>
#include <memory>

#include "cformer/data.h"
#include "cformer/models/gpt.h"
#include "cli/commands.h"
#include "train/checkpoint.h"
#include "util/check.h"

namespace cf::cli {

void add_generate(CLI::App& app, Commands& cmds) {
  CLI::App* sub = app.add_subcommand("generate", "Sample text from a trained GPT checkpoint");
  struct Opts {
    std::string checkpoint, prompt = "\n";
    models::GptSampling s;
    uint64_t seed = 0;
    int64_t samples = 1;
    bool no_cache = false;
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("checkpoint", o->checkpoint, "checkpoint.safetensors from cformer train gpt")->required();
  sub->add_option("--prompt", o->prompt, "Text to continue");
  sub->add_option("--max-new-tokens", o->s.max_new_tokens, "Tokens to generate")->capture_default_str()->check(cf::cli::positive());
  sub->add_option("--temperature", o->s.temperature, "0 = greedy")->capture_default_str()->check(cf::cli::non_negative());
  sub->add_option("--top-k", o->s.top_k, "Keep the k most likely tokens (0: off)")->capture_default_str()->check(cf::cli::non_negative());
  sub->add_option("--top-p", o->s.top_p, "Nucleus sampling mass (1: off)")->capture_default_str()->check(CLI::Range(1e-6, 1.0));
  sub->add_option("--seed", o->seed, "Sampling seed")->capture_default_str();
  sub->add_option("--samples", o->samples, "Number of samples")->capture_default_str()->check(cf::cli::positive());
  sub->add_flag("--no-kv-cache", o->no_cache, "Recompute the whole context at every step (block_sparse and performer always do)");
  cmds.entries.emplace_back(sub, [o]() {
    train::Checkpoint ck = train::load_checkpoint(o->checkpoint);
    CF_CHECK(ck.meta.value("model_type", "") == "gpt", FormatError, o->checkpoint, ": holds a '",
             ck.meta.value("model_type", "?"), "' model; generate needs a gpt checkpoint");
    models::GptConfig cfg;
    data::CharTokenizer tok;
    try {
      cfg = models::GptConfig::from_json(ck.meta.at("config").dump());
      tok = data::CharTokenizer::from_json(ck.meta.at("tokenizer").get<std::string>());
    } catch (const nlohmann::json::exception& e) {
      CF_THROW(FormatError, o->checkpoint, ": incomplete checkpoint metadata: ", e.what());
    }
    CF_CHECK(tok.vocab_size() == cfg.vocab_size, FormatError, o->checkpoint, ": tokenizer size ",
             tok.vocab_size(), " does not match the model's vocab_size ", cfg.vocab_size);
    models::Gpt model(cfg, 0);
    model.load_state_dict(ck.model, true);
    o->s.use_kv_cache = !o->no_cache;
    Generator gen(o->seed);
    const std::vector<int64_t> prompt = tok.encode(o->prompt);
    CF_CHECK(!prompt.empty(), ValueError, "generate: --prompt is empty");
    for (int64_t i = 0; i < o->samples; ++i) {
      if (o->samples > 1) std::cout << "--- sample " << i + 1 << "\n";
      std::cout << o->prompt << tok.decode(model.generate(prompt, o->s, gen)) << "\n";
    }
    return 0;
  });
}

}  // namespace cf::cli
