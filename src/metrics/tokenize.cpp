// sacreBLEU's '13a' tokenizer and Python's whitespace split, on UTF-8 bytes. The 13a regexes
// only look at ASCII characters, so running them over bytes gives the same result as Python
// running them over code points: a multi-byte character never matches a class of its own and
// is copied whole. See tools/golden/bleu_oracle.py for the regexes in their original form.
#include <string>

#include "cformer/metrics/translation.h"
#include "tokenizers/unicode.h"

namespace cf::metrics {
namespace {

// Python's str.isspace() for the character at s[i]; sets its length in bytes.
bool python_space_at(std::string_view s, size_t i, int* len) {
  uint32_t cp;
  *len = tokenizers::unicode::decode_utf8(s, i, cp);
  if (cp == 0xFFFFFFFFu) return false;
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// str.replace(from, to): every non-overlapping occurrence, left to right.
std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string_view::npos; pos = hit + from.size()) {
    out.append(s.substr(pos, hit - pos));
    out.append(to);
  }
  out.append(s.substr(pos));
  return out;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// [\{-\~\[-\` -\&\(-\+\:-\@\/]: ASCII symbols and punctuation except ' - . , and space itself
// (which is in the range ' '-'&' but only adds spaces).
bool is_13a_symbol(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= 0x7B && u <= 0x7E) || (u >= 0x5B && u <= 0x60) || (u >= 0x20 && u <= 0x26) ||
         (u >= 0x28 && u <= 0x2B) || (u >= 0x3A && u <= 0x40) || u == 0x2F;
}

// A two-character re.sub: at each position, if (first, second) matches, emit replace(a, b) and
// skip both; otherwise copy one byte. This is re.sub's left-to-right non-overlapping scan.
template <class Match, class Emit>
std::string sub_pairs(const std::string& s, Match match, Emit emit) {
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  size_t i = 0;
  while (i < s.size()) {
    if (i + 1 < s.size() && match(s[i], s[i + 1])) {
      emit(out, s[i], s[i + 1]);
      i += 2;
    } else {
      out += s[i++];
    }
  }
  return out;
}

}  // namespace

std::vector<std::string_view> split_whitespace(std::string_view s) {
  std::vector<std::string_view> tokens;
  size_t start = 0;
  bool in_token = false;
  for (size_t i = 0; i < s.size();) {
    int len;
    const bool space = python_space_at(s, i, &len);
    if (space && in_token) tokens.push_back(s.substr(start, i - start));
    if (!space && !in_token) start = i;
    in_token = !space;
    i += static_cast<size_t>(len);
  }
  if (in_token) tokens.push_back(s.substr(start));
  return tokens;
}

std::string tokenize_13a(std::string_view line) {
  std::string s = replace_all(line, "<skipped>", "");
  s = replace_all(s, "-\n", "");
  s = replace_all(s, "\n", " ");
  if (s.find('&') != std::string::npos) {
    s = replace_all(s, "&quot;", "\"");
    s = replace_all(s, "&amp;", "&");
    s = replace_all(s, "&lt;", "<");
    s = replace_all(s, "&gt;", ">");
  }
  // ([\{-\~\[-\` -\&\(-\+\:-\@\/]) -> ' \1 '
  std::string t;
  t.reserve(s.size() * 2 + 2);
  t += ' ';
  for (char c : s) {
    if (is_13a_symbol(c)) {
      t += ' ';
      t += c;
      t += ' ';
    } else {
      t += c;
    }
  }
  t += ' ';
  // ([^0-9])([\.,]) -> '\1 \2 '
  t = sub_pairs(
      t, [](char a, char b) { return !is_digit(a) && (b == '.' || b == ','); },
      [](std::string& out, char a, char b) {
        out.append({a, ' ', b, ' '});
      });
  // ([\.,])([^0-9]) -> ' \1 \2'
  t = sub_pairs(
      t, [](char a, char b) { return (a == '.' || a == ',') && !is_digit(b); },
      [](std::string& out, char a, char b) {
        out.append({' ', a, ' ', b});
      });
  // ([0-9])(-) -> '\1 \2 '
  t = sub_pairs(
      t, [](char a, char b) { return is_digit(a) && b == '-'; },
      [](std::string& out, char a, char b) {
        out.append({a, ' ', b, ' '});
      });
  std::string out;
  out.reserve(t.size());
  for (std::string_view tok : split_whitespace(t)) {
    if (!out.empty()) out += ' ';
    out.append(tok);
  }
  return out;
}

}  // namespace cf::metrics
