// WordPiece: BERT's basic tokenizer, vocab.txt and tokenizer.json files, encoding for a model,
// decoding and vocabulary training. The contract is in include/cformer/tokenizers/wordpiece.h.
#include "cformer/tokenizers/wordpiece.h"

#include <algorithm>
#include <queue>
#include <span>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "cformer/io.h"
#include "tokenizers/unicode.h"
#include "tokenizers/unicode_bert.h"
#include "util/check.h"

namespace cf::tokenizers {
namespace {

constexpr uint32_t kInvalid = 0xFFFFFFFFu;
constexpr int64_t kDefaultMaxChars = 100;
// Bounds for untrusted files: vocabulary entries and token length in bytes.
constexpr int64_t kMaxVocab = 10'000'000;
constexpr size_t kMaxTokenBytes = 1024;
constexpr const char* kPad = "[PAD]";
constexpr const char* kUnk = "[UNK]";
constexpr const char* kCls = "[CLS]";
constexpr const char* kSep = "[SEP]";
constexpr const char* kMask = "[MASK]";
constexpr std::string_view kPrefix = "##";

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

// A printable form of a token for error messages.
std::string shown(std::string_view s) {
  nlohmann::json j = std::string(s.substr(0, 60));
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
         (s.size() > 60 ? "..." : "");
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    i += static_cast<size_t>(unicode::decode_utf8(s, i, cp));
    if (cp == kInvalid) return false;
  }
  return true;
}

void write_text(const std::string& path, const std::string& text) {
  io::write_file_atomic(
      path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

// BERT's basic tokenizer, streaming: emit(word) for every word (UTF-8) of text. Invalid UTF-8
// bytes are dropped, as U+FFFD would be (Python sees undecodable bytes as U+FFFD).
class BasicTokenizer {
 public:
  BasicTokenizer(bool lower, bool strip) : lower_(lower), strip_(strip) {}

  template <class Emit>
  void run(std::string_view text, Emit&& emit) {
    token_.clear();
    for (size_t i = 0; i < text.size();) {
      const auto c = static_cast<unsigned char>(text[i]);
      uint32_t cp = c;
      if (c < 0x80)
        ++i;
      else
        i += static_cast<size_t>(unicode::decode_utf8(text, i, cp));
      if (cp == 0 || cp == 0xFFFD || cp == kInvalid) continue;
      const uint8_t f = unicode::bert_flags(cp);
      if (f & unicode::kBertControl) continue;
      if (f & unicode::kBertSpace) {
        flush(emit);
      } else if (f & unicode::kBertCjk) {
        flush(emit);
        token_.push_back(cp);
        flush(emit);
      } else {
        token_.push_back(cp);
      }
    }
    flush(emit);
  }

 private:
  // One whitespace-separated token: normalize, then split off punctuation.
  template <class Emit>
  void flush(Emit& emit) {
    if (token_.empty()) return;
    const std::vector<uint32_t>* cps = &token_;
    bool ascii = true;
    for (uint32_t cp : token_) ascii = ascii && cp < 0x80;
    if (ascii) {
      if (lower_)
        for (uint32_t& cp : token_)
          if (cp >= 'A' && cp <= 'Z') cp += 32;
    } else if (lower_ || strip_) {
      norm_.clear();
      unicode::bert_normalize(token_, lower_, strip_, norm_);
      cps = &norm_;
    }
    word_.clear();
    for (uint32_t cp : *cps) {
      const uint8_t f = unicode::bert_flags(cp);
      if (f & (unicode::kBertPunct | unicode::kBertSpace)) {
        if (!word_.empty()) emit(std::string_view(word_));
        word_.clear();
        if (f & unicode::kBertPunct) {
          unicode::append_utf8(word_, cp);
          emit(std::string_view(word_));
          word_.clear();
        }
      } else {
        unicode::append_utf8(word_, cp);
      }
    }
    if (!word_.empty()) emit(std::string_view(word_));
    token_.clear();
  }

  bool lower_, strip_;
  std::vector<uint32_t> token_, norm_;
  std::string word_;
};

size_t count_chars(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

}  // namespace

std::vector<std::string> bert_basic_tokenize(std::string_view text, bool lower_case) {
  std::vector<std::string> out;
  BasicTokenizer bt(lower_case, lower_case);
  bt.run(text, [&out](std::string_view w) { out.emplace_back(w); });
  return out;
}

struct WordPieceTokenizer::Impl {
  std::vector<std::string> tokens;  // id -> token
  TokenMap ids;                     // token -> id
  TokenMap cont;                    // "##x" pieces by x
  size_t max_word_bytes = 0, max_cont_bytes = 0;
  bool lower = true, strip_accents = true;
  int64_t max_chars = kDefaultMaxChars;
  int32_t pad = -1, unk = -1, cls = -1, sep = -1, mask = -1;

  // Fills the lookup maps and the special ids from tokens; source names the vocabulary in
  // errors.
  void index(const std::string& source) {
    ids.clear();
    cont.clear();
    max_word_bytes = max_cont_bytes = 0;
    for (size_t i = 0; i < tokens.size(); ++i) {
      const std::string& t = tokens[i];
      ids.emplace(t, static_cast<int32_t>(i));
      max_word_bytes = std::max(max_word_bytes, t.size());
      if (t.size() > kPrefix.size() && t.starts_with(kPrefix)) {
        cont.emplace(t.substr(kPrefix.size()), static_cast<int32_t>(i));
        max_cont_bytes = std::max(max_cont_bytes, t.size() - kPrefix.size());
      }
    }
    auto special = [this, &source](const char* name) {
      auto it = ids.find(std::string_view(name));
      CF_CHECK(it != ids.end(), FormatError, source, ": the vocabulary lacks the special token ",
               name, " (it needs [PAD], [UNK], [CLS], [SEP] and [MASK])");
      return it->second;
    };
    pad = special(kPad);
    unk = special(kUnk);
    cls = special(kCls);
    sep = special(kSep);
    mask = special(kMask);
  }

  // Greedy longest-match-first split of one word; appends ids (and word index to wids).
  void wordpiece(std::string_view w, std::vector<int64_t>& out) const {
    if (static_cast<int64_t>(count_chars(w)) > max_chars) {
      out.push_back(unk);
      return;
    }
    const size_t first = out.size();
    size_t start = 0;
    while (start < w.size()) {
      const TokenMap& map = start == 0 ? ids : cont;
      size_t end = std::min(w.size(), start + (start == 0 ? max_word_bytes : max_cont_bytes));
      int32_t id = -1;
      for (; end > start; --end) {
        if (end < w.size() && (static_cast<unsigned char>(w[end]) & 0xC0) == 0x80) continue;
        auto it = map.find(w.substr(start, end - start));
        if (it != map.end()) {
          id = it->second;
          break;
        }
      }
      if (id < 0) {
        out.resize(first);
        out.push_back(unk);
        return;
      }
      out.push_back(id);
      start = end;
    }
  }

  // Splits text at the special tokens written in it, runs the basic tokenizer on the rest and
  // WordPiece on every word: emit(ids appended) once per word.
  template <class OnWord>
  void encode_words(std::string_view text, std::vector<int64_t>& out, OnWord&& on_word) const {
    BasicTokenizer bt(lower, strip_accents);
    auto word = [this, &out, &on_word](std::string_view w) {
      const size_t before = out.size();
      wordpiece(w, out);
      on_word(out.size() - before);
    };
    const int32_t specials[] = {pad, unk, cls, sep, mask};
    size_t done = 0;
    for (size_t i = text.find('['); i != std::string_view::npos; i = text.find('[', i + 1)) {
      for (int32_t s : specials) {
        const std::string& name = tokens[static_cast<size_t>(s)];
        if (text.substr(i).starts_with(name)) {
          bt.run(text.substr(done, i - done), word);
          out.push_back(s);
          on_word(1);
          done = i + name.size();
          i = done - 1;
          break;
        }
      }
    }
    bt.run(text.substr(done), word);
  }

  // [CLS] a [SEP] (b [SEP]) with truncation and padding; b is null for a single text.
  Encoding encode_for_model(std::string_view a, const std::string_view* b,
                            const EncodeOptions& opt) const;
};

WordPieceTokenizer::WordPieceTokenizer() : impl_(std::make_unique<Impl>()) {}
WordPieceTokenizer::~WordPieceTokenizer() = default;
WordPieceTokenizer::WordPieceTokenizer(WordPieceTokenizer&&) noexcept = default;
WordPieceTokenizer& WordPieceTokenizer::operator=(WordPieceTokenizer&&) noexcept = default;

WordPieceTokenizer WordPieceTokenizer::from_vocab_file(const std::string& path, bool lower_case) {
  const std::vector<uint8_t> bytes = io::read_file(path);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  CF_CHECK(!text.empty(), FormatError, path, ": empty vocabulary file");
  WordPieceTokenizer t;
  Impl& im = *t.impl_;
  im.lower = im.strip_accents = lower_case;
  std::unordered_map<std::string_view, size_t> line_of;
  size_t line = 0;
  for (size_t pos = 0; pos < text.size();) {
    ++line;
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view tok = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (tok.ends_with('\r')) tok.remove_suffix(1);
    CF_CHECK(!tok.empty(), FormatError, path, ":", line, ": empty token (one token a line)");
    CF_CHECK(tok.size() <= kMaxTokenBytes, FormatError, path, ":", line, ": token of ",
             tok.size(), " bytes (at most ", kMaxTokenBytes, ")");
    CF_CHECK(valid_utf8(tok), FormatError, path, ":", line, ": token ", shown(tok),
             " is not valid UTF-8");
    auto [it, fresh] = line_of.emplace(tok, line);
    CF_CHECK(fresh, FormatError, path, ":", line, ": duplicate token ", shown(tok),
             " (first on line ", it->second, ")");
    CF_CHECK(static_cast<int64_t>(line) <= kMaxVocab, FormatError, path, ": more than ",
             kMaxVocab, " tokens");
    im.tokens.emplace_back(tok);
  }
  im.index(path);
  return t;
}

WordPieceTokenizer WordPieceTokenizer::load(const std::string& path) {
  const std::vector<uint8_t> bytes = io::read_file(path);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '{') return from_hf_json(text, path);
  return from_vocab_file(path);
}

WordPieceTokenizer WordPieceTokenizer::from_hf_json(std::string_view text,
                                                    const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    CF_THROW(FormatError, source, ": invalid JSON at byte ", e.byte, ": ", e.what());
  }
  try {
    CF_CHECK(j.is_object(), FormatError, source, ": a tokenizer.json must be a JSON object");
    CF_CHECK(j.contains("model") && j["model"].is_object(), FormatError, source,
             ": tokenizer.json lacks the \"model\" object");
    const nlohmann::json& model = j["model"];
    CF_CHECK(model.value("type", "") == "WordPiece", FormatError, source, ": model.type is ",
             model.contains("type") ? model["type"].dump() : std::string("missing"),
             ", expected \"WordPiece\"");
    CF_CHECK(model.value("unk_token", std::string(kUnk)) == kUnk, NotImplementedError, source,
             ": model.unk_token must be \"[UNK]\", got ", model["unk_token"].dump());
    CF_CHECK(model.value("continuing_subword_prefix", std::string(kPrefix)) == kPrefix,
             NotImplementedError, source, ": model.continuing_subword_prefix must be \"##\", got ",
             model["continuing_subword_prefix"].dump());
    WordPieceTokenizer t;
    Impl& im = *t.impl_;
    if (model.contains("max_input_chars_per_word")) {
      const nlohmann::json& m = model["max_input_chars_per_word"];
      CF_CHECK(m.is_number_integer() && m.get<int64_t>() > 0, FormatError, source,
               ": model.max_input_chars_per_word must be a positive integer, got ", m.dump());
      im.max_chars = m.get<int64_t>();
    }
    CF_CHECK(model.contains("vocab") && model["vocab"].is_object(), FormatError, source,
             ": model.vocab must be an object {token: id}");
    const nlohmann::json& vocab = model["vocab"];
    CF_CHECK(static_cast<int64_t>(vocab.size()) <= kMaxVocab, FormatError, source,
             ": more than ", kMaxVocab, " tokens");
    im.tokens.assign(vocab.size(), std::string());
    std::vector<uint8_t> seen(vocab.size(), 0);
    for (const auto& [tok, v] : vocab.items()) {
      CF_CHECK(v.is_number_integer(), FormatError, source, ": model.vocab[", shown(tok),
               "] must be an integer id");
      const int64_t id = v.get<int64_t>();
      CF_CHECK(id >= 0 && id < static_cast<int64_t>(vocab.size()), FormatError, source,
               ": id ", id, " of token ", shown(tok), " is outside [0, ", vocab.size(),
               ") (ids must be 0..n-1)");
      CF_CHECK(!seen[id], FormatError, source, ": duplicate id ", id, ": tokens ",
               shown(im.tokens[id]), " and ", shown(tok));
      CF_CHECK(!tok.empty() && tok.size() <= kMaxTokenBytes, FormatError, source, ": token ",
               id, " is empty or longer than ", kMaxTokenBytes, " bytes");
      seen[id] = 1;
      im.tokens[id] = tok;
    }
    bool lower = true;
    nlohmann::json strip = nullptr;
    if (j.contains("normalizer") && !j["normalizer"].is_null()) {
      const nlohmann::json& n = j["normalizer"];
      CF_CHECK(n.is_object() && n.value("type", "") == "BertNormalizer", NotImplementedError,
               source, ": normalizer must be BertNormalizer, got ", n.dump());
      CF_CHECK(n.value("clean_text", true) && n.value("handle_chinese_chars", true),
               NotImplementedError, source,
               ": BertNormalizer needs clean_text and handle_chinese_chars true");
      lower = n.value("lowercase", true);
      if (n.contains("strip_accents")) strip = n["strip_accents"];
    }
    CF_CHECK(strip.is_null() || strip.is_boolean(), FormatError, source,
             ": normalizer.strip_accents must be null or a boolean");
    im.lower = lower;
    im.strip_accents = strip.is_null() ? lower : strip.get<bool>();
    if (j.contains("pre_tokenizer") && !j["pre_tokenizer"].is_null()) {
      const nlohmann::json& p = j["pre_tokenizer"];
      CF_CHECK(p.is_object() && p.value("type", "") == "BertPreTokenizer", NotImplementedError,
               source, ": pre_tokenizer must be BertPreTokenizer, got ", p.dump());
    }
    im.index(source);
    if (j.contains("post_processor") && !j["post_processor"].is_null()) {
      const nlohmann::json& p = j["post_processor"];
      const std::string type = p.is_object() ? p.value("type", "") : "";
      CF_CHECK(type == "BertProcessing" || type == "TemplateProcessing", NotImplementedError,
               source, ": post_processor must be BertProcessing or TemplateProcessing, got ",
               p.dump());
      if (type == "BertProcessing") {
        for (const char* key : {"cls", "sep"}) {
          const nlohmann::json& e = p.value(key, nlohmann::json());
          const std::string want = key == std::string_view("cls") ? kCls : kSep;
          CF_CHECK(e.is_array() && e.size() == 2 && e[0] == want &&
                       e[1] == t.token_to_id(want),
                   NotImplementedError, source, ": post_processor.", key, " must be [\"", want,
                   "\", ", t.token_to_id(want), "], got ", e.dump());
        }
      } else {
        // Only BERT's own templates: [CLS] $A [SEP] and [CLS] $A [SEP] $B:1 [SEP]:1.
        auto piece = [](const nlohmann::json& x) -> std::string {
          if (x.contains("SpecialToken"))
            return x["SpecialToken"].value("id", "") + ":" +
                   std::to_string(x["SpecialToken"].value("type_id", 0));
          if (x.contains("Sequence"))
            return "$" + x["Sequence"].value("id", "") + ":" +
                   std::to_string(x["Sequence"].value("type_id", 0));
          return "?";
        };
        auto read = [&piece, &p](const char* key) {
          std::string s;
          if (!p.contains(key) || !p[key].is_array()) return std::string("?");
          for (const nlohmann::json& x : p[key]) {
            if (!s.empty()) s += ' ';
            s += piece(x);
          }
          return s;
        };
        const std::string single = read("single"), pair = read("pair");
        CF_CHECK(single == "[CLS]:0 $A:0 [SEP]:0" &&
                     pair == "[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
                 NotImplementedError, source,
                 ": TemplateProcessing must be BERT's ([CLS] $A [SEP] / [CLS] $A [SEP] $B:1 "
                 "[SEP]:1), got \"",
                 single, "\" / \"", pair, "\"");
      }
    }
    return t;
  } catch (const nlohmann::json::exception& e) {
    CF_THROW(FormatError, source, ": unexpected tokenizer.json content: ", e.what());
  }
}

std::string WordPieceTokenizer::to_hf_json() const {
  using nlohmann::ordered_json;
  const Impl& im = *impl_;
  ordered_json added = ordered_json::array();
  std::vector<int32_t> specials = {im.pad, im.unk, im.cls, im.sep, im.mask};
  std::sort(specials.begin(), specials.end());
  for (int32_t id : specials)
    added.push_back({{"id", id},
                     {"content", im.tokens[id]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  auto special = [](const char* name, int64_t type_id) {
    return ordered_json{{"SpecialToken", {{"id", name}, {"type_id", type_id}}}};
  };
  auto sequence = [](const char* name, int64_t type_id) {
    return ordered_json{{"Sequence", {{"id", name}, {"type_id", type_id}}}};
  };
  ordered_json single = {special(kCls, 0), sequence("A", 0), special(kSep, 0)};
  ordered_json pair = single;
  pair.push_back(sequence("B", 1));
  pair.push_back(special(kSep, 1));
  ordered_json special_tokens = ordered_json::object();
  for (auto [name, id] : {std::pair{kCls, im.cls}, std::pair{kSep, im.sep}})
    special_tokens[name] = {{"id", name}, {"ids", {id}}, {"tokens", {name}}};
  ordered_json vocab = ordered_json::object();
  for (size_t i = 0; i < im.tokens.size(); ++i) vocab[im.tokens[i]] = i;
  ordered_json j = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer",
       {{"type", "BertNormalizer"},
        {"clean_text", true},
        {"handle_chinese_chars", true},
        {"strip_accents", im.strip_accents == im.lower ? ordered_json(nullptr)
                                                       : ordered_json(im.strip_accents)},
        {"lowercase", im.lower}}},
      {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", single},
        {"pair", pair},
        {"special_tokens", special_tokens}}},
      {"decoder", {{"type", "WordPiece"}, {"prefix", kPrefix}, {"cleanup", true}}},
      {"model",
       {{"type", "WordPiece"},
        {"unk_token", kUnk},
        {"continuing_subword_prefix", kPrefix},
        {"max_input_chars_per_word", im.max_chars},
        {"vocab", vocab}}}};
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::strict);
}

