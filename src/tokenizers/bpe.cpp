// Byte-level BPE: loading (GPT-2 files, tokenizer.json), training, encoding and decoding.
// The contract is in include/cformer/tokenizers/bpe.h; the merge loop in bpe_merge.h.
#include "cformer/tokenizers/bpe.h"

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <queue>
#include <span>

#include <nlohmann/json.hpp>

#include "cformer/io.h"
#include "tokenizers/bpe_merge.h"
#include "tokenizers/unicode.h"
#include "util/check.h"

namespace cf::tokenizers {

std::vector<std::string_view> gpt2_pretokenize(std::string_view text) {
  return unicode::gpt2_pretokenize(text);
}

namespace {

// Largest id accepted from a file: bounds the id -> token table of an untrusted vocabulary.
constexpr int64_t kMaxId = 10'000'000;
// Words up to this many bytes are cached; longer ones are rare and would bloat the cache.
constexpr size_t kMaxCachedWord = 64;
// The cache is emptied when it reaches this size: larger caches of mostly unique words (random
// bytes) cost more in memory traffic than they save (measured with bench/tokenizer).
constexpr size_t kMaxCacheEntries = 1 << 16;
// Words up to this many bytes use the quadratic merge loop, which is faster when short.
constexpr size_t kMaxSimpleWord = 24;

std::string file_text(const std::string& path) {
  std::vector<uint8_t> bytes = io::read_file(path);
  return std::string(bytes.begin(), bytes.end());
}

size_t line_of(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + offset, '\n'));
}

// A printable form of a token for error messages.
std::string shown(std::string_view s) {
  nlohmann::json j = std::string(s.substr(0, 60));
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
         (s.size() > 60 ? "..." : "");
}

// Parser of a flat JSON object {"token": id, ...} (encoder.json / vocab.json) that knows the
// line of every entry, so errors can name it.
class FlatJsonParser {
 public:
  FlatJsonParser(std::string_view text, const std::string& source) : s_(text), source_(source) {}

  struct Entry {
    std::string key;
    int64_t id;
    size_t line;
  };
  std::vector<Entry> parse() {
    std::vector<Entry> out;
    skip_ws();
    expect('{');
    skip_ws();
    if (peek() == '}') {
      ++i_;
    } else {
      while (true) {
        skip_ws();
        const size_t line = line_;
        std::string key = parse_string();
        skip_ws();
        expect(':');
        skip_ws();
        const int64_t id = parse_id(key);
        out.push_back({std::move(key), id, line});
        skip_ws();
        const char c = peek();
        if (c == ',') {
          ++i_;
          continue;
        }
        if (c == '}') {
          ++i_;
          break;
        }
        fail("expected ',' or '}'");
      }
    }
    skip_ws();
    if (i_ != s_.size()) fail("unexpected text after the object");
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    CF_THROW(
        FormatError, source_, ":", line_, ": invalid vocabulary JSON: ", what,
        i_ < s_.size() ? " at '" + std::string(1, s_[i_]) + "'" : std::string(" at end of file"));
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  void skip_ws() {
    while (i_ < s_.size() &&
           (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
      if (s_[i_] == '\n') ++line_;
      ++i_;
    }
  }
  uint32_t hex4() {
    if (i_ + 4 > s_.size()) fail("truncated \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= c - '0';
      else if (c >= 'a' && c <= 'f')
        v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        v |= c - 'A' + 10;
      else
        fail("bad \\u escape");
    }
    return v;
  }
  std::string parse_string() {
    expect('"');
    std::string out;
    while (true) {
      if (i_ >= s_.size()) fail("unterminated string");
      const char c = s_[i_++];
      if (c == '"') break;
      if (static_cast<unsigned char>(c) < 0x20) {
        --i_;
        fail("control character in a string");
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) fail("unterminated string");
      const char e = s_[i_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (i_ + 2 > s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u') fail("lone surrogate");
            i_ += 2;
            const uint32_t lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("lone surrogate");
          }
          unicode::append_utf8(out, cp);
          break;
        }
        default:
          --i_;
          fail("bad escape");
      }
    }
    return out;
  }
  int64_t parse_id(const std::string& key) {
    const size_t start = i_;
    int64_t v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      v = v * 10 + (s_[i_] - '0');
      if (v > kMaxId) {
        i_ = start;
        fail("id of " + shown(key) + " is larger than " + std::to_string(kMaxId));
      }
      ++i_;
    }
    if (i_ == start) fail("the id of " + shown(key) + " must be a non-negative integer");
    return v;
  }

