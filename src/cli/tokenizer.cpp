// cformer tokenizer train|encode|decode: byte-level BPE tokenizers (Hugging Face tokenizer.json,
// or GPT-2's encoder.json + vocab.bpe in a directory).
#include <iostream>
#include <memory>

#include "cformer/io.h"
#include "cformer/tokenizers/bpe.h"
#include "cli/commands.h"
#include "util/check.h"

namespace cf::cli {

void add_tokenizer(CLI::App& app, Commands& cmds) {
  CLI::App* tok = app.add_subcommand("tokenizer", "Train or run a tokenizer");
  tok->require_subcommand(1);

  struct TrainOpts {
    std::string type = "bpe", out;
    int64_t vocab_size = 0;
    std::vector<std::string> inputs, special = {"<|endoftext|>"};
  };
  auto t = std::make_shared<TrainOpts>();
  CLI::App* train = tok->add_subcommand("train", "Learn a tokenizer from text files");
  train->add_option("--type", t->type, "Tokenizer type")
      ->capture_default_str()
      ->check(CLI::IsMember({"bpe"}));
  train
      ->add_option("--vocab-size", t->vocab_size,
                   "Vocabulary size, 256 bytes and the special tokens included")
      ->required()
      ->check(cf::cli::positive());
  train->add_option("--out", t->out, "Output tokenizer.json")->required();
  train->add_option("--special", t->special, "Special tokens (default: <|endoftext|>)");
  train->add_option("inputs", t->inputs, "Text files to learn from")->required();
  cmds.entries.emplace_back(train, [t]() {
    std::vector<std::string> texts;
    size_t bytes = 0;
    for (const std::string& path : t->inputs) {
      std::vector<uint8_t> b = io::read_file(path);
      bytes += b.size();
      texts.emplace_back(b.begin(), b.end());
    }
    tokenizers::BpeTokenizer bpe =
        tokenizers::BpeTokenizer::train(texts, t->vocab_size, t->special);
    bpe.save_hf_json(t->out);
    std::cout << t->out << ": byte-level BPE, " << bpe.vocab_size() << " tokens ("
              << bpe.num_merges() << " merges, " << bpe.special_tokens().size()
              << " special) learned from " << bytes << " bytes\n";
    if (bpe.vocab_size() < t->vocab_size)
      std::cout << "note: the text has no more pairs to merge; the vocabulary is smaller than "
                << t->vocab_size << "\n";
    return 0;
  });

  struct RunOpts {
    std::string tokenizer, text;
    std::vector<int64_t> ids;
  };
  auto e = std::make_shared<RunOpts>();
  CLI::App* enc = tok->add_subcommand("encode", "Print the token ids of a text");
  enc->add_option("--tokenizer", e->tokenizer,
                  "tokenizer.json, or a directory with encoder.json + vocab.bpe")
      ->required();
  enc->add_option("text", e->text, "The text")->required();
  cmds.entries.emplace_back(enc, [e]() {
    const tokenizers::BpeTokenizer bpe = tokenizers::BpeTokenizer::load(e->tokenizer);
    const std::vector<int64_t> ids = bpe.encode(e->text);
    for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
    std::cout << "\n";
    return 0;
  });

  auto d = std::make_shared<RunOpts>();
  CLI::App* dec = tok->add_subcommand("decode", "Print the text of token ids");
  dec->add_option("--tokenizer", d->tokenizer,
                  "tokenizer.json, or a directory with encoder.json + vocab.bpe")
      ->required();
  dec->add_option("ids", d->ids, "Token ids")->required();
  cmds.entries.emplace_back(dec, [d]() {
    const tokenizers::BpeTokenizer bpe = tokenizers::BpeTokenizer::load(d->tokenizer);
    std::cout << bpe.decode(d->ids) << "\n";
    return 0;
  });
}

}  // namespace cf::cli