void WordPieceTokenizer::save_hf_json(const std::string& path) const {
  write_text(path, to_hf_json());
}

void WordPieceTokenizer::save_vocab_file(const std::string& path) const {
  std::string text;
  for (const std::string& t : impl_->tokens) text += t + "\n";
  write_text(path, text);
}

std::vector<int64_t> WordPieceTokenizer::encode(std::string_view text) const {
  std::vector<int64_t> out;
  impl_->encode_words(text, out, [](size_t) {});
  return out;
}

Encoding WordPieceTokenizer::encode_for_model(std::string_view a, const EncodeOptions& opt) const {
  return impl_->encode_for_model(a, nullptr, opt);
}

Encoding WordPieceTokenizer::encode_pair(std::string_view a, std::string_view b,
                                         const EncodeOptions& opt) const {
  return impl_->encode_for_model(a, &b, opt);
}

Encoding WordPieceTokenizer::Impl::encode_for_model(std::string_view a, const std::string_view* b,
                                                    const EncodeOptions& opt) const {
  const Impl& im = *this;
  const char* op = b ? "wordpiece encode_pair" : "wordpiece encode_for_model";
  const int64_t n_special = b ? 3 : 2;
  CF_CHECK(opt.max_length == 0 || opt.max_length >= n_special, ValueError, op,
           ": max_length must be 0 (no limit) or at least ", n_special,
           " (the special tokens), got ", opt.max_length);
  CF_CHECK(opt.pad_to >= 0, ValueError, op, ": pad_to must be >= 0, got ", opt.pad_to);
  struct Part {
    std::vector<int64_t> ids, words;
  };
  int64_t next_word = 0;
  auto run = [&im, &next_word](std::string_view text) {
    Part p;
    im.encode_words(text, p.ids, [&p, &next_word](size_t n) {
      p.words.insert(p.words.end(), n, next_word);
      ++next_word;
    });
    return p;
  };
  Part pa = run(a), pb;
  if (b) pb = run(*b);
  auto la = static_cast<int64_t>(pa.ids.size()), lb = static_cast<int64_t>(pb.ids.size());
  const int64_t total = la + lb + n_special;
  Encoding e;
  if (opt.max_length > 0 && total > opt.max_length) {
    const int64_t remove = total - opt.max_length;
    CF_CHECK(opt.truncate, ValueError, op, ": the input has ", total,
             " tokens with the special tokens, more than max_length ", opt.max_length,
             " (truncation is off)");
    // Longest first, one token at a time, ties taken from b (Hugging Face's LONGEST_FIRST).
    int64_t ra = 0, rb = 0;
    if (!b) {
      ra = remove;
    } else {
      const int64_t diff = la > lb ? la - lb : lb - la, first = std::min(diff, remove),
                    second = remove - first;
      if (la > lb)
        ra = first + second / 2, rb = second - second / 2;
      else
        ra = second / 2, rb = first + second - second / 2;
    }
    la -= ra;
    lb -= rb;
    e.truncated = remove;
  }
  const int64_t n = la + lb + n_special;
  const int64_t len = std::max(n, opt.pad_to);
  e.ids.reserve(len);
  auto push = [&e](int64_t id, int64_t type, bool special, int64_t word) {
    e.ids.push_back(id);
    e.type_ids.push_back(type);
    e.attention_mask.push_back(1);
    e.special.push_back(special ? 1 : 0);
    e.word_ids.push_back(word);
  };
  push(im.cls, 0, true, -1);
  for (int64_t i = 0; i < la; ++i) push(pa.ids[i], 0, false, pa.words[i]);
  push(im.sep, 0, true, -1);
  if (b) {
    for (int64_t i = 0; i < lb; ++i) push(pb.ids[i], 1, false, pb.words[i]);
    push(im.sep, 1, true, -1);
  }
  while (static_cast<int64_t>(e.ids.size()) < len) {
    push(im.pad, 0, true, -1);
    e.attention_mask.back() = 0;
  }
  return e;
}

