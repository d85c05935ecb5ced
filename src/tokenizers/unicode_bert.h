// Unicode pieces of BERT's basic tokenizer, as Hugging Face's BertTokenizer applies them:
// character flags (Mn, punctuation, control, whitespace, CJK ideograph), str.lower() of each
// character (no final sigma, as Hugging Face), and NFD (full canonical decompositions, Hangul,
// canonical ordering). The data is generated from Python's unicodedata
// (tools/gen_bert_unicode_tables.py) into src/tokenizers/unicode_bert_tables.inc;
// kBertUnicodeVersion names the Unicode version.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

namespace cf::tokenizers::unicode {

/// The Unicode version of the tables ("14.0.0"): the Python oracle must use the same.
extern const std::string_view kBertUnicodeVersion;

enum BertFlag : uint8_t {
  kBertMn = 1,         // category Mn (dropped when stripping accents)
  kBertPunct = 2,      // P* or an ASCII symbol: a word of its own
  kBertControl = 4,    // Cc or Cf other than \t \n \r: dropped
  kBertSpace = 8,      // Zs, \t \n \r, U+2028, U+2029: separates words
  kBertCjk = 16,       // CJK ideograph: a word of its own
};

/// The flags of a code point (0 for 0xFFFFFFFF, the invalid-UTF-8 marker of decode_utf8).
uint8_t bert_flags(uint32_t cp);

/// str.lower() of every code point when lower (character by character: U+03A3 is always U+03C3,
/// as in Hugging Face's tokenizers), then NFD without the Mn characters when strip_accents.
/// Appends to out.
void bert_normalize(const std::vector<uint32_t>& cps, bool lower, bool strip_accents,
                    std::vector<uint32_t>& out);

}  // namespace cf::tokenizers::unicode
