// The GPT-prompting options shared by `cformer classify` and `cformer eval` (docs/prompting.md).
#pragma once
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cformer/classify.h"

namespace cf::cli {

/// Adds --prompt-template, --labels, --max-length, --calibrate and --normalize, stored in load.
void add_prompt_options(CLI::App& sub, classify::LoadOptions& load);
/// load_classifier(path) with the options as given on the command line ("\n", "\t", "\\" in the
/// template become the characters).
std::unique_ptr<classify::TextClassifier> load_prompted_classifier(const std::string& path,
                                                                   classify::LoadOptions load);

}  // namespace cf::cli
