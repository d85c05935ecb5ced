// WordPiece: BERT's basic tokenizer, the greedy split, encoding for a model (pairs, truncation,
// padding, type ids, masks, word ids), decoding, vocab.txt and tokenizer.json files (round trips
// and every error), and training. Parity with Hugging Face's algorithm on real text is in
// tests/golden/test_wordpiece_oracle.cpp.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "cformer/error.h"
#include "cformer/tokenizers/wordpiece.h"

namespace cf::tokenizers {
namespace {

namespace fs = std::filesystem;
using Words = std::vector<std::string>;
using Ids = std::vector<int64_t>;

// A temporary directory removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    static int n = 0;
    path = fs::temp_directory_path() /
           ("cformer_wordpiece_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name, const std::string& content) const {
    const fs::path p = path / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
};

// The vocabulary of Hugging Face's BertTokenizer tests, plus a few pieces.
const Words kVocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]",     "[MASK]", "want", "##want", "##ed",
                      "wa",    "un",    "runn",  "##ing",     ",",      "low",  "lowest", ".",
                      "i",     "like",  "straw", "##berries", "!",      "##s",  "a",      "##a"};

std::string vocab_text(const Words& v, const std::string& eol = "\n") {
  std::string s;
  for (const std::string& t : v) s += t + eol;
  return s;
}

WordPieceTokenizer small(bool lower = true) {
  TempDir d;
  return WordPieceTokenizer::from_vocab_file(d.file("vocab.txt", vocab_text(kVocab)), lower);
}

Words tokens(const WordPieceTokenizer& t, const std::string& text) {
  Words out;
  for (int64_t id : t.encode(text)) out.push_back(t.id_to_token(id));
  return out;
}

