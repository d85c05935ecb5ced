// safetensors interoperability in both directions. Reading: files written by an independent
// writer (tools/golden/gen_safetensors_interop.py: PyTorch tensors, numpy bytes, Python json, two
// header styles) must load with the values it lists. Writing: a file cformer writes must pass
// tools/golden/check_safetensors.py, an independent numpy reader that checks the layout and
// every value; it must also reject a wrong expectation, so the check can fail.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "cformer/io.h"
#include "cformer/tensor.h"
#include "support/golden.h"

namespace cf::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

json read_json(const fs::path& p) {
  std::ifstream f(p);
  EXPECT_TRUE(f.good()) << "cannot open " << p;
  return json::parse(f);
}

// Exact comparison of t's values with the JSON list (C order; "nan"/"inf"/"-inf" strings).
void expect_values(const Tensor& t, const json& values) {
  ASSERT_EQ(static_cast<size_t>(t.numel()), values.size());
  if (t.is_floating_point()) {
    const std::vector<double> got = t.to(DType::f64).to_vector<double>();
    for (size_t i = 0; i < got.size(); ++i) {
      const json& v = values[i];
      if (v.is_string()) {
        const std::string s = v.get<std::string>();
        if (s == "nan")
          EXPECT_TRUE(std::isnan(got[i])) << "element " << i;
        else
          EXPECT_EQ(got[i], s == "inf" ? INFINITY : -INFINITY) << "element " << i;
      } else {
        EXPECT_EQ(got[i], v.get<double>()) << "element " << i;
        EXPECT_EQ(std::signbit(got[i]), std::signbit(v.get<double>())) << "element " << i;
      }
    }
  } else {
    const std::vector<int64_t> got = t.to(DType::i64).to_vector<int64_t>();
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_EQ(got[i], values[i].get<int64_t>()) << "element " << i;
  }
}

TEST(SafetensorsInterop, ReadsFilesFromAnIndependentWriter) {
  const fs::path dir = fs::path(golden_dir()) / "io";
  const json expected = read_json(dir / "interop_expected.json");
  ASSERT_GE(expected["tensors"].size(), 10u);
  for (const char* file : {"interop_spaced.safetensors", "interop_compact.safetensors"}) {
    SCOPED_TRACE(file);
    io::NamedTensors nt = io::load_safetensors(dir / file);
    EXPECT_EQ(nt.tensors.size(), expected["tensors"].size());
    EXPECT_EQ(json(nt.metadata), expected["metadata"]);
    for (const json& e : expected["tensors"]) {
      const std::string name = e["name"].get<std::string>();
      SCOPED_TRACE(name);
      ASSERT_TRUE(nt.contains(name));
      const Tensor& t = nt.at(name);
      EXPECT_EQ(std::string(dtype_name(t.dtype())), e["dtype"].get<std::string>());
      EXPECT_EQ(json(std::vector<int64_t>(t.shape().begin(), t.shape().end())), e["shape"]);
      expect_values(t, e["values"]);
    }
    const io::SafetensorsHeader h = io::read_safetensors_header(dir / file);
    EXPECT_EQ(h.tensors.size(), expected["tensors"].size());
  }
}

// The repository root (the build defines CFORMER_SOURCE_DIR for every test).
fs::path source_dir() { return CFORMER_SOURCE_DIR; }

// Runs the independent Python checker; returns its exit status.
int run_checker(const fs::path& file, const fs::path& expected) {
  const fs::path checker = source_dir() / "tools" / "golden" / "check_safetensors.py";
  EXPECT_TRUE(fs::exists(checker)) << checker << " not found";
  const std::string cmd = "/usr/bin/python3 '" + checker.string() + "' '" + file.string() + "' '" +
                          expected.string() + "'";
  const int status = std::system(cmd.c_str());
  return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(SafetensorsInterop, IndependentReaderAcceptsWhatCformerWrites) {
  const fs::path dir =
      fs::temp_directory_path() / ("cformer_interop_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Tensor bf16 = from_vector<float>({1.0f, -2.5f, 3.140625f, 1e30f, -0.0f, 0.0078125f}, Shape{3, 2})
                    .to(DType::bf16);
  const float nan = std::numeric_limits<float>::quiet_NaN(),
              inf = std::numeric_limits<float>::infinity();
  std::vector<std::pair<std::string, Tensor>> tensors = {
      {"encoder.weight",
       from_vector<float>({0.1f, -0.2f, 0.3f, 1e-38f, 1e-45f, 3e38f}, Shape{2, 3}).t()},
      {"f64", from_vector<double>({0.1, -1e-300, 1e300, 2.0 / 3.0}, Shape{2, 2})},
      {"special", from_vector<float>({nan, inf, -inf, -0.0f})},
      {"i64", from_vector<int64_t>({INT64_MIN, -7, 0, INT64_MAX})},
      {"mask", from_vector<bool>({true, false, false, true, true}, Shape{5, 1})},
      {"u8", from_vector<uint8_t>({0, 128, 255})},
      {"bf16", bf16},
      {"scalar", scalar_tensor(-4.5, DType::f64)},
      {"empty", zeros(Shape{3, 0, 2})},
  };
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"ünïcode", "✓ \"q\"\n"}};
  const fs::path file = dir / "from_cformer.safetensors";
  io::save_safetensors(file, tensors, metadata);

  json expected = {{"metadata", metadata}, {"tensors", json::object()}};
  for (const auto& [name, t] : tensors) {
    json values = json::array();
    if (t.is_floating_point()) {
      for (double v : t.contiguous().to(DType::f64).to_vector<double>())
        values.push_back(std::isnan(v)   ? json("nan")
                         : std::isinf(v) ? json(v > 0 ? "inf" : "-inf")
                                         : json(v));
    } else {
      for (int64_t v : t.contiguous().to(DType::i64).to_vector<int64_t>()) values.push_back(v);
    }
    const char* file_dtype = t.dtype() == DType::f32   ? "F32"
                             : t.dtype() == DType::f64 ? "F64"
                             : t.dtype() == DType::i64 ? "I64"
                             : t.dtype() == DType::b8  ? "BOOL"
                             : t.dtype() == DType::u8  ? "U8"
                                                       : "BF16";
    expected["tensors"][name] = {
        {"dtype", file_dtype},
        {"shape", std::vector<int64_t>(t.shape().begin(), t.shape().end())},
        {"values", values}};
  }
  const fs::path good = dir / "expected.json";
  std::ofstream(good) << expected.dump();
  EXPECT_EQ(run_checker(file, good), 0);

  // Controls: the checker does fail on a wrong value, a wrong dtype and a wrong metadata value.
  json wrong_value = expected;
  wrong_value["tensors"]["i64"]["values"][1] = -8;
  json wrong_dtype = expected;
  wrong_dtype["tensors"]["u8"]["dtype"] = "I8";
  json wrong_meta = expected;
  wrong_meta["metadata"]["format"] = "np";
  std::printf("controls: check_safetensors.py must reject the next three expectations\n");
  std::fflush(stdout);
  int k = 0;
  for (const json* bad : {&wrong_value, &wrong_dtype, &wrong_meta}) {
    const fs::path p = dir / ("wrong" + std::to_string(k++) + ".json");
    std::ofstream(p) << bad->dump();
    EXPECT_EQ(run_checker(file, p), 1) << p;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cf::testing