  std::string_view s_;
  const std::string& source_;
  size_t i_ = 0;
  size_t line_ = 1;
};

// A vocabulary entry as read from a file: the token in the file's notation.
struct VocabEntry {
  std::string token;  // byte-level notation, or a special token's raw text
  int64_t id;
  std::string where;  // "file:line" or a JSON path, for errors
};
struct MergeEntry {
  std::string left, right;  // byte-level notation
  std::string where;
};

}  // namespace

struct BpeTokenizer::Impl {
  std::vector<std::string> tokens;               // id -> raw bytes
  std::vector<uint8_t> present;                  // id -> 1 when the id has a token
  std::unordered_map<std::string, int32_t> ids;  // raw bytes -> id (ordinary tokens)
  std::array<int32_t, 256> byte_ids{};
  MergeTable merge_table;
  std::vector<std::pair<int32_t, int32_t>> merge_list;    // rank order
  std::vector<std::pair<std::string, int32_t>> specials;  // id order

  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;

  void set_token(int32_t id, std::string bytes) {
    if (static_cast<size_t>(id) >= tokens.size()) {
      tokens.resize(id + 1);
      present.resize(id + 1, 0);
    }
    tokens[id] = std::move(bytes);
    present[id] = 1;
  }

  // Builds everything from entries read from a file (GPT-2's or tokenizer.json).
  void build(const std::vector<VocabEntry>& vocab, const std::vector<MergeEntry>& merges,
             const std::vector<std::pair<std::string, int64_t>>& added, const std::string& source) {
    std::unordered_map<int64_t, std::string_view> added_ids;  // id -> content
    for (const auto& [content, id] : added) added_ids.emplace(id, content);
    std::unordered_map<int64_t, const VocabEntry*> by_id;
    std::unordered_map<std::string, int32_t> by_token;  // byte-level notation -> id
    for (const VocabEntry& e : vocab) {
      CF_CHECK(e.id >= 0 && e.id <= kMaxId, FormatError, e.where, ": id ", e.id, " of token ",
               shown(e.token), " is outside [0, ", kMaxId, "]");
      auto [it, fresh] = by_id.emplace(e.id, &e);
      CF_CHECK(!e.token.empty(), FormatError, e.where, ": empty token with id ", e.id);
      CF_CHECK(fresh, FormatError, e.where, ": duplicate id ", e.id, ": tokens ",
               shown(it->second->token), " (", it->second->where, ") and ", shown(e.token));
      CF_CHECK(by_token.emplace(e.token, static_cast<int32_t>(e.id)).second, FormatError, e.where,
               ": duplicate token ", shown(e.token));
      std::string bytes;
      if (auto a = added_ids.find(e.id); a != added_ids.end() && a->second == e.token) {
        bytes = e.token;  // an added token's raw text
      } else {
        CF_CHECK(unicode::byte_level_to_bytes(e.token, bytes), FormatError, e.where, ": token ",
                 shown(e.token), " holds a character outside GPT-2's byte-level alphabet");
        ids.emplace(bytes, static_cast<int32_t>(e.id));
      }
      set_token(static_cast<int32_t>(e.id), std::move(bytes));
    }
    for (int b = 0; b < 256; ++b) {
      std::string one(1, static_cast<char>(b));
      auto it = ids.find(one);
      CF_CHECK(it != ids.end(), FormatError, source, ": the vocabulary lacks the token of byte 0x",
               "0123456789abcdef"[b >> 4], "0123456789abcdef"[b & 15], " (",
               shown(unicode::bytes_to_byte_level(one)), "), so not every text can be encoded");
      byte_ids[b] = it->second;
    }
    for (const MergeEntry& m : merges) {
      auto find = [&by_token, &m](const std::string& t, const char* what) -> int32_t {
        auto it = by_token.find(t);
        CF_CHECK(it != by_token.end(), FormatError, m.where, ": merge ",
                 shown(m.left + " " + m.right), ": its ", what, " ", shown(t),
                 " is not in the vocabulary");
        return it->second;
      };
      const int32_t a = find(m.left, "left part"), b = find(m.right, "right part");
      const int32_t r = find(m.left + m.right, "result");
      const auto rank = static_cast<int32_t>(merge_list.size());
      CF_CHECK(merge_table.insert(a, b, rank, r), FormatError, m.where, ": duplicate merge ",
               shown(m.left + " " + m.right));
      merge_list.emplace_back(a, b);
    }
    for (const auto& [content, id] : added) {
      CF_CHECK(id >= 0 && id <= kMaxId, FormatError, source, ": added token ", shown(content),
               " has id ", id, " outside [0, ", kMaxId, "]");
      CF_CHECK(!content.empty(), FormatError, source, ": added token ", id, " is empty");
      if (static_cast<size_t>(id) >= present.size() || !present[id])
        set_token(static_cast<int32_t>(id), content);
      CF_CHECK(tokens[id] == content, FormatError, source, ": added token ", shown(content),
               " has id ", id, ", which the vocabulary gives to ", shown(tokens[id]));
      for (const auto& [other, other_id] : specials)
        CF_CHECK(other != content, FormatError, source, ": added token ", shown(content),
                 " appears twice (ids ", other_id, " and ", id, ")");
      specials.emplace_back(content, static_cast<int32_t>(id));
    }
    std::sort(specials.begin(), specials.end(),
              [](const auto& x, const auto& y) { return x.second < y.second; });
  }

