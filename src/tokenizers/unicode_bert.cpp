// See unicode_bert.h. The tables are generated (tools/gen_bert_unicode_tables.py).
#include "tokenizers/unicode_bert.h"

#include <algorithm>
#include <array>

namespace cf::tokenizers::unicode {
namespace {

struct FlagRange {
  uint32_t first, last;
  uint8_t flags;
};
struct Mapping {
  uint32_t cp;
  uint8_t len;
  uint32_t to[4];
};
struct CccRange {
  uint32_t first, last;
  uint8_t ccc;
};
#include "tokenizers/unicode_bert_tables.inc"

constexpr std::array<uint8_t, 256> latin1_flags() {
  std::array<uint8_t, 256> t{};
  for (const FlagRange& r : kFlagRanges)
    for (uint32_t c = r.first; c <= r.last && c < 256; ++c) t[c] = r.flags;
  return t;
}
constexpr std::array<uint8_t, 256> kLatin1 = latin1_flags();

// Hangul syllable decomposition (Unicode 3.12).
constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kVCount = 21, kTCount = 28, kSCount = 11172;

const Mapping* find_mapping(const Mapping* first, const Mapping* last, uint32_t cp) {
  const Mapping* it =
      std::lower_bound(first, last, cp, [](const Mapping& m, uint32_t c) { return m.cp < c; });
  return it != last && it->cp == cp ? it : nullptr;
}

uint8_t ccc(uint32_t cp) {
  if (cp < 0x300) return 0;
  auto it = std::upper_bound(std::begin(kCcc), std::end(kCcc), cp,
                             [](uint32_t c, const CccRange& r) { return c < r.first; });
  if (it == std::begin(kCcc)) return 0;
  --it;
  return cp <= it->last ? it->ccc : 0;
}

void append_nfd(uint32_t cp, std::vector<uint32_t>& out) {
  if (cp < 0xC0) {
    out.push_back(cp);
    return;
  }
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const uint32_t s = cp - kSBase;
    out.push_back(kLBase + s / (kVCount * kTCount));
    out.push_back(kVBase + (s % (kVCount * kTCount)) / kTCount);
    if (s % kTCount) out.push_back(kTBase + s % kTCount);
    return;
  }
  if (const Mapping* m = find_mapping(std::begin(kNfd), std::end(kNfd), cp)) {
    out.insert(out.end(), m->to, m->to + m->len);  // the table holds full decompositions
    return;
  }
  out.push_back(cp);
}

}  // namespace

const std::string_view kBertUnicodeVersion = CF_BERT_UNICODE_VERSION;

uint8_t bert_flags(uint32_t cp) {
  if (cp < 256) return kLatin1[cp];
  auto it = std::upper_bound(std::begin(kFlagRanges), std::end(kFlagRanges), cp,
                             [](uint32_t c, const FlagRange& r) { return c < r.first; });
  if (it == std::begin(kFlagRanges)) return 0;
  --it;
  return cp <= it->last ? it->flags : 0;
}

void bert_normalize(const std::vector<uint32_t>& cps, bool lower, bool strip_accents,
                    std::vector<uint32_t>& out) {
  std::vector<uint32_t> lowered;
  const std::vector<uint32_t>* src = &cps;
  if (lower) {
    lowered.reserve(cps.size());
    for (uint32_t cp : cps) {
      if (cp < 0x80) {
        lowered.push_back(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
      } else if (const Mapping* m = find_mapping(std::begin(kLower), std::end(kLower), cp)) {
        lowered.insert(lowered.end(), m->to, m->to + m->len);
      } else {
        lowered.push_back(cp);
      }
    }
    src = &lowered;
  }
  if (!strip_accents) {
    out.insert(out.end(), src->begin(), src->end());
    return;
  }
  const size_t base = out.size();
  for (uint32_t cp : *src) append_nfd(cp, out);
  // Canonical ordering: stable sort of every run of non-starters by combining class.
  for (size_t i = base; i < out.size();) {
    if (ccc(out[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < out.size() && ccc(out[j]) != 0) ++j;
    if (j - i > 1)
      std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(i),
                       out.begin() + static_cast<std::ptrdiff_t>(j),
                       [](uint32_t a, uint32_t b) { return ccc(a) < ccc(b); });
    i = j;
  }
  out.erase(std::remove_if(out.begin() + static_cast<std::ptrdiff_t>(base), out.end(),
                           [](uint32_t cp) { return (bert_flags(cp) & kBertMn) != 0; }),
            out.end());
}

}  // namespace cf::tokenizers::unicode
