// bench/tokenizer: byte-level BPE encode speed with GPT-2's files (data/gpt2) on 1 MB of ordinary
// text (data/kjv.txt), 1 MB with no spaces, 1 MB of one repeated character and 1 MB of random
// bytes, each also at 0.5 MB so the time ratio shows whether the cost stays near-linear (2.0).
// Every encode is validated by decoding back to the input. A fresh tokenizer per repeat: the
// word cache starts empty. Also: training on data/kjv.txt. The same four texts through WordPiece
// with bert-base-uncased's vocab.txt (data/bert), validated against the concatenated ids of the
// lines, and WordPiece training on data/kjv.txt. One JSON line per case.
// Usage: bench_tokenizer [--repeats R] [--train-vocab V]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cformer/io.h"
#include "cformer/tokenizers/bpe.h"
#include "cformer/tokenizers/wordpiece.h"

using cf::tokenizers::BpeTokenizer;
using cf::tokenizers::WordPieceTokenizer;
using json = nlohmann::json;

namespace {

std::string source(const std::string& rel) {
  return std::string(CFORMER_SOURCE_DIR) + "/" + rel;
}

std::string read_text(const std::string& path) {
  std::vector<uint8_t> b = cf::io::read_file(path);
  return std::string(b.begin(), b.end());
}

BpeTokenizer gpt2() {
  return BpeTokenizer::from_gpt2_files(source("data/gpt2/encoder.json"),
                                       source("data/gpt2/vocab.bpe"));
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Median encode time of text over repeats, each with a fresh tokenizer; -1 when a round trip fails.
double time_encode(const std::string& text, int repeats, size_t& tokens) {
  std::vector<double> ts;
  for (int r = 0; r < repeats; ++r) {
    BpeTokenizer tok = gpt2();
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<int64_t> ids = tok.encode_ordinary(text);
    ts.push_back(seconds_since(t0));
    tokens = ids.size();
    if (tok.decode(ids) != text) return -1;
  }
  std::sort(ts.begin(), ts.end());
  return ts[ts.size() / 2];
}

// WordPiece: median encode time (wall clock; cpu receives the median process CPU time, which
// a machine shared with other jobs inflates less); -1 when the ids differ from the concatenated
// ids of the lines (a newline always separates words, so both must agree).
double time_encode_wordpiece(const WordPieceTokenizer& tok, const std::string& text, int repeats,
                             size_t& tokens, double& cpu) {
  std::vector<double> ts, cs;
  std::vector<int64_t> ids;
  for (int r = 0; r < repeats; ++r) {
    const std::clock_t c0 = std::clock();
    const auto t0 = std::chrono::steady_clock::now();
    ids = tok.encode(text);
    ts.push_back(seconds_since(t0));
    cs.push_back(static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
  }
  std::sort(cs.begin(), cs.end());
  cpu = cs[cs.size() / 2];
  tokens = ids.size();
  std::vector<int64_t> joined;
  for (size_t start = 0; start <= text.size();) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    const std::vector<int64_t> line = tok.encode(std::string_view(text).substr(start, nl - start));
    joined.insert(joined.end(), line.begin(), line.end());
    start = nl + 1;
  }
  if (joined != ids) return -1;
  std::sort(ts.begin(), ts.end());
  return ts[ts.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 3;
  int64_t train_vocab = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--repeats"))
      repeats = std::max(1, std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--train-vocab"))
      train_vocab = std::atoll(argv[i + 1]);
  }
  const size_t mb = 1 << 20;
  const std::string kjv = read_text(source("data/kjv.txt"));
  std::string ordinary = kjv.substr(0, mb);
  std::string no_spaces;
  for (char c : kjv)
    if (c != ' ' && no_spaces.size() < mb) no_spaces += c;
  const std::string repeated(mb, 'a');
  std::string random_bytes(mb, '\0');
  std::mt19937 gen(42);
  for (char& c : random_bytes) c = static_cast<char>(gen());
  const std::vector<std::pair<const char*, const std::string*>> cases = {
      {"ordinary_text", &ordinary},
      {"no_spaces", &no_spaces},
      {"one_char", &repeated},
      {"random_bytes", &random_bytes}};
  int failed = 0;
  for (const auto& [name, text] : cases) {
    size_t tokens = 0, half_tokens = 0;
    const double t = time_encode(*text, repeats, tokens);
    const double th = time_encode(text->substr(0, text->size() / 2), repeats, half_tokens);
    if (t < 0 || th < 0) {
      std::fprintf(stderr, "%s: decode(encode(x)) != x\n", name);
      ++failed;
      continue;
    }
    std::printf("%s\n", json{{"case", name},
                             {"bytes", text->size()},
                             {"tokens", tokens},
                             {"seconds", t},
                             {"mb_per_s", static_cast<double>(text->size()) / mb / t},
                             {"time_ratio_1mb_vs_half", t / th}}
                            .dump()
                            .c_str());
  }
  {  // loading GPT-2 in both formats
    const auto l0 = std::chrono::steady_clock::now();
    const BpeTokenizer tok = gpt2();
    const double two_files = seconds_since(l0);
    const std::string path = "/tmp/cformer_bench_tokenizer.json";
    tok.save_hf_json(path);
    const auto l1 = std::chrono::steady_clock::now();
    const BpeTokenizer hf = BpeTokenizer::load(path);
    const double hf_json = seconds_since(l1);
    std::remove(path.c_str());
    std::printf("%s\n", json{{"case", "load_gpt2"},
                             {"two_files_seconds", two_files},
                             {"tokenizer_json_seconds", hf_json},
                             {"vocab_size", hf.vocab_size()}}
                            .dump()
                            .c_str());
  }
  {  // WordPiece (bert-base-uncased)
    const auto l0 = std::chrono::steady_clock::now();
    const WordPieceTokenizer bert =
        WordPieceTokenizer::from_vocab_file(source("data/bert/vocab.txt"));
    const double load = seconds_since(l0);
    std::printf("%s\n", json{{"case", "wordpiece_load_bert_vocab"},
                             {"seconds", load},
                             {"vocab_size", bert.vocab_size()}}
                            .dump()
                            .c_str());
    for (const auto& [name, text] : cases) {
      size_t tokens = 0, half_tokens = 0;
      double cpu = 0, half_cpu = 0;
      const double t = time_encode_wordpiece(bert, *text, repeats, tokens, cpu);
      const double th = time_encode_wordpiece(bert, text->substr(0, text->size() / 2), repeats,
                                              half_tokens, half_cpu);
      if (t < 0 || th < 0) {
        std::fprintf(stderr, "wordpiece %s: ids differ from the ids of the lines\n", name);
        ++failed;
        continue;
      }
      std::printf("%s\n", json{{"case", std::string("wordpiece_") + name},
                               {"bytes", text->size()},
                               {"tokens", tokens},
                               {"seconds", t},
                               {"mb_per_s", static_cast<double>(text->size()) / mb / t},
                               {"cpu_mb_per_s", static_cast<double>(text->size()) / mb / cpu},
                               {"time_ratio_1mb_vs_half", t / th},
                               {"cpu_ratio_1mb_vs_half", cpu / half_cpu}}
                              .dump()
                              .c_str());
    }
    const auto w0 = std::chrono::steady_clock::now();
    const WordPieceTokenizer wp = WordPieceTokenizer::train({kjv}, 30522);
    const double wt = seconds_since(w0);
    std::printf("%s\n", json{{"case", "wordpiece_train_kjv"},
                             {"bytes", kjv.size()},
                             {"vocab_size", wp.vocab_size()},
                             {"seconds", wt},
                             {"mb_per_s", static_cast<double>(kjv.size()) / mb / wt}}
                            .dump()
                            .c_str());
  }
  const auto t0 = std::chrono::steady_clock::now();
  BpeTokenizer trained = BpeTokenizer::train({kjv}, train_vocab, {"<|endoftext|>"});
  const double tt = seconds_since(t0);
  std::printf("%s\n", json{{"case", "train_kjv"},
                           {"bytes", kjv.size()},
                           {"vocab_size", trained.vocab_size()},
                           {"merges", trained.num_merges()},
                           {"seconds", tt}}
                          .dump()
                          .c_str());
  return failed ? 1 : 0;
}