  void encode_word(std::string_view word, std::vector<int64_t>& out) const {
    if (word.size() == 1) {
      out.push_back(byte_ids[static_cast<uint8_t>(word[0])]);
      return;
    }
    const bool cacheable = word.size() <= kMaxCachedWord;
    if (cacheable) {
      std::lock_guard<std::mutex> lock(cache_mutex);
      auto it = cache.find(std::string(word));
      if (it != cache.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<int32_t> syms(word.size());
    for (size_t i = 0; i < word.size(); ++i) syms[i] = byte_ids[static_cast<uint8_t>(word[i])];
    if (word.size() <= kMaxSimpleWord)
      bpe_merge_simple(syms, merge_table);
    else
      bpe_merge_heap(syms, merge_table);
    out.insert(out.end(), syms.begin(), syms.end());
    if (cacheable) {
      std::lock_guard<std::mutex> lock(cache_mutex);
      if (cache.size() >= kMaxCacheEntries) cache.clear();
      cache.emplace(std::string(word), std::move(syms));
    }
  }

  void encode_ordinary(std::string_view text, std::vector<int64_t>& out) const {
    for (std::string_view piece : unicode::gpt2_pretokenize(text)) encode_word(piece, out);
  }
};

BpeTokenizer::BpeTokenizer() : impl_(std::make_unique<Impl>()) {}
BpeTokenizer::~BpeTokenizer() = default;
BpeTokenizer::BpeTokenizer(BpeTokenizer&&) noexcept = default;
BpeTokenizer& BpeTokenizer::operator=(BpeTokenizer&&) noexcept = default;

namespace {

std::vector<MergeEntry> parse_merges_text(std::string_view text, const std::string& source) {
  std::vector<MergeEntry> out;
  size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // As Hugging Face: a "#version" line is skipped wherever it is, a file without one is fine.
    if (line.starts_with("#version")) continue;
    if (line.empty()) continue;
    std::vector<std::string_view> parts;
    for (size_t i = 0; i < line.size();) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      size_t j = i;
      while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
      if (j > i) parts.push_back(line.substr(i, j - i));
      i = j;
    }
    const std::string where = source + ":" + std::to_string(line_no);
    CF_CHECK(parts.size() == 2, FormatError, where,
             ": a merge must be two tokens separated by a space, got ", parts.size(),
             " part(s) in ", shown(line));
    out.push_back({std::string(parts[0]), std::string(parts[1]), where});
  }
  return out;
}

std::string json_path_where(const std::string& source, const std::string& path) {
  return source + ": " + path;
}

[[noreturn]] void json_syntax_error(const std::string& source, std::string_view text,
                                    const nlohmann::json::parse_error& e) {
  CF_THROW(FormatError, source, ":", line_of(text, e.byte > 0 ? e.byte - 1 : 0),
           ": invalid JSON: ", e.what());
}

struct HfParsed {
  std::vector<VocabEntry> vocab;
  std::vector<MergeEntry> merges;
  std::vector<std::pair<std::string, int64_t>> added;
};
HfParsed parse_hf_json(const nlohmann::json& j, const std::string& source);

}  // namespace

