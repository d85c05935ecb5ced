// Golden cases produced by tools/golden/*.py (PyTorch on the same inputs). Each case: an op
// name, JSON args, inputs, outputs, upstream gradients (gout) for the float outputs and the
// input gradients PyTorch computed. Files live in CFORMER_GOLDEN_DIR (set by CTest).
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cformer/io.h"
#include "cformer/tensor.h"

namespace cf::testing {

struct GoldenCase {
  std::string file;
  std::string name;
  std::string op;
  nlohmann::json args;
  std::vector<Tensor> inputs;
  std::vector<Tensor> outputs;
  std::vector<Tensor> gouts;          // per output; undefined for non-float outputs
  std::map<int, Tensor> grads;        // input index -> PyTorch's gradient
  double atol = 1e-5, rtol = 1e-4;    // forward parity (f32)
  double grad_atol = 1e-4, grad_rtol = 1e-3;
  bool gradcheck = false;             // small enough for a float64 finite-difference check
  bool noncontig = true;              // also run with non-contiguous inputs
};

/// One data file of a module / optimizer / model generator: its tensors and its "config" JSON.
struct GoldenFile {
  std::string file;
  nlohmann::json config;
  io::NamedTensors data;
};
/// Every *.safetensors file of golden_dir()/subdir (sorted by name; empty if the directory
/// is missing, which the callers' tests report).
std::vector<GoldenFile> load_golden_files(const std::string& subdir);

/// The directory holding the golden files; fails the test when unset or missing.
std::string golden_dir();
/// Every case of every *.safetensors file in golden_dir(), sorted by file then name.
const std::vector<GoldenCase>& all_golden_cases();

}  // namespace cf::testing
