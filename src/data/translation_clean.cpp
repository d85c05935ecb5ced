// Cleaning rules for en->fr pairs taken from UI catalogues and help pages (see
// docs/translation-data.md for the rules with examples and what each one removes).
#include <algorithm>
#include <array>

#include "cformer/metrics/translation.h"
#include "cformer/translation_data.h"
#include "tokenizers/unicode.h"

namespace cf::data {
namespace {

namespace uni = tokenizers::unicode;

bool ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool ascii_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
// A byte of a word: an ASCII letter or digit, or any byte of a multi-byte UTF-8 character.
bool word_byte(char c) {
  return ascii_alnum(c) || static_cast<unsigned char>(c) >= 0x80;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
  return s;
}

// Length of an entity (&amp; &#39; &#x27;) starting at s[i] == '&', or 0.
size_t entity_length(std::string_view s, size_t i) {
  size_t j = i + 1;
  if (j < s.size() && s[j] == '#') {
    ++j;
    if (j < s.size() && (s[j] == 'x' || s[j] == 'X')) ++j;
  }
  const size_t name = j;
  while (j < s.size() && ascii_alnum(s[j])) ++j;
  return j > name && j < s.size() && s[j] == ';' ? j + 1 - i : 0;
}

// Removes the simple inline tags of Pango/HTML markup; <br> becomes a space.
std::string strip_inline_tags(std::string_view s) {
  static constexpr std::array<std::string_view, 13> kInline = {
      "b", "i", "u", "tt", "small", "big", "sub", "sup", "span", "em", "strong", "br", "s"};
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] == '<') {
      size_t j = i + 1;
      if (j < s.size() && s[j] == '/') ++j;
      const size_t name = j;
      while (j < s.size() && ascii_alpha(s[j])) ++j;
      const std::string_view tag = s.substr(name, j - name);
      const size_t close = s.find('>', j);
      const bool attrs_ok = close != std::string_view::npos &&
                            s.substr(j, close - j).find('<') == std::string_view::npos &&
                            (close == j || s[j] == ' ' || s[j] == '/');
      if (!tag.empty() && attrs_ok &&
          std::find(kInline.begin(), kInline.end(), tag) != kInline.end()) {
        if (tag == "br") out += ' ';
        i = close + 1;
        continue;
      }
    }
    out += s[i++];
  }
  return out;
}

bool has_letter(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    i += static_cast<size_t>(uni::decode_utf8(s, i, cp));
    if (cp != 0xFFFFFFFFu && uni::char_class(cp) == uni::CharClass::Letter) return true;
  }
  return false;
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    i += static_cast<size_t>(uni::decode_utf8(s, i, cp));
    if (cp == 0xFFFFFFFFu) return false;
  }
  return true;
}

int64_t num_chars(std::string_view s) {
  int64_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// printf (%s %5.2f %1$s %qs %<), Qt (%1), Python (%(name)s, {0}, {name}), Ruby/shell (%{x},
// ${x}, $x) and LibreOffice ($(ARG1)) placeholders.
bool has_format_directive(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%' && i + 1 < s.size()) {
      size_t j = i + 1;
      if (s[j] >= '0' && s[j] <= '9') return true;
      while (j < s.size() && std::string_view("-+#0'").find(s[j]) != std::string_view::npos) ++j;
      while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
      if (j < s.size() && s[j] == '.') {
        ++j;
        while (j < s.size() && ((s[j] >= '0' && s[j] <= '9') || s[j] == '*')) ++j;
      }
      if (j < s.size() &&
          (ascii_alpha(s[j]) || std::string_view("(<>{%*").find(s[j]) != std::string_view::npos))
        return true;
    } else if (c == '{') {
      size_t j = i + 1;
      while (j < s.size() && (ascii_alnum(s[j]) || s[j] == '_' || s[j] == '.' || s[j] == ':')) ++j;
      if (j < s.size() && s[j] == '}') return true;
    } else if (c == '$' && i + 1 < s.size()) {
      const char n = s[i + 1];
      if (n == '{' || n == '(' || n == '_' || ascii_alpha(n)) return true;
    }
  }
  return false;
}