BpeTokenizer BpeTokenizer::from_gpt2_files(const std::string& vocab_path,
                                           const std::string& merges_path) {
  const std::string vtext = file_text(vocab_path);
  const std::string mtext = file_text(merges_path);
  std::vector<VocabEntry> vocab;
  std::vector<std::pair<std::string, int64_t>> added;
  for (auto& e : FlatJsonParser(vtext, vocab_path).parse()) {
    if (e.key == "<|endoftext|>") added.emplace_back(e.key, e.id);
    vocab.push_back({std::move(e.key), e.id, vocab_path + ":" + std::to_string(e.line)});
  }
  BpeTokenizer t;
  t.impl_->build(vocab, parse_merges_text(mtext, merges_path), added, vocab_path);
  return t;
}

BpeTokenizer BpeTokenizer::load(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    auto pick = [&path](const char* a, const char* b) -> std::string {
      const fs::path pa = fs::path(path) / a, pb = fs::path(path) / b;
      std::error_code e;
      if (fs::exists(pa, e)) return pa.string();
      if (fs::exists(pb, e)) return pb.string();
      CF_THROW(IoError, path, ": holds neither ", a, " nor ", b);
    };
    return from_gpt2_files(pick("encoder.json", "vocab.json"), pick("vocab.bpe", "merges.txt"));
  }
  return from_hf_json(file_text(path), path);
}

BpeTokenizer BpeTokenizer::from_hf_json(std::string_view text, const std::string& source) {
  using nlohmann::json;
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    json_syntax_error(source, text, e);
  }
  HfParsed parsed;
  try {
    parsed = parse_hf_json(j, source);
  } catch (const json::exception& e) {  // a field of the wrong JSON type
    CF_THROW(FormatError, source, ": unexpected tokenizer.json content: ", e.what());
  }
  BpeTokenizer t;
  t.impl_->build(parsed.vocab, parsed.merges, parsed.added, source);
  return t;
}

