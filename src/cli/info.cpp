#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cformer/io.h"
#include "cli/commands.h"

namespace cf::cli {

void add_info(CLI::App& app, Commands& cmds) {
  CLI::App* sub = app.add_subcommand("info", "Describe a checkpoint or safetensors file");
  auto path = std::make_shared<std::string>();
  sub->add_option("file", *path, "A .safetensors file")->required();
  cmds.entries.emplace_back(sub, [path]() {
    io::SafetensorsHeader h = io::read_safetensors_header(*path);
    uint64_t elements = 0;
    for (const auto& t : h.tensors) elements += static_cast<uint64_t>(t.shape.numel());
    std::cout << *path << ": safetensors, " << h.tensors.size() << " tensors, " << elements
              << " elements, " << h.data_size << " data bytes, header " << h.header_size << " bytes\n";
    for (const auto& [k, v] : h.metadata) {
      std::string shown = v;
      if (k == "cformer") {  // a cformer checkpoint: show its metadata without the tokenizer
        auto j = nlohmann::json::parse(v, nullptr, false);
        if (j.is_object()) {
          if (j.contains("tokenizer")) j["tokenizer"] = "(" + std::to_string(j["tokenizer"].dump().size()) + " bytes)";
          if (j.contains("optim")) j.erase("optim");
          shown = j.dump(2);
        }
      } else if (shown.size() > 200) {
        shown = shown.substr(0, 200) + "... (" + std::to_string(v.size()) + " bytes)";
      }
      std::cout << "metadata " << k << ": " << shown << "\n";
    }
    for (const auto& t : h.tensors)
      std::cout << "  " << t.name << "  " << t.dtype << " " << t.shape << "  [" << t.begin << ", "
                << t.end << ")\n";
    return 0;
  });
}

}  // namespace cf::cli
