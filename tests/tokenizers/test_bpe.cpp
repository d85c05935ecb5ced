// Byte-level BPE: the hand-written GPT-2 pre-tokenizer, exact round trips of any bytes, the two
// merge loops against each other, special tokens, training, the file formats and every error of
// the loaders. GPT-2's real files are checked against the JS oracle in tests/golden.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "cformer/error.h"
#include "cformer/tokenizers/bpe.h"
#include "tokenizers/bpe_merge.h"
#include "tokenizers/unicode.h"

namespace cf::tokenizers {
namespace {

namespace fs = std::filesystem;
using Pieces = std::vector<std::string>;

Pieces split(std::string_view text) {
  Pieces out;
  for (std::string_view p : gpt2_pretokenize(text)) out.emplace_back(p);
  return out;
}

TEST(BpePretokenize, Contractions) {
  EXPECT_EQ(split("I'm you're it's we've they'll she'd don't"),
            (Pieces{"I", "'m", " you", "'re", " it", "'s", " we", "'ve", " they", "'ll", " she",
                    "'d", " don", "'t"}));
  // Case-sensitive, as GPT-2's regex: 'S is not a contraction.
  EXPECT_EQ(split("IT'S"), (Pieces{"IT", "'", "S"}));
  // A run of punctuation takes the apostrophe before the letters.
  EXPECT_EQ(split("''s"), (Pieces{"''", "s"}));
  EXPECT_EQ(split("'ll've"), (Pieces{"'ll", "'ve"}));
  EXPECT_EQ(split(" 's"), (Pieces{" '", "s"}));
  EXPECT_EQ(split("'"), (Pieces{"'"}));
}

TEST(BpePretokenize, LettersNumbersOther) {
  EXPECT_EQ(split("Hello world"), (Pieces{"Hello", " world"}));
  EXPECT_EQ(split("abc123def"), (Pieces{"abc", "123", "def"}));
  EXPECT_EQ(split("1,234.5"), (Pieces{"1", ",", "234", ".", "5"}));
  EXPECT_EQ(split(" 42 !?"), (Pieces{" 42", " !?"}));
  EXPECT_EQ(split("٣٤ ½Ⅻ"), (Pieces{"٣٤", " ½Ⅻ"}));  // \p{N} covers Nd, No, Nl
  EXPECT_EQ(split("café naïve"), (Pieces{"café", " naïve"}));
  EXPECT_EQ(split("中文 日本語"), (Pieces{"中文", " 日本語"}));
  EXPECT_EQ(split("Ελληνικά"), (Pieces{"Ελληνικά"}));
  // A combining mark (Mn) is neither a letter nor a number.
  EXPECT_EQ(split("e\u0301x"), (Pieces{"e", "\u0301", "x"}));
  EXPECT_EQ(split("a_b"), (Pieces{"a", "_", "b"}));
}

TEST(BpePretokenize, WhitespaceRuns) {
  // \s+(?!\S) leaves the last space of a run to the following word.
  EXPECT_EQ(split("a  b"), (Pieces{"a", " ", " b"}));
  EXPECT_EQ(split("a   b"), (Pieces{"a", "  ", " b"}));
  EXPECT_EQ(split("a\n\nb"), (Pieces{"a", "\n", "\n", "b"}));
  EXPECT_EQ(split("a\nb"), (Pieces{"a", "\n", "b"}));
  EXPECT_EQ(split("a \n b"), (Pieces{"a", " \n", " b"}));
  EXPECT_EQ(split("end  "), (Pieces{"end", "  "}));  // a run at the end is kept whole
  EXPECT_EQ(split("   "), (Pieces{"   "}));
  EXPECT_EQ(split(" "), (Pieces{" "}));
  EXPECT_EQ(split("\t\tx"), (Pieces{"\t", "\t", "x"}));  // only ' ' is the optional prefix
  EXPECT_EQ(split("a \u00a0b"), (Pieces{"a", " ", "\u00a0", "b"}));  // NBSP is \s, not the prefix
  EXPECT_EQ(split(""), Pieces{});
}

TEST(BpePretokenize, EmojiAndInvalidUtf8) {
  EXPECT_EQ(split("hi 🤖🤖!"), (Pieces{"hi", " 🤖🤖!"}));
  EXPECT_EQ(split("👍🏽"), (Pieces{"👍🏽"}));
  // Invalid bytes are characters of class Other: they join punctuation runs, split letters.
  EXPECT_EQ(split("ab\xff\xfe"
                  "cd"),
            (Pieces{"ab", "\xff\xfe", "cd"}));
  EXPECT_EQ(split(" \xc3"), (Pieces{" \xc3"}));  // truncated sequence
  EXPECT_EQ(split("\xe2\x82 x"), (Pieces{"\xe2\x82", " x"}));
  EXPECT_EQ(split("\xed\xa0\x80"), (Pieces{"\xed\xa0\x80"}));  // a surrogate is invalid
  EXPECT_EQ(split("\xc0\xaf"), (Pieces{"\xc0\xaf"}));          // overlong
}

TEST(BpePretokenize, PiecesConcatenateToAnyInput) {
  std::mt19937 gen(7);
  for (int t = 0; t < 300; ++t) {
    std::string s(gen() % 64, '\0');
    for (char& c : s) c = static_cast<char>(gen() % 4 == 0 ? ' ' : gen());
    std::string joined;
    for (std::string_view p : gpt2_pretokenize(s)) {
      ASSERT_FALSE(p.empty());
      joined += p;
    }
    ASSERT_EQ(joined, s);
  }
}

TEST(BpeUnicode, ByteAlphabet) {
  EXPECT_EQ(unicode::byte_to_code_point('!'), uint32_t{'!'});
  EXPECT_EQ(unicode::byte_to_code_point(' '), 0x120u);   // 'Ġ'
  EXPECT_EQ(unicode::byte_to_code_point('\n'), 0x10Au);  // 'Ċ'
  EXPECT_EQ(unicode::byte_to_code_point(0xAD), 0x143u);
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  std::string back;
  ASSERT_TRUE(unicode::byte_level_to_bytes(unicode::bytes_to_byte_level(all), back));
  EXPECT_EQ(back, all);
  EXPECT_FALSE(unicode::byte_level_to_bytes(" ", back));  // a raw space is not in the alphabet
  EXPECT_FALSE(unicode::byte_level_to_bytes("\xff", back));
}

// Merge tables built by hand for the merge-loop tests.
MergeTable random_table(std::mt19937& gen, int symbols, int merges) {
  MergeTable t;
  int next_id = symbols;
  for (int r = 0; r < merges; ++r) {
    const int32_t a = static_cast<int32_t>(gen() % next_id),
                  b = static_cast<int32_t>(gen() % next_id);
    if (t.insert(a, b, r, next_id)) ++next_id;
  }
  return t;
}

TEST(BpeMerge, TableFindsWhatWasInserted) {
  MergeTable t;
  int32_t rank = -1, result = -1;
  EXPECT_FALSE(t.find(1, 2, rank, result));
  for (int32_t i = 0; i < 5000; ++i) ASSERT_TRUE(t.insert(i, i * 7 % 5003, i, 100000 + i));
  EXPECT_EQ(t.size(), 5000u);
  EXPECT_FALSE(t.insert(3, 21, 9, 9));  // already there: unchanged
  for (int32_t i = 0; i < 5000; ++i) {
    ASSERT_TRUE(t.find(i, i * 7 % 5003, rank, result)) << i;
    ASSERT_EQ(rank, i);
    ASSERT_EQ(result, 100000 + i);
  }
  EXPECT_FALSE(t.find(5000, 0, rank, result));
  EXPECT_FALSE(t.find(0, 1, rank, result));
}

TEST(BpeMerge, HeapEqualsSimple) {
  std::mt19937 gen(11);
  for (int t = 0; t < 200; ++t) {
    const int symbols = 2 + static_cast<int>(gen() % 4);
    const MergeTable table = random_table(gen, symbols, 40);
    std::vector<int32_t> word(1 + gen() % 300);
    for (auto& s : word) s = static_cast<int32_t>(gen() % symbols);
    std::vector<int32_t> a = word, b = word;
    bpe_merge_simple(a, table);
    bpe_merge_heap(b, table);
    ASSERT_EQ(a, b) << "case " << t;
  }
}

TEST(BpeMerge, OverlappingPairsMergeLeftToRight) {
  MergeTable t;
  t.insert(0, 0, 0, 1);
  std::vector<int32_t> w = {0, 0, 0};
  bpe_merge_heap(w, t);
  EXPECT_EQ(w, (std::vector<int32_t>{1, 0}));
  // A pair created by a merge with a lower rank than the batch waits until the batch is done,
  // as GPT-2's loop: merges (a,b)->x rank 1, (x,a)->y rank 0.
  MergeTable u;
  u.insert(0, 1, 1, 2);
  u.insert(2, 0, 0, 3);
  std::vector<int32_t> s = {0, 1, 0, 1}, h = s;
  bpe_merge_simple(s, u);
  bpe_merge_heap(h, u);
  EXPECT_EQ(s, (std::vector<int32_t>{2, 2}));
  EXPECT_EQ(h, s);
}

BpeTokenizer small_trained() {
  return BpeTokenizer::train(
      {"the cat sat on the mat with the hat", "that thing there", "aaaa bbbb"}, 300,
      {"<|endoftext|>", "<pad>"});
}

TEST(BpeTrain, ExpectedMerges) {
  // One word "aaabdaaabac": (a,a) x4 first; then (a,b) and (aa,a) tie at 2 and the smaller id
  // pair (97, 98) wins; then (aa, ab).
  BpeTokenizer t = BpeTokenizer::train({"aaabdaaabac"}, 259, {});
  EXPECT_EQ(t.merges(), (std::vector<std::pair<std::string, std::string>>{
                            {"a", "a"}, {"a", "b"}, {"aa", "ab"}}));
  EXPECT_EQ(t.vocab_size(), 259);
  EXPECT_EQ(t.encode("aaabdaaabac"), (std::vector<int64_t>{258, 'd', 258, 'a', 'c'}));
  // Counts add across texts and words; words never merge across the pre-tokenizer's pieces.
  BpeTokenizer u = BpeTokenizer::train({"hug hug", "pug hug"}, 260, {});
  const auto m = u.merges();
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0], (std::pair<std::string, std::string>{"u", "g"}));   // 4 times
  EXPECT_EQ(m[1], (std::pair<std::string, std::string>{"h", "ug"}));  // 3, beats (" ", "h") 2
  EXPECT_EQ(m[2], (std::pair<std::string, std::string>{" ", "hug"}));
  EXPECT_EQ(m[3], (std::pair<std::string, std::string>{"p", "ug"}));
  EXPECT_EQ(u.encode(" hug"), (std::vector<int64_t>{u.token_to_id(" hug")}));
}

