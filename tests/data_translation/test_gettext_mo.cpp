// The .mo reader: hand-built files in both byte orders, files written by GNU msgfmt, and a corpus
// of malformed files (every truncation, every header field out of range, random corruption), each
// of which must throw FormatError naming the file, never crash or read out of bounds.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "cformer/error.h"
#include "cformer/io.h"
#include "cformer/translation_data.h"
#include "support/expect_throw.h"

namespace cf::data {
namespace {

namespace fs = std::filesystem;

using Bytes = std::vector<uint8_t>;

void put32(Bytes& b, size_t at, uint32_t v, bool big) {
  for (int k = 0; k < 4; ++k)
    b[at + static_cast<size_t>(k)] = static_cast<uint8_t>(v >> (big ? 24 - 8 * k : 8 * k));
}

// A .mo image laid out as msgfmt does: header, original table at 28, translation table, then
// the strings (each NUL-terminated). Entries must be sorted by key for a real catalogue; the
// reader does not need it.
Bytes build_mo(const std::vector<std::pair<std::string, std::string>>& entries, bool big = false,
               uint32_t revision = 0) {
  const auto n = static_cast<uint32_t>(entries.size());
  const uint32_t orig = 28, trans = orig + 8 * n, strings = trans + 8 * n;
  Bytes b(strings, 0);
  put32(b, 0, 0x950412de, big);
  put32(b, 4, revision, big);
  put32(b, 8, n, big);
  put32(b, 12, orig, big);
  put32(b, 16, trans, big);
  put32(b, 20, 0, big);
  put32(b, 24, strings, big);
  auto add = [&b, big](size_t entry, const std::string& s) {
    put32(b, entry, static_cast<uint32_t>(s.size()), big);
    put32(b, entry + 4, static_cast<uint32_t>(b.size()), big);
    b.insert(b.end(), s.begin(), s.end());
    b.push_back(0);
  };
  for (uint32_t i = 0; i < n; ++i) add(orig + 8 * i, entries[i].first);
  for (uint32_t i = 0; i < n; ++i) add(trans + 8 * i, entries[i].second);
  return b;
}

const std::vector<std::pair<std::string, std::string>> kEntries = {
    {"", "Project-Id-Version: test\nContent-Type: text/plain; charset=UTF-8\n"},
    {"Open the file", "Ouvrir le fichier"},
    {"menu\x04"
     "File",
     "Fichier"},
    {std::string("One file\0%d files", 17), std::string("Un fichier\0%d fichiers", 22)},
    {"Save \xE2\x80\x9Cit\xE2\x80\x9D",
     "Enregistrer \xC2\xAB\xC2\xA0"
     "ceci\xC2\xA0\xC2\xBB"},
};

void expect_catalog(const MoCatalog& cat) {
  EXPECT_NE(cat.header.find("Project-Id-Version: test"), std::string::npos);
  EXPECT_EQ(cat.charset(), "UTF-8");
  ASSERT_EQ(cat.messages.size(), 4u);  // the header is not a message
  EXPECT_EQ(cat.messages[0].msgid, "Open the file");
  EXPECT_EQ(cat.messages[0].msgstr, std::vector<std::string>{"Ouvrir le fichier"});
  EXPECT_FALSE(cat.messages[0].is_plural());
  EXPECT_EQ(cat.messages[1].context, "menu");
  EXPECT_EQ(cat.messages[1].msgid, "File");
  EXPECT_EQ(cat.messages[1].msgstr[0], "Fichier");
  EXPECT_TRUE(cat.messages[2].is_plural());
  EXPECT_EQ(cat.messages[2].msgid, "One file");
  EXPECT_EQ(cat.messages[2].msgid_plural, "%d files");
  EXPECT_EQ(cat.messages[2].msgstr, (std::vector<std::string>{"Un fichier", "%d fichiers"}));
  EXPECT_EQ(cat.messages[3].msgstr[0], kEntries[4].second);
}

TEST(GettextMo, HandBuiltBothByteOrders) {
  const MoCatalog le = parse_mo(build_mo(kEntries), "le.mo");
  EXPECT_FALSE(le.big_endian);
  expect_catalog(le);
  const MoCatalog be = parse_mo(build_mo(kEntries, true), "be.mo");
  EXPECT_TRUE(be.big_endian);
  expect_catalog(be);
  // Minor revision 1 (sysdep strings) and major 1 are read; major 2 is not.
  EXPECT_EQ(parse_mo(build_mo(kEntries, false, 1), "r1.mo").revision, 1u);
  EXPECT_EQ(parse_mo(build_mo(kEntries, true, 0x10000), "r10000.mo").messages.size(), 4u);
  EXPECT_THROW_MSG(parse_mo(build_mo(kEntries, false, 0x20000), "r2.mo"), FormatError,
                   "r2.mo: unsupported .mo major revision 2");
  // An empty catalogue.
  EXPECT_TRUE(parse_mo(build_mo({}), "empty.mo").messages.empty());
}

TEST(GettextMo, Charsets) {
  // ISO-8859-1 strings are converted to UTF-8.
  const MoCatalog l1 = parse_mo(build_mo({{"", "Content-Type: text/plain; charset=ISO-8859-1\n"},
                                          {"Open", "Ouvrir \xE9t\xE9"}}),
                                "latin1.mo");
  EXPECT_EQ(l1.messages[0].msgstr[0], "Ouvrir \xC3\xA9t\xC3\xA9");
  EXPECT_THROW_MSG(
      parse_mo(build_mo({{"", "Content-Type: text/plain; charset=KOI8-R\n"}, {"a", "b"}}), "k.mo"),
      NotImplementedError, "k.mo: .mo charset KOI8-R is not supported");
  // Without a header the strings must be UTF-8.
  EXPECT_THROW_MSG(parse_mo(build_mo({{"Open", "Ouvrir \xE9t\xE9"}}), "bad8.mo"), FormatError,
                   "bad8.mo: .mo string 0 is not valid UTF-8");
}

// GNU msgfmt writes the reference files (gettext is part of the machine image).
TEST(GettextMo, FilesWrittenByMsgfmt) {
  if (std::system("msgfmt --version > /dev/null 2>&1") != 0)
    FAIL() << "msgfmt (GNU gettext) is not installed: run scripts/setup.sh";
  const fs::path dir = fs::temp_directory_path() / ("cformer_mo_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "t.po") << R"(msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=2; plural=(n > 1);\n"

msgid "Open the file"
msgstr "Ouvrir le fichier"

msgctxt "menu"
msgid "File"
msgstr "Fichier"

msgid "One file"
msgid_plural "%d files"
msgstr[0] "Un fichier"
msgstr[1] "%d fichiers"

#, fuzzy
msgid "Fuzzy entry"
msgstr "Entrée floue"

msgid "Untranslated"
msgstr ""

msgid "Line one\n"
"line two"
msgstr "Ligne un\n"
"ligne deux"
)";
  for (const std::string endian : {"little", "big"}) {
    const fs::path mo = dir / ("t-" + endian + ".mo");
    const std::string cmd = "msgfmt --endianness=" + endian + " -o '" + mo.string() + "' '" +
                            (dir / "t.po").string() + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    const MoCatalog cat = read_mo(mo.string());
    EXPECT_EQ(cat.big_endian, endian == "big");
    EXPECT_NE(cat.header.find("Plural-Forms"), std::string::npos);
    // msgfmt drops fuzzy and untranslated entries and sorts by key ("menu\x04File" > "Line...").
    ASSERT_EQ(cat.messages.size(), 4u) << endian;
    EXPECT_EQ(cat.messages[0].msgid, "Line one\nline two");
    EXPECT_EQ(cat.messages[0].msgstr[0], "Ligne un\nligne deux");
    EXPECT_EQ(cat.messages[1].msgid, "One file");
    EXPECT_EQ(cat.messages[1].msgstr, (std::vector<std::string>{"Un fichier", "%d fichiers"}));
    EXPECT_EQ(cat.messages[2].msgid, "Open the file");
    EXPECT_EQ(cat.messages[3].context, "menu");
    EXPECT_EQ(cat.messages[3].msgid, "File");
  }
  fs::remove_all(dir);
}

// Every way to break the file: each must throw FormatError whose message names the file.
TEST(GettextMo, MalformedCorpus) {
  const Bytes good = build_mo(kEntries);
  const uint32_t n = static_cast<uint32_t>(kEntries.size());
  struct Case {
    std::string name;
    Bytes bytes;
    std::string what;
  };
  std::vector<Case> cases;
  auto with = [&good](size_t at, uint32_t v) {
    Bytes b = good;
    put32(b, at, v, false);
    return b;
  };
  cases.push_back({"empty.mo", {}, "shorter than its 28-byte header"});
  cases.push_back({"magic.mo", with(0, 0x12345678), "not a .mo file (magic 0x12345678"});
  cases.push_back({"count.mo", with(8, n + 1), "translation string 5"});
  cases.push_back({"hugecount.mo", with(8, 0xFFFFFFFFu), "runs past the end of the file"});
  cases.push_back({"orig.mo", with(12, static_cast<uint32_t>(good.size()) - 8), "original table"});
  cases.push_back({"trans.mo", with(16, 0xFFFFFFF0u), "translation table"});
  cases.push_back({"len.mo", with(28 + 8, 0xFFFFFFFFu), "original string 1"});
  cases.push_back({"off.mo", with(28 + 8 + 4, static_cast<uint32_t>(good.size())),
                   "runs past the end of the file"});
  cases.push_back({"offmax.mo", with(28 + 8 * n + 4, 0xFFFFFFFFu), "translation string 0"});
  {
    Bytes b = good;  // shorten string 1 by one byte: its NUL is now a letter
    put32(b, 28 + 8, 12, false);
    cases.push_back({"nul.mo", b, "original string 1 at offset"});
    Bytes c = good;
    c.at(good.size() - 1) = 'x';  // the last string's terminator
    cases.push_back({"lastnul.mo", c, "is not NUL-terminated"});
  }
  cases.push_back(
      {"parts.mo", build_mo({{std::string("a\0b\0c", 5), "x"}}), "3 NUL-separated parts"});
  for (const Case& c : cases) {
    try {
      parse_mo(c.bytes, c.name);
      ADD_FAILURE() << c.name << ": expected FormatError";
    } catch (const FormatError& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind(c.name + ": ", 0), 0u) << msg;
      EXPECT_NE(msg.find(c.what), std::string::npos) << c.name << ": " << msg;
    }
  }
  // Every truncation of a valid file.
  for (size_t len = 0; len < good.size(); ++len) {
    const Bytes b(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(len));
    EXPECT_THROW_MSG(parse_mo(b, "cut.mo"), FormatError, "cut.mo: ");
  }
  // Random corruption: parsed or rejected with a cformer error, never anything else.
  std::mt19937 rng(7);
  int rejected = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    Bytes b = trial % 2 ? build_mo(kEntries, true) : good;
    for (int k = 0; k <= trial % 4; ++k) b[rng() % b.size()] = static_cast<uint8_t>(rng());
    try {
      parse_mo(b, "fuzz.mo");
    } catch (const FormatError& e) {
      ++rejected;
      EXPECT_EQ(std::string(e.what()).rfind("fuzz.mo: ", 0), 0u) << e.what();
    } catch (const NotImplementedError&) {
      ++rejected;  // a corrupted charset name
    }
  }
  EXPECT_GT(rejected, 100);
}

TEST(GettextMo, ReadErrors) {
  EXPECT_THROW(read_mo("/nonexistent/cformer.mo"), IoError);
}

}  // namespace
}  // namespace cf::data
