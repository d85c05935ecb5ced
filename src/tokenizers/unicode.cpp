// See unicode.h. The class table is generated (tools/gen_unicode_tables.py).
#include "tokenizers/unicode.h"

#include <algorithm>
#include <array>

namespace cf::tokenizers::unicode {
namespace {

struct Range {
  uint32_t first, last;
  CharClass cls;
};
constexpr CharClass kLetter = CharClass::Letter, kNumber = CharClass::Number,
                    kSpace = CharClass::Space;
constexpr Range kRanges[] = {
#include "tokenizers/unicode_tables.inc"
};

// Classes of code points below 256, looked up without a search (most text is there).
constexpr std::array<CharClass, 256> latin1_table() {
  std::array<CharClass, 256> t{};
  for (const Range& r : kRanges)
    for (uint32_t c = r.first; c <= r.last && c < 256; ++c) t[c] = r.cls;
  return t;
}
constexpr std::array<CharClass, 256> kLatin1 = latin1_table();

constexpr bool is_direct_byte(uint32_t b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}
constexpr std::array<uint16_t, 256> byte_table() {
  std::array<uint16_t, 256> t{};
  uint16_t n = 0;
  for (uint32_t b = 0; b < 256; ++b)
    t[b] = is_direct_byte(b) ? static_cast<uint16_t>(b) : 256 + n++;
  return t;
}
constexpr std::array<uint16_t, 256> kByteToCp = byte_table();
// Code points of the alphabet are all below 324: the inverse is a small table (-1: not in it).
constexpr std::array<int16_t, 324> cp_table() {
  std::array<int16_t, 324> t{};
  for (auto& v : t) v = -1;
  for (int b = 0; b < 256; ++b) t[kByteToCp[b]] = static_cast<int16_t>(b);
  return t;
}
constexpr std::array<int16_t, 324> kCpToByte = cp_table();

constexpr uint32_t kInvalid = 0xFFFFFFFFu;

}  // namespace

CharClass char_class(uint32_t cp) {
  if (cp < 256) return kLatin1[cp];
  if (cp == kInvalid) return CharClass::Other;
  auto it = std::upper_bound(std::begin(kRanges), std::end(kRanges), cp,
                             [](uint32_t c, const Range& r) { return c < r.first; });
  if (it == std::begin(kRanges)) return CharClass::Other;
  --it;
  return cp <= it->last ? it->cls : CharClass::Other;
}

int decode_utf8(std::string_view s, size_t i, uint32_t& cp) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  const unsigned char c = p[i];
  cp = kInvalid;
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  int len;
  uint32_t v, min;
  if ((c & 0xE0) == 0xC0)
    len = 2, v = c & 0x1F, min = 0x80;
  else if ((c & 0xF0) == 0xE0)
    len = 3, v = c & 0x0F, min = 0x800;
  else if ((c & 0xF8) == 0xF0)
    len = 4, v = c & 0x07, min = 0x10000;
  else
    return 1;
  if (i + len > n) return 1;
  for (int k = 1; k < len; ++k) {
    if ((p[i + k] & 0xC0) != 0x80) return 1;
    v = (v << 6) | (p[i + k] & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 1;
  cp = v;
  return len;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::vector<std::string_view> gpt2_pretokenize(std::string_view text) {
  std::vector<std::string_view> out;
  const size_t n = text.size();
  // One character of lookahead at a time: class and length of the character at position j.
  auto at = [text, n](size_t j, uint32_t& cp, int& len) -> CharClass {
    if (j >= n) {
      len = 0;
      cp = kInvalid;
      return CharClass::Other;
    }
    len = decode_utf8(text, j, cp);
    return char_class(cp);
  };
  // End of the run of characters of class cls starting at j.
  auto run_end = [&at](size_t j, CharClass cls) -> size_t {
    uint32_t cp;
    int len;
    while (true) {
      CharClass c = at(j, cp, len);
      if (len == 0 || c != cls) return j;
      j += len;
    }
  };
  size_t i = 0;
  while (i < n) {
    uint32_t cp;
    int len;
    CharClass cls = at(i, cp, len);
    size_t end = 0;
    if (cp == '\'' && i + 1 < n) {  // 's|'t|'re|'ve|'m|'ll|'d
      const char a = text[i + 1], b = i + 2 < n ? text[i + 2] : '\0';
      if (a == 's' || a == 't' || a == 'm' || a == 'd')
        end = i + 2;
      else if ((a == 'r' || a == 'v') && b == 'e')
        end = i + 3;
      else if (a == 'l' && b == 'l')
        end = i + 3;
    }
    if (end == 0) {
      size_t start = i;
      CharClass body = cls;
      if (cp == ' ') {  // ` ?X+`: the optional space belongs to a following letter/number/other run
        uint32_t cp2;
        int len2;
        CharClass next = at(i + 1, cp2, len2);
        if (len2 > 0 && next != CharClass::Space) {
          body = next;
          start = i + 1;
        }
      }
      if (body != CharClass::Space) {
        end = run_end(start, body);
      } else {
        // \s+(?!\S) takes the run but leaves its last character to a following non-space;
        // a single space before a non-space falls through to \s+.
        size_t last = i, j = i;
        while (true) {
          uint32_t c;
          int l;
          CharClass k = at(j, c, l);
          if (l == 0 || k != CharClass::Space) break;
          last = j;
          j += l;
        }
        end = (j == n || last == i) ? j : last;
      }
    }
    out.push_back(text.substr(i, end - i));
    i = end;
  }
  return out;
}

uint32_t byte_to_code_point(uint8_t b) {
  return kByteToCp[b];
}

std::string bytes_to_byte_level(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) append_utf8(out, kByteToCp[static_cast<uint8_t>(c)]);
  return out;
}

bool byte_level_to_bytes(std::string_view s, std::string& out) {
  out.clear();
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    i += decode_utf8(s, i, cp);
    if (cp >= kCpToByte.size() || kCpToByte[cp] < 0) return false;
    out += static_cast<char>(kCpToByte[cp]);
  }
  return true;
}

}  // namespace cf::tokenizers::unicode