// The textbook trainer: recount every pair of every word before each merge.
std::vector<std::pair<std::string, std::string>> naive_train(const std::vector<std::string>& texts,
                                                             int merges) {
  std::map<std::string, int64_t> counts;
  for (const auto& t : texts)
    for (std::string_view w : gpt2_pretokenize(t)) ++counts[std::string(w)];
  std::vector<std::pair<std::vector<int32_t>, int64_t>> words;
  for (const auto& [w, c] : counts) {
    std::vector<int32_t> s;
    for (char ch : w) s.push_back(static_cast<uint8_t>(ch));
    words.emplace_back(s, c);
  }
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.emplace_back(1, static_cast<char>(b));
  std::vector<std::pair<std::string, std::string>> out;
  for (int m = 0; m < merges; ++m) {
    std::map<std::pair<int32_t, int32_t>, int64_t> pc;
    for (const auto& [s, c] : words)
      for (size_t i = 0; i + 1 < s.size(); ++i) pc[{s[i], s[i + 1]}] += c;
    if (pc.empty()) break;
    auto best = pc.begin();  // std::map order: the smallest pair wins ties
    for (auto it = pc.begin(); it != pc.end(); ++it)
      if (it->second > best->second) best = it;
    const auto [a, b] = best->first;
    const std::string bytes = tokens[a] + tokens[b];
    int32_t id =
        static_cast<int32_t>(std::find(tokens.begin(), tokens.end(), bytes) - tokens.begin());
    if (id == static_cast<int32_t>(tokens.size())) tokens.push_back(bytes);
    out.emplace_back(tokens[a], tokens[b]);
    for (auto& [s, c] : words) {
      std::vector<int32_t> n;
      for (size_t i = 0; i < s.size();) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b)
          n.push_back(id), i += 2;
        else
          n.push_back(s[i++]);
      }
      s = n;
    }
  }
  return out;
}

