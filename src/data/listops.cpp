// ListOps generator and evaluator (include/cformer/listops.h).
#include "cformer/listops.h"

#include <algorithm>
#include <filesystem>
#include <random>
#include <span>
#include <unordered_set>

#include "cformer/io.h"
#include "util/check.h"

namespace cf::data {
namespace {

enum class Op { min, max, med, sm };
const char* const kOpTokens[] = {"[MIN", "[MAX", "[MED", "[SM"};

// Explicit mappings (std::uniform_*_distribution differs between standard libraries).
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
int64_t uniform_int(std::mt19937_64& rng, int64_t lo, int64_t hi) {  // [lo, hi]
  const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
  const uint64_t limit = UINT64_MAX - UINT64_MAX % span;  // rejection: no modulo bias
  uint64_t r;
  do r = rng();
  while (r >= limit);
  return lo + static_cast<int64_t>(r % span);
}

// Appends the rendering of a node; returns its length. The LRA's tree is the left-nested tuple
// ((((op, a0), a1), ...), END), each tuple written "( x y )", so a list of k arguments opens
// k + 1 parentheses before its operator.
int64_t draw(std::mt19937_64& rng, int64_t depth, const ListOpsOptions& o, std::string& out,
             int64_t budget) {
  const double r = depth < o.max_depth ? uniform01(rng) : 1.0;
  if (r > o.value_p || budget <= 0) {
    // budget: once the expression is longer than max_length it is rejected anyway; stop
    // growing it (the draws that remain do not matter, the whole tree is drawn again).
    out += static_cast<char>('0' + uniform_int(rng, 0, 9));
    return 1;
  }
  const int64_t k = uniform_int(rng, 2, o.max_args);
  std::vector<std::string> args(static_cast<size_t>(k));
  int64_t length = 2;  // the operator and "]"
  for (int64_t i = 0; i < k; ++i)
    length += draw(rng, depth + 1, o, args[static_cast<size_t>(i)], budget - length);
  const Op op = static_cast<Op>(uniform_int(rng, 0, 3));
  for (int64_t i = 0; i < k + 1; ++i) out += "( ";
  out += kOpTokens[static_cast<int>(op)];
  for (const std::string& a : args) {
    out += ' ';
    out += a;
    out += " )";
  }
  out += " ] )";
  return length;
}

int apply(Op op, std::vector<int>& v) {
  switch (op) {
    case Op::min: return *std::min_element(v.begin(), v.end());
    case Op::max: return *std::max_element(v.begin(), v.end());
    case Op::sm: {
      int s = 0;
      for (int x : v) s += x;
      return s % 10;
    }
    case Op::med: {
      std::sort(v.begin(), v.end());
      const size_t n = v.size();
      // int(np.median): the mean of the two middle values when n is even, truncated.
      return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }
  }
  return 0;
}

}  // namespace

void ListOpsOptions::validate() const {
  CF_CHECK(max_depth >= 1, ValueError, "listops: max_depth must be >= 1, got ", max_depth);
  CF_CHECK(max_args >= 2, ValueError, "listops: max_args must be >= 2, got ", max_args);
  CF_CHECK(min_length >= 0 && max_length > min_length + 1, ValueError,
           "listops: need 0 <= min_length < max_length - 1, got min_length ", min_length,
           ", max_length ", max_length);
  // At max_depth the LRA draws r = 1 and makes a digit because r > value_p: value_p = 1 would
  // lift the depth limit.
  CF_CHECK(value_p > 0.0 && value_p < 1.0, ValueError, "listops: value_p must be in (0, 1), got ",
           value_p);
}

std::vector<ListOpsExample> generate_listops(int64_t n, uint64_t seed, const ListOpsOptions& o) {
  o.validate();
  CF_CHECK(n >= 0, ValueError, "listops: the number of examples must be >= 0, got ", n);
  std::mt19937_64 rng(seed);
  std::vector<ListOpsExample> out;
  std::unordered_set<std::string> seen;
  int64_t attempts = 0;
  while (static_cast<int64_t>(out.size()) < n) {
    CF_CHECK(++attempts < 1000 * (n + 1000), ValueError,
             "listops: no example of length in (", o.min_length, ", ", o.max_length,
             ") after ", attempts, " draws; loosen the options");
    std::string s;
    const int64_t len = draw(rng, 1, o, s, o.max_length);
    if (len <= o.min_length || len >= o.max_length) continue;
    if (!seen.insert(s).second) continue;
    const int label = evaluate_listops(s);
    out.push_back({std::move(s), label, len});
  }
  return out;
}

int evaluate_listops(const std::string& source) {
  struct Frame {
    Op op;
    std::vector<int> args;
  };
  std::vector<Frame> stack;
  int result = -1;
  size_t pos = 0, index = 0;
  while (pos < source.size()) {
    if (source[pos] == ' ') {
      ++pos;
      continue;
    }
    size_t end = source.find(' ', pos);
    if (end == std::string::npos) end = source.size();
    const std::string_view tok(source.data() + pos, end - pos);
    auto bad = [&](const char* why) {
      CF_THROW(FormatError, "listops: token ", index, " '", tok, "': ", why);
    };
    if (tok == "(" || tok == ")") {
      // parentheses carry no meaning
    } else if (tok.size() == 1 && tok[0] >= '0' && tok[0] <= '9') {
      const int v = tok[0] - '0';
      if (!stack.empty()) stack.back().args.push_back(v);
      else if (result < 0) result = v;
      else bad("a second value outside any list");
    } else if (tok == "]") {
      if (stack.empty()) bad("closes no list");
      Frame f = std::move(stack.back());
      stack.pop_back();
      if (f.args.empty()) bad("closes a list without arguments");
      const int v = apply(f.op, f.args);
      if (!stack.empty()) stack.back().args.push_back(v);
      else if (result < 0) result = v;
      else bad("a second value outside any list");
    } else {
      int op = -1;
      for (int i = 0; i < 4; ++i)
        if (tok == kOpTokens[i]) op = i;
      if (op < 0) bad("unknown token (expected ( ) ] [MIN [MAX [MED [SM or a digit)");
      if (stack.empty() && result >= 0) bad("a second value outside any list");
      stack.push_back({static_cast<Op>(op), {}});
    }
    pos = end;
    ++index;
  }
  CF_CHECK(stack.empty(), FormatError, "listops: ", stack.size(), " list(s) not closed");
  CF_CHECK(result >= 0, FormatError, "listops: empty expression");
  return result;
}

const std::vector<std::string>& listops_vocabulary() {
  static const std::vector<std::string> v = {"<pad>", "(",  ")",  "]",  "[MIN", "[MAX",
                                             "[MED",  "[SM", "0",  "1",  "2",    "3",
                                             "4",     "5",   "6",  "7",  "8",    "9"};
  return v;
}

std::vector<int64_t> listops_encode(const std::string& source) {
  const std::vector<std::string>& vocab = listops_vocabulary();
  std::vector<int64_t> ids;
  size_t pos = 0;
  while (pos < source.size()) {
    if (source[pos] == ' ') {
      ++pos;
      continue;
    }
    size_t end = source.find(' ', pos);
    if (end == std::string::npos) end = source.size();
    const std::string tok = source.substr(pos, end - pos);
    const auto it = std::find(vocab.begin() + 1, vocab.end(), tok);
    CF_CHECK(it != vocab.end(), FormatError, "listops: unknown token '", tok, "' at byte ", pos);
    ids.push_back(it - vocab.begin());
    pos = end;
  }
  return ids;
}

void write_listops_splits(const std::string& dir, uint64_t seed, int64_t n_train, int64_t n_valid,
                          int64_t n_test, const ListOpsOptions& o) {
  CF_CHECK(n_train >= 0 && n_valid >= 0 && n_test >= 0, ValueError,
           "listops: split sizes must be >= 0");
  const std::vector<ListOpsExample> all = generate_listops(n_train + n_valid + n_test, seed, o);
  std::filesystem::create_directories(dir);
  int64_t begin = 0;
  for (const auto& [name, n] : {std::pair<const char*, int64_t>{"train", n_train},
                                {"valid", n_valid},
                                {"test", n_test}}) {
    std::string text = "Source\tTarget\n";
    for (int64_t i = begin; i < begin + n; ++i) {
      const ListOpsExample& e = all[static_cast<size_t>(i)];
      text += e.source;
      text += '\t';
      text += std::to_string(e.label);
      text += '\n';
    }
    begin += n;
    io::write_file_atomic(dir + "/" + name + ".tsv",
                          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()),
                                                   text.size()));
  }
}

}  // namespace cf::data
