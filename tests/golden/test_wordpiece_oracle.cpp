// BERT WordPiece (bert-base-uncased's vocab.txt, data/bert from scripts/prepare_data.sh) against
// tools/golden/wordpiece_oracle.py, a Python twin of Hugging Face's BertTokenizer run with
// /usr/bin/python3 (whose unicodedata must be the version of our tables): the whole of
// data/kjv.txt, WordNet's glosses when /usr/share/wordnet exists, repository texts and crafted
// strings (accents, CJK, emoji, control characters, invalid UTF-8, special tokens, long words),
// lower-cased and cased. When data/bert is missing the tests fail.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cformer/tokenizers/wordpiece.h"
#include "tokenizers/unicode_bert.h"

namespace cf::tokenizers {
namespace {

namespace fs = std::filesystem;

fs::path vocab_path() {
  return fs::path(CFORMER_SOURCE_DIR) / "data" / "bert" / "vocab.txt";
}

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// Runs the Python oracle on texts; returns its ids per text.
std::vector<std::vector<int64_t>> oracle(const std::vector<std::string>& texts, bool lower) {
  const fs::path dir =
      fs::temp_directory_path() / ("cformer_wordpiece_oracle_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path in = dir / "in.bin", out = dir / "out.json", err = dir / "err.txt";
  {
    std::ofstream f(in, std::ios::binary);
    for (const std::string& t : texts) f << t.size() << "\n" << t;
  }
  const std::string cmd =
      "/usr/bin/python3 '" +
      (fs::path(CFORMER_SOURCE_DIR) / "tools/golden/wordpiece_oracle.py").string() + "' '" +
      vocab_path().string() + "' '" + in.string() + "' '" + out.string() + "'" +
      (lower ? "" : " --cased") + " 2> '" + err.string() + "'";
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << "the oracle failed: " << cmd << "\n" << read_all(err);
  std::vector<std::vector<int64_t>> ids;
  if (rc == 0) {
    std::string version = read_all(err);
    while (!version.empty() && version.back() == '\n') version.pop_back();
    EXPECT_EQ(version, unicode::kBertUnicodeVersion)
        << "python3's unicodedata differs from the tables: regenerate them with "
           "tools/gen_bert_unicode_tables.py";
    ids = nlohmann::json::parse(read_all(out)).get<std::vector<std::vector<int64_t>>>();
  }
  fs::remove_all(dir);
  return ids;
}

WordPieceTokenizer bert(bool lower = true) {
  if (!fs::exists(vocab_path()))
    ADD_FAILURE() << vocab_path() << " is missing: run scripts/prepare_data.sh";
  return WordPieceTokenizer::from_vocab_file(vocab_path().string(), lower);
}

std::string printable(const std::string& s) {
  return nlohmann::json(s.substr(0, 80))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void expect_same(const std::vector<std::string>& texts, bool lower) {
  const WordPieceTokenizer tok = bert(lower);
  const auto want = oracle(texts, lower);
  ASSERT_EQ(want.size(), texts.size());
  int shown = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::vector<int64_t> got = tok.encode(texts[i]);
    if (got != want[i] && shown++ < 10) {
      size_t k = 0;
      while (k < got.size() && k < want[i].size() && got[k] == want[i][k]) ++k;
      ADD_FAILURE() << "text " << i << " (" << printable(texts[i])
                    << "): ids differ first at token " << k << " of " << want[i].size()
                    << ": cformer "
                    << (k < got.size() ? tok.id_to_token(got[k]) : std::string("end"))
                    << ", oracle "
                    << (k < want[i].size() ? tok.id_to_token(want[i][k]) : std::string("end"));
    }
  }
  EXPECT_EQ(shown, 0) << shown << " of " << texts.size() << " texts differ";
}

TEST(WordPieceOracle, KnownIds) {
  const WordPieceTokenizer tok = bert();
  EXPECT_EQ(tok.vocab_size(), 30522);
  EXPECT_EQ(tok.encode("i like strawberries"), (std::vector<int64_t>{1045, 2066, 13137, 20968}));
  EXPECT_EQ(tok.encode("I like Strawberries!"),
            (std::vector<int64_t>{1045, 2066, 13137, 20968, 999}));
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.unk_id(), 100);
  EXPECT_EQ(tok.cls_id(), 101);
  EXPECT_EQ(tok.sep_id(), 102);
  EXPECT_EQ(tok.mask_id(), 103);
  EXPECT_EQ(tok.token_to_id("the"), 1996);
  EXPECT_EQ(tok.token_to_id("of"), 1997);
  EXPECT_EQ(tok.token_to_id("and"), 1998);
  EXPECT_EQ(tok.token_to_id("[unused0]"), 1);
  EXPECT_EQ(tok.encode("the [MASK] of"), (std::vector<int64_t>{1996, 103, 1997}));
  EXPECT_EQ(tok.decode(tok.encode("I like strawberries")), "i like strawberries");
  const Encoding e = tok.encode_pair("i like", "strawberries", {});
  EXPECT_EQ(e.ids, (std::vector<int64_t>{101, 1045, 2066, 102, 13137, 20968, 102}));
}

TEST(WordPieceOracle, WholeKjv) {
  const fs::path kjv = fs::path(CFORMER_SOURCE_DIR) / "data" / "kjv.txt";
  ASSERT_TRUE(fs::exists(kjv)) << kjv << " is missing: run scripts/prepare_data.sh";
  expect_same({read_all(kjv)}, true);
}

TEST(WordPieceOracle, KjvCased) {
  const fs::path kjv = fs::path(CFORMER_SOURCE_DIR) / "data" / "kjv.txt";
  ASSERT_TRUE(fs::exists(kjv)) << kjv << " is missing: run scripts/prepare_data.sh";
  expect_same({read_all(kjv).substr(0, 300'000)}, false);
}

// WordNet's glosses (the text after " | " in data.noun, data.verb, ...): varied English with
// punctuation, quotes and numbers; the first 1.5 MB of each file's glosses.
TEST(WordPieceOracle, WordNetGlosses) {
  const fs::path dir = "/usr/share/wordnet";
  ASSERT_TRUE(fs::exists(dir)) << dir
                               << " does not exist: run scripts/setup.sh (it installs wordnet-base)";
  std::vector<std::string> texts;
  for (const char* name : {"data.noun", "data.verb", "data.adj", "data.adv"}) {
    if (!fs::exists(dir / name)) continue;
    std::istringstream in(read_all(dir / name));
    std::string line, glosses;
    while (std::getline(in, line) && glosses.size() < 1'500'000) {
      const size_t bar = line.find(" | ");
      if (bar != std::string::npos) glosses += line.substr(bar + 3) + "\n";
    }
    texts.push_back(glosses);
  }
  ASSERT_FALSE(texts.empty()) << dir << " holds no data.* files";
  expect_same(texts, true);
}

TEST(WordPieceOracle, RepositoryTexts) {
  std::vector<std::string> texts;
  for (const char* rel : {"README.md", "docs/tokenizers.md", "src/tokenizers/wordpiece.cpp",
                          "tools/golden/wordpiece_oracle.py"}) {
    const fs::path p = fs::path(CFORMER_SOURCE_DIR) / rel;
    ASSERT_TRUE(fs::exists(p)) << p;
    texts.push_back(read_all(p));
  }
  expect_same(texts, true);
  expect_same(texts, false);
}

std::vector<std::string> crafted() {
  std::vector<std::string> texts = {
      "",
      " ",
      "Hello, World!!!",
      "naïve café résumé Crème brûlée São Paulo Ünïcödé ß ÄÖÜ",
      "ΣΊΣΥΦΟΣ Ελληνικά κείμενα ΟΔΟΣ",
      "İstanbul ıi İI",
      "Русский текст здесь",
      "中文文本测试 日本語のテキスト 한국어 텍스트 ไทย",
      "abc中def文ghi",
      "\uf900\uf901 compat ideographs",
      "emoji 😀😃😄 👍🏽 🇺🇸 👨‍👩‍👧 🤖🤖",
      "ctrl\x01\x02\x1f chars\x7f and\x0b\x0c vt ff",
      "nul\0byte",
      "soft\u00adhyphen zero\u200bwidth rtl\u200fmark bom\ufeffhere",
      "replacement \ufffd char",
      "NBSP\u00a0here ideographic\u3000space thin\u2009space",
      "line\u2028separator para\u2029separator next\u0085line",
      "tab\tseparated\r\nwindows\rmac",
      "combining e\u0301 a\u0308 o\u0323\u0302 q\u0302\u0323 precomposed \u1ec7",
      "hangul \uac00\ud7a3 jamo \u1100\u1161\u11a8",
      "math ∑∫√∞ ≠ ≤ ← → ©®™ ¿¡ «guillemets» „quotes“ — dash – ‐",
      "~`!@#$%^&*()_+-={}[]|\\:;\"'<>,.?/",
      "$100 (USD) 50% 3.14159 1,234,567.89 2024-01-01",
      "https://example.com/path?q=1&r=2#frag e-mail: someone@example.com",
      "ﬁ ﬂ ǅ Ⅻ ① ½ ² ٣٤٥ ｆｕｌｌｗｉｄｔｈ",
      "[MASK] [CLS] [SEP] [PAD] [UNK] [mask] [MASK[MASK]] x[SEP]y [ MASK ]",
      std::string(101, 'a') + " " + std::string(100, 'b') + " " + std::string(99, 'c'),
      "supercalifragilisticexpialidocious antidisestablishmentarianism",
      "unaffable unbelievable xyzzyqwx",
      "\xff\xfe invalid \xc3 utf8 \xe2\x82 mid\x80word \xed\xa0\x80 surrogate \xf4\x90\x80\x80",
      "overlong \xc0\xaf \xe0\x80\xaf end",
      "ab\xff"
      "cd",
      "A\u030a\u0327 \u212b \u00c5 \u1e9b\u0323 \u0958 \u2126",
      "DŽ ǆ ǈ Ǉ ẞ ﬀ ŉ",
      "𝐀𝐁𝐂 𝒜 𝔸 mathematical alphanumerics",
      "\U00020000\U0002a6d6\U0002f800 supplementary CJK",
  };
  // Generated strings: pieces from a fixed pool joined at random (seed fixed).
  const std::vector<std::string> pool = {
      "the",  "The",   "of",     "and",    "'s",      "don't",   "123",    "3.5",
      "café", "NAÏVE", "東京",   "🤖",   "!!",      "...",     ",",      "-",
      "  ",   "\n",    "\t",     " ",      "Ωmega",   "x",       "ÿ",      "ﬁ",
      "ǅ",    "ⅷ",     "٣",      "①",      "e\u0301", "\u00a0",  "\u2003", "\x01",
      "\xff", "[SEP]", "[MASK",  "]",      "straw",   "berries", "un",     "##able",
      "İ",    "Σ",     "\u200d", "\u0301", "\ufffd",  "\u3000",  "한",     "\u2028"};
  std::mt19937 gen(4321);
  for (int i = 0; i < 400; ++i) {
    std::string s;
    const int parts = 1 + static_cast<int>(gen() % 14);
    for (int p = 0; p < parts; ++p) s += pool[gen() % pool.size()];
    texts.push_back(s);
  }
  // Every code point of the BMP and some beyond, a few hundred to a text, between letters.
  for (uint32_t first = 0; first < 0x30000; first += 0x200) {
    std::string s;
    for (uint32_t cp = first; cp < first + 0x200; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;
      s += "a";
      if (cp < 0x80) {
        s += static_cast<char>(cp);
      } else if (cp < 0x800) {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        s += static_cast<char>(0xE0 | (cp >> 12));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        s += static_cast<char>(0xF0 | (cp >> 18));
        s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      }
      s += (cp % 7 == 0) ? " " : "b";
    }
    texts.push_back(s);
  }
  return texts;
}

TEST(WordPieceOracle, CraftedLowerCase) {
  expect_same(crafted(), true);
}

TEST(WordPieceOracle, CraftedCased) {
  expect_same(crafted(), false);
}

}  // namespace
}  // namespace cf::tokenizers