TEST(BpeTrain, MatchesFullRecount) {
  std::mt19937 gen(5);
  const std::vector<std::string> pool = {"the", " the", " cat", "s",  " sat", "at", "aaa", " ab",
                                         "ba",  "!",    "  ",   "\n", "12",   "é",  "é",   "\xff"};
  std::vector<std::string> texts(20);
  for (auto& t : texts)
    for (int i = 0; i < 40; ++i) t += pool[gen() % pool.size()];
  const auto want = naive_train(texts, 120);
  const BpeTokenizer t = BpeTokenizer::train(texts, 256 + 120, {});
  EXPECT_EQ(t.merges(), want);
  EXPECT_GT(want.size(), 20u);
}

TEST(BpeTrain, Deterministic) {
  const std::vector<std::string> texts = {
      "the quick brown fox jumps over the lazy dog again and again",
      "lorem ipsum dolor sit amet, consectetur adipiscing elit"};
  EXPECT_EQ(BpeTokenizer::train(texts, 320, {}).to_hf_json(),
            BpeTokenizer::train(texts, 320, {}).to_hf_json());
}

TEST(BpeTrain, StopsWhenNothingIsLeftToMerge) {
  BpeTokenizer t = BpeTokenizer::train({"ab"}, 1000, {"<s>"});
  EXPECT_EQ(t.num_merges(), 1);
  EXPECT_EQ(t.vocab_size(), 258);  // 256 bytes, "ab", <s>
  EXPECT_EQ(t.encode("ab<s>"), (std::vector<int64_t>{256, 257}));
}

