// The translation vocabulary: special-token ids, EOS on the source side only, decode skipping
// the specials, exact round trips (special-token text in a sentence stays text), JSON round
// trip, separate vocabularies, and the aligned-file reader's errors.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "cformer/cformer.h"
#include "train/translate_data.h"

namespace cf::train {
namespace {

const std::vector<std::string> kEn = {"The file could not be opened.", "Open the file",
                                      "Save the document as a new file.", "Close all windows"};
const std::vector<std::string> kFr = {"Le fichier n'a pas pu être ouvert.", "Ouvrir le fichier",
                                      "Enregistrer le document dans un nouveau fichier.",
                                      "Fermer toutes les fenêtres"};

TEST(TranslateData, SharedVocabularyRoundTrip) {
  const TranslationVocab v = TranslationVocab::train(kEn, kFr, 300, true);
  EXPECT_EQ(v.src.get(), v.tgt.get());
  EXPECT_EQ(v.src->vocab_size(), 300);
  EXPECT_EQ(v.src->token_to_id("<pad>"), v.pad_id);
  EXPECT_EQ(v.src->token_to_id("<s>"), v.bos_id);
  EXPECT_EQ(v.src->token_to_id("</s>"), v.eos_id);
  EXPECT_NE(v.pad_id, v.bos_id);
  EXPECT_NE(v.bos_id, v.eos_id);
  for (size_t i = 0; i < kEn.size(); ++i) {
    const std::vector<int64_t> s = v.encode_src(kEn[i]);
    ASSERT_FALSE(s.empty());
    EXPECT_EQ(s.back(), v.eos_id);
    for (size_t k = 0; k + 1 < s.size(); ++k) EXPECT_LT(s[k], v.pad_id < v.eos_id ? v.pad_id : v.eos_id);
    const std::vector<int64_t> t = v.encode_tgt(kFr[i]);
    EXPECT_EQ(v.decode_tgt(t), kFr[i]);
    std::vector<int64_t> framed{v.bos_id};
    framed.insert(framed.end(), t.begin(), t.end());
    framed.push_back(v.eos_id);
    framed.push_back(v.pad_id);
    EXPECT_EQ(v.decode_tgt(framed), kFr[i]);
  }
  // Special-token text inside a sentence is ordinary text, never the special id.
  const std::vector<int64_t> odd = v.encode_tgt("a </s> b <pad>");
  for (int64_t id : odd) EXPECT_TRUE(id != v.pad_id && id != v.bos_id && id != v.eos_id);
  EXPECT_EQ(v.decode_tgt(odd), "a </s> b <pad>");
  EXPECT_EQ(v.encode_src(""), std::vector<int64_t>{v.eos_id});

  const TranslationVocab back = TranslationVocab::from_json(v.to_json(), "test");
  EXPECT_TRUE(back.shared);
  EXPECT_EQ(back.src.get(), back.tgt.get());
  EXPECT_EQ(back.pad_id, v.pad_id);
  EXPECT_EQ(back.eos_id, v.eos_id);
  for (size_t i = 0; i < kEn.size(); ++i) {
    EXPECT_EQ(back.encode_src(kEn[i]), v.encode_src(kEn[i]));
    EXPECT_EQ(back.encode_tgt(kFr[i]), v.encode_tgt(kFr[i]));
  }
}

TEST(TranslateData, SeparateVocabularies) {
  const TranslationVocab v = TranslationVocab::train(kEn, kFr, 280, false);
  EXPECT_NE(v.src.get(), v.tgt.get());
  EXPECT_EQ(v.tgt->token_to_id("</s>"), v.eos_id);
  EXPECT_EQ(v.decode_tgt(v.encode_tgt(kFr[2])), kFr[2]);
  const TranslationVocab back = TranslationVocab::from_json(v.to_json(), "test");
  EXPECT_FALSE(back.shared);
  EXPECT_EQ(back.encode_tgt(kFr[0]), v.encode_tgt(kFr[0]));
  EXPECT_EQ(back.encode_src(kEn[0]), v.encode_src(kEn[0]));
  // The English side runs out of merges first: the French side is cut to the same size.
  const TranslationVocab small = TranslationVocab::train(kEn, kFr, 2000, false);
  EXPECT_LT(small.src->vocab_size(), 2000);
  EXPECT_EQ(small.src->vocab_size(), small.tgt->vocab_size());
  EXPECT_EQ(small.tgt->token_to_id("<pad>"), small.pad_id);
}

TEST(TranslateData, MalformedVocabularyJson) {
  EXPECT_THROW(TranslationVocab::from_json(nlohmann::json{{"shared", true}}, "ck"), FormatError);
  const TranslationVocab v = TranslationVocab::train(kEn, kFr, 300, true);
  nlohmann::json j = v.to_json();
  j["shared"] = false;  // then "tgt" is required
  try {
    TranslationVocab::from_json(j, "ck.safetensors");
    FAIL() << "no throw";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("ck.safetensors"), std::string::npos) << e.what();
  }
  // A tokenizer without the special tokens.
  const tokenizers::BpeTokenizer plain = tokenizers::BpeTokenizer::train(kEn, 270, {});
  EXPECT_THROW(TranslationVocab::from_json(nlohmann::json{{"shared", true}, {"src", plain.to_hf_json()}}, "ck"),
               FormatError);
}

TEST(TranslateData, ReadsAlignedFiles) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("cf_translate_data_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string prefix = (dir / "train").string();
  std::ofstream(prefix + ".en") << "one\ntwo\r\n\nfour";
  std::ofstream(prefix + ".fr") << "un\ndeux\n\nquatre\n";
  const ParallelText t = read_parallel(prefix);
  EXPECT_EQ(t.src, (std::vector<std::string>{"one", "two", "", "four"}));
  EXPECT_EQ(t.tgt, (std::vector<std::string>{"un", "deux", "", "quatre"}));
  EXPECT_EQ(read_parallel(prefix, 2).src.size(), 2u);
  const TranslationVocab v = TranslationVocab::train(kEn, kFr, 270, true);
  const PairCorpus c = encode_corpus(v, t);
  ASSERT_EQ(c.size(), 4);
  EXPECT_EQ(c.src[2], std::vector<int64_t>{v.eos_id});
  EXPECT_TRUE(c.tgt[2].empty());
  std::ofstream(prefix + ".fr") << "un\n";
  EXPECT_THROW(read_parallel(prefix), ValueError);
  EXPECT_THROW(read_parallel((dir / "missing").string()), IoError);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cf::train
