// Cleaning rules on examples, loading units (.mo directory, aligned TSV), the split by unit with
// English-side deduplication, and the corpus prepare_data.sh builds in data/translation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "cformer/error.h"
#include "cformer/translation_data.h"
#include "support/expect_throw.h"

namespace cf::data {
namespace {

namespace fs = std::filesystem;

DropReason clean(std::string en, std::string fr, const CleanOptions& o = {}) {
  return clean_pair(en, fr, o);
}

std::pair<std::string, std::string> cleaned(std::string en, std::string fr,
                                            const CleanOptions& o = {}) {
  const DropReason r = clean_pair(en, fr, o);
  EXPECT_EQ(r, DropReason::kKept) << drop_reason_name(r) << ": " << en << " | " << fr;
  return {en, fr};
}

TEST(TranslationClean, Normalization) {
  EXPECT_EQ(collapse_whitespace("  a \t b\n\nc\xC2\xA0:\xE2\x80\xAF!  "), "a b c : !");
  // Mnemonics: GTK '_', Qt/KDE '&', LibreOffice '~'; at a word start or inside a word.
  EXPECT_EQ(cleaned("_Save the current file", "_Enregistrer le fichier actif").first,
            "Save the current file");
  EXPECT_EQ(cleaned("Save the file &as", "Enregistrer le fichier s&ous").second,
            "Enregistrer le fichier sous");
  EXPECT_EQ(cleaned("~Open an existing document", "Ou~vrir un document existant").second,
            "Ouvrir un document existant");
  // '&' between words is text; an identifier present on both sides is not a mnemonic, but an
  // identifier is code, so the pair is dropped.
  EXPECT_EQ(cleaned("Find & Replace the text", "Rechercher & remplacer le texte").first,
            "Find & Replace the text");
  EXPECT_EQ(strip_mnemonics("set max_connections now", "changer max_connections"),
            "set max_connections now");
  EXPECT_EQ(strip_mnemonics("Fi_le name here", "Nom du fi_chier"), "File name here");
  EXPECT_EQ(
      clean("Increase max_connections to continue", "Augmentez max_connections pour continuer"),
      DropReason::kMarkup);
  // Simple inline tags go, %PRODUCTNAME becomes LibreOffice.
  EXPECT_EQ(cleaned("<b>Warning:</b> the file is <i>read-only</i>",
                    "<b>Attention :</b> le fichier est <i>en lecture seule</i>")
                .second,
            "Attention : le fichier est en lecture seule");
  EXPECT_EQ(cleaned("Restart %PRODUCTNAME now please", "Redémarrer %PRODUCTNAME maintenant").first,
            "Restart LibreOffice now please");
  // Help prose keeps '_' and '&'.
  CleanOptions help;
  help.strip_mnemonics = false;
  EXPECT_EQ(
      cleaned("Enter the period_length argument", "Saisissez l'argument longueur_période", help)
          .first,
      "Enter the period_length argument");
}

TEST(TranslationClean, DropReasons) {
  EXPECT_EQ(clean("Open the file now", "Ouvrir le fichier"), DropReason::kKept);
  EXPECT_EQ(clean("Open \xFF the file", "Ouvrir le fichier"), DropReason::kInvalidUtf8);
  EXPECT_EQ(clean("  ", "Ouvrir"), DropReason::kEmpty);
  EXPECT_EQ(clean("<b> </b>", "Ouvrir"), DropReason::kEmpty);
  EXPECT_EQ(clean("_", "_"), DropReason::kNoLetters);  // a lone marker is not a mnemonic
  EXPECT_EQ(clean("1 - 2 - 3", "1 - 2 - 3"), DropReason::kNoLetters);
  EXPECT_EQ(clean("Copy %s to the folder", "Copier %s dans le dossier"), DropReason::kFormatString);
  EXPECT_EQ(clean("Copied %1 files to here", "%1 fichiers copiés ici"), DropReason::kFormatString);
  EXPECT_EQ(clean("Value is %(value)s here", "La valeur est %(value)s"), DropReason::kFormatString);
  EXPECT_EQ(clean("Deleted {0} items from list", "{0} éléments supprimés"),
            DropReason::kFormatString);
  EXPECT_EQ(clean("Path is ${HOME} for you", "Le chemin est ${HOME}"), DropReason::kFormatString);
  EXPECT_EQ(clean("Cannot open $(ARG1) right now", "Impossible d'ouvrir $(ARG1)"),
            DropReason::kFormatString);
  EXPECT_EQ(clean("%<#pragma%> is not allowed here", "%<#pragma%> n'est pas permis ici"),
            DropReason::kFormatString);
  // Percent signs and dollars of prose are not placeholders.
  EXPECT_EQ(clean("Zoom to 100% of the page", "Zoom à 100 % de la page"), DropReason::kKept);
  EXPECT_EQ(clean("It costs $5 per month", "Cela coûte 5 $ par mois"), DropReason::kKept);
  EXPECT_EQ(clean("See <a href=\"x\">the manual</a> now", "Voir <a href=\"x\">le manuel</a>"),
            DropReason::kMarkup);
  EXPECT_EQ(clean("Press &lt;Enter&gt; to go", "Appuyez sur &lt;Entrée&gt;"), DropReason::kMarkup);
  EXPECT_EQ(clean("Use C:\\Windows for this", "Utilisez C:\\Windows pour ceci"),
            DropReason::kMarkup);
  EXPECT_EQ(clean("sorted by|Birth Date", "Date de naissance"), DropReason::kMarkup);
  EXPECT_EQ(
      clean("-fopt=[full|none] Instrument the code", "-fopt=[full|none] Instrumenter le code"),
      DropReason::kMarkup);
  EXPECT_EQ(clean("Choose one | or the other", "Choisir l'un | ou l'autre"), DropReason::kKept);
  EXPECT_EQ(clean("Open the file now", "Open the file now"), DropReason::kIdentical);
  EXPECT_EQ(clean("Open file", "Ouvrir le fichier"), DropReason::kTooShort);
  std::string long_en, long_fr;
  for (int i = 0; i < 101; ++i) long_en += "word ", long_fr += "mot ";
  EXPECT_EQ(clean(long_en, long_fr), DropReason::kTooLong);  // 101 words
  EXPECT_EQ(clean(std::string(401, 'a') + " b c", std::string(390, 'b') + " c d"),
            DropReason::kTooLong);  // 405 characters
  EXPECT_EQ(clean("Open the file", "Ouvrir le fichier qui se trouve dans le dossier des documents"),
            DropReason::kLengthRatio);  // (61 + 10) / (13 + 10) = 3.09 > 2.2
  CleanOptions two;
  two.min_words = 2;
  EXPECT_EQ(clean("Open file", "Ouvrir le fichier", two), DropReason::kKept);
}

TEST(TranslationClean, ReasonNames) {
  EXPECT_STREQ(drop_reason_name(DropReason::kKept), "kept");
  EXPECT_STREQ(drop_reason_name(DropReason::kFormatString), "format_string");
  EXPECT_STREQ(drop_reason_name(DropReason::kLengthRatio), "length_ratio");
}

CorpusUnit unit(const std::string& name, const std::string& stratum, int n, int offset = 0) {
  CorpusUnit u{name, stratum == "aligned" ? "help" : "ui", stratum, {}};
  for (int i = 0; i < n; ++i)
    u.pairs.push_back(
        {"english " + std::to_string(offset + i), "french " + std::to_string(offset + i)});
  return u;
}

TEST(TranslationSplit, WholeUnitsQuotasAndDedup) {
  std::vector<CorpusUnit> units;
  for (int k = 0; k < 60; ++k)
    units.push_back(unit("ui:" + std::to_string(k), "gettext", 30, 1000 * k));
  for (int k = 0; k < 200; ++k)
    units.push_back(unit("help:" + std::to_string(k), "aligned", 10, 100000 + 100 * k));
  units.push_back(unit("ui:big", "gettext", 5000, 900000));
  // Duplicates: an English string repeated inside ui:0 and shared by ui:1 and ui:2.
  units[0].pairs.push_back({"english 0", "autre traduction"});
  units[1].pairs.push_back({"shared english", "partagé 1"});
  units[2].pairs.push_back({"shared english", "partagé 2"});
  SplitOptions o;
  o.valid_pairs = 300;
  o.test_pairs = 300;
  o.max_unit_pairs = 100;
  const TranslationSplits s = split_translation_corpus(units, o);
  // ui:big is over max_unit_pairs: always train.
  EXPECT_EQ(std::count(s.test_units.begin(), s.test_units.end(), "ui:big"), 0);
  EXPECT_EQ(std::count(s.valid_units.begin(), s.valid_units.end(), "ui:big"), 0);
  // Quotas: the strata hold 1800 + 5000 + 3 (gettext) and 2000 (aligned) of 8803 pairs, so
  // test takes about 300 * 6803/8803 = 232 gettext pairs (8 units of 30) and 68 help pairs.
  int64_t test_help = 0;
  for (const std::string& name : s.test_units) test_help += name.rfind("help:", 0) == 0;
  EXPECT_EQ(test_help, 7);  // 10-pair units until >= 68
  EXPECT_GE(static_cast<int64_t>(s.test.size()), 290);
  EXPECT_LE(static_cast<int64_t>(s.test.size()), 330);
  EXPECT_GE(static_cast<int64_t>(s.valid.size()), 290);
  // Units are split whole and the English sides of the splits are disjoint and unique.
  std::set<std::string> test_units(s.test_units.begin(), s.test_units.end());
  for (const std::string& v : s.valid_units) EXPECT_EQ(test_units.count(v), 0u) << v;
  std::unordered_set<std::string> eval;
  for (const auto* split : {&s.test, &s.valid})
    for (const TranslationPair& p : *split) EXPECT_TRUE(eval.insert(p.en).second) << p.en;
  std::unordered_set<std::string> train;
  for (const TranslationPair& p : s.train) {
    EXPECT_EQ(eval.count(p.en), 0u) << p.en;
    EXPECT_TRUE(train.insert(p.en).second) << p.en;
  }
  // Every distinct English string ends up exactly once.
  EXPECT_EQ(s.train.size() + s.valid.size() + s.test.size(), 60u * 30 + 200 * 10 + 5000 + 1);
  EXPECT_EQ(s.duplicates + s.overlap_removed, 2);
  // Evaluation splits win (test before valid before train), then the first unit in name order.
  auto rank = [&s](const std::string& name) {
    if (std::count(s.test_units.begin(), s.test_units.end(), name)) return 0;
    if (std::count(s.valid_units.begin(), s.valid_units.end(), name)) return 1;
    return 2;
  };
  const std::string want = rank("ui:2") < rank("ui:1") ? "partagé 2" : "partagé 1";
  bool found = false;
  for (const auto* split : {&s.train, &s.valid, &s.test})
    for (const TranslationPair& p : *split)
      if (p.en == "shared english") {
        found = true;
        EXPECT_EQ(p.fr, want);
      }
  EXPECT_TRUE(found);
  // Deterministic and independent of the input order; another seed draws other units.
  std::vector<CorpusUnit> reversed(units.rbegin(), units.rend());
  const TranslationSplits again = split_translation_corpus(reversed, o);
  EXPECT_EQ(again.test_units, s.test_units);
  EXPECT_EQ(again.train, s.train);
  o.seed = 99;
  EXPECT_NE(split_translation_corpus(units, o).test_units, s.test_units);
  // Origin statistics add up.
  int64_t total = 0;
  for (const auto& [origin, n] : s.by_origin) total += n[0] + n[1] + n[2];
  EXPECT_EQ(total, static_cast<int64_t>(s.train.size() + s.valid.size() + s.test.size()));
  units.push_back(unit("ui:0", "gettext", 1));
  EXPECT_THROW_MSG(split_translation_corpus(units, o), ValueError, "two units are named ui:0");
}

fs::path temp_dir(const std::string& tag) {
  const fs::path d =
      fs::temp_directory_path() / ("cformer_" + tag + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

TEST(TranslationLoad, AlignedTsv) {
  const fs::path d = temp_dir("tsv");
  std::ofstream(d / "a.tsv") << "p1\tOpen the file now\tOuvrir le fichier\n"
                                "p1\tSave it\tEnregistrez-le\n"
                                "p2\tClose the_window please\tFermer la_fenêtre svp\n";
  CleanCounts counts;
  CleanOptions help;
  help.strip_mnemonics = false;
  const std::vector<CorpusUnit> u = load_aligned_tsv((d / "a.tsv").string(), "help", help, counts);
  ASSERT_EQ(u.size(), 2u);
  EXPECT_EQ(u[0].name, "p1");
  EXPECT_EQ(u[0].stratum, "aligned");
  EXPECT_EQ(u[0].pairs.size(), 1u);  // "Save it" is too short
  EXPECT_EQ(u[1].pairs.size(), 1u);
  EXPECT_EQ(counts.by_origin["help"]["kept"], 2);
  EXPECT_EQ(counts.by_origin["help"]["too_short"], 1);
  std::ofstream(d / "bad.tsv") << "p1\tOpen the file now\tOuvrir le fichier\nno tabs here\n";
  EXPECT_THROW_MSG(load_aligned_tsv((d / "bad.tsv").string(), "help", help, counts), FormatError,
                   "bad.tsv:2: expected unit<TAB>english<TAB>french");
  fs::remove_all(d);
}

TEST(TranslationLoad, MoDirectory) {
  if (std::system("msgfmt --version > /dev/null 2>&1") != 0)
    FAIL() << "msgfmt (GNU gettext) is not installed: run scripts/setup.sh";
  const fs::path d = temp_dir("modir");
  std::ofstream(d / "app.po") << R"(msgid ""
msgstr "Content-Type: text/plain; charset=UTF-8\n"

msgid "_Open the selected file"
msgstr "_Ouvrir le fichier sélectionné"

msgctxt "verb"
msgid "Close the current window"
msgstr "Fermer la fenêtre actuelle"

msgid "One file was copied"
msgid_plural "%d files were copied"
msgstr[0] "Un fichier a été copié"
msgstr[1] "%d fichiers ont été copiés"

msgid "Copy %s to the folder"
msgstr "Copier %s dans le dossier"
)";
  ASSERT_EQ(
      std::system(("msgfmt -o '" + (d / "app.mo").string() + "' '" + (d / "app.po").string() + "'")
                      .c_str()),
      0);
  fs::remove(d / "app.po");
  CleanCounts counts;
  const std::vector<CorpusUnit> u = load_mo_dir(d.string(), "test", CleanOptions(), counts);
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].name, "test:app");
  EXPECT_EQ(u[0].stratum, "gettext");
  ASSERT_EQ(u[0].pairs.size(), 2u);
  // msgfmt sorts by key: "Copy..." < "One file..." < "_Open..." < "verb\x04Close...".
  EXPECT_EQ(u[0].pairs[0],
            (TranslationPair{"Open the selected file", "Ouvrir le fichier sélectionné"}));
  EXPECT_EQ(u[0].pairs[1],
            (TranslationPair{"Close the current window", "Fermer la fenêtre actuelle"}));
  EXPECT_EQ(counts.by_origin["test"]["plural"], 1);
  EXPECT_EQ(counts.by_origin["test"]["format_string"], 1);
  std::ofstream(d / "broken.mo") << "not a catalogue at all, just text";
  EXPECT_THROW_MSG(load_mo_dir(d.string(), "test", CleanOptions(), counts), FormatError,
                   "broken.mo: not a .mo file");
  EXPECT_THROW(load_mo_dir((d / "missing").string(), "test", CleanOptions(), counts), IoError);
  fs::remove_all(d);
}

// --- the corpus built by scripts/prepare_data.sh ------------------------------------------

std::vector<std::string> read_lines(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(f, line);) lines.push_back(line);
  return lines;
}

