#include <gtest/gtest.h>

#include "cformer/data.h"
#include "cformer/error.h"

namespace cf::data {
namespace {

TEST(CharTokenizer, RoundTripsAnyBytesIncludingInvalidUtf8) {
  CharTokenizer t = CharTokenizer::build("In the beginning God created \xC3\xA9");
  const std::string odd = std::string("unseen \xE2\x82\xAC and bad \xFF\xC3 bytes \0 end", 31);
  EXPECT_EQ(t.decode(t.encode(odd)), odd);
  EXPECT_EQ(t.decode(t.encode("God")), "God");
  const auto ids = t.encode("\xC3\xA9");
  ASSERT_EQ(ids.size(), 1u);  // a known character is one token
  EXPECT_LT(ids[0], t.num_chars());
  const auto euro = t.encode("\xE2\x82\xAC");
  EXPECT_EQ(euro.size(), 3u);  // an unknown one falls back to its bytes
  EXPECT_GE(euro[0], t.num_chars());
  EXPECT_THROW(t.decode({t.vocab_size()}), IndexError);
}

TEST(CharTokenizer, JsonRoundTripAndErrors) {
  CharTokenizer t = CharTokenizer::build("abc\n");
  CharTokenizer u = CharTokenizer::from_json(t.to_json());
  EXPECT_EQ(u.encode("cab\n"), t.encode("cab\n"));
  EXPECT_THROW(CharTokenizer::from_json("{"), FormatError);
  EXPECT_THROW(CharTokenizer::from_json(R"({"type":"char","chars":[98,97]})"), FormatError);
  EXPECT_THROW(CharTokenizer::from_json(R"({"type":"bpe"})"), FormatError);
}

TEST(TokenDataset, SplitWindowsAndReproducibility) {
  std::vector<int64_t> toks(1000);
  for (int i = 0; i < 1000; ++i) toks[i] = i;
  TokenDataset d(toks, 0.1);
  EXPECT_EQ(d.train_size(), 900);
  EXPECT_EQ(d.val_size(), 100);
  Generator g1(7), g2(7);
  auto a = d.sample(true, 4, 16, g1), b = d.sample(true, 4, 16, g2);
  EXPECT_EQ(a.x.to_vector<int64_t>(), b.x.to_vector<int64_t>());
  const auto x = a.x.to_vector<int64_t>(), y = a.y.to_vector<int64_t>();
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(y[i], x[i] + 1);
    EXPECT_LT(y[i], 900);  // training windows never reach the validation split
  }
  auto v = d.sample(false, 2, 16, g1);
  for (int64_t t : v.x.to_vector<int64_t>()) EXPECT_GE(t, 900);
  EXPECT_EQ(d.num_val_windows(16), 6);
  EXPECT_EQ(d.val_window(1, 2, 16).x.to_vector<int64_t>()[0], 916);
  EXPECT_THROW(d.val_window(5, 2, 16), IndexError);
  EXPECT_THROW(d.sample(false, 1, 200, g1), ValueError);
  EXPECT_THROW(TokenDataset(toks, 1.5), ValueError);
}

}  // namespace
}  // namespace cf::data