std::string WordPieceTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  const Impl& im = *impl_;
  std::string out;
  bool first = true;
  for (int64_t id : ids) {
    CF_CHECK(id >= 0 && id < static_cast<int64_t>(im.tokens.size()), IndexError,
             "wordpiece decode: id ", id, " is outside the vocabulary [0, ", im.tokens.size(),
             ")");
    if (skip_special && (id == im.pad || id == im.cls || id == im.sep || id == im.mask ||
                         id == im.unk))
      continue;
    const std::string& t = im.tokens[id];
    if (!first && is_continuation(id)) {
      out.append(t, kPrefix.size());
    } else {
      if (!first) out += ' ';
      out += t;
    }
    first = false;
  }
  return out;
}

int64_t WordPieceTokenizer::vocab_size() const { return static_cast<int64_t>(impl_->tokens.size()); }
bool WordPieceTokenizer::lower_case() const { return impl_->lower; }

int64_t WordPieceTokenizer::token_to_id(std::string_view token) const {
  auto it = impl_->ids.find(token);
  return it == impl_->ids.end() ? -1 : it->second;
}

std::string WordPieceTokenizer::id_to_token(int64_t id) const {
  CF_CHECK(id >= 0 && id < vocab_size(), IndexError, "wordpiece id_to_token: id ", id,
           " is outside the vocabulary [0, ", vocab_size(), ")");
  return impl_->tokens[id];
}

