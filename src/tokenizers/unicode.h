// Unicode pieces of the byte-level BPE tokenizer: UTF-8 decoding that never fails, the character
// classes of GPT-2's pre-tokenizer regex, the regex itself written by hand, and GPT-2's
// byte <-> printable-character alphabet.
//   GPT-2 regex: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Classes come from src/tokenizers/unicode_tables.inc (tools/gen_unicode_tables.py). A byte
// that does not start a valid UTF-8 sequence is one "character" of its own in the class Other,
// so every byte string splits into pieces that concatenate back to it.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cf::tokenizers::unicode {

enum class CharClass : uint8_t { Other = 0, Letter = 1, Number = 2, Space = 3 };

/// The class of a code point (\p{L}, \p{N}, \s or none of them).
CharClass char_class(uint32_t cp);

/// Decodes the character at s[i]: sets cp and returns its length in bytes (1 to 4). An invalid
/// or truncated sequence, an overlong form or a surrogate yields length 1 and cp = 0xFFFFFFFF
/// (class Other).
int decode_utf8(std::string_view s, size_t i, uint32_t& cp);

/// Appends the UTF-8 encoding of cp (cp <= 0x10FFFF).
void append_utf8(std::string& out, uint32_t cp);

/// Splits text by GPT-2's pre-tokenizer regex; the pieces concatenate to text.
std::vector<std::string_view> gpt2_pretokenize(std::string_view text);

/// GPT-2's bytes_to_unicode(): byte b -> a printable code point (b itself for '!'..'~',
/// 0xA1..0xAC and 0xAE..0xFF, 256 + n for the others in byte order).
uint32_t byte_to_code_point(uint8_t b);
/// The byte-level string of raw bytes (each byte as its code point, UTF-8 encoded).
std::string bytes_to_byte_level(std::string_view bytes);
/// The inverse: false when s is not valid UTF-8 or holds a character outside the alphabet.
bool byte_level_to_bytes(std::string_view s, std::string& out);

}  // namespace cf::tokenizers::unicode