TEST(TranslationCorpus, SplitsAreDisjointAndAligned) {
  const fs::path dir = fs::path(CFORMER_SOURCE_DIR) / "data" / "translation";
  ASSERT_TRUE(fs::exists(dir / "stats.json") && fs::exists(dir / "sources.txt"))
      << dir << " is missing: run scripts/prepare_data.sh";
  std::ifstream sf(dir / "stats.json");
  const nlohmann::json stats = nlohmann::json::parse(sf);
  std::unordered_set<std::string> eval_en;
  std::unordered_set<std::string> seen_fr_lines;
  size_t sizes[3] = {};
  const char* names[3] = {"test", "valid", "train"};
  for (int s = 0; s < 3; ++s) {
    const std::vector<std::string> en = read_lines(dir / (std::string(names[s]) + ".en"));
    const std::vector<std::string> fr = read_lines(dir / (std::string(names[s]) + ".fr"));
    ASSERT_EQ(en.size(), fr.size()) << names[s];
    EXPECT_EQ(static_cast<int64_t>(en.size()), stats["pairs"][names[s]].get<int64_t>()) << names[s];
    sizes[s] = en.size();
    std::unordered_set<std::string> split_en;
    for (size_t i = 0; i < en.size(); ++i) {
      ASSERT_FALSE(en[i].empty() || fr[i].empty()) << names[s] << " line " << i + 1;
      EXPECT_TRUE(split_en.insert(en[i]).second) << names[s] << " repeats " << en[i];
      EXPECT_EQ(eval_en.count(en[i]), 0u)
          << names[s] << " line " << i + 1 << " (" << en[i] << ") is in an evaluation split";
      EXPECT_EQ(en[i].find('\t'), std::string::npos);
    }
    if (s < 2) eval_en.insert(split_en.begin(), split_en.end());
  }
  EXPECT_GE(sizes[0], 1500u);
  EXPECT_GE(sizes[1], 1500u);
  EXPECT_GE(sizes[2], 80000u);
  // No source unit is in two splits.
  std::set<std::string> test_units;
  for (const auto& u : stats["test_units"]) test_units.insert(u.get<std::string>());
  for (const auto& u : stats["valid_units"]) EXPECT_EQ(test_units.count(u.get<std::string>()), 0u);
}

}  // namespace
}  // namespace cf::data