namespace {

HfParsed parse_hf_json(const nlohmann::json& j, const std::string& source) {
  using nlohmann::json;
  CF_CHECK(j.is_object(), FormatError, source, ": a tokenizer.json must be a JSON object");
  CF_CHECK(j.contains("model") && j["model"].is_object(), FormatError, source,
           ": no \"model\" object");
  const json& model = j.at("model");
  if (model.contains("type"))
    CF_CHECK(model["type"] == "BPE", NotImplementedError, source, ": model.type ",
             model["type"].dump(), " is not supported (only \"BPE\")");
  auto is_empty_or_null = [](const json& v) {
    return v.is_null() || (v.is_string() && v.get<std::string>().empty());
  };
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix", "unk_token"})
    CF_CHECK(!model.contains(key) || is_empty_or_null(model[key]), NotImplementedError, source,
             ": model.", key, " ", model[key].dump(), " is not supported by the byte-level BPE");
  CF_CHECK(!model.contains("dropout") || model["dropout"].is_null() ||
               (model["dropout"].is_number() && model["dropout"].get<double>() == 0.0),
           NotImplementedError, source, ": model.dropout is not supported");
  CF_CHECK(!model.value("byte_fallback", false), NotImplementedError, source,
           ": model.byte_fallback is not supported");
  if (j.contains("pre_tokenizer") && !j["pre_tokenizer"].is_null()) {
    const json& p = j["pre_tokenizer"];
    CF_CHECK(p.is_object() && p.value("type", "") == "ByteLevel", NotImplementedError, source,
             ": pre_tokenizer ", p.dump().substr(0, 100), " is not supported (only ByteLevel)");
    CF_CHECK(!p.value("add_prefix_space", false), NotImplementedError, source,
             ": pre_tokenizer.add_prefix_space = true is not supported");
    CF_CHECK(p.value("use_regex", true), NotImplementedError, source,
             ": pre_tokenizer.use_regex = false is not supported");
  }
  CF_CHECK(!j.contains("normalizer") || j["normalizer"].is_null(), NotImplementedError, source,
           ": normalizers are not supported");
  CF_CHECK(model.contains("vocab") && model["vocab"].is_object(), FormatError, source,
           ": model.vocab must be an object {\"token\": id}");
  CF_CHECK(model.contains("merges") && model["merges"].is_array(), FormatError, source,
           ": model.merges must be an array");
  std::vector<VocabEntry> vocab;
  for (const auto& [tok, v] : model["vocab"].items()) {
    CF_CHECK(v.is_number_integer(), FormatError, source, ": model.vocab[", shown(tok),
             "] must be an integer id, got ", v.dump());
    vocab.push_back(
        {tok, v.get<int64_t>(), json_path_where(source, "model.vocab[" + shown(tok) + "]")});
  }
  std::vector<MergeEntry> merges;
  const json& jm = model["merges"];
  for (size_t i = 0; i < jm.size(); ++i) {
    const std::string where = json_path_where(source, "model.merges[" + std::to_string(i) + "]");
    const json& m = jm[i];
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t sp = s.find(' ');
      CF_CHECK(sp != std::string::npos && sp > 0 && sp + 1 < s.size() &&
                   s.find(' ', sp + 1) == std::string::npos,
               FormatError, where, ": a merge must be two tokens separated by one space, got ",
               shown(s));
      merges.push_back({s.substr(0, sp), s.substr(sp + 1), where});
    } else {
      CF_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(), FormatError,
               where, ": a merge must be \"left right\" or [\"left\", \"right\"], got ",
               m.dump().substr(0, 100));
      merges.push_back({m[0].get<std::string>(), m[1].get<std::string>(), where});
    }
  }
  std::vector<std::pair<std::string, int64_t>> added;
  if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
    const json& a = j["added_tokens"];
    CF_CHECK(a.is_array(), FormatError, source, ": added_tokens must be an array");
    for (size_t i = 0; i < a.size(); ++i) {
      CF_CHECK(a[i].is_object() && a[i].contains("id") && a[i]["id"].is_number_integer() &&
                   a[i].contains("content") && a[i]["content"].is_string(),
               FormatError, source, ": added_tokens[", i,
               "] must be {\"id\": integer, \"content\": string, ...}");
      added.emplace_back(a[i]["content"].get<std::string>(), a[i]["id"].get<int64_t>());
    }
  }
  return {std::move(vocab), std::move(merges), std::move(added)};
}

}  // namespace

