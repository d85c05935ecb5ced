// BLEU and chrF: hand-computed cases (the arithmetic is in the comments), edge cases, and the
// stdlib-only oracle tools/golden/bleu_oracle.py (sacreBLEU's definitions) on adversarial strings
// and on the real en/fr pairs of data/translation with perturbed hypotheses.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cformer/error.h"
#include "cformer/metrics/translation.h"
#include "support/expect_throw.h"

namespace cf::metrics {
namespace {

namespace fs = std::filesystem;

using Refs = std::vector<std::vector<std::string>>;

BleuOptions smooth(BleuSmooth s) {
  BleuOptions o;
  o.smooth = s;
  return o;
}

TEST(Tokenize13a, PunctuationDigitsAndEntities) {
  EXPECT_EQ(tokenize_13a("Hello, world!"), "Hello , world !");
  // '.' and ',' stay inside numbers; '$' is a symbol; '?' too.
  EXPECT_EQ(tokenize_13a("It costs $3.50, right?"), "It costs $ 3.50 , right ?");
  EXPECT_EQ(tokenize_13a("pages 1-2 and a-b"), "pages 1 - 2 and a-b");
  EXPECT_EQ(tokenize_13a("don't (x+y)/2"), "don't ( x + y ) / 2");
  EXPECT_EQ(tokenize_13a("U.S.A."), "U . S . A .");
  EXPECT_EQ(tokenize_13a("1,000.5 items."), "1,000.5 items .");
  // Entities are unescaped in order quot, amp, lt, gt: "&amp;lt;" becomes "&lt;" then "<".
  EXPECT_EQ(tokenize_13a("&quot;hi&quot; &amp;lt; &amp;quot;"), "\" hi \" < & quot ;");
  EXPECT_EQ(tokenize_13a("a<skipped>b  \t c"), "ab c");
  // U+00A0 and U+202F are whitespace for Python's split.
  EXPECT_EQ(tokenize_13a("Fichier\xC2\xA0: \xC2\xAB\xE2\x80\xAF"
                         "ok"),
            "Fichier : \xC2\xAB ok");
  EXPECT_EQ(tokenize_13a(""), "");
  EXPECT_EQ(tokenize_13a(" \xC2\xA0 "), "");
}

TEST(Bleu, HandComputedNoFourGramMatch) {
  // hyp: the cat sat on the mat    ref: the cat is on the mat     (c = r = 6, BP = 1)
  // 1-grams: the x2 (2), cat, on, mat -> 5/6;  2-grams: the cat, on the, the mat -> 3/5
  // 3-grams: on the mat -> 1/4;  4-grams: 0/3.
  const std::vector<std::string> hyp = {"the cat sat on the mat"};
  const Refs ref = {{"the cat is on the mat"}};
  const BleuScore none = corpus_bleu(hyp, ref);
  EXPECT_EQ(none.stats.correct[0], 5);
  EXPECT_EQ(none.stats.total[0], 6);
  EXPECT_EQ(none.stats.correct[1], 3);
  EXPECT_EQ(none.stats.total[1], 5);
  EXPECT_EQ(none.stats.correct[2], 1);
  EXPECT_EQ(none.stats.total[2], 4);
  EXPECT_EQ(none.stats.correct[3], 0);
  EXPECT_EQ(none.stats.total[3], 3);
  EXPECT_EQ(none.score, 0.0);  // log(0) without smoothing
  EXPECT_DOUBLE_EQ(none.bp, 1.0);
  EXPECT_NEAR(none.precisions[0], 500.0 / 6.0, 1e-12);
  // exp: p4 = 100 / (2 * 3); product of fractions 5/6 * 3/5 * 1/4 * 1/6 = 1/48,
  // BLEU = 100 * 48^(-1/4) = 37.9918...
  EXPECT_NEAR(corpus_bleu(hyp, ref, smooth(BleuSmooth::kExp)).score, 100.0 * std::pow(48.0, -0.25),
              1e-10);
  // floor 0.1: p4 = 0.1 / 3; product 5/6 * 3/5 * 1/4 * 1/30 = 1/240, BLEU = 100 * 240^(-1/4).
  EXPECT_NEAR(corpus_bleu(hyp, ref, smooth(BleuSmooth::kFloor)).score,
              100.0 * std::pow(240.0, -0.25), 1e-10);
  // add-k 1 (orders 2..4): 5/6 * 4/6 * 2/5 * 1/4 = 1/18, BLEU = 100 * 18^(-1/4) = 48.549...
  EXPECT_NEAR(corpus_bleu(hyp, ref, smooth(BleuSmooth::kAddK)).score, 100.0 * std::pow(18.0, -0.25),
              1e-10);
  BleuOptions k2 = smooth(BleuSmooth::kAddK);
  k2.smooth_value = 2;  // 5/6 * (3+2)/(5+2) * (1+2)/(4+2) * (0+2)/(3+2) = 150/1260 = 5/42
  EXPECT_NEAR(corpus_bleu(hyp, ref, k2).score, 100.0 * std::pow(5.0 / 42.0, 0.25), 1e-10);
}

TEST(Bleu, PerfectMatchIs100) {
  const std::vector<std::string> hyp = {"The quick brown fox jumps over the lazy dog.",
                                        "Enregistrer le document sous un autre nom"};
  const BleuScore s = corpus_bleu(hyp, {hyp});
  EXPECT_NEAR(s.score, 100.0, 1e-9);
  EXPECT_DOUBLE_EQ(s.bp, 1.0);
  EXPECT_EQ(s.stats.hyp_len, 10 + 7);  // "dog ." is two tokens
}

TEST(Bleu, CorpusStatisticsAndBrevityPenalty) {
  // S1: identical 6 tokens -> correct = total = 6, 5, 4, 3.
  // S2: "x y z" vs 8 other tokens -> total 3, 2, 1, 0, no match.
  // Corpus: c = 9, r = 14, p = 6/9, 5/7, 4/5, 3/3; (6/9 * 5/7 * 4/5 * 1)^(1/4) = (8/21)^(1/4);
  // BP = exp(1 - 14/9) = exp(-5/9). BLEU = 100 * exp(-5/9) * (8/21)^(1/4) = 45.07..., not the
  // mean of the sentence scores (100 and 0).
  const std::vector<std::string> hyp = {"a b c d e f", "x y z"};
  const Refs ref = {{"a b c d e f", "p q r s t u v w"}};
  const BleuScore s = corpus_bleu(hyp, ref);
  EXPECT_EQ(s.stats.hyp_len, 9);
  EXPECT_EQ(s.stats.ref_len, 14);
  EXPECT_NEAR(s.bp, std::exp(-5.0 / 9.0), 1e-15);
  EXPECT_NEAR(s.score, 100.0 * std::exp(-5.0 / 9.0) * std::pow(8.0 / 21.0, 0.25), 1e-10);
  EXPECT_EQ(bleu_signature(BleuOptions(), 1),
            "nrefs:1|case:mixed|eff:no|tok:13a|smooth:none|version:cformer");
  EXPECT_EQ(bleu_signature(smooth(BleuSmooth::kFloor), 2),
            "nrefs:2|case:mixed|eff:no|tok:13a|smooth:floor[0.10]|version:cformer");
  EXPECT_EQ(
      s.format(),
      "BLEU = 45.08 66.7/71.4/80.0/100.0 (BP = 0.574 ratio = 0.643 hyp_len = 9 ref_len = 14)");
  // Sentence statistics add up to the corpus statistics.
  BleuStats sum = bleu_sentence_stats(hyp[0], {ref[0][0]});
  sum += bleu_sentence_stats(hyp[1], {ref[0][1]});
  EXPECT_EQ(bleu_from_stats(sum).score, s.score);
}

TEST(Bleu, MultipleReferences) {
  // hyp: the cat is here; refs: "the cat is there", "a cat is here". Counts are clipped by the
  // maximum over references: 1-grams 4/4, 2-grams 3/3 (the cat | cat is | is here), 3-grams 2/2,
  // 4-grams 0/1. exp smoothing: p4 = 100 / 2 -> BLEU = 100 * 0.5^(1/4) = 84.089...
  const std::vector<std::string> hyp = {"the cat is here"};
  const Refs refs = {{"the cat is there"}, {"a cat is here"}};
  const BleuScore s = corpus_bleu(hyp, refs, smooth(BleuSmooth::kExp));
  EXPECT_EQ(s.stats.correct[1], 3);
  EXPECT_EQ(s.stats.correct[2], 2);
  EXPECT_NEAR(s.score, 100.0 * std::pow(0.5, 0.25), 1e-10);
  // Closest reference length, the shorter on ties: |5 - 4| = |5 - 6| -> 4.
  EXPECT_EQ(bleu_sentence_stats("a b c d e", {"a b c d", "a b c d e f"}).ref_len, 4);
  EXPECT_EQ(bleu_sentence_stats("a b c d e", {"a b c d e f g", "a b"}).ref_len, 7);
  // Clipping: "the" x4 against one "the".
  const BleuStats clip = bleu_sentence_stats("the the the the", {"the cat"});
  EXPECT_EQ(clip.correct[0], 1);
  EXPECT_EQ(clip.total[0], 4);
  // An empty reference among others is ignored (its length 0 would otherwise be closest).
  EXPECT_EQ(bleu_sentence_stats("a", {"", "a b c"}).ref_len, 3);
}

TEST(Bleu, EdgeCases) {
  // Empty hypothesis: c = 0 -> BP 0, no n-grams, BLEU 0.
  const BleuScore e = corpus_bleu({""}, {{"a b c d"}});
  EXPECT_EQ(e.score, 0.0);
  EXPECT_EQ(e.bp, 0.0);
  EXPECT_EQ(e.stats.ref_len, 4);
  // Hypothesis shorter than 4 tokens everywhere: no 4-grams at all -> 0 (sacreBLEU stops at the
  // first empty order and log(0) remains).
  EXPECT_EQ(corpus_bleu({"a b c"}, {{"a b c"}}).score, 0.0);
  EXPECT_EQ(corpus_bleu({"a b c"}, {{"a b c"}}, smooth(BleuSmooth::kExp)).score, 0.0);
  // Empty corpus: no statistics, BLEU 0.
  EXPECT_EQ(corpus_bleu({}, {{}}).score, 0.0);
  // 'none' tokenizer: punctuation stays attached.
  BleuOptions none_tok;
  none_tok.tokenizer = BleuTokenizer::kNone;
  EXPECT_EQ(corpus_bleu({"a b c d."}, {{"a b c d ."}}, none_tok).stats.correct[0], 3);
  EXPECT_NEAR(corpus_bleu({"a b c d."}, {{"a b c d ."}}).score, 100.0, 1e-9);
}

TEST(Bleu, Errors) {
  EXPECT_THROW_MSG(corpus_bleu({"a", "b"}, {{"a"}}), ValueError, "has 1 lines");
  EXPECT_THROW_MSG(corpus_bleu({"a"}, {}), ValueError, "no reference");
  EXPECT_THROW_MSG(corpus_bleu({"a", "b"}, {{"a", ""}}), ValueError, "line 2");
  EXPECT_THROW_OP(bleu_sentence_stats("a", {"", ""}), ValueError, "bleu");
  EXPECT_THROW_MSG(corpus_chrf({"a", "b"}, {{"a", ""}}), ValueError, "line 2");
  ChrfOptions bad;
  bad.char_order = 0;
  EXPECT_THROW_OP(corpus_chrf({"a"}, {{"a"}}, bad), ValueError, "chrf");
  bad = ChrfOptions();
  bad.beta = 0;
  EXPECT_THROW_OP(chrf_sentence_stats("a", {"a"}, bad), ValueError, "chrf");
  ChrfStats three{{1, 1, 1}, {1, 1, 1}, {1, 1, 1}};
  EXPECT_THROW_OP(chrf_from_stats(three), ValueError, "chrf");
}

TEST(Chrf, HandComputed) {
  // hyp "abc" ref "abd": n=1 match 2 of 3/3, n=2 1 of 2/2, n=3 0 of 1/1, n>=4 no n-grams
  // (not counted). P = R = (2/3 + 1/2 + 0) / 3 = 7/18; F2 = 5PR / (4P + R) = P -> 38.888...
  EXPECT_NEAR(corpus_chrf({"abc"}, {{"abd"}}).score, 100.0 * 7.0 / 18.0, 1e-10);
  // hyp "ab" ref "abc": n=1 P 2/2 R 2/3; n=2 P 1/1 R 1/2; n=3 no hypothesis n-gram (skipped).
  // P = 1, R = 7/12; F2 = 5 * 7/12 / (4 + 7/12) = 35/55 = 7/11.
  EXPECT_NEAR(corpus_chrf({"ab"}, {{"abc"}}).score, 100.0 * 7.0 / 11.0, 1e-10);
  // Whitespace (U+00A0 included) is removed before the n-grams are taken.
  EXPECT_NEAR(corpus_chrf({"a b"}, {{"a\xC2\xA0"
                                     "b"}})
                  .score,
              100.0, 1e-10);
  EXPECT_NEAR(corpus_chrf({"a b"}, {{"ab"}}).score, 100.0, 1e-10);
  // Characters are code points: "été" vs "ete": n=1 match t only, P = R = 1/3; n=2, n=3: 0.
  // P = R = (1/3) / 3 = 1/9.
  EXPECT_NEAR(corpus_chrf({"\xC3\xA9t\xC3\xA9"}, {{"ete"}}).score, 100.0 / 9.0, 1e-10);
  // Several references: the best one counts.
  EXPECT_NEAR(corpus_chrf({"abc"}, {{"xyz"}, {"abc"}}).score, 100.0, 1e-10);
  // eps smoothing (chrF++'s original): mean of per-order F2 = (2/3 + 1/2 + eps x4) / 6.
  ChrfOptions eps;
  eps.eps_smoothing = true;
  EXPECT_NEAR(corpus_chrf({"abc"}, {{"abd"}}, eps).score, 100.0 * (7.0 / 6.0) / 6.0, 1e-10);
  // Empty hypothesis: no order has hypothesis n-grams -> 0.
  EXPECT_EQ(corpus_chrf({""}, {{"abc"}}).score, 0.0);
  // Corpus statistics are the sums of the sentence statistics, scored once.
  const ChrfScore c = corpus_chrf({"abc", "ab"}, {{"abd", "abc"}});
  ChrfStats sum = chrf_sentence_stats("abc", {"abd"});
  sum += chrf_sentence_stats("ab", {"abc"});
  EXPECT_EQ(c.stats.hyp, sum.hyp);
  EXPECT_EQ(c.stats.match, sum.match);
  EXPECT_EQ(c.score, chrf_from_stats(sum));
  // n=1: P (2+2)/(3+2), R 4/6; n=2: P 2/3, R 2/4; n=3: P 0/1, R 0/2.
  // P = (4/5 + 2/3 + 0)/3 = 22/45, R = (2/3 + 1/2)/3 = 7/18; F2 = 5PR / (4P + R).
  const double P = 22.0 / 45.0, R = 7.0 / 18.0;
  EXPECT_NEAR(c.score, 100.0 * 5 * P * R / (4 * P + R), 1e-10);
  EXPECT_EQ(
      c.format(ChrfOptions()), "chrF2 = " + [](double v) {
        char b[32];
        std::snprintf(b, sizeof b, "%.2f", v);
        return std::string(b);
      }(c.score));
}

// --- the Python oracle --------------------------------------------------------------------

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

nlohmann::json run_oracle(const std::vector<std::string>& hyps, const Refs& refs) {
  const fs::path dir =
      fs::temp_directory_path() / ("cformer_bleu_oracle_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path in = dir / "in.json", out = dir / "out.json";
  std::ofstream(in, std::ios::binary) << nlohmann::json{{"hyps", hyps}, {"refs", refs}}.dump();
  const std::string cmd = "python3 '" +
                          (fs::path(CFORMER_SOURCE_DIR) / "tools/golden/bleu_oracle.py").string() +
                          "' '" + in.string() + "' > '" + out.string() + "'";
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << "the oracle failed: " << cmd;
  nlohmann::json j;
  if (rc == 0) j = nlohmann::json::parse(read_all(out));
  fs::remove_all(dir);
  return j;
}

void expect_bleu_equal(const BleuScore& got, const nlohmann::json& want, const std::string& what) {
  ASSERT_TRUE(want.is_object()) << what;
  EXPECT_EQ(got.stats.hyp_len, want["hyp_len"].get<int64_t>()) << what;
  EXPECT_EQ(got.stats.ref_len, want["ref_len"].get<int64_t>()) << what;
  for (int n = 0; n < 4; ++n) {
    EXPECT_EQ(got.stats.correct[n], want["correct"][n].get<int64_t>())
        << what << " order " << n + 1;
    EXPECT_EQ(got.stats.total[n], want["total"][n].get<int64_t>()) << what << " order " << n + 1;
    EXPECT_NEAR(got.precisions[n], want["precisions"][n].get<double>(), 1e-9) << what;
  }
  EXPECT_NEAR(got.bp, want["bp"].get<double>(), 1e-12) << what;
  EXPECT_NEAR(got.score, want["score"].get<double>(), 1e-9) << what;
}

void expect_oracle_agrees(const std::vector<std::string>& hyps, const Refs& refs) {
  const nlohmann::json want = run_oracle(hyps, refs);
  ASSERT_TRUE(want.is_object());
  const std::pair<const char*, BleuSmooth> methods[] = {{"none", BleuSmooth::kNone},
                                                        {"exp", BleuSmooth::kExp},
                                                        {"floor", BleuSmooth::kFloor},
                                                        {"add-k", BleuSmooth::kAddK}};
  for (const auto& [name, method] : methods)
    expect_bleu_equal(corpus_bleu(hyps, refs, smooth(method)), want["bleu"][name],
                      std::string("smooth ") + name);
  BleuOptions none_tok;
  none_tok.tokenizer = BleuTokenizer::kNone;
  expect_bleu_equal(corpus_bleu(hyps, refs, none_tok), want["bleu_tok_none"], "tokenize none");
  int shown = 0;
  for (size_t i = 0; i < hyps.size(); ++i) {
    const std::string tok = tokenize_13a(hyps[i]);
    if (tok != want["tok13a"][i].get<std::string>() && shown++ < 5)
      ADD_FAILURE() << "13a of line " << i << " " << nlohmann::json(hyps[i]).dump() << ": cformer "
                    << nlohmann::json(tok).dump() << ", oracle " << want["tok13a"][i].dump();
  }
  const ChrfScore chrf = corpus_chrf(hyps, refs);
  EXPECT_EQ(chrf.stats.hyp, want["chrf"]["hyp"].get<std::vector<int64_t>>());
  EXPECT_EQ(chrf.stats.ref, want["chrf"]["ref"].get<std::vector<int64_t>>());
  EXPECT_EQ(chrf.stats.match, want["chrf"]["match"].get<std::vector<int64_t>>());
  EXPECT_NEAR(chrf.score, want["chrf"]["score"].get<double>(), 1e-9);
  ChrfOptions eps;
  eps.eps_smoothing = true;
  EXPECT_NEAR(corpus_chrf(hyps, refs, eps).score, want["chrf_eps"].get<double>(), 1e-9);
  ChrfOptions space;
  space.whitespace = true;
  EXPECT_NEAR(corpus_chrf(hyps, refs, space).score, want["chrf_space"].get<double>(), 1e-9);
}

// Strings aimed at every branch of the 13a regexes and of Python's whitespace.
TEST(BleuOracle, AdversarialStrings) {
  const std::vector<std::string> pieces = {"a",
                                           "1",
                                           "9",
                                           ".",
                                           ",",
                                           "-",
                                           "'",
                                           "\"",
                                           "&quot;",
                                           "&amp;",
                                           "&lt;",
                                           "&gt;",
                                           "&amp;quot;",
                                           "<skipped>",
                                           "$",
                                           "%",
                                           "(",
                                           ")",
                                           "{",
                                           "}",
                                           "[",
                                           "]",
                                           "^",
                                           "_",
                                           "`",
                                           "~",
                                           "|",
                                           "\\",
                                           "/",
                                           ":",
                                           ";",
                                           "=",
                                           "?",
                                           "@",
                                           "!",
                                           "#",
                                           "*",
                                           "+",
                                           " ",
                                           "  ",
                                           "\t",
                                           "\xC2\xA0",
                                           "\xE2\x80\xAF",
                                           "\xE2\x80\x89",
                                           "\xE3\x80\x80",
                                           "\x1C",
                                           "\xC2\x85",
                                           "\xC3\xA9",
                                           "\xE2\x80\x99",
                                           "\xC2\xAB",
                                           "\xE2\x80\xA6",
                                           "\xF0\x9F\x98\x80",
                                           "word",
                                           "3.14",
                                           "1,000",
                                           "e.g.",
                                           "x-y",
                                           "2-3",
                                           "...",
                                           "-\n",
                                           "\n",
                                           "\r"};
  std::mt19937 rng(1234);
  auto pick = [&rng](size_t n) { return static_cast<size_t>(rng() % n); };
  std::vector<std::string> hyps, ref0, ref1;
  for (int s = 0; s < 600; ++s) {
    std::string h, r0, r1;
    const size_t len = 1 + pick(25);
    for (size_t k = 0; k < len; ++k) {
      const std::string& p = pieces[pick(pieces.size())];
      h += p;
      r0 += pick(4) == 0 ? pieces[pick(pieces.size())] : p;
      r1 += pick(3) == 0 ? pieces[pick(pieces.size())] : p;
    }
    hyps.push_back(h);
    ref0.push_back(r0.empty() ? "x" : r0);
    ref1.push_back(s % 7 == 0 ? "" : r1);  // some segments have a single reference
  }
  expect_oracle_agrees(hyps, {ref0});
  expect_oracle_agrees(hyps, {ref0, ref1});
}

std::vector<std::string> read_lines(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(f, line);) lines.push_back(line);
  return lines;
}

// A hypothesis made from a reference the way a weak system errs: words dropped, swapped,
// repeated or borrowed from another sentence, cut short, left in English, or nothing at all.
std::string perturb(const std::string& ref, const std::string& source, const std::string& other,
                    std::mt19937& rng) {
  std::vector<std::string> w;
  for (std::string_view t : split_whitespace(ref)) w.emplace_back(t);
  std::vector<std::string> o;
  for (std::string_view t : split_whitespace(other)) o.emplace_back(t);
  const uint32_t kind = rng() % 10;
  auto at = [&rng](size_t n) { return static_cast<size_t>(rng() % n); };
  if (kind == 0 || w.empty()) return ref;
  if (kind == 1) return source;
  if (kind == 2) return rng() % 4 == 0 ? "" : w[0];
  if (kind == 3) w.resize((w.size() + 1) / 2);
  for (uint32_t edits = 1 + rng() % 3; edits > 0 && !w.empty(); --edits) {
    switch (rng() % 4) {
      case 0:
        w.erase(w.begin() + static_cast<std::ptrdiff_t>(at(w.size())));
        break;
      case 1:
        if (w.size() > 1) {
          const size_t i = at(w.size() - 1);
          std::swap(w[i], w[i + 1]);
        }
        break;
      case 2:
        w.insert(w.begin() + static_cast<std::ptrdiff_t>(at(w.size())), w[at(w.size())]);
        break;
      default:
        if (!o.empty()) w[at(w.size())] = o[at(o.size())];
    }
  }
  std::string h;
  for (const std::string& t : w) h += (h.empty() ? "" : " ") + t;
  return h;
}

// Real pairs: the valid and test splits of data/translation (scripts/prepare_data.sh).
TEST(BleuOracle, RealSentencePairs) {
  const fs::path dir = fs::path(CFORMER_SOURCE_DIR) / "data" / "translation";
  std::vector<std::string> en = read_lines(dir / "valid.en"), fr = read_lines(dir / "valid.fr");
  const std::vector<std::string> en2 = read_lines(dir / "test.en"),
                                 fr2 = read_lines(dir / "test.fr");
  en.insert(en.end(), en2.begin(), en2.end());
  fr.insert(fr.end(), fr2.begin(), fr2.end());
  ASSERT_GE(fr.size(), 3000u) << dir << " lacks valid/test: run scripts/prepare_data.sh";
  ASSERT_EQ(en.size(), fr.size());
  // Every other pair: 2,600 segments from both splits keep the test under 10 s.
  for (size_t i = 0; 2 * i < en.size(); ++i) {
    en[i] = en[2 * i];
    fr[i] = fr[2 * i];
  }
  en.resize((en.size() + 1) / 2);
  fr.resize(en.size());
  std::mt19937 rng(2024);
  std::vector<std::string> hyps, ref2;
  for (size_t i = 0; i < fr.size(); ++i) {
    const std::string& other = fr[(i * 7919 + 13) % fr.size()];
    hyps.push_back(perturb(fr[i], en[i], other, rng));
    ref2.push_back(perturb(fr[i], en[i], other, rng));
  }
  expect_oracle_agrees(hyps, {fr});
  // Two references for the first 1000 segments.
  const std::vector<std::string> h(hyps.begin(), hyps.begin() + 1000);
  const std::vector<std::string> r1(fr.begin(), fr.begin() + 1000);
  std::vector<std::string> r2(ref2.begin(), ref2.begin() + 1000);
  for (std::string& r : r2)
    if (r.empty()) r = "x";
  expect_oracle_agrees(h, {r1, r2});
  // A sanity anchor: the perturbed corpus scores well above 0 and below 100.
  const double bleu = corpus_bleu(hyps, {fr}).score;
  EXPECT_GT(bleu, 20.0);
  EXPECT_LT(bleu, 90.0);
}

}  // namespace
}  // namespace cf::metrics