TEST(BpeTrain, Errors) {
  EXPECT_THROW(BpeTokenizer::train({"x"}, 255, {}), ValueError);
  EXPECT_THROW(BpeTokenizer::train({"x"}, 257, {"<a>", "<b>"}), ValueError);
  EXPECT_THROW(BpeTokenizer::train({"x"}, 300, {"<a>", "<a>"}), ValueError);
  EXPECT_THROW(BpeTokenizer::train({"x"}, 300, {""}), ValueError);
  try {
    BpeTokenizer::train({"x"}, 10, {});
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("vocab_size"), std::string::npos) << e.what();
  }
}

TEST(BpeEncode, RoundTripsRandomBytes) {
  BpeTokenizer t = small_trained();
  std::mt19937 gen(3);
  for (int i = 0; i < 300; ++i) {
    std::string s(gen() % 200, '\0');
    for (char& c : s)
      c = static_cast<char>(gen() % 3 == 0 ? "the cat <|endoftext|>"[gen() % 21] : gen());
    const auto ids = t.encode(s);
    ASSERT_EQ(t.decode(ids), s) << "case " << i;
    ASSERT_EQ(t.decode(t.encode_ordinary(s)), s) << "case " << i;
  }
  // Long words take the heap path; it must agree with itself through the cache and round-trip.
  const std::string long_word(5000, 'a');
  EXPECT_EQ(t.decode(t.encode(long_word)), long_word);
  EXPECT_EQ(t.encode(long_word), t.encode(long_word));
}

// The word cache is shared: concurrent encodes of one tokenizer give the single-thread ids.
TEST(BpeEncode, ConcurrentEncodes) {
  const BpeTokenizer t = small_trained();
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "the cat sat on the mat " + std::to_string(i % 97) + " ";
  const std::vector<int64_t> want = small_trained().encode(text);  // a fresh copy: empty cache
  std::vector<std::vector<int64_t>> got(4);
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&t, &text, &got, k]() { got[k] = t.encode(text); });
  for (auto& th : threads) th.join();
  for (int k = 0; k < 4; ++k) EXPECT_EQ(got[k], want) << "thread " << k;
}