BpeTokenizer BpeTokenizer::train(const std::vector<std::string>& texts, int64_t vocab_size,
                                 const std::vector<std::string>& special_tokens) {
  const int64_t min_size = 256 + static_cast<int64_t>(special_tokens.size());
  CF_CHECK(vocab_size >= min_size && vocab_size <= kMaxId, ValueError,
           "bpe train: vocab_size must be in [", min_size, ", ", kMaxId, "] (256 bytes + ",
           special_tokens.size(), " special tokens), got ", vocab_size);
  for (size_t i = 0; i < special_tokens.size(); ++i) {
    CF_CHECK(!special_tokens[i].empty(), ValueError, "bpe train: special token ", i, " is empty");
    for (size_t k = 0; k < i; ++k)
      CF_CHECK(special_tokens[k] != special_tokens[i], ValueError, "bpe train: special token ",
               shown(special_tokens[i]), " is repeated");
  }
  BpeTokenizer t;
  Impl& im = *t.impl_;
  for (int b = 0; b < 256; ++b) {
    im.set_token(b, std::string(1, static_cast<char>(b)));
    im.ids.emplace(im.tokens[b], b);
    im.byte_ids[b] = b;
  }
  // Distinct pre-tokenized words with their counts. Special tokens are not learned from.
  std::unordered_map<std::string_view, int64_t> counts;
  for (const std::string& text : texts) {
    std::string_view rest = text;
    while (!rest.empty()) {
      size_t cut = rest.size(), len = 0;
      for (const std::string& s : special_tokens) {
        const size_t f = rest.find(s);
        if (f < cut || (f == cut && f != std::string_view::npos && s.size() > len))
          cut = f, len = s.size();
      }
      for (std::string_view w : unicode::gpt2_pretokenize(rest.substr(0, cut))) ++counts[w];
      rest = cut == rest.size() ? std::string_view() : rest.substr(cut + len);
    }
  }
  struct Word {
    std::vector<int32_t> syms;
    int64_t count;
  };
  std::vector<Word> words;
  words.reserve(counts.size());
  {
    std::vector<std::pair<std::string_view, int64_t>> sorted(counts.begin(), counts.end());
    std::sort(sorted.begin(), sorted.end());  // a fixed word order: results never depend on hashing
    for (const auto& [w, c] : sorted) {
      Word word{std::vector<int32_t>(w.size()), c};
      for (size_t i = 0; i < w.size(); ++i) word.syms[i] = static_cast<uint8_t>(w[i]);
      words.push_back(std::move(word));
    }
  }
  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::vector<int32_t>> where;
  auto add_pairs = [&pair_count, &where](const Word& w, int32_t wi, int64_t sign) {
    for (size_t i = 0; i + 1 < w.syms.size(); ++i) {
      const uint64_t k = MergeTable::key(w.syms[i], w.syms[i + 1]);
      pair_count[k] += sign * w.count;
      if (sign > 0) {
        auto& v = where[k];
        if (v.empty() || v.back() != wi) v.push_back(wi);
      }
    }
  };
  for (size_t wi = 0; wi < words.size(); ++wi) add_pairs(words[wi], static_cast<int32_t>(wi), 1);
  // Max-heap by count; ties go to the smaller (left, right) pair. Entries go stale when counts
  // drop and are refreshed when popped.
  using Entry = std::pair<int64_t, uint64_t>;
  auto less = [](const Entry& x, const Entry& y) {
    return x.first != y.first ? x.first < y.first : x.second > y.second;
  };
  std::priority_queue<Entry, std::vector<Entry>, decltype(less)> heap(less);
  for (const auto& [k, c] : pair_count) heap.emplace(c, k);
  const int64_t target = vocab_size - static_cast<int64_t>(special_tokens.size());
  int64_t size = 256;
  std::vector<int32_t> stamp(words.size(), -1);
  while (size < target && !heap.empty()) {
    const auto [c, k] = heap.top();
    heap.pop();
    auto it = pair_count.find(k);
    const int64_t cur = it == pair_count.end() ? 0 : it->second;
    if (cur != c) {
      if (cur > 0) heap.emplace(cur, k);
      continue;
    }
    if (cur <= 0) break;
    const auto a = static_cast<int32_t>(k >> 32), b = static_cast<int32_t>(k & 0xFFFFFFFFu);
    std::string bytes = im.tokens[a] + im.tokens[b];
    int32_t id;
    if (auto found = im.ids.find(bytes); found != im.ids.end()) {
      id = found->second;  // another pair already made these bytes: reuse the token
    } else {
      id = static_cast<int32_t>(im.tokens.size());
      im.set_token(id, bytes);
      im.ids.emplace(std::move(bytes), id);
      ++size;
    }
    const auto rank = static_cast<uint64_t>(im.merge_list.size());
    im.merge_table.insert(a, b, static_cast<int32_t>(rank), id);
    im.merge_list.emplace_back(a, b);
    std::vector<int32_t> affected = std::move(where[k]);
    where.erase(k);
    std::vector<uint64_t> fresh;  // pairs with the new token, pushed once their counts are final
    for (int32_t wi : affected) {
      if (stamp[wi] == static_cast<int32_t>(rank)) continue;
      stamp[wi] = static_cast<int32_t>(rank);
      Word& w = words[wi];
      bool has = false;
      for (size_t i = 0; i + 1 < w.syms.size() && !has; ++i)
        has = w.syms[i] == a && w.syms[i + 1] == b;
      if (!has) continue;
      add_pairs(w, wi, -1);
      size_t out = 0;
      for (size_t i = 0; i < w.syms.size();) {
        if (i + 1 < w.syms.size() && w.syms[i] == a && w.syms[i + 1] == b) {
          w.syms[out++] = id;
          i += 2;
        } else {
          w.syms[out++] = w.syms[i++];
        }
      }
      w.syms.resize(out);
      add_pairs(w, wi, 1);
      for (size_t i = 0; i + 1 < w.syms.size(); ++i)
        if (w.syms[i] == id || w.syms[i + 1] == id)
          fresh.push_back(MergeTable::key(w.syms[i], w.syms[i + 1]));
    }
    pair_count.erase(k);
    std::sort(fresh.begin(), fresh.end());
    fresh.erase(std::unique(fresh.begin(), fresh.end()), fresh.end());
    for (uint64_t f : fresh)
      if (pair_count[f] > 0) heap.emplace(pair_count[f], f);
  }
  for (const std::string& s : special_tokens) t.add_special_token(s);
  return t;
}

