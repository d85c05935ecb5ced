#include "train/translate_data.h"

#include "cformer/io.h"
#include "util/check.h"

namespace cf::train {
namespace {

using tokenizers::BpeTokenizer;

int64_t special_id(const BpeTokenizer& tok, const char* name, const std::string& source) {
  for (const auto& [text, id] : tok.special_tokens())
    if (text == name) return id;
  CF_THROW(FormatError, source, ": the tokenizer has no special token ", name);
}

}  // namespace

TranslationVocab TranslationVocab::train(const std::vector<std::string>& src_texts,
                                         const std::vector<std::string>& tgt_texts,
                                         int64_t vocab_size, bool shared) {
  const std::vector<std::string> special{kPadToken, kBosToken, kEosToken};
  TranslationVocab v;
  v.shared = shared;
  if (shared) {
    std::vector<std::string> all = src_texts;
    all.insert(all.end(), tgt_texts.begin(), tgt_texts.end());
    v.src = std::make_shared<const BpeTokenizer>(BpeTokenizer::train(all, vocab_size, special));
    v.tgt = v.src;
  } else {
    // The special tokens come last, so their ids agree only when both sides reach the same
    // size: a side that runs out of merges sets the size of the other.
    int64_t size = vocab_size;
    for (int round = 0; round < 3; ++round) {
      v.src = std::make_shared<const BpeTokenizer>(BpeTokenizer::train(src_texts, size, special));
      v.tgt = std::make_shared<const BpeTokenizer>(
          BpeTokenizer::train(tgt_texts, v.src->vocab_size(), special));
      if (v.tgt->vocab_size() == v.src->vocab_size()) break;
      size = v.tgt->vocab_size();
    }
  }
  v.pad_id = special_id(*v.src, kPadToken, "source vocabulary");
  v.bos_id = special_id(*v.src, kBosToken, "source vocabulary");
  v.eos_id = special_id(*v.src, kEosToken, "source vocabulary");
  CF_CHECK(special_id(*v.tgt, kPadToken, "target vocabulary") == v.pad_id &&
               special_id(*v.tgt, kBosToken, "target vocabulary") == v.bos_id &&
               special_id(*v.tgt, kEosToken, "target vocabulary") == v.eos_id,
           ValueError, "translation vocabulary: the source (", v.src->vocab_size(),
           " tokens) and target (", v.tgt->vocab_size(),
           " tokens) tokenizers give the special tokens different ids; use a shared vocabulary "
           "or a smaller --vocab-size");
  return v;
}

nlohmann::json TranslationVocab::to_json() const {
  nlohmann::json j{{"shared", shared}, {"src", src->to_hf_json()}};
  if (!shared) j["tgt"] = tgt->to_hf_json();
  return j;
}

TranslationVocab TranslationVocab::from_json(const nlohmann::json& j, const std::string& source) {
  TranslationVocab v;
  try {
    v.shared = j.at("shared").get<bool>();
    v.src = std::make_shared<const BpeTokenizer>(
        BpeTokenizer::from_hf_json(j.at("src").get<std::string>(), source + " (source tokenizer)"));
    v.tgt = v.shared ? v.src
                     : std::make_shared<const BpeTokenizer>(BpeTokenizer::from_hf_json(
                           j.at("tgt").get<std::string>(), source + " (target tokenizer)"));
  } catch (const nlohmann::json::exception& e) {
    CF_THROW(FormatError, source, ": malformed translation vocabulary: ", e.what());
  }
  v.pad_id = special_id(*v.src, kPadToken, source);
  v.bos_id = special_id(*v.src, kBosToken, source);
  v.eos_id = special_id(*v.src, kEosToken, source);
  CF_CHECK(special_id(*v.tgt, kPadToken, source) == v.pad_id &&
               special_id(*v.tgt, kBosToken, source) == v.bos_id &&
               special_id(*v.tgt, kEosToken, source) == v.eos_id,
           FormatError, source, ": the source and target tokenizers disagree on the special ids");
  return v;
}

std::vector<int64_t> TranslationVocab::encode_src(const std::string& text) const {
  std::vector<int64_t> ids = src->encode_ordinary(text);
  ids.push_back(eos_id);
  return ids;
}

std::vector<int64_t> TranslationVocab::encode_tgt(const std::string& text) const {
  return tgt->encode_ordinary(text);
}

std::string TranslationVocab::decode_tgt(const std::vector<int64_t>& ids) const {
  std::vector<int64_t> kept;
  kept.reserve(ids.size());
  for (int64_t id : ids)
    if (id != pad_id && id != bos_id && id != eos_id) kept.push_back(id);
  return tgt->decode(kept);
}

std::vector<std::string> read_lines(const std::string& path) {
  const std::vector<uint8_t> bytes = io::read_file(path);
  std::vector<std::string> lines;
  std::string line;
  for (uint8_t b : bytes) {
    if (b == '\n') {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines.push_back(std::move(line));
      line.clear();
    } else {
      line += static_cast<char>(b);
    }
  }
  if (!line.empty()) lines.push_back(std::move(line));  // a last line without '\n'
  return lines;
}

ParallelText read_parallel(const std::string& prefix, int64_t limit) {
  ParallelText t;
  t.src = read_lines(prefix + ".en");
  t.tgt = read_lines(prefix + ".fr");
  CF_CHECK(t.src.size() == t.tgt.size(), ValueError, prefix, ".en has ", t.src.size(),
           " lines but ", prefix, ".fr has ", t.tgt.size(), "; the files must be aligned");
  if (limit > 0 && static_cast<size_t>(limit) < t.src.size()) {
    t.src.resize(static_cast<size_t>(limit));
    t.tgt.resize(static_cast<size_t>(limit));
  }
  return t;
}

PairCorpus encode_corpus(const TranslationVocab& vocab, const ParallelText& text) {
  PairCorpus c;
  c.src.reserve(text.src.size());
  c.tgt.reserve(text.tgt.size());
  for (size_t i = 0; i < text.src.size(); ++i) {
    c.src.push_back(vocab.encode_src(text.src[i]));
    c.tgt.push_back(vocab.encode_tgt(text.tgt[i]));
  }
  return c;
}

}  // namespace cf::train
