// cformer tokenizer train|encode|decode: byte-level BPE tokenizers (Hugging Face tokenizer.json,
// or GPT-2's encoder.json + vocab.bpe in a directory) and WordPiece tokenizers (BERT's vocab.txt,
// or a tokenizer.json with a WordPiece model); encode and decode detect which.
#include <filesystem>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cformer/io.h"
#include "cformer/tokenizers/bpe.h"
#include "cformer/tokenizers/wordpiece.h"
#include "cli/commands.h"
#include "util/check.h"

namespace cf::cli {
namespace {

namespace fs = std::filesystem;

// True when path holds a WordPiece tokenizer: a vocab.txt (a file that is not JSON), a
// tokenizer.json whose model.type is "WordPiece", or a directory holding either.
bool is_wordpiece(std::string path) {
  if (fs::is_directory(path)) {
    if (fs::exists(fs::path(path) / "tokenizer.json"))
      path = (fs::path(path) / "tokenizer.json").string();
    else
      return fs::exists(fs::path(path) / "vocab.txt");
  }
  const std::vector<uint8_t> bytes = io::read_file(path);
  const std::string text(bytes.begin(), bytes.end());
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || text[first] != '{') return true;
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  return j.is_object() && j.contains("model") && j["model"].is_object() &&
         j["model"].value("type", "") == "WordPiece";
}

tokenizers::WordPieceTokenizer load_wordpiece(const std::string& path) {
  if (fs::is_directory(path)) {
    const fs::path json = fs::path(path) / "tokenizer.json";
    return tokenizers::WordPieceTokenizer::load(
        fs::exists(json) ? json.string() : (fs::path(path) / "vocab.txt").string());
  }
  return tokenizers::WordPieceTokenizer::load(path);
}

}  // namespace

void add_tokenizer(CLI::App& app, Commands& cmds) {
  CLI::App* tok = app.add_subcommand("tokenizer", "Train or run a tokenizer");
  tok->require_subcommand(1);

  struct TrainOpts {
    std::string type = "bpe", out;
    int64_t vocab_size = 0;
    bool no_lower_case = false;
    std::vector<std::string> inputs, special = {"<|endoftext|>"};
  };
  auto t = std::make_shared<TrainOpts>();
  CLI::App* train = tok->add_subcommand("train", "Learn a tokenizer from text files");
  train->add_option("--type", t->type, "Tokenizer type")
      ->capture_default_str()
      ->check(CLI::IsMember({"bpe", "wordpiece"}));
  train
      ->add_option("--vocab-size", t->vocab_size,
                   "Vocabulary size, special tokens included (BPE: and the 256 bytes)")
      ->required()
      ->check(cf::cli::positive());
  train
      ->add_option("--out", t->out,
                   "Output: BPE: a tokenizer.json; WordPiece: a directory that receives "
                   "vocab.txt and tokenizer.json")
      ->required();
  CLI::Option* special =
      train->add_option("--special", t->special, "BPE special tokens (default: <|endoftext|>)");
  train->add_flag("--no-lower-case", t->no_lower_case,
                  "WordPiece: keep case and accents (default: lower-case, strip accents)");
  train->add_option("inputs", t->inputs, "Text files to learn from")->required();
  cmds.entries.emplace_back(train, [t, special]() {
    CF_CHECK(t->type == "wordpiece" || !t->no_lower_case, ValueError,
             "tokenizer train: --no-lower-case applies to --type wordpiece only");
    CF_CHECK(t->type == "bpe" || special->count() == 0, ValueError,
             "tokenizer train: --special applies to --type bpe only (WordPiece's special tokens "
             "are [PAD] [UNK] [CLS] [SEP] [MASK])");
    std::vector<std::string> texts;
    size_t bytes = 0;
    for (const std::string& path : t->inputs) {
      std::vector<uint8_t> b = io::read_file(path);
      bytes += b.size();
      texts.emplace_back(b.begin(), b.end());
    }
    if (t->type == "wordpiece") {
      const tokenizers::WordPieceTokenizer wp =
          tokenizers::WordPieceTokenizer::train(texts, t->vocab_size, !t->no_lower_case);
      std::error_code ec;
      fs::create_directories(t->out, ec);
      CF_CHECK(!ec && fs::is_directory(t->out), IoError,
               "tokenizer train: cannot create the "
               "directory ",
               t->out, ": ", ec ? ec.message() : std::string("not a directory"));
      const std::string vocab = (fs::path(t->out) / "vocab.txt").string(),
                        json = (fs::path(t->out) / "tokenizer.json").string();
      wp.save_vocab_file(vocab);
      wp.save_hf_json(json);
      std::cout << vocab << ", " << json << ": WordPiece, " << wp.vocab_size() << " tokens ("
                << (wp.lower_case() ? "lower-cased" : "cased") << ") learned from " << bytes
                << " bytes\n";
      if (wp.vocab_size() < t->vocab_size)
        std::cout << "note: the text has no more pairs to merge; the vocabulary is smaller than "
                  << t->vocab_size << "\n";
      return 0;
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
    bool with_special = false;
  };
  const char* help =
      "tokenizer.json (BPE or WordPiece), a WordPiece vocab.txt, or a directory with "
      "encoder.json + vocab.bpe, tokenizer.json or vocab.txt";
  auto e = std::make_shared<RunOpts>();
  CLI::App* enc = tok->add_subcommand("encode", "Print the token ids of a text");
  enc->add_option("--tokenizer", e->tokenizer, help)->required();
  enc->add_flag("--with-special", e->with_special,
                "WordPiece: add [CLS] and [SEP] as for a model input");
  enc->add_option("text", e->text, "The text")->required();
  cmds.entries.emplace_back(enc, [e]() {
    std::vector<int64_t> ids;
    if (is_wordpiece(e->tokenizer)) {
      const tokenizers::WordPieceTokenizer wp = load_wordpiece(e->tokenizer);
      ids = e->with_special ? wp.encode_for_model(e->text, {.max_length = 0}).ids
                            : wp.encode(e->text);
    } else {
      CF_CHECK(!e->with_special, ValueError,
               "tokenizer encode: --with-special applies to WordPiece tokenizers only");
      ids = tokenizers::BpeTokenizer::load(e->tokenizer).encode(e->text);
    }
    for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
    std::cout << "\n";
    return 0;
  });

  auto d = std::make_shared<RunOpts>();
  CLI::App* dec = tok->add_subcommand("decode", "Print the text of token ids");
  dec->add_option("--tokenizer", d->tokenizer, help)->required();
  dec->add_option("ids", d->ids, "Token ids")->required();
  cmds.entries.emplace_back(dec, [d]() {
    if (is_wordpiece(d->tokenizer))
      std::cout << load_wordpiece(d->tokenizer).decode(d->ids) << "\n";
    else
      std::cout << tokenizers::BpeTokenizer::load(d->tokenizer).decode(d->ids) << "\n";
    return 0;
  });
}

}  // namespace cf::cli
