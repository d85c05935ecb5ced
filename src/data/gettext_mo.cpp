// GNU gettext .mo reader. Layout (all fields 32-bit, in the byte order the magic reveals):
//   0 magic 0x950412de | 4 revision | 8 N | 12 O: original table | 16 T: translation table
//   | 20 S: hash table size | 24 H: hash table offset
// Table entry i at O + 8i (and T + 8i): length (without the NUL), offset. An original string is
// "msgctxt\x04msgid" with a context and "msgid\0msgid_plural" for a plural entry, whose
// translation holds the forms separated by NUL. The hash table is not needed to list messages.
#include <algorithm>
#include <cctype>

#include "cformer/io.h"
#include "cformer/translation_data.h"
#include "tokenizers/unicode.h"
#include "util/check.h"

namespace cf::data {
namespace {

constexpr uint32_t kMagic = 0x950412de;
constexpr uint64_t kHeaderSize = 28;

struct Reader {
  std::span<const uint8_t> bytes;
  const std::string& source;
  bool swap;

  uint32_t u32(uint64_t offset, const char* what) const {
    CF_CHECK(offset + 4 <= bytes.size(), FormatError, source, ": .mo ", what, " at offset ", offset,
             " lies beyond the end of the file (", bytes.size(), " bytes)");
    const uint8_t* p = bytes.data() + offset;
    return swap ? (uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3])
                : (uint32_t(p[3]) << 24 | uint32_t(p[2]) << 16 | uint32_t(p[1]) << 8 | p[0]);
  }

  // String i of the table at table_offset: bounds and NUL terminator checked.
  std::string_view string(uint64_t table_offset, uint64_t i, const char* table) const {
    const uint64_t entry = table_offset + 8 * i;
    const uint64_t len = u32(entry, table), off = u32(entry + 4, table);
    CF_CHECK(off + len + 1 <= bytes.size(), FormatError, source, ": .mo ", table, " string ", i,
             " (offset ", off, ", length ", len, ") runs past the end of the file (", bytes.size(),
             " bytes)");
    CF_CHECK(bytes[off + len] == 0, FormatError, source, ": .mo ", table, " string ", i,
             " at offset ", off, " is not NUL-terminated");
    return std::string_view(reinterpret_cast<const char*>(bytes.data() + off), len);
  }
};

std::vector<std::string> split_nul(std::string_view s) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '\0') {
      parts.emplace_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

std::string latin1_to_utf8(std::string_view s) {
  std::string out;
  for (char c : s) tokenizers::unicode::append_utf8(out, static_cast<uint8_t>(c));
  return out;
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    const int n = tokenizers::unicode::decode_utf8(s, i, cp);
    if (cp == 0xFFFFFFFFu) return false;
    i += static_cast<size_t>(n);
  }
  return true;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string charset_of(const std::string& header) {
  const std::string h = lower(header);
  const size_t pos = h.find("charset=");
  if (pos == std::string::npos) return "UTF-8";
  size_t end = pos + 8;
  while (end < header.size() && !std::isspace(static_cast<unsigned char>(header[end])) &&
         header[end] != ';')
    ++end;
  return header.substr(pos + 8, end - pos - 8);
}

}  // namespace

std::string MoCatalog::charset() const {
  return charset_of(header);
}

MoCatalog parse_mo(std::span<const uint8_t> bytes, const std::string& source) {
  CF_CHECK(bytes.size() >= kHeaderSize, FormatError, source, ": .mo file of ", bytes.size(),
           " bytes is shorter than its 28-byte header");
  Reader r{bytes, source, false};
  const uint32_t magic = r.u32(0, "magic");
  CF_CHECK(magic == kMagic || magic == 0xde120495u, FormatError, source,
           ": not a .mo file (magic 0x", std::hex, magic, ", expected 0x950412de)");
  r.swap = magic != kMagic;
  MoCatalog cat;
  cat.big_endian = r.swap;
  cat.revision = r.u32(4, "revision");
  CF_CHECK((cat.revision >> 16) <= 1, FormatError, source, ": unsupported .mo major revision ",
           cat.revision >> 16, " (0 and 1 are known)");
  const uint64_t n = r.u32(8, "string count");
  const uint64_t orig = r.u32(12, "original table offset");
  const uint64_t trans = r.u32(16, "translation table offset");
  for (const auto& [off, name] : {std::pair{orig, "original"}, std::pair{trans, "translation"}})
    CF_CHECK(off + 8 * n <= bytes.size(), FormatError, source, ": .mo ", name, " table (offset ",
             off, ", ", n, " entries of 8 bytes) runs past the end of the file (", bytes.size(),
             " bytes)");

  // The strings are converted after the header (which names the charset) has been read.
  std::vector<std::pair<std::string_view, std::string_view>> raw;
  raw.reserve(n);
  for (uint64_t i = 0; i < n; ++i)
    raw.emplace_back(r.string(orig, i, "original"), r.string(trans, i, "translation"));
  for (const auto& [id, str] : raw)
    if (id.empty()) cat.header = std::string(str);
  const std::string cs = lower(cat.charset());
  const bool latin1 = cs == "iso-8859-1" || cs == "latin1" || cs == "iso8859-1";
  CF_CHECK(latin1 || cs == "utf-8" || cs == "utf8" || cs == "ascii" || cs == "us-ascii" ||
               cs == "charset",  // msgfmt's placeholder "CHARSET" of an untouched template
           NotImplementedError, source, ": .mo charset ", cat.charset(),
           " is not supported (UTF-8, ASCII, ISO-8859-1)");
  auto text = [&r, latin1](std::string_view s, uint64_t i) {
    std::string t = latin1 ? latin1_to_utf8(s) : std::string(s);
    CF_CHECK(valid_utf8(t), FormatError, r.source, ": .mo string ", i, " is not valid UTF-8");
    return t;
  };
  cat.header = text(cat.header, 0);
  for (uint64_t i = 0; i < n; ++i) {
    const auto& [id, str] = raw[i];
    if (id.empty()) continue;
    MoMessage m;
    std::string key = text(id, i);
    const size_t eot = key.find('\x04');
    if (eot != std::string::npos) {
      m.context = key.substr(0, eot);
      key.erase(0, eot + 1);
    }
    std::vector<std::string> ids = split_nul(key);
    CF_CHECK(ids.size() <= 2, FormatError, source, ": .mo original string ", i, " has ", ids.size(),
             " NUL-separated parts (msgid and msgid_plural at most)");
    m.msgid = std::move(ids[0]);
    if (ids.size() == 2) m.msgid_plural = std::move(ids[1]);
    m.msgstr = split_nul(text(str, i));
    cat.messages.push_back(std::move(m));
  }
  return cat;
}

MoCatalog read_mo(const std::string& path) {
  const std::vector<uint8_t> bytes = io::read_file(path);
  return parse_mo(bytes, path);
}

}  // namespace cf::data