int64_t BpeTokenizer::add_special_token(const std::string& text) {
  CF_CHECK(!text.empty(), ValueError, "bpe: a special token must not be empty");
  for (size_t i = 0; i < text.size();) {
    uint32_t cp;
    const int len = unicode::decode_utf8(text, i, cp);
    CF_CHECK(cp != 0xFFFFFFFFu, ValueError, "bpe: special token ", shown(text),
             " is not valid UTF-8 (byte ", i, ")");
    i += len;
  }
  Impl& im = *impl_;
  for (const auto& [s, id] : im.specials)
    if (s == text) return id;
  int32_t id;
  if (auto it = im.ids.find(text); it != im.ids.end()) {
    id = it->second;
  } else {
    id = static_cast<int32_t>(im.tokens.size());
    im.set_token(id, text);
  }
  im.specials.emplace_back(text, id);
  std::sort(im.specials.begin(), im.specials.end(),
            [](const auto& x, const auto& y) { return x.second < y.second; });
  return id;
}

std::vector<int64_t> BpeTokenizer::encode_ordinary(std::string_view text) const {
  std::vector<int64_t> out;
  out.reserve(text.size() / 3);
  impl_->encode_ordinary(text, out);
  return out;
}

std::vector<int64_t> BpeTokenizer::encode(std::string_view text) const {
  const Impl& im = *impl_;
  if (im.specials.empty()) return encode_ordinary(text);
  std::vector<int64_t> out;
  out.reserve(text.size() / 3);
  std::vector<size_t> next(im.specials.size(),
                           0);  // next occurrence of each special at or after pos
  for (size_t k = 0; k < next.size(); ++k) next[k] = text.find(im.specials[k].first);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t best = std::string_view::npos, best_len = 0;
    int32_t best_id = -1;
    for (size_t k = 0; k < next.size(); ++k) {
      if (next[k] != std::string_view::npos && next[k] < pos)
        next[k] = text.find(im.specials[k].first, pos);
      const size_t len = im.specials[k].first.size();
      if (next[k] < best ||
          (next[k] == best && next[k] != std::string_view::npos && len > best_len)) {
        best = next[k];
        best_len = len;
        best_id = im.specials[k].second;
      }
    }
    if (best == std::string_view::npos) {
      im.encode_ordinary(text.substr(pos), out);
      break;
    }
    im.encode_ordinary(text.substr(pos, best - pos), out);
    out.push_back(best_id);
    pos = best + best_len;
  }
  return out;
}

std::string BpeTokenizer::decode(const std::vector<int64_t>& ids) const {
  const Impl& im = *impl_;
  std::string out;
  for (int64_t id : ids) {
    CF_CHECK(id >= 0 && static_cast<size_t>(id) < im.present.size() && im.present[id], IndexError,
             "bpe decode: token id ", id, " is not in the vocabulary (size ", vocab_size(), ")");
    out += im.tokens[id];
  }
  return out;
}

int64_t BpeTokenizer::vocab_size() const {
  return static_cast<int64_t>(impl_->tokens.size());
}
int64_t BpeTokenizer::num_merges() const {
  return static_cast<int64_t>(impl_->merge_list.size());
}

std::vector<std::pair<std::string, std::string>> BpeTokenizer::merges() const {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(impl_->merge_list.size());
  for (const auto& [a, b] : impl_->merge_list) out.emplace_back(impl_->tokens[a], impl_->tokens[b]);
  return out;
}

int64_t BpeTokenizer::token_to_id(std::string_view bytes) const {
  for (const auto& [s, id] : impl_->specials)
    if (s == bytes) return id;
  auto it = impl_->ids.find(std::string(bytes));
  return it == impl_->ids.end() ? -1 : it->second;
}