int64_t WordPieceTokenizer::pad_id() const { return impl_->pad; }
int64_t WordPieceTokenizer::unk_id() const { return impl_->unk; }
int64_t WordPieceTokenizer::cls_id() const { return impl_->cls; }
int64_t WordPieceTokenizer::sep_id() const { return impl_->sep; }
int64_t WordPieceTokenizer::mask_id() const { return impl_->mask; }

bool WordPieceTokenizer::is_continuation(int64_t id) const {
  if (id < 0 || id >= vocab_size()) return false;
  const std::string& t = impl_->tokens[id];
  return t.size() > kPrefix.size() && t.starts_with(kPrefix);
}

WordPieceTokenizer WordPieceTokenizer::train(const std::vector<std::string>& texts,
                                             int64_t vocab_size, bool lower_case) {
  // Distinct basic-tokenizer words with their counts (special tokens in the text not counted).
  TokenMap counts_index;
  std::vector<std::pair<std::string, int64_t>> counts;
  {
    BasicTokenizer bt(lower_case, lower_case);
    auto add = [&counts_index, &counts](std::string_view w) {
      auto it = counts_index.find(w);
      if (it != counts_index.end()) {
        ++counts[it->second].second;
      } else {
        counts_index.emplace(std::string(w), static_cast<int32_t>(counts.size()));
        counts.emplace_back(std::string(w), 1);
      }
    };
    for (const std::string& text : texts) {
      std::string_view rest = text;
      while (!rest.empty()) {
        size_t cut = rest.size(), len = 0;
        for (const char* s : {kPad, kUnk, kCls, kSep, kMask}) {
          const size_t f = rest.find(s);
          if (f < cut) cut = f, len = std::string_view(s).size();
        }
        bt.run(rest.substr(0, cut), add);
        rest = cut == rest.size() ? std::string_view() : rest.substr(cut + len);
      }
    }
  }
  // Words longer than max_input_chars_per_word encode to [UNK]: they teach nothing.
  std::erase_if(counts, [](const std::pair<std::string, int64_t>& w) {
    return static_cast<int64_t>(count_chars(w.first)) > kDefaultMaxChars;
  });
  std::sort(counts.begin(), counts.end());  // a fixed order: results never depend on hashing
  std::vector<uint32_t> alphabet;
  for (const auto& [w, c] : counts)
    for (size_t i = 0; i < w.size();) {
      uint32_t cp;
      i += static_cast<size_t>(unicode::decode_utf8(w, i, cp));
      alphabet.push_back(cp);
    }
  std::sort(alphabet.begin(), alphabet.end());
  alphabet.erase(std::unique(alphabet.begin(), alphabet.end()), alphabet.end());
  const int64_t min_size = 5 + 2 * static_cast<int64_t>(alphabet.size());
  CF_CHECK(vocab_size >= min_size && vocab_size <= kMaxVocab, ValueError,
           "wordpiece train: vocab_size must be in [", min_size, ", ", kMaxVocab,
           "] (5 special tokens + ", alphabet.size(),
           " characters, word-initial and \"##\"), got ", vocab_size);

  WordPieceTokenizer t;
  Impl& im = *t.impl_;
  im.lower = im.strip_accents = lower_case;
  for (const char* s : {kPad, kUnk, kCls, kSep, kMask}) im.tokens.emplace_back(s);
  TokenMap by_token;
  auto add_token = [&im, &by_token](std::string s) {
    auto [it, fresh] = by_token.emplace(s, static_cast<int32_t>(im.tokens.size()));
    if (fresh) im.tokens.push_back(std::move(s));
    return it->second;
  };
  std::unordered_map<uint32_t, int32_t> initial, continuation;
  for (uint32_t cp : alphabet) {
    std::string s;
    unicode::append_utf8(s, cp);
    initial[cp] = add_token(s);
  }
  for (uint32_t cp : alphabet) {
    std::string s(kPrefix);
    unicode::append_utf8(s, cp);
    continuation[cp] = add_token(s);
  }
  struct Word {
    std::vector<int32_t> syms;
    int64_t count;
  };
  std::vector<Word> words;
  words.reserve(counts.size());
  for (const auto& [w, c] : counts) {
    Word word{{}, c};
    for (size_t i = 0; i < w.size();) {
      uint32_t cp;
      i += static_cast<size_t>(unicode::decode_utf8(w, i, cp));
      word.syms.push_back(word.syms.empty() ? initial[cp] : continuation[cp]);
    }
    words.push_back(std::move(word));
  }
  counts.clear();
  auto key = [](int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  };
  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::vector<int32_t>> where;
  auto add_pairs = [&pair_count, &where, &key](const Word& w, int32_t wi, int64_t sign) {
    for (size_t i = 0; i + 1 < w.syms.size(); ++i) {
      const uint64_t k = key(w.syms[i], w.syms[i + 1]);
      pair_count[k] += sign * w.count;
      if (sign > 0) {
        auto& v = where[k];
        if (v.empty() || v.back() != wi) v.push_back(wi);
      }
    }
  };
  for (size_t wi = 0; wi < words.size(); ++wi) add_pairs(words[wi], static_cast<int32_t>(wi), 1);
  // Max-heap by count; ties go to the smaller (left, right) id pair. Entries go stale when
  // counts drop and are refreshed when popped.
  using Entry = std::pair<int64_t, uint64_t>;
  auto less = [](const Entry& x, const Entry& y) {
    return x.first != y.first ? x.first < y.first : x.second > y.second;
  };
  std::priority_queue<Entry, std::vector<Entry>, decltype(less)> heap(less);
  for (const auto& [k, c] : pair_count) heap.emplace(c, k);
  std::vector<int32_t> stamp(words.size(), -1);
  int32_t merges = 0;
  while (static_cast<int64_t>(im.tokens.size()) < vocab_size && !heap.empty()) {
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
    // a + b without b's "##"; another pair may already have made the same string: reuse it.
    const int32_t id = add_token(im.tokens[a] + im.tokens[b].substr(kPrefix.size()));
    const int32_t rank = merges++;
    std::vector<int32_t> affected = std::move(where[k]);
    where.erase(k);
    std::vector<uint64_t> fresh;  // pairs with the new token, pushed once their counts are final
    for (int32_t wi : affected) {
      if (stamp[wi] == rank) continue;
      stamp[wi] = rank;
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
        if (w.syms[i] == id || w.syms[i + 1] == id) fresh.push_back(key(w.syms[i], w.syms[i + 1]));
    }
    pair_count.erase(k);
    std::sort(fresh.begin(), fresh.end());
    fresh.erase(std::unique(fresh.begin(), fresh.end()), fresh.end());
    for (uint64_t f : fresh)
      if (pair_count[f] > 0) heap.emplace(pair_count[f], f);
  }
  im.index("wordpiece train");
  return t;
}

}  // namespace cf::tokenizers
