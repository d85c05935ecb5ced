// Labelled TSV files ("text<TAB>label" per line) and the label set / label indices built on them.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cformer/classify.h"
#include "cformer/io.h"
#include "util/check.h"

namespace cf::classify {

namespace {

// "a, b, c" with at most `limit` names, then how many more.
std::string join_labels(const std::vector<std::string>& labels, size_t limit) {
  std::string out;
  for (size_t i = 0; i < labels.size() && i < limit; ++i) out += (i ? ", " : "") + labels[i];
  if (labels.size() > limit) out += ", ... (" + std::to_string(labels.size() - limit) + " more)";
  return out;
}

}  // namespace

LabelledData read_tsv(const std::string& path) {
  const std::vector<uint8_t> bytes = io::read_file(path);
  const std::string_view all(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  LabelledData data;
  int64_t line_no = 0;
  size_t pos = 0;
  while (pos < all.size()) {
    size_t end = all.find('\n', pos);
    if (end == std::string_view::npos) end = all.size();
    std::string_view line = all.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      ++data.empty_lines;
      continue;
    }
    const size_t tab = line.rfind('\t');
    CF_CHECK(tab != std::string_view::npos, FormatError, path, ":", line_no,
             ": expected 'text<TAB>label', found no tab");
    CF_CHECK(line.find('\t') == tab, FormatError, path, ":", line_no,
             ": expected 'text<TAB>label', found more than one tab");
    CF_CHECK(tab > 0, FormatError, path, ":", line_no, ": empty text");
    CF_CHECK(tab + 1 < line.size(), FormatError, path, ":", line_no, ": empty label");
    data.texts.emplace_back(line.substr(0, tab));
    data.labels.emplace_back(line.substr(tab + 1));
    data.lines.push_back(line_no);
  }
  return data;
}

std::vector<std::string> label_set(const LabelledData& data) {
  std::vector<std::string> set = data.labels;
  std::sort(set.begin(), set.end());
  set.erase(std::unique(set.begin(), set.end()), set.end());
  return set;
}

std::vector<int64_t> label_indices(const LabelledData& data, const std::vector<std::string>& set,
                                   const std::string& source) {
  std::unordered_map<std::string_view, int64_t> index;
  for (size_t i = 0; i < set.size(); ++i)
    CF_CHECK(index.emplace(set[i], static_cast<int64_t>(i)).second, ValueError,
             "label_indices: the label '", set[i], "' is twice in the label set");
  CF_CHECK(data.lines.empty() || data.lines.size() == data.labels.size(), ValueError,
           "label_indices: ", source, ": ", data.labels.size(), " labels but ", data.lines.size(),
           " line numbers");
  std::vector<int64_t> out;
  out.reserve(data.labels.size());
  for (size_t i = 0; i < data.labels.size(); ++i) {
    const auto it = index.find(data.labels[i]);
    if (it == index.end()) {
      const std::string where = data.lines.empty() ? source + ": example " + std::to_string(i + 1)
                                                   : source + ":" + std::to_string(data.lines[i]);
      CF_THROW(ValueError, where, ": unknown label '", data.labels[i], "' (the model knows ",
               set.size(), " labels: ", join_labels(set, 50), ")");
    }
    out.push_back(it->second);
  }
  return out;
}

}  // namespace cf::classify
