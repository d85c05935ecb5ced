// WordPiece (BERT, Devlin et al. 2019; Wu et al. 2016). Text is first split by BERT's basic
// tokenizer: clean (drop NUL, U+FFFD and control characters, map whitespace to ' '), put spaces
// around CJK ideographs, split on whitespace, lower-case and strip accents (NFD, drop Mn) when
// lower-casing, split off every punctuation character (Unicode P* and ASCII symbols). Each word
// is then split greedily into the longest vocabulary prefix, continuation pieces carrying "##";
// a word with no split, or longer than max_input_chars_per_word, becomes [UNK]. The Python twin
// is Hugging Face's BertTokenizer (BasicTokenizer + WordpieceTokenizer).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cf::tokenizers {

/// BERT's basic tokenizer alone: the words (UTF-8) that WordPiece then splits.
std::vector<std::string> bert_basic_tokenize(std::string_view text, bool lower_case);

/// One encoded input (a text or a pair), ready for a BERT batch.
struct Encoding {
  std::vector<int64_t> ids;             // [CLS] a [SEP] (b [SEP]), then [PAD] up to pad_to
  std::vector<int64_t> type_ids;        // 0 for [CLS], a and its [SEP]; 1 for b and its [SEP]
  std::vector<int64_t> attention_mask;  // 1 for real tokens, 0 for padding
  std::vector<uint8_t> special;         // 1 for [CLS], [SEP], [PAD]
  std::vector<int64_t> word_ids;        // index of the basic-tokenizer word, -1 for specials;
                                        // words of b continue the numbering after a's
  int64_t truncated = 0;                // tokens removed by truncation
};

struct EncodeOptions {
  int64_t max_length = 512;  // total length including specials; 0 = no limit
  bool truncate = true;      // false: throw ValueError when the input is too long
  int64_t pad_to = 0;        // pad with [PAD] to this length (0: no padding)
};

class WordPieceTokenizer {
 public:
  WordPieceTokenizer();
  ~WordPieceTokenizer();
  WordPieceTokenizer(WordPieceTokenizer&&) noexcept;
  WordPieceTokenizer& operator=(WordPieceTokenizer&&) noexcept;

  /// BERT's vocab.txt: one token a line, id = line number. Must contain [PAD], [UNK], [CLS],
  /// [SEP] and [MASK]. Throws IoError (unreadable) or FormatError (empty, duplicate token,
  /// missing special token) naming the file and the line.
  static WordPieceTokenizer from_vocab_file(const std::string& path, bool lower_case = true);
  /// A Hugging Face tokenizer.json with a WordPiece model (BertNormalizer, BertPreTokenizer,
  /// TemplateProcessing or BertProcessing), or a vocab.txt.
  static WordPieceTokenizer load(const std::string& path);
  static WordPieceTokenizer from_hf_json(std::string_view json, const std::string& source);
  /// Learns a vocabulary from texts: the special tokens, every character seen (as word-initial
  /// and as "##" continuation), then the most frequent merges of adjacent pieces within basic-
  /// tokenizer words until vocab_size (ties broken deterministically). Throws ValueError when
  /// vocab_size is too small for the specials and the alphabet.
  static WordPieceTokenizer train(const std::vector<std::string>& texts, int64_t vocab_size,
                                  bool lower_case = true);

  std::string to_hf_json() const;
  void save_hf_json(const std::string& path) const;
  void save_vocab_file(const std::string& path) const;  // written atomically

  /// Ids of text without special tokens.
  std::vector<int64_t> encode(std::string_view text) const;
  /// [CLS] a [SEP] or [CLS] a [SEP] b [SEP] with truncation (longest-first for pairs, as HF)
  /// and padding. Throws ValueError when max_length is too small for the special tokens.
  Encoding encode_for_model(std::string_view a, const EncodeOptions& opt) const;
  Encoding encode_pair(std::string_view a, std::string_view b, const EncodeOptions& opt) const;
  /// Tokens joined with spaces, "##" pieces glued to the previous one, specials skipped when
  /// skip_special. Throws IndexError for an id outside the vocabulary.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special = true) const;

  int64_t vocab_size() const;
  bool lower_case() const;
  int64_t token_to_id(std::string_view token) const;  // -1 when absent
  std::string id_to_token(int64_t id) const;          // IndexError when out of range
  int64_t pad_id() const;
  int64_t unk_id() const;
  int64_t cls_id() const;
  int64_t sep_id() const;
  int64_t mask_id() const;
  /// True for "##" continuation pieces (whole-word masking groups them with the word start).
  bool is_continuation(int64_t id) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cf::tokenizers