template <class Err>
void expect_throw(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one containing \"" << needle << "\"";
  } catch (const Err& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(WordPieceBasic, LowerCaseAndPunctuation) {
  EXPECT_EQ(bert_basic_tokenize(" \tHeLLo!how  \n Are yoU?  ", true),
            (Words{"hello", "!", "how", "are", "you", "?"}));
  EXPECT_EQ(bert_basic_tokenize(" \tHeLLo!how  \n Are yoU?  ", false),
            (Words{"HeLLo", "!", "how", "Are", "yoU", "?"}));
  EXPECT_EQ(bert_basic_tokenize("H\u00e9llo", true), (Words{"hello"}));  // accents stripped
  EXPECT_EQ(bert_basic_tokenize("H\u00e9llo", false), (Words{"H\u00e9llo"}));
  EXPECT_EQ(bert_basic_tokenize("a$b^c`d~e", true),
            (Words{"a", "$", "b", "^", "c", "`", "d", "~", "e"}));
  EXPECT_EQ(bert_basic_tokenize("don't e-mail...", true),
            (Words{"don", "'", "t", "e", "-", "mail", ".", ".", "."}));
  EXPECT_EQ(bert_basic_tokenize("¿Qué? «sí»", true), (Words{"¿", "que", "?", "«", "si", "»"}));
}

TEST(WordPieceBasic, CleaningCjkAndInvalidUtf8) {
  EXPECT_EQ(bert_basic_tokenize("ah\u535a\u63a8zz", true), (Words{"ah", "\u535a", "\u63a8", "zz"}));
  // NUL, U+FFFD, control and format characters are dropped inside words.
  EXPECT_EQ(bert_basic_tokenize(std::string("a\0b\x01"
                                            "c\ufffd"
                                            "d\u200be",
                                            13),
                                true),
            (Words{"abcde"}));
  // Whitespace: Zs, \t \n \r, U+2028.
  EXPECT_EQ(bert_basic_tokenize("a\u00a0b\u3000c\td\u2028e", true),
            (Words{"a", "b", "c", "d", "e"}));
  // Bytes that are not UTF-8 are dropped like U+FFFD.
  EXPECT_EQ(bert_basic_tokenize("ab\xff"
                                "cd \xc3",
                                true),
            (Words{"abcd"}));
  // NFD + Mn removal, also for characters whose lower case decomposes.
  EXPECT_EQ(bert_basic_tokenize("\u00c5NGSTR\u00d6M \u0130stanbul", true),
            (Words{"angstrom", "istanbul"}));
  // Hangul decomposes to jamo under NFD; the jamo are not Mn and stay.
  EXPECT_EQ(bert_basic_tokenize("\uac01", true), (Words{"\u1100\u1161\u11a8"}));
  EXPECT_EQ(bert_basic_tokenize("", true), Words{});
  EXPECT_EQ(bert_basic_tokenize("   \n", true), Words{});
}

TEST(WordPiece, GreedyLongestMatch) {
  const WordPieceTokenizer t = small();
  EXPECT_EQ(tokens(t, "UNwant\u00e9d,running"),
            (Words{"un", "##want", "##ed", ",", "runn", "##ing"}));
  EXPECT_EQ(tokens(t, "unwantedX running"), (Words{"[UNK]", "runn", "##ing"}));
  EXPECT_EQ(tokens(t, "lowest low"), (Words{"lowest", "low"}));
  EXPECT_EQ(tokens(t, "I like strawberries!"), (Words{"i", "like", "straw", "##berries", "!"}));
  // Words longer than 100 characters are [UNK] even when they would split.
  Words hundred(100, "##a");
  hundred[0] = "a";
  EXPECT_EQ(tokens(t, std::string(100, 'a')), hundred);
  EXPECT_EQ(tokens(t, std::string(101, 'a')), (Words{"[UNK]"}));
  // Special tokens written in the text are kept whole (case-sensitive).
  EXPECT_EQ(tokens(t, "i [MASK] straw[SEP]"), (Words{"i", "[MASK]", "straw", "[SEP]"}));
  EXPECT_EQ(tokens(t, "[mask]"), (Words{"[UNK]", "[UNK]", "[UNK]"}));
  EXPECT_EQ(t.encode(""), Ids{});
}

TEST(WordPiece, CasedVocabulary) {
  const WordPieceTokenizer t = small(false);
  EXPECT_FALSE(t.lower_case());
  EXPECT_EQ(tokens(t, "I like straw"), (Words{"[UNK]", "like", "straw"}));
}

TEST(WordPiece, Accessors) {
  const WordPieceTokenizer t = small();
  EXPECT_EQ(t.vocab_size(), static_cast<int64_t>(kVocab.size()));
  EXPECT_EQ(t.pad_id(), 0);
  EXPECT_EQ(t.unk_id(), 1);
  EXPECT_EQ(t.cls_id(), 2);
  EXPECT_EQ(t.sep_id(), 3);
  EXPECT_EQ(t.mask_id(), 4);
  EXPECT_EQ(t.token_to_id("##ing"), 11);
  EXPECT_EQ(t.token_to_id("ing"), -1);
  EXPECT_TRUE(t.is_continuation(11));
  EXPECT_FALSE(t.is_continuation(10));
  EXPECT_FALSE(t.is_continuation(-1));
  EXPECT_FALSE(t.is_continuation(1000));
  EXPECT_EQ(t.id_to_token(9), "un");
  expect_throw<IndexError>([&t]() { t.id_to_token(24); }, "id 24");
  expect_throw<IndexError>([&t]() { t.id_to_token(-1); }, "wordpiece id_to_token");
}

TEST(WordPiece, Decode) {
  const WordPieceTokenizer t = small();
  const Ids ids = t.encode("UNwanted, running!");
  EXPECT_EQ(t.decode(ids), "unwanted , running !");
  EXPECT_EQ(t.decode({2, 9, 6, 3, 0}), "unwant");
  EXPECT_EQ(t.decode({2, 9, 6, 3, 0}, false), "[CLS] unwant [SEP] [PAD]");
  EXPECT_EQ(t.decode({7, 9}), "##ed un");  // a leading continuation keeps its ##
  EXPECT_EQ(t.decode({}), "");
  expect_throw<IndexError>([&t]() { t.decode({5, 99}); }, "wordpiece decode: id 99");
}

TEST(WordPieceEncode, Single) {
  const WordPieceTokenizer t = small();
  const Encoding e = t.encode_for_model("unwanted running", {});
  EXPECT_EQ(e.ids, (Ids{2, 9, 6, 7, 10, 11, 3}));
  EXPECT_EQ(e.type_ids, (Ids{0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(e.attention_mask, (Ids{1, 1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(e.special, (std::vector<uint8_t>{1, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(e.word_ids, (Ids{-1, 0, 0, 0, 1, 1, -1}));
  EXPECT_EQ(e.truncated, 0);

  const Encoding p = t.encode_for_model("low", {.max_length = 8, .truncate = true, .pad_to = 6});
  EXPECT_EQ(p.ids, (Ids{2, 13, 3, 0, 0, 0}));
  EXPECT_EQ(p.attention_mask, (Ids{1, 1, 1, 0, 0, 0}));
  EXPECT_EQ(p.special, (std::vector<uint8_t>{1, 0, 1, 1, 1, 1}));
  EXPECT_EQ(p.word_ids, (Ids{-1, 0, -1, -1, -1, -1}));
  EXPECT_EQ(p.type_ids, (Ids{0, 0, 0, 0, 0, 0}));

  const Encoding e0 = t.encode_for_model("", {});
  EXPECT_EQ(e0.ids, (Ids{2, 3}));
}

TEST(WordPieceEncode, SingleTruncation) {
  const WordPieceTokenizer t = small();
  const Encoding e = t.encode_for_model("unwanted running low", {.max_length = 5});
  EXPECT_EQ(e.ids, (Ids{2, 9, 6, 7, 3}));
  EXPECT_EQ(e.word_ids, (Ids{-1, 0, 0, 0, -1}));
  EXPECT_EQ(e.truncated, 3);
  const Encoding exact = t.encode_for_model("low low low", {.max_length = 5});
  EXPECT_EQ(exact.truncated, 0);
  EXPECT_EQ(exact.ids.size(), 5u);
  // No limit.
  EXPECT_EQ(t.encode_for_model(std::string(3000, ' ') + "low", {.max_length = 0}).ids.size(), 3u);
  expect_throw<ValueError>(
      [&t]() { t.encode_for_model("low low low low", {.max_length = 5, .truncate = false}); },
      "wordpiece encode_for_model: the input has 6 tokens");
  expect_throw<ValueError>([&t]() { t.encode_for_model("low", {.max_length = 1}); },
                           "wordpiece encode_for_model: max_length must be 0");
  expect_throw<ValueError>([&t]() { t.encode_for_model("low", {.pad_to = -1}); }, "pad_to");
  // Padding never shortens.
  EXPECT_EQ(t.encode_for_model("low low", {.pad_to = 2}).ids.size(), 4u);
}

TEST(WordPieceEncode, Pair) {
  const WordPieceTokenizer t = small();
  const Encoding e = t.encode_pair("unwanted", "i like", {.max_length = 0, .pad_to = 10});
  EXPECT_EQ(e.ids, (Ids{2, 9, 6, 7, 3, 16, 17, 3, 0, 0}));
  EXPECT_EQ(e.type_ids, (Ids{0, 0, 0, 0, 0, 1, 1, 1, 0, 0}));
  EXPECT_EQ(e.attention_mask, (Ids{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}));
  EXPECT_EQ(e.special, (std::vector<uint8_t>{1, 0, 0, 0, 1, 0, 0, 1, 1, 1}));
  EXPECT_EQ(e.word_ids, (Ids{-1, 0, 0, 0, -1, 1, 2, -1, -1, -1}));
  expect_throw<ValueError>([&t]() { t.encode_pair("a", "b", {.max_length = 2}); },
                           "wordpiece encode_pair: max_length must be 0 (no limit) or at least 3");
  expect_throw<ValueError>(
      [&t]() { t.encode_pair("a a", "b", {.max_length = 5, .truncate = false}); },
      "wordpiece encode_pair: the input has 6 tokens");
}

// Longest first, as Hugging Face's truncate_sequences: one token at a time from the longer
// sequence, from b when they are equally long.
TEST(WordPieceEncode, PairLongestFirst) {
  const WordPieceTokenizer t = small();
  auto lengths = [&t](int na, int nb, int64_t max_length) {
    std::string a, b;
    for (int i = 0; i < na; ++i) a += "low ";
    for (int i = 0; i < nb; ++i) b += "a ";
    const Encoding e = t.encode_pair(a, b, {.max_length = max_length});
    int64_t la = 0, lb = 0;
    for (size_t i = 0; i < e.ids.size(); ++i) {
      if (e.ids[i] == 13) ++la;
      if (e.ids[i] == 22) ++lb;
      EXPECT_EQ(e.type_ids[i], e.ids[i] == 22 || (i + 1 == e.ids.size()) ? 1 : 0) << i;
    }
    EXPECT_EQ(e.truncated, na + nb + 3 - static_cast<int64_t>(e.ids.size()));
    EXPECT_LE(static_cast<int64_t>(e.ids.size()), max_length);
    return std::pair{la, lb};
  };
  // Reference: the one-at-a-time loop of transformers' truncate_sequences.
  for (int na = 0; na <= 6; ++na)
    for (int nb = 0; nb <= 6; ++nb)
      for (int64_t m = 3; m <= na + nb + 4; ++m) {
        int64_t ra = na, rb = nb;
        for (int64_t k = na + nb + 3 - m; k > 0; --k) (ra > rb ? ra : rb) -= 1;
        EXPECT_EQ(lengths(na, nb, m), (std::pair{ra, rb})) << na << " " << nb << " " << m;
      }
}

TEST(WordPieceEncode, WordIdsOfSpecialTokensInText) {
  const WordPieceTokenizer t = small();
  const Encoding e = t.encode_pair("un [MASK] wanted", "[MASK]", {});
  EXPECT_EQ(e.ids, (Ids{2, 9, 4, 5, 7, 3, 4, 3}));
  EXPECT_EQ(e.word_ids, (Ids{-1, 0, 1, 2, 2, -1, 3, -1}));
  EXPECT_EQ(e.special, (std::vector<uint8_t>{1, 0, 0, 0, 0, 1, 0, 1}));
}

TEST(WordPieceFiles, VocabRoundTripAndCrlf) {
  TempDir d;
  const WordPieceTokenizer a =
      WordPieceTokenizer::from_vocab_file(d.file("crlf.txt", vocab_text(kVocab, "\r\n")));
  EXPECT_EQ(a.vocab_size(), static_cast<int64_t>(kVocab.size()));
  EXPECT_EQ(a.token_to_id("##a"), 23);
  const std::string out = (d.path / "out.txt").string();
  a.save_vocab_file(out);
  std::ifstream f(out, std::ios::binary);
  const std::string saved((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(saved, vocab_text(kVocab));
  // No final newline.
  std::string text = vocab_text(kVocab);
  text.pop_back();
  EXPECT_EQ(WordPieceTokenizer::from_vocab_file(d.file("nonl.txt", text)).vocab_size(),
            static_cast<int64_t>(kVocab.size()));
  // load() detects the format.
  EXPECT_EQ(WordPieceTokenizer::load(out).encode("unwanted"), a.encode("unwanted"));
  for (const auto& e : fs::directory_iterator(d.path))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos);
}

TEST(WordPieceFiles, VocabErrors) {
  TempDir d;
  const std::string missing = (d.path / "nope.txt").string();
  expect_throw<IoError>([&missing]() { WordPieceTokenizer::from_vocab_file(missing); }, "nope.txt");
  const std::string empty = d.file("empty.txt", "");
  expect_throw<FormatError>([&empty]() { WordPieceTokenizer::from_vocab_file(empty); },
                            "empty.txt: empty vocabulary file");
  Words dup = kVocab;
  dup.push_back("low");
  const std::string dup_path = d.file("dup.txt", vocab_text(dup));
  expect_throw<FormatError>([&dup_path]() { WordPieceTokenizer::from_vocab_file(dup_path); },
                            "dup.txt:25: duplicate token \"low\" (first on line 14)");
  Words no_mask(kVocab.begin(), kVocab.end());
  no_mask.erase(no_mask.begin() + 4);
  const std::string nm = d.file("nomask.txt", vocab_text(no_mask));
  expect_throw<FormatError>([&nm]() { WordPieceTokenizer::from_vocab_file(nm); },
                            "nomask.txt: the vocabulary lacks the special token [MASK]");
  const std::string blank = d.file("blank.txt", "[PAD]\n\n[UNK]\n");
  expect_throw<FormatError>([&blank]() { WordPieceTokenizer::from_vocab_file(blank); },
                            "blank.txt:2: empty token");
  const std::string bad = d.file("bad.txt", "[PAD]\nab\xff\n");
  expect_throw<FormatError>([&bad]() { WordPieceTokenizer::from_vocab_file(bad); },
                            "bad.txt:2: token \"ab");
  const std::string long_token = d.file("long.txt", "[PAD]\n" + std::string(1025, 'x') + "\n");
  expect_throw<FormatError>([&long_token]() { WordPieceTokenizer::load(long_token); },
                            "long.txt:2: token of 1025 bytes (at most 1024)");
  expect_throw<FormatError>([&empty]() { WordPieceTokenizer::load(empty); },
                            "empty.txt: empty vocabulary file");
  expect_throw<IoError>([&missing]() { WordPieceTokenizer::load(missing); }, "nope.txt");
  const WordPieceTokenizer t = small();
  const std::string into_missing_dir = (d.path / "no" / "dir" / "v.txt").string();
  expect_throw<IoError>([&t, &into_missing_dir]() { t.save_vocab_file(into_missing_dir); },
                        "v.txt");
}

TEST(WordPieceFiles, HfJsonRoundTrip) {
  for (bool lower : {true, false}) {
    TempDir d;
    const WordPieceTokenizer t = small(lower);
    const std::string path = (d.path / "tokenizer.json").string();
    t.save_hf_json(path);
    const WordPieceTokenizer u = WordPieceTokenizer::load(path);
    EXPECT_EQ(u.lower_case(), lower);
    EXPECT_EQ(u.vocab_size(), t.vocab_size());
    EXPECT_EQ(u.to_hf_json(), t.to_hf_json());
    const std::string text = "UNwant\u00e9d, running I like strawberries!";
    EXPECT_EQ(u.encode(text), t.encode(text));
    const nlohmann::json j = nlohmann::json::parse(t.to_hf_json());
    EXPECT_EQ(j["model"]["type"], "WordPiece");
    EXPECT_EQ(j["model"]["vocab"]["##ing"], 11);
    EXPECT_EQ(j["normalizer"]["type"], "BertNormalizer");
    EXPECT_EQ(j["normalizer"]["lowercase"], lower);
    EXPECT_EQ(j["pre_tokenizer"]["type"], "BertPreTokenizer");
    EXPECT_EQ(j["post_processor"]["special_tokens"]["[CLS]"]["ids"][0], 2);
    EXPECT_EQ(j["added_tokens"].size(), 5u);
  }
}

nlohmann::json small_json() {
  return nlohmann::json::parse(small().to_hf_json());
}

TEST(WordPieceFiles, HfJsonVariants) {
  // BertProcessing, strip_accents false with lowercase, no normalizer.
  nlohmann::json j = small_json();
  j["post_processor"] = {{"type", "BertProcessing"}, {"sep", {"[SEP]", 3}}, {"cls", {"[CLS]", 2}}};
  j["normalizer"]["strip_accents"] = false;
  j["model"]["max_input_chars_per_word"] = 4;
  const WordPieceTokenizer t = WordPieceTokenizer::from_hf_json(j.dump(), "v.json");
  EXPECT_EQ(t.encode("LOW LOWEST"), (Ids{13, 1}));  // 6 characters > 4: [UNK]
  EXPECT_EQ(t.encode("l\u00f3w"), (Ids{1}));        // accents kept: no such token
  EXPECT_EQ(nlohmann::json::parse(t.to_hf_json())["normalizer"]["strip_accents"], false);
  j.erase("normalizer");
  EXPECT_EQ(WordPieceTokenizer::from_hf_json(j.dump(), "v.json").encode("low"), (Ids{13}));
}

TEST(WordPieceFiles, HfJsonErrors) {
  auto expect_format = [](const nlohmann::json& j, const std::string& needle) {
    expect_throw<FormatError>([&j]() { WordPieceTokenizer::from_hf_json(j.dump(), "t.json"); },
                              needle);
  };
  auto expect_unsupported = [](const nlohmann::json& j, const std::string& needle) {
    expect_throw<NotImplementedError>(
        [&j]() { WordPieceTokenizer::from_hf_json(j.dump(), "t.json"); }, needle);
  };
  expect_throw<FormatError>([]() { WordPieceTokenizer::from_hf_json("{\"model\": ", "t.json"); },
                            "t.json: invalid JSON");
  expect_format(nlohmann::json::array(), "t.json: a tokenizer.json must be a JSON object");
  expect_format(nlohmann::json::object(), "t.json: tokenizer.json lacks the \"model\" object");
  nlohmann::json j = small_json();
  j["model"]["type"] = "BPE";
  expect_format(j, "t.json: model.type is \"BPE\", expected \"WordPiece\"");
  j = small_json();
  j["model"]["vocab"]["extra"] = 99;
  expect_format(j, "t.json: id 99 of token \"extra\" is outside [0, 25)");
  j = small_json();
  j["model"]["vocab"]["low"] = 12;
  expect_format(j, "duplicate id 12");
  j = small_json();
  j["model"]["vocab"]["low"] = "x";
  expect_format(j, "t.json: model.vocab[\"low\"] must be an integer id");
  j = small_json();
  j["model"]["vocab"].erase("[SEP]");
  j["model"]["vocab"]["z"] = 3;
  expect_format(j, "t.json: the vocabulary lacks the special token [SEP]");
  j = small_json();
  j["model"]["max_input_chars_per_word"] = 0;
  expect_format(j, "max_input_chars_per_word must be a positive integer");
  j = small_json();
  j["model"]["continuing_subword_prefix"] = "@@";
  expect_unsupported(j, "continuing_subword_prefix must be \"##\"");
  j = small_json();
  j["model"]["unk_token"] = "<unk>";
  expect_unsupported(j, "model.unk_token must be \"[UNK]\"");
  j = small_json();
  j["normalizer"] = {{"type", "NFC"}};
  expect_unsupported(j, "normalizer must be BertNormalizer");
  j = small_json();
  j["normalizer"]["handle_chinese_chars"] = false;
  expect_unsupported(j, "handle_chinese_chars");
  j = small_json();
  j["pre_tokenizer"] = {{"type", "Whitespace"}};
  expect_unsupported(j, "pre_tokenizer must be BertPreTokenizer");
  j = small_json();
  j["post_processor"] = {{"type", "RobertaProcessing"}};
  expect_unsupported(j, "post_processor must be BertProcessing or TemplateProcessing");
  j = small_json();
  j["post_processor"]["single"].erase(0);
  expect_unsupported(j, "TemplateProcessing must be BERT's");
  j = small_json();
  j["post_processor"] = {{"type", "BertProcessing"}, {"sep", {"[SEP]", 2}}, {"cls", {"[CLS]", 2}}};
  expect_unsupported(j, "post_processor.sep must be [\"[SEP]\", 3]");
}

TEST(WordPieceTrain, SmallCorpus) {
  const std::vector<std::string> texts = {
      "The lowest low is lower than the low. Newer and newest, wider and widest!",
      "the THE The thé [MASK] low lower lowest",
  };
  const WordPieceTokenizer t = WordPieceTokenizer::train(texts, 50);
  EXPECT_EQ(t.vocab_size(), 50);
  EXPECT_TRUE(t.lower_case());
  EXPECT_EQ(t.id_to_token(0), "[PAD]");
  EXPECT_EQ(t.id_to_token(1), "[UNK]");
  EXPECT_EQ(t.id_to_token(2), "[CLS]");
  EXPECT_EQ(t.id_to_token(3), "[SEP]");
  EXPECT_EQ(t.id_to_token(4), "[MASK]");
  // Every character as a word start and as a continuation; the first merges are the most
  // frequent pairs.
  for (const char* c : {"t", "h", "e", "l", "o", "w", ".", ",", "!", "##t", "##w", "##!"})
    EXPECT_GE(t.token_to_id(c), 5) << c;
  EXPECT_EQ(t.token_to_id("T"), -1);   // lower-cased
  EXPECT_EQ(t.token_to_id("[M"), -1);  // [MASK] in the text is not learned from
  EXPECT_GE(t.token_to_id("low"), 0);
  EXPECT_GE(t.token_to_id("the"), 0);
  EXPECT_EQ(t.encode("the low"), (Ids{t.token_to_id("the"), t.token_to_id("low")}));
  for (const std::string& text : texts)
    for (int64_t id : t.encode(text)) EXPECT_NE(id, t.unk_id()) << text;
  // Deterministic.
  EXPECT_EQ(WordPieceTokenizer::train(texts, 50).to_hf_json(), t.to_hf_json());
  // Cased.
  const WordPieceTokenizer c = WordPieceTokenizer::train(texts, 70, false);
  EXPECT_FALSE(c.lower_case());
  EXPECT_GE(c.token_to_id("T"), 0);
  EXPECT_GE(c.token_to_id("##\u00e9"), 0);
  // A vocabulary larger than the text can fill stops early.
  EXPECT_LT(WordPieceTokenizer::train({"ab ab"}, 100).vocab_size(), 100);
}

TEST(WordPieceTrain, ExactMerges) {
  // Words: "aab" x3, "ab" x2. Alphabet a, b: ids 5 a, 6 b, 7 ##a, 8 ##b. Pairs: (a,##a) 3,
  // (##a,##b) 3, (a,##b) 2: the tie goes to the smaller id pair (a,##a) -> "aa" (9); then
  // (aa,##b) 3 -> "aab" (10); then (a,##b) 2 -> "ab" (11).
  const WordPieceTokenizer t = WordPieceTokenizer::train({"aab aab ab aab ab"}, 12);
  const Words want = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a",
                      "b",     "##a",   "##b",   "aa",    "aab",    "ab"};
  ASSERT_EQ(t.vocab_size(), 12);
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(t.id_to_token(i), want[i]) << i;
}

TEST(WordPieceTrain, Errors) {
  expect_throw<ValueError>([]() { WordPieceTokenizer::train({"abc"}, 10); },
                           "wordpiece train: vocab_size must be in [11, ");
  expect_throw<ValueError>([]() { WordPieceTokenizer::train({}, 4); },
                           "wordpiece train: vocab_size must be in [5, ");
  // No text: the special tokens alone.
  EXPECT_EQ(WordPieceTokenizer::train({}, 5).vocab_size(), 5);
}

}  // namespace
}  // namespace cf::tokenizers
