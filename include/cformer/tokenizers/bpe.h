// Byte-level BPE (GPT-2, Radford et al. 2019; Sennrich et al. 2016): text is split by GPT-2's
// pre-tokenizer regex, each piece's UTF-8 bytes start as one token per byte, and the merges are
// applied lowest rank first (every occurrence of a pair left to right, as GPT-2's bpe()).
// Special tokens (<|endoftext|>) are matched in the raw text first and never split. Any byte
// string, invalid UTF-8 included, encodes and decodes back exactly. The Python twins are
// GPT-2's encoder.py and Hugging Face tokenizers' ByteLevel BPE; ids match GPT-2's files exactly.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cf::tokenizers {

/// Pieces of text by GPT-2's pre-tokenizer regex
///   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
/// (\s is Unicode White_Space; a byte that is not valid UTF-8 counts as a character of its own
/// outside \s, \p{L} and \p{N}). The pieces concatenate to text.
std::vector<std::string_view> gpt2_pretokenize(std::string_view text);

class BpeTokenizer {
 public:
  BpeTokenizer();
  ~BpeTokenizer();
  BpeTokenizer(BpeTokenizer&&) noexcept;
  BpeTokenizer& operator=(BpeTokenizer&&) noexcept;

  /// GPT-2's files: encoder.json (or vocab.json: {"token": id}) and vocab.bpe (or merges.txt:
  /// an optional "#version" line, then one "left right" merge a line, in rank order). Tokens are
  /// written in GPT-2's byte-level alphabet. <|endoftext|> becomes a special token when the
  /// vocabulary has it. Throws IoError (unreadable) or FormatError naming the file and the line.
  static BpeTokenizer from_gpt2_files(const std::string& vocab_path,
                                      const std::string& merges_path);
  /// A Hugging Face tokenizer.json with a BPE model (byte-level), or a directory holding
  /// encoder.json/vocab.json and vocab.bpe/merges.txt.
  static BpeTokenizer load(const std::string& path);
  /// Parses tokenizer.json text; source names it in errors.
  static BpeTokenizer from_hf_json(std::string_view json, const std::string& source);

  /// Learns merges from texts: the 256 byte tokens (id = byte value), then one token per merge of
  /// the most frequent adjacent pair within pre-tokenized words (ties: the smallest (left, right)
  /// id pair), until vocab_size tokens including the special tokens (appended last). Throws
  /// ValueError when vocab_size < 256 + special_tokens.size() or a special token is empty or
  /// repeated.
  static BpeTokenizer train(const std::vector<std::string>& texts, int64_t vocab_size,
                            const std::vector<std::string>& special_tokens);

  /// Hugging Face tokenizer.json (model BPE, ByteLevel pre-tokenizer and decoder, added_tokens).
  std::string to_hf_json() const;
  void save_hf_json(const std::string& path) const;
  /// GPT-2's two files (written atomically).
  void save_gpt2_files(const std::string& vocab_path, const std::string& merges_path) const;

  /// Token ids of text; special tokens in text map to their ids.
  std::vector<int64_t> encode(std::string_view text) const;
  /// Token ids of text with special tokens treated as ordinary text.
  std::vector<int64_t> encode_ordinary(std::string_view text) const;
  /// The bytes of the tokens. Throws IndexError for an id outside the vocabulary.
  std::string decode(const std::vector<int64_t>& ids) const;

  /// One past the largest id.
  int64_t vocab_size() const;
  int64_t num_merges() const;
  /// The merges in rank order as (left, right) raw byte strings.
  std::vector<std::pair<std::string, std::string>> merges() const;
  /// Id of a token given by its raw bytes (or a special token's text); -1 when absent.
  int64_t token_to_id(std::string_view bytes) const;
  /// Raw bytes of a token. Throws IndexError for an unknown id.
  std::string id_to_token(int64_t id) const;
  /// Special tokens and their ids, in id order.
  std::vector<std::pair<std::string, int64_t>> special_tokens() const;
  /// Adds (or keeps) a special token: the existing id when the vocabulary has it, else a new one.
  int64_t add_special_token(const std::string& text);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cf::tokenizers