TEST(BpeEncode, SpecialTokens) {
  BpeTokenizer t = small_trained();
  const int64_t eot = t.token_to_id("<|endoftext|>"), pad = t.token_to_id("<pad>");
  const int64_t n = t.vocab_size();
  EXPECT_EQ(eot, n - 2);  // special tokens come last, in the order given
  EXPECT_EQ(pad, n - 1);
  const auto ids = t.encode("the cat<|endoftext|><pad> sat<|endoftext|>");
  EXPECT_EQ(std::count(ids.begin(), ids.end(), eot), 2);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), pad), 1);
  EXPECT_EQ(t.decode(ids), "the cat<|endoftext|><pad> sat<|endoftext|>");
  // encode_ordinary treats them as text.
  const auto plain = t.encode_ordinary("<|endoftext|>");
  EXPECT_EQ(std::count(plain.begin(), plain.end(), eot), 0);
  EXPECT_EQ(t.decode(plain), "<|endoftext|>");
  // The longest special token wins at a position.
  EXPECT_EQ(t.add_special_token("<|endoftext|>x"), n);
  EXPECT_EQ(t.encode("<|endoftext|>x<|endoftext|>"), (std::vector<int64_t>{n, eot}));
  EXPECT_EQ(t.add_special_token("<pad>"), pad);
  EXPECT_THROW(t.add_special_token(""), ValueError);
  EXPECT_THROW(t.add_special_token("\xff"), ValueError);
  EXPECT_THROW(t.decode({n + 1}), IndexError);
  EXPECT_THROW(t.decode({-1}), IndexError);
  EXPECT_THROW(t.id_to_token(100000), IndexError);
}

