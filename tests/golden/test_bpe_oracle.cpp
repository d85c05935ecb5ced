// GPT-2 byte-level BPE against the reference JS encoder of npm gpt-3-encoder@1.1.4
// (tools/golden/bpe_oracle.js under node): the first 200 KB of data/kjv.txt, all of it, Markdown
// and C++ of this repository and a few hundred varied strings must give exactly the same ids.
// data/gpt2 comes from scripts/prepare_data.sh; when it is missing the tests fail.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cformer/tokenizers/bpe.h"
#include "tokenizers/unicode.h"

namespace cf::tokenizers {
namespace {

namespace fs = std::filesystem;

fs::path gpt2_dir() {
  return fs::path(CFORMER_SOURCE_DIR) / "data" / "gpt2";
}

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// Runs the JS oracle on texts; returns its ids per text.
std::vector<std::vector<int64_t>> oracle(const std::vector<std::string>& texts) {
  const fs::path dir =
      fs::temp_directory_path() / ("cformer_bpe_oracle_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path in = dir / "in.json", out = dir / "out.json";
  std::ofstream(in, std::ios::binary) << nlohmann::json(texts).dump();
  const std::string cmd =
      "node '" + (fs::path(CFORMER_SOURCE_DIR) / "tools/golden/bpe_oracle.js").string() + "' '" +
      gpt2_dir().string() + "' '" + in.string() + "' > '" + out.string() + "'";
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << "the oracle failed: " << cmd;
  std::vector<std::vector<int64_t>> ids;
  if (rc == 0) ids = nlohmann::json::parse(read_all(out)).get<std::vector<std::vector<int64_t>>>();
  fs::remove_all(dir);
  return ids;
}

BpeTokenizer gpt2() {
  const fs::path dir = gpt2_dir();
  if (!fs::exists(dir / "encoder.json") || !fs::exists(dir / "vocab.bpe") ||
      !fs::exists(dir / "Encoder.js"))
    ADD_FAILURE() << dir
                  << " lacks encoder.json, vocab.bpe or Encoder.js: run scripts/prepare_data.sh";
  return BpeTokenizer::from_gpt2_files((dir / "encoder.json").string(),
                                       (dir / "vocab.bpe").string());
}

void expect_same(const BpeTokenizer& tok, const std::vector<std::string>& texts) {
  const auto want = oracle(texts);
  ASSERT_EQ(want.size(), texts.size());
  int shown = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::vector<int64_t> got = tok.encode_ordinary(texts[i]);
    if (got != want[i] && shown++ < 10) {
      size_t k = 0;
      while (k < got.size() && k < want[i].size() && got[k] == want[i][k]) ++k;
      ADD_FAILURE() << "text " << i << " (" << nlohmann::json(texts[i].substr(0, 80)).dump()
                    << "): ids differ first at token " << k << " of " << want[i].size()
                    << ": cformer " << (k < got.size() ? std::to_string(got[k]) : "end")
                    << ", oracle " << (k < want[i].size() ? std::to_string(want[i][k]) : "end");
    }
    EXPECT_EQ(tok.decode(got), texts[i]) << "text " << i;
  }
}

TEST(BpeOracle, KnownIds) {
  BpeTokenizer tok = gpt2();
  EXPECT_EQ(tok.encode("Hello world"), (std::vector<int64_t>{15496, 995}));
  EXPECT_EQ(tok.encode(" The quick brown fox"), (std::vector<int64_t>{383, 2068, 7586, 21831}));
  EXPECT_EQ(tok.encode("<|endoftext|>"), (std::vector<int64_t>{50256}));
  EXPECT_EQ(tok.vocab_size(), 50257);
  EXPECT_EQ(tok.num_merges(), 50000);
  EXPECT_EQ(tok.decode(tok.encode("naïve café 🤖")), "naïve café 🤖");
}

// GPT-2 through both writers: the merges file comes back byte for byte, and tokenizer.json and
// the re-read two files encode like the originals.
TEST(BpeOracle, Gpt2ThroughBothFormats) {
  const BpeTokenizer tok = gpt2();
  const fs::path dir =
      fs::temp_directory_path() / ("cformer_bpe_formats_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  tok.save_gpt2_files((dir / "encoder.json").string(), (dir / "vocab.bpe").string());
  EXPECT_EQ(read_all(dir / "vocab.bpe"), read_all(gpt2_dir() / "vocab.bpe"));
  tok.save_hf_json((dir / "tokenizer.json").string());
  const BpeTokenizer a = BpeTokenizer::load(dir.string());
  const BpeTokenizer b = BpeTokenizer::load((dir / "tokenizer.json").string());
  const std::string text = "Hello world<|endoftext|> naïve café 🤖 It's 2024!\n\n  indented";
  EXPECT_EQ(a.encode(text), tok.encode(text));
  EXPECT_EQ(b.encode(text), tok.encode(text));
  EXPECT_EQ(b.special_tokens(), tok.special_tokens());
  EXPECT_EQ(b.to_hf_json(), tok.to_hf_json());
  fs::remove_all(dir);
}

TEST(BpeOracle, KjvFirst200KB) {
  BpeTokenizer tok = gpt2();
  const fs::path kjv = fs::path(CFORMER_SOURCE_DIR) / "data" / "kjv.txt";
  ASSERT_TRUE(fs::exists(kjv)) << kjv << " is missing: run scripts/prepare_data.sh";
  std::string text = read_all(kjv).substr(0, 200'000);
  // Cut at a character boundary (the oracle reads text as UTF-8).
  while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xC0) == 0x80) text.pop_back();
  if (!text.empty() && static_cast<unsigned char>(text.back()) >= 0xC0) text.pop_back();
  expect_same(tok, {text});
}

// Chunks of text cut after a lone newline (no whitespace on either side): the regex makes it a
// piece of its own whatever follows, so the ids of the whole text are the concatenated ids of
// the chunks (checked below), and the oracle's cost stays linear.
std::vector<std::string> line_chunks(const std::string& text) {
  auto space = [](char c) {
    return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
  };
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 1; i + 1 < text.size(); ++i) {
    if (text[i] == '\n' && !space(text[i - 1]) && !space(text[i + 1])) {
      out.push_back(text.substr(start, i + 1 - start));
      start = i + 1;
    }
  }
  out.push_back(text.substr(start));
  return out;
}

void expect_same_by_chunks(const BpeTokenizer& tok, const std::string& text) {
  const std::vector<std::string> chunks = line_chunks(text);
  expect_same(tok, chunks);
  std::vector<int64_t> joined;
  for (const std::string& c : chunks) {
    const auto ids = tok.encode_ordinary(c);
    joined.insert(joined.end(), ids.begin(), ids.end());
  }
  EXPECT_EQ(tok.encode_ordinary(text), joined);
}

TEST(BpeOracle, WholeKjv) {
  const fs::path kjv = fs::path(CFORMER_SOURCE_DIR) / "data" / "kjv.txt";
  ASSERT_TRUE(fs::exists(kjv)) << kjv << " is missing: run scripts/prepare_data.sh";
  expect_same_by_chunks(gpt2(), read_all(kjv));
}

// Markdown and C++ from this repository: indentation runs, punctuation, code.
TEST(BpeOracle, RepositoryTexts) {
  const BpeTokenizer tok = gpt2();
  for (const char* rel :
       {"README.md", "docs/tokenizers.md", "docs/gpt.md", "src/tokenizers/bpe.cpp",
        "src/tokenizers/unicode.cpp", "tests/tokenizers/test_bpe.cpp"}) {
    SCOPED_TRACE(rel);
    const fs::path p = fs::path(CFORMER_SOURCE_DIR) / rel;
    ASSERT_TRUE(fs::exists(p)) << p;
    expect_same_by_chunks(tok, read_all(p));
  }
}

TEST(BpeOracle, VariedStrings) {
  std::vector<std::string> texts = {
      "Hello world",
      " The quick brown fox",
      "naïve café 🤖",
      "",
      " ",
      "  ",
      "\n",
      "\n\n",
      " \n ",
      "a  b",
      "a   b",
      "a\t\tb",
      "a \n b",
      "end  ",
      "trailing\n",
      "   leading",
      "\r\n\r\n",
      "I'm you're we've they'll she'd it's don't",
      "I'M YOU'RE IT'S",
      "'s",
      "''s",
      "'''",
      "' s",
      "rock'n'roll",
      "o'clock",
      "x'll'd've're",
      "'",
      " '",
      "'re'",
      "'ll.",
      "’s fancy’re",
      "12345",
      "1,234,567.89",
      "3.14159",
      " 42",
      "2024-01-01",
      "10e-5",
      "x1y2z3",
      "٣٤٥ ½ ² Ⅻ",
      "Hello, World!!!",
      "...",
      " ...",
      "?!?!",
      "(a) [b] {c}",
      "#include <stdio.h>",
      "a->b && c||d",
      "e-mail: someone@example.com",
      "https://example.com/path?q=1&r=2#frag",
      "$100 (USD) 50%",
      "Ünïcödé äöü ß ÄÖÜ",
      "Crème brûlée",
      "São Paulo",
      "Ελληνικά κείμενα",
      "Русский текст здесь",
      "עברית",
      "العربية",
      "हिन्दी",
      "中文文本测试",
      "日本語のテキスト",
      "한국어 텍스트",
      "ไทย",
      "emoji 😀😃😄 👍🏽 🇺🇸 👨‍👩‍👧",
      "🤖🤖🤖",
      " 🤖",
      "tab\tseparated\tvalues",
      "line1\nline2\n\nline4",
      "    indented code\n        more",
      "NBSP\u00a0here",
      "ideographic\u3000space",
      "thin\u2009space",
      "zero\u200bwidth",
      "combining e\u0301 a\u0308",
      "math ∑∫√∞ ≠ ≤",
      "arrows ← → ↑ ↓",
      "©®™",
      "mixed123abc456",
      "ALLCAPS lowercase CamelCase snake_case",
      "a_b__c___d",
      "\"quoted\" 'single'",
      "semi;colon:colon",
      "back\\slash",
      "~`!@#$%^&*()_+-=",
      "<|endoftext|>",
      "<|endoftext|> after",
  };
  // Generated strings: words from a fixed pool joined by random separators.
  const std::vector<std::string> pool = {
      "the", "The",  " of",   "and",  "'s",   "'ll",     "don't",   "123",    "4567",
      "3.5", "café", "naïve", "東京", "🤖", "😀",       "!!",      "...",    ",",
      "-",   "  ",   "\n",    "\t",   " ",    "   ",     "Ωmega",   "x",      "ÿ",
      "ﬁ",   "ǅ",    "ⅷ",     "٣",    "①",    "abc'def", "e\u0301", "\u00a0", "\u2003",
  };
  std::mt19937 gen(1234);  // fixed seed: the strings are the same every run
  for (int i = 0; i < 300; ++i) {
    std::string s;
    const int parts = 1 + static_cast<int>(gen() % 12);
    for (int p = 0; p < parts; ++p) s += pool[gen() % pool.size()];
    texts.push_back(s);
  }
  expect_same(gpt2(), texts);
}

}  // namespace
}  // namespace cf::tokenizers
