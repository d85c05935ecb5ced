// The vocabulary and tokenized corpus of translation training: byte-level BPE learned on the
// training text (one vocabulary over English + French, or one per side), with the special
// tokens <pad> <s> </s> whose ids go into TranslationConfig (pad_id, bos_id, eos_id), and the
// aligned files PREFIX.en / PREFIX.fr read into PairCorpus (src = ids + EOS, tgt = ids).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cformer/tokenizers/bpe.h"
#include "train/token_batching.h"

namespace cf::train {

inline constexpr const char* kPadToken = "<pad>";
inline constexpr const char* kBosToken = "<s>";
inline constexpr const char* kEosToken = "</s>";

struct TranslationVocab {
  std::shared_ptr<const tokenizers::BpeTokenizer> src, tgt;  // the same object when shared
  bool shared = true;
  int64_t pad_id = -1, bos_id = -1, eos_id = -1;

  /// Learns BPE with vocab_size tokens (special tokens included) from the texts: over both
  /// sides when shared, else one tokenizer per side; when one side runs out of merges below
  /// vocab_size, the other is retrained to the same size so that the special ids agree.
  static TranslationVocab train(const std::vector<std::string>& src_texts,
                                const std::vector<std::string>& tgt_texts, int64_t vocab_size,
                                bool shared);
  /// {"shared": bool, "src": tokenizer.json text, "tgt": ...("tgt" absent when shared)}.
  nlohmann::json to_json() const;
  /// Throws FormatError (source names the checkpoint) on a malformed entry or tokenizers
  /// without the special tokens.
  static TranslationVocab from_json(const nlohmann::json& j, const std::string& source);

  /// Source ids of a sentence + EOS (special-token text in the sentence is ordinary text).
  std::vector<int64_t> encode_src(const std::string& text) const;
  /// Target ids of a sentence (no BOS, no EOS).
  std::vector<int64_t> encode_tgt(const std::string& text) const;
  /// The text of target ids; pad/bos/eos ids are skipped.
  std::string decode_tgt(const std::vector<int64_t>& ids) const;
};

/// The lines of a text file without their '\n' (and a trailing '\r'). Throws IoError.
std::vector<std::string> read_lines(const std::string& path);

/// The aligned files prefix + ".en" and prefix + ".fr" (limit > 0: the first limit lines).
/// Throws IoError when a file is missing, ValueError when their line counts differ.
struct ParallelText {
  std::vector<std::string> src, tgt;
};
ParallelText read_parallel(const std::string& prefix, int64_t limit = 0);

/// Tokenizes every pair.
PairCorpus encode_corpus(const TranslationVocab& vocab, const ParallelText& text);

}  // namespace cf::train
