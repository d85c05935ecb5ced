// Loading source units (.mo directories, aligned TSV) and the split by unit with English-side
// deduplication. Units are split whole so that no test sentence comes from a catalogue or help
// page that training saw; exact English repeats across units are then removed from train.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <unordered_set>

#include "cformer/io.h"
#include "cformer/translation_data.h"
#include "util/check.h"

namespace cf::data {
namespace {

namespace fs = std::filesystem;

uint64_t fnv1a(std::string_view s, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ull ^ (seed * 0x9e3779b97f4a7c15ull);
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  // splitmix64 finalizer: FNV's low bits mix poorly for similar names
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

void add_pair(CorpusUnit& unit, std::string en, std::string fr, const CleanOptions& options,
              CleanCounts& counts) {
  const DropReason r = clean_pair(en, fr, options);
  counts.add(unit.origin, drop_reason_name(r));
  if (r == DropReason::kKept) unit.pairs.push_back({std::move(en), std::move(fr)});
}

}  // namespace

std::vector<CorpusUnit> load_mo_dir(const std::string& dir, const std::string& origin,
                                    const CleanOptions& options, CleanCounts& counts) {
  std::error_code ec;
  CF_CHECK(fs::is_directory(dir, ec), IoError, "translation data: ", dir, " is not a directory");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".mo") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<CorpusUnit> units;
  for (const fs::path& f : files) {
    MoCatalog cat;
    try {
      cat = read_mo(f.string());
    } catch (const NotImplementedError&) {
      counts.add(origin, "unsupported_charset");
      continue;
    }
    CorpusUnit unit{origin + ":" + f.stem().string(), origin, "gettext", {}};
    for (MoMessage& m : cat.messages) {
      if (m.is_plural()) {
        counts.add(origin, drop_reason_name(DropReason::kPlural));
        continue;
      }
      add_pair(unit, std::move(m.msgid), m.msgstr.empty() ? std::string() : std::move(m.msgstr[0]),
               options, counts);
    }
    units.push_back(std::move(unit));
  }
  return units;
}

std::vector<CorpusUnit> load_aligned_tsv(const std::string& path, const std::string& origin,
                                         const CleanOptions& options, CleanCounts& counts) {
  const std::vector<uint8_t> bytes = io::read_file(path);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  std::vector<CorpusUnit> units;
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    const size_t t1 = line.find('\t');
    const size_t t2 = t1 == std::string_view::npos ? t1 : line.find('\t', t1 + 1);
    CF_CHECK(t2 != std::string_view::npos && line.find('\t', t2 + 1) == std::string_view::npos,
             FormatError, path, ":", line_no, ": expected unit<TAB>english<TAB>french");
    const std::string_view name = line.substr(0, t1);
    if (units.empty() || units.back().name != name)
      units.push_back(CorpusUnit{std::string(name), origin, "aligned", {}});
    add_pair(units.back(), std::string(line.substr(t1 + 1, t2 - t1 - 1)),
             std::string(line.substr(t2 + 1)), options, counts);
  }
  return units;
}

TranslationSplits split_translation_corpus(std::vector<CorpusUnit> units,
                                           const SplitOptions& options) {
  std::sort(units.begin(), units.end(),
            [](const CorpusUnit& a, const CorpusUnit& b) { return a.name < b.name; });
  for (size_t i = 1; i < units.size(); ++i)
    CF_CHECK(units[i].name != units[i - 1].name, ValueError,
             "translation data: two units are named ", units[i].name);
  std::vector<size_t> order(units.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::vector<uint64_t> hash(units.size());
  for (size_t i = 0; i < units.size(); ++i) hash[i] = fnv1a(units[i].name, options.seed);
  std::sort(order.begin(), order.end(),
            [&hash](size_t a, size_t b) { return hash[a] != hash[b] ? hash[a] < hash[b] : a < b; });

  // Quotas per stratum, in proportion to its pairs.
  std::map<std::string, int64_t> mass;
  int64_t total = 0;
  for (const CorpusUnit& u : units) {
    mass[u.stratum] += static_cast<int64_t>(u.pairs.size());
    total += static_cast<int64_t>(u.pairs.size());
  }
  struct Fill {
    int64_t quota[3], size[3];
  };
  std::map<std::string, Fill> fill;
  for (const auto& [stratum, m] : mass) {
    const double share = total > 0 ? static_cast<double>(m) / static_cast<double>(total) : 0.0;
    fill[stratum] = Fill{{0, std::llround(share * static_cast<double>(options.valid_pairs)),
                          std::llround(share * static_cast<double>(options.test_pairs))},
                         {0, 0, 0}};
  }
  // 0: train, 1: valid, 2: test
  std::vector<int> split(units.size(), 0);
  for (size_t i : order) {
    const auto n = static_cast<int64_t>(units[i].pairs.size());
    if (n == 0 || n > options.max_unit_pairs) continue;
    Fill& f = fill[units[i].stratum];
    for (int s : {2, 1}) {
      if (f.size[s] < f.quota[s]) {
        split[i] = s;
        f.size[s] += n;
        break;
      }
    }
  }

  TranslationSplits out;
  std::unordered_set<std::string> seen_eval;  // English of test and valid
  std::vector<TranslationPair>* dest[3] = {&out.train, &out.valid, &out.test};
  for (int s = 2; s >= 0; --s) {
    std::unordered_set<std::string> seen;
    for (size_t i = 0; i < units.size(); ++i) {
      if (split[i] != s) continue;
      if (s == 2) out.test_units.push_back(units[i].name);
      if (s == 1) out.valid_units.push_back(units[i].name);
      auto& counts = out.by_origin[units[i].origin];
      for (TranslationPair& p : units[i].pairs) {
        if (seen_eval.count(p.en)) {
          ++out.overlap_removed;
          continue;
        }
        if (!seen.insert(p.en).second) {
          ++out.duplicates;
          continue;
        }
        ++counts[static_cast<size_t>(s)];
        dest[s]->push_back(std::move(p));
      }
    }
    if (s > 0) seen_eval.insert(seen.begin(), seen.end());
  }
  return out;
}

}  // namespace cf::data
