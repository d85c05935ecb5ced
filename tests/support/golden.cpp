#include "support/golden.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "cformer/io.h"
#include "util/check.h"

namespace cf::testing {

std::string golden_dir() {
  const char* d = std::getenv("CFORMER_GOLDEN_DIR");
  CF_CHECK(d && *d, ValueError, "CFORMER_GOLDEN_DIR is not set (run the tests through ctest)");
  CF_CHECK(std::filesystem::is_directory(d), IoError, "golden directory ", d, " does not exist");
  return d;
}

namespace {

std::vector<GoldenCase> load_all() {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(golden_dir()))
    if (e.path().extension() == ".safetensors") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  std::vector<GoldenCase> cases;
  for (const std::string& f : files) {
    io::NamedTensors nt = io::load_safetensors(f);
    auto cases_json = nlohmann::json::parse(nt.metadata.at("cases"));
    for (const auto& c : cases_json) {
      GoldenCase gc;
      gc.file = fs::path(f).filename().string();
      gc.name = c.at("name");
      gc.op = c.at("op");
      gc.args = c.at("args");
      gc.atol = c.value("atol", 1e-5);
      gc.rtol = c.value("rtol", 1e-4);
      gc.grad_atol = c.value("grad_atol", 1e-4);
      gc.grad_rtol = c.value("grad_rtol", 1e-3);
      gc.gradcheck = c.value("gradcheck", false);
      gc.noncontig = c.value("noncontig", true);
      const int n_in = c.at("n_in"), n_out = c.at("n_out");
      const std::string p = gc.name + "/";
      for (int i = 0; i < n_in; ++i) gc.inputs.push_back(nt.at(p + "in" + std::to_string(i)));
      for (int j = 0; j < n_out; ++j) {
        gc.outputs.push_back(nt.at(p + "out" + std::to_string(j)));
        const std::string g = p + "gout" + std::to_string(j);
        gc.gouts.push_back(nt.contains(g) ? nt.at(g) : Tensor());
      }
      for (int i = 0; i < n_in; ++i) {
        const std::string g = p + "grad" + std::to_string(i);
        if (nt.contains(g)) gc.grads[i] = nt.at(g);
      }
      cases.push_back(std::move(gc));
    }
  }
  return cases;
}

}  // namespace

std::vector<GoldenFile> load_golden_files(const std::string& subdir) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(golden_dir()) / subdir;
  std::vector<GoldenFile> out;
  if (!fs::is_directory(dir)) return out;
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    GoldenFile g{fs::path(f).filename().string(), {}, io::load_safetensors(f)};
    g.config = nlohmann::json::parse(g.data.metadata.at("config"));
    out.push_back(std::move(g));
  }
  return out;
}

const std::vector<GoldenCase>& all_golden_cases() {
  static const std::vector<GoldenCase> cases = load_all();
  return cases;
}

}  // namespace cf::testing
