// Parallel en->fr data from software translations: a strict reader of gettext .mo catalogues,
// the cleaning rules that turn UI strings and help paragraphs into sentence pairs, and a split
// by source unit (a whole .mo domain or a whole help page) into train/valid/test. See
// docs/translation-data.md for the corpus built from them (cformer data translation).
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cf::data {

/// One message of a .mo catalogue (the header entry, msgid "", is kept apart).
struct MoMessage {
  std::string context;              // msgctxt (before the \x04 in the key), empty when none
  std::string msgid;                // the singular English string
  std::string msgid_plural;         // empty unless a plural entry
  std::vector<std::string> msgstr;  // one translation, or one per plural form
  bool is_plural() const { return !msgid_plural.empty() || msgstr.size() > 1; }
};

struct MoCatalog {
  uint32_t revision = 0;  // major << 16 | minor; majors 0 and 1 are read
  bool big_endian = false;
  std::string header;               // the translation of "" (Content-Type, Plural-Forms, ...)
  std::vector<MoMessage> messages;  // in file order, strings converted to UTF-8
  /// The charset of the header's Content-Type ("UTF-8" when absent).
  std::string charset() const;
};

/// Parses a .mo file image: magic 0x950412de in either byte order, revision, N, the offsets of
/// the original and translated string tables. Every table entry and string (length + offset +
/// its NUL terminator) must lie inside the file. Strings in ISO-8859-1 are converted to UTF-8;
/// other non-UTF-8 charsets throw NotImplementedError. Malformed input throws FormatError naming
/// source and what is wrong (with the byte offset where it helps). Sysdep strings of minor
/// revision 1 (a glibc extension for <inttypes.h> macros) are not read.
MoCatalog parse_mo(std::span<const uint8_t> bytes, const std::string& source);
/// Reads and parses a file; IoError when it cannot be read.
MoCatalog read_mo(const std::string& path);

/// Why a pair is dropped (kKept: it is not).
enum class DropReason {
  kKept,
  kPlural,  // plural entries (their strings carry a number placeholder)
  kEmpty,   // nothing left after normalization
  kInvalidUtf8,
  kNoLetters,     // one side has no letter
  kFormatString,  // %s %d %1 %(name)s %{x} {0} ${x} $(ARG) ...
  kMarkup,        // tags but simple inline ones, entities, '\\'; in UI strings '_' and a|b
  kIdentical,     // English == French
  kTooShort,      // fewer English words than min_words
  kTooLong,       // more than max_chars characters or max_words words on one side
  kLengthRatio,   // character lengths too different
};
const char* drop_reason_name(DropReason r);

struct CleanOptions {
  bool strip_mnemonics = true;  // UI strings: remove _ & ~ access-key markers
  int min_words = 3;            // English words (whitespace-separated)
  int max_words = 100;          // per side
  int max_chars = 400;          // per side, in code points
  double max_ratio = 2.2;       // (chars_fr + 10) / (chars_en + 10) within [1/max_ratio, max_ratio]
};

/// Collapses every whitespace run (Python's str.isspace(), so U+00A0 and U+202F too) to one
/// space and trims the ends.
std::string collapse_whitespace(std::string_view s);

/// Removes access-key markers: '_', '&' or '~' followed by a letter or digit, at the start of a
/// word or inside one. Inside a word the marker stays when the same word occurs verbatim in
/// `other` (the other language's string): an untranslated identifier such as max_connections,
/// not a mnemonic. "&" starting an entity (&amp;) is left alone.
std::string strip_mnemonics(std::string_view s, std::string_view other);

/// Applies the cleaning rules to one pair in place; returns kKept or why the pair is dropped.
/// Order: whitespace, %PRODUCTNAME -> LibreOffice, simple inline tags (<b> <i> <u> <tt> <small>
/// <big> <sub> <sup> <span ...>) removed, mnemonics, then the checks in the order of DropReason.
DropReason clean_pair(std::string& en, std::string& fr, const CleanOptions& options = {});

/// Pairs read and dropped, per origin and reason (drop_reason_name; "kept" for the rest).
struct CleanCounts {
  std::map<std::string, std::map<std::string, int64_t>> by_origin;
  void add(const std::string& origin, const std::string& reason) { ++by_origin[origin][reason]; }
};

struct TranslationPair {
  std::string en, fr;
  bool operator==(const TranslationPair&) const = default;
};

/// The pairs of one source unit: a whole .mo domain ("gettext:git") or help page
/// ("lo-help:text/scalc/01/05030200.html"). Units never straddle splits.
struct CorpusUnit {
  std::string name;
  std::string origin;   // where it comes from, for the statistics ("image", "blender-data", ...)
  std::string stratum;  // "gettext" or "aligned": valid and test sample each in proportion
  std::vector<TranslationPair> pairs;  // cleaned
};

struct SplitOptions {
  int64_t valid_pairs = 2500;  // stop adding units to valid once it holds this many pairs
  int64_t test_pairs = 2500;
  int64_t max_unit_pairs = 600;  // larger units always go to train
  uint64_t seed = 0x5eed;        // units are visited in order of hash(seed, name)
};

struct TranslationSplits {
  std::vector<TranslationPair> train, valid, test;
  std::vector<std::string> valid_units, test_units;  // sorted
  /// Per origin: pairs in train, valid, test after deduplication.
  std::map<std::string, std::array<int64_t, 3>> by_origin;
  int64_t duplicates = 0;       // pairs dropped because their English side was seen before
  int64_t overlap_removed = 0;  // train/valid pairs dropped because test/valid has their English
};

/// One unit per *.mo file of dir (in name order), named "<origin>:<domain>": every message
/// cleaned (context stripped; plural entries dropped as kPlural, since their strings hold the
/// number placeholder). A catalogue in an unsupported charset is counted as
/// "unsupported_charset" and skipped; a malformed one throws FormatError.
std::vector<CorpusUnit> load_mo_dir(const std::string& dir, const std::string& origin,
                                    const CleanOptions& options, CleanCounts& counts);
/// Units from "unit<TAB>english<TAB>french" lines (tools/data/lo_help_align.py), consecutive
/// lines of the same unit grouped into one unit of that name.
/// Throws FormatError naming the line when a line has no two tabs.
std::vector<CorpusUnit> load_aligned_tsv(const std::string& path, const std::string& origin,
                                         const CleanOptions& options, CleanCounts& counts);

/// Assigns whole units to test, then valid, then train. Each stratum s gets the quota
/// pairs * (pairs of s / all pairs) in valid and in test; its units are visited in the order of
/// hash(seed, name) and go to test until its quota is reached, then to valid likewise, the rest
/// (and every unit over max_unit_pairs) to train. Then deduplicates on the English side: test
/// first, valid without any English of test, train without any English of valid or test; within
/// a split the first pair of an English string (units in name order) is kept. Deterministic.
TranslationSplits split_translation_corpus(std::vector<CorpusUnit> units,
                                           const SplitOptions& options = {});

}  // namespace cf::data
