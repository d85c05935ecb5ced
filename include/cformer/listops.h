// ListOps (Nangia & Bowman 2018) as the Long Range Arena defines it (Tay et al. 2021, the LRA
// repository's lra_benchmarks/data/listops.py): nested lists of the operators MIN, MAX, MED
// (the median, rounded down: int(np.median)) and SM (sum modulo 10) over the digits 0-9, up to
// max_depth levels and max_args arguments a list, written with the LRA's parentheses; the label
// is the value of the whole expression (10 classes). A tree is drawn recursively: below
// max_depth a node is a list with probability value_p (else a digit), a list has
// uniform{2..max_args} children and a uniform operator; the root is drawn again until its length
// (digits + operators + closing brackets, parentheses not counted) lies strictly between
// min_length and max_length; expressions already drawn are drawn again (the splits are disjoint).
// The random source is a seeded std::mt19937_64 with explicit integer mappings, so a seed gives
// the same data on every platform.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace cf::data {

struct ListOpsOptions {
  int64_t max_depth = 10;
  int64_t max_args = 10;
  int64_t min_length = 500;   ///< exclusive
  int64_t max_length = 2000;  ///< exclusive
  double value_p = 0.25;      ///< probability that a node above max_depth is a list (< 1)
  /// Throws ValueError naming the bad field.
  void validate() const;
};

struct ListOpsExample {
  std::string source;  ///< e.g. "( ( ( [MAX 2 ) 9 ) ] )": tokens separated by single spaces
  int label = 0;       ///< 0-9
  int64_t length = 0;  ///< the LRA's length: digits + operators + "]" (parentheses not counted)
};

/// n distinct examples from seed, in the order drawn.
std::vector<ListOpsExample> generate_listops(int64_t n, uint64_t seed, const ListOpsOptions& o = {});

/// The value of an expression in the LRA's notation (parentheses are ignored). Throws
/// FormatError naming the token and its position on anything else: an unknown token, "]"
/// without an open list, a list with no argument, a digit outside a list after the first value,
/// an unclosed list, an empty expression.
int evaluate_listops(const std::string& source);

/// The LRA vocabulary of the task in a fixed order: "<pad>", "(", ")", "]", "[MIN", "[MAX",
/// "[MED", "[SM", "0".."9" (ids 0-17).
const std::vector<std::string>& listops_vocabulary();
/// Token ids of an expression. Throws FormatError naming an unknown token.
std::vector<int64_t> listops_encode(const std::string& source);

/// Writes DIR/{train,valid,test}.tsv ("Source\tTarget" header, then one example a line, as the
/// LRA's basic_*.tsv) atomically: n_train + n_valid + n_test distinct examples from seed.
void write_listops_splits(const std::string& dir, uint64_t seed, int64_t n_train, int64_t n_valid,
                          int64_t n_test, const ListOpsOptions& o = {});

}  // namespace cf::data