std::string BpeTokenizer::id_to_token(int64_t id) const {
  CF_CHECK(id >= 0 && static_cast<size_t>(id) < impl_->present.size() && impl_->present[id],
           IndexError, "bpe: token id ", id, " is not in the vocabulary (size ", vocab_size(), ")");
  return impl_->tokens[id];
}

std::vector<std::pair<std::string, int64_t>> BpeTokenizer::special_tokens() const {
  return {impl_->specials.begin(), impl_->specials.end()};
}

namespace {

// The vocabulary in file notation, in id order: ordinary tokens byte-level, special tokens raw
// (skipped when that text is already an ordinary token's key).
nlohmann::ordered_json vocab_json(const std::vector<std::string>& tokens,
                                  const std::vector<uint8_t>& present,
                                  const std::vector<std::pair<std::string, int32_t>>& specials,
                                  bool raw_specials) {
  std::vector<int8_t> special(tokens.size(), 0);
  for (const auto& [s, id] : specials) special[id] = 1;
  nlohmann::ordered_json v = nlohmann::ordered_json::object();
  // ordered_map looks keys up linearly: append through its vector base, deduplicating here.
  using Items = std::vector<std::pair<const std::string, nlohmann::ordered_json>>;
  auto& items = static_cast<Items&>(v.get_ref<nlohmann::ordered_json::object_t&>());
  std::unordered_map<std::string, int32_t> seen;
  for (size_t id = 0; id < tokens.size(); ++id) {
    if (!present[id]) continue;
    std::string key =
        special[id] && raw_specials ? tokens[id] : unicode::bytes_to_byte_level(tokens[id]);
    if (seen.emplace(key, static_cast<int32_t>(id)).second) items.emplace_back(std::move(key), id);
  }
  return v;
}

std::string merges_line(const std::vector<std::string>& tokens, std::pair<int32_t, int32_t> m) {
  return unicode::bytes_to_byte_level(tokens[m.first]) + " " +
         unicode::bytes_to_byte_level(tokens[m.second]);
}

void write_text(const std::string& path, const std::string& text) {
  io::write_file_atomic(
      path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

}  // namespace

std::string BpeTokenizer::to_hf_json() const {
  using nlohmann::ordered_json;
  const Impl& im = *impl_;
  ordered_json added = ordered_json::array();
  for (const auto& [s, id] : im.specials)
    added.push_back({{"id", id},
                     {"content", s},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  ordered_json merges = ordered_json::array();
  for (const auto& m : im.merge_list) merges.push_back(merges_line(im.tokens, m));
  auto byte_level = [](bool prefix, bool trim) {
    return ordered_json{{"type", "ByteLevel"},
                        {"add_prefix_space", prefix},
                        {"trim_offsets", trim},
                        {"use_regex", true}};
  };
  ordered_json j = {{"version", "1.0"},
                    {"truncation", nullptr},
                    {"padding", nullptr},
                    {"added_tokens", added},
                    {"normalizer", nullptr},
                    {"pre_tokenizer", byte_level(false, true)},
                    {"post_processor", byte_level(true, false)},
                    {"decoder", byte_level(true, true)},
                    {"model",
                     {{"type", "BPE"},
                      {"dropout", nullptr},
                      {"unk_token", nullptr},
                      {"continuing_subword_prefix", ""},
                      {"end_of_word_suffix", ""},
                      {"fuse_unk", false},
                      {"byte_fallback", false},
                      {"vocab", vocab_json(im.tokens, im.present, im.specials, true)},
                      {"merges", merges}}}};
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::strict);
}

void BpeTokenizer::save_hf_json(const std::string& path) const {
  write_text(path, to_hf_json());
}

void BpeTokenizer::save_gpt2_files(const std::string& vocab_path,
                                   const std::string& merges_path) const {
  const Impl& im = *impl_;
  write_text(vocab_path, vocab_json(im.tokens, im.present, im.specials, false).dump());
  std::string m = "#version: 0.2\n";
  for (const auto& p : im.merge_list) m += merges_line(im.tokens, p) + "\n";
  write_text(merges_path, m);
}

}  // namespace cf::tokenizers