fs::path temp_dir(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("cformer_test_bpe_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void write(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary) << s;
}

TEST(BpeFiles, HfJsonRoundTrip) {
  BpeTokenizer t = small_trained();
  const fs::path d = temp_dir("hf");
  t.save_hf_json((d / "tokenizer.json").string());
  BpeTokenizer u = BpeTokenizer::load((d / "tokenizer.json").string());
  EXPECT_EQ(u.to_hf_json(), t.to_hf_json());
  EXPECT_EQ(u.merges(), t.merges());
  EXPECT_EQ(u.special_tokens(), t.special_tokens());
  const std::string text = "the hat<pad> that\xff thing<|endoftext|>";
  EXPECT_EQ(u.encode(text), t.encode(text));
  // The format Hugging Face writes: model type BPE, ByteLevel pre-tokenizer and decoder.
  const auto j = nlohmann::json::parse(t.to_hf_json());
  EXPECT_EQ(j["model"]["type"], "BPE");
  EXPECT_EQ(j["pre_tokenizer"]["type"], "ByteLevel");
  EXPECT_EQ(j["decoder"]["type"], "ByteLevel");
  EXPECT_EQ(j["model"]["vocab"]["Ġ"], 32);
  EXPECT_EQ(j["added_tokens"][0]["content"], "<|endoftext|>");
  // Newer files write merges as pairs.
  auto k = j;
  for (auto& m : k["model"]["merges"]) {
    const std::string s = m.get<std::string>();
    m = nlohmann::json::array({s.substr(0, s.find(' ')), s.substr(s.find(' ') + 1)});
  }
  EXPECT_EQ(BpeTokenizer::from_hf_json(k.dump(), "pairs.json").to_hf_json(), t.to_hf_json());
  fs::remove_all(d);
}

TEST(BpeFiles, Gpt2FilesRoundTrip) {
  BpeTokenizer t = small_trained();
  const fs::path d = temp_dir("gpt2");
  t.save_gpt2_files((d / "encoder.json").string(), (d / "vocab.bpe").string());
  BpeTokenizer u = BpeTokenizer::load(d.string());
  EXPECT_EQ(u.merges(), t.merges());
  EXPECT_EQ(u.vocab_size(), t.vocab_size());
  const std::string text = "the hat<|endoftext|> that\xff";
  EXPECT_EQ(u.encode(text), t.encode(text));  // <|endoftext|> is special in GPT-2's files
  fs::remove_all(d);
}

// The smallest valid GPT-2 style files: the 256 byte tokens, "ab", "abc".
std::string byte_vocab_entries() {
  std::string v;
  for (int b = 0; b < 256; ++b) {
    std::string k = unicode::bytes_to_byte_level(std::string(1, static_cast<char>(b)));
    v += nlohmann::json(k).dump() + ": " + std::to_string(b) + ",\n";
  }
  return v;
}

template <class Err>
void expect_load_error(const std::string& vocab, const std::string& merges,
                       const std::string& needle) {
  const fs::path d = temp_dir("bad");
  write(d / "encoder.json", vocab);
  write(d / "vocab.bpe", merges);
  try {
    BpeTokenizer::load(d.string());
    ADD_FAILURE() << "no error for " << needle;
  } catch (const Err& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  fs::remove_all(d);
}

TEST(BpeFiles, Gpt2FileErrors) {
  const std::string ok_vocab = "{\n" + byte_vocab_entries() + "\"ab\": 256,\n\"abc\": 257\n}";
  const std::string ok_merges = "#version: 0.2\na b\nab c\n";
  {  // the valid pair loads; without #version too (as Hugging Face)
    const fs::path d = temp_dir("ok");
    write(d / "encoder.json", ok_vocab);
    write(d / "vocab.bpe", "a b\nab c");
    EXPECT_EQ(BpeTokenizer::load(d.string()).encode("abc"), (std::vector<int64_t>{257}));
    fs::remove_all(d);
  }
  expect_load_error<FormatError>("{\n\"a\": 1,\n\"b\" 2}", ok_merges,
                                 "encoder.json:3: invalid vocabulary JSON");
  expect_load_error<FormatError>("{\"a\": 1,", ok_merges, "encoder.json:1:");
  expect_load_error<FormatError>("[1, 2]", ok_merges, "expected '{'");
  expect_load_error<FormatError>("{\"a\": -1}", ok_merges, "must be a non-negative integer");
  expect_load_error<FormatError>("{\"a\": 99999999999}", ok_merges, "is larger than");
  expect_load_error<FormatError>("{\"\\ud800\": 1}", ok_merges, "lone surrogate");
  expect_load_error<FormatError>("{\n" + byte_vocab_entries() + "\"ab\": 5\n}", ok_merges,
                                 "encoder.json:258: duplicate id 5");
  expect_load_error<FormatError>("{\n" + byte_vocab_entries() + "\"a\": 256\n}", ok_merges,
                                 "duplicate token");
  expect_load_error<FormatError>("{\n" + byte_vocab_entries() + "\"a b\": 256\n}", ok_merges,
                                 "encoder.json:258: token \"a b\" holds a character outside");
  expect_load_error<FormatError>("{\"a\": 0}", ok_merges, "lacks the token of byte 0x00");
  expect_load_error<FormatError>(ok_vocab, "#version: 0.2\na b\nabc\n",
                                 "vocab.bpe:3: a merge must be two tokens");
  expect_load_error<FormatError>(ok_vocab, "#version: 0.2\na b c\n",
                                 "vocab.bpe:2: a merge must be two tokens");
  expect_load_error<FormatError>(ok_vocab, "#version: 0.2\na b\nb c\n",
                                 "vocab.bpe:3: merge \"b c\": its result");
  expect_load_error<FormatError>(ok_vocab, "a b\nab Ω\n",
                                 "vocab.bpe:2: merge \"ab Ω\": its right part");
  expect_load_error<FormatError>(ok_vocab, "a b\na b\n", "vocab.bpe:2: duplicate merge");
  const fs::path d = temp_dir("missing");
  EXPECT_THROW(BpeTokenizer::load(d.string()), IoError);
  EXPECT_THROW(BpeTokenizer::load((d / "nope.json").string()), IoError);
  fs::remove_all(d);
}

TEST(BpeFiles, HfJsonErrors) {
  const std::string good = small_trained().to_hf_json();
  auto expect = [](const std::string& text, const std::string& needle) {
    try {
      BpeTokenizer::from_hf_json(text, "t.json");
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect("{\n\"model\": {\n,}}", "t.json:3: invalid JSON");
  expect("[]", "must be a JSON object");
  expect("{}", "no \"model\" object");
  auto j = nlohmann::json::parse(good);
  auto with = [&j](const std::function<void(nlohmann::json&)>& f) {
    auto k = j;
    f(k);
    return k.dump();
  };
  expect(with([](auto& k) { k["model"]["type"] = "WordPiece"; }),
         "model.type \"WordPiece\" is not supported");
  expect(with([](auto& k) { k["model"]["vocab"] = nlohmann::json::array(); }),
         "model.vocab must be an object");
  expect(with([](auto& k) { k["model"]["vocab"]["zz"] = "x"; }),
         "model.vocab[\"zz\"] must be an integer");
  expect(with([](auto& k) { k["model"]["merges"] = 3; }), "model.merges must be an array");
  expect(with([](auto& k) { k["model"]["merges"][1] = "ab"; }),
         "model.merges[1]: a merge must be two tokens");
  expect(with([](auto& k) {
           k["model"]["merges"][1] = nlohmann::json::array({1, 2});
         }),
         "model.merges[1]: a merge");
  expect(with([](auto& k) { k["model"]["merges"].push_back("Ω Ω"); }),
         "its left part \"Ω\" is not in the vocabulary");
  expect(with([](auto& k) { k["model"]["vocab"]["zz"] = 3; }), "duplicate id 3");
  expect(with([](auto& k) {
           k["pre_tokenizer"] = {{"type", "Whitespace"}};
         }),
         "is not supported (only ByteLevel)");
  expect(with([](auto& k) { k["pre_tokenizer"]["add_prefix_space"] = true; }), "add_prefix_space");
  expect(with([](auto& k) {
           k["normalizer"] = {{"type", "NFC"}};
         }),
         "normalizers are not supported");
  expect(with([](auto& k) { k["model"]["dropout"] = 0.1; }), "dropout");
  expect(with([](auto& k) { k["added_tokens"] = 1; }), "added_tokens must be an array");
  expect(with([](auto& k) { k["added_tokens"][0]["id"] = "x"; }), "added_tokens[0] must be");
  expect(with([](auto& k) { k["added_tokens"][0]["id"] = 5; }), "which the vocabulary gives to");
  expect(with([](auto& k) { k["added_tokens"].push_back(k["added_tokens"][0]); }), "appears twice");
  expect(with([](auto& k) { k["model"]["byte_fallback"] = "yes"; }),
         "unexpected tokenizer.json content");
  expect(with([](auto& k) { k["pre_tokenizer"]["type"] = 7; }),
         "unexpected tokenizer.json content");
  expect(with([](auto& k) { k["model"]["vocab"][""] = 999; }), "empty token");
}

// Damaged files (bytes flipped, deleted or truncated) load or raise a cf::Error, never crash.
TEST(BpeFiles, DamagedFilesNeverCrash) {
  const BpeTokenizer t = small_trained();
  const fs::path d = temp_dir("fuzz");
  t.save_gpt2_files((d / "encoder.json").string(), (d / "vocab.bpe").string());
  std::ifstream ev(d / "encoder.json", std::ios::binary), mv(d / "vocab.bpe", std::ios::binary);
  const std::string vocab((std::istreambuf_iterator<char>(ev)), {}),
      merges((std::istreambuf_iterator<char>(mv)), {});
  const std::string hf = t.to_hf_json();
  std::mt19937 gen(99);
  auto damage = [&gen](std::string s) {
    const int edits = 1 + static_cast<int>(gen() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const size_t at = gen() % s.size();
      switch (gen() % 4) {
        case 0:
          s[at] = static_cast<char>(gen());
          break;
        case 1:
          s.erase(at, 1 + gen() % 8);
          break;
        case 2:
          s.resize(at);
          break;
        default:
          s.insert(at, 1, "\"{}[]:,0 \n"[gen() % 11]);
          break;
      }
    }
    return s;
  };
  int loaded = 0, rejected = 0;
  for (int i = 0; i < 300; ++i) {
    const int which = i % 3;
    try {
      if (which == 2) {
        BpeTokenizer u = BpeTokenizer::from_hf_json(damage(hf), "t.json");
        EXPECT_EQ(u.decode(u.encode("the hat\xff")), "the hat\xff");
      } else {
        write(d / "encoder.json", which == 0 ? damage(vocab) : vocab);
        write(d / "vocab.bpe", which == 1 ? damage(merges) : merges);
        BpeTokenizer u = BpeTokenizer::load(d.string());
        EXPECT_EQ(u.decode(u.encode("the hat\xff")), "the hat\xff");
      }
      ++loaded;
    } catch (const Error&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 100);
  EXPECT_GT(loaded, 0);
  fs::remove_all(d);
}

}  // namespace
}  // namespace cf::tokenizers