// Tags left after strip_inline_tags, entities, backslashes (escapes, paths), and in UI strings
// code identifiers (a '_' that survived strip_mnemonics) and a '|' between two non-spaces (option
// lists "[full|none]", Gramps' "context|text" keys whose translation lacks the context).
bool has_markup(std::string_view s, bool ui) {
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '<' && i + 1 < s.size() &&
        (ascii_alpha(s[i + 1]) || s[i + 1] == '/' || s[i + 1] == '!' || s[i + 1] == '?'))
      return true;
    if (c == '&' && entity_length(s, i) > 0) return true;
    if (c == '\\' || (ui && c == '_')) return true;
    if (ui && c == '|' && i > 0 && i + 1 < s.size() && s[i - 1] != ' ' && s[i + 1] != ' ')
      return true;
  }
  return false;
}

}  // namespace

const char* drop_reason_name(DropReason r) {
  switch (r) {
    case DropReason::kKept:
      return "kept";
    case DropReason::kPlural:
      return "plural";
    case DropReason::kEmpty:
      return "empty";
    case DropReason::kInvalidUtf8:
      return "invalid_utf8";
    case DropReason::kNoLetters:
      return "no_letters";
    case DropReason::kFormatString:
      return "format_string";
    case DropReason::kMarkup:
      return "markup";
    case DropReason::kIdentical:
      return "identical";
    case DropReason::kTooShort:
      return "too_short";
    case DropReason::kTooLong:
      return "too_long";
    case DropReason::kLengthRatio:
      return "length_ratio";
  }
  return "unknown";
}

std::string collapse_whitespace(std::string_view s) {
  std::string out;
  for (std::string_view tok : metrics::split_whitespace(s)) {
    if (!out.empty()) out += ' ';
    out.append(tok);
  }
  return out;
}

std::string strip_mnemonics(std::string_view s, std::string_view other) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool marker = (c == '_' || c == '&' || c == '~') && i + 1 < s.size() &&
                        word_byte(s[i + 1]) && !(c == '&' && entity_length(s, i) > 0);
    if (marker) {
      const bool word_start = i == 0 || !word_byte(s[i - 1]);
      if (word_start) continue;
      // Inside a word: an identifier when the other language has the same word.
      size_t b = i, e = i;
      while (b > 0 && s[b - 1] != ' ') --b;
      while (e < s.size() && s[e] != ' ') ++e;
      const std::string_view word = s.substr(b, e - b);
      if (other.find(word) == std::string_view::npos) continue;
    }
    out += c;
  }
  return out;
}

DropReason clean_pair(std::string& en, std::string& fr, const CleanOptions& options) {
  if (!valid_utf8(en) || !valid_utf8(fr)) return DropReason::kInvalidUtf8;
  en = strip_inline_tags(replace_all(collapse_whitespace(en), "%PRODUCTNAME", "LibreOffice"));
  fr = strip_inline_tags(replace_all(collapse_whitespace(fr), "%PRODUCTNAME", "LibreOffice"));
  if (options.strip_mnemonics) {
    std::string e = strip_mnemonics(en, fr);
    fr = strip_mnemonics(fr, en);
    en = std::move(e);
  }
  en = collapse_whitespace(en);
  fr = collapse_whitespace(fr);
  if (en.empty() || fr.empty()) return DropReason::kEmpty;
  if (!has_letter(en) || !has_letter(fr)) return DropReason::kNoLetters;
  if (has_format_directive(en) || has_format_directive(fr)) return DropReason::kFormatString;
  if (has_markup(en, options.strip_mnemonics) || has_markup(fr, options.strip_mnemonics))
    return DropReason::kMarkup;
  if (en == fr) return DropReason::kIdentical;
  const auto en_words = static_cast<int64_t>(metrics::split_whitespace(en).size());
  const auto fr_words = static_cast<int64_t>(metrics::split_whitespace(fr).size());
  if (en_words < options.min_words) return DropReason::kTooShort;
  const int64_t en_chars = num_chars(en), fr_chars = num_chars(fr);
  if (en_chars > options.max_chars || fr_chars > options.max_chars ||
      en_words > options.max_words || fr_words > options.max_words)
    return DropReason::kTooLong;
  const double ratio = static_cast<double>(fr_chars + 10) / static_cast<double>(en_chars + 10);
  if (ratio > options.max_ratio || ratio < 1.0 / options.max_ratio) return DropReason::kLengthRatio;
  return DropReason::kKept;
}

}  // namespace cf::data
