#include "cli/prompt_options.h"

#include "cli/commands.h"

namespace cf::cli {

void add_prompt_options(CLI::App& sub, classify::LoadOptions& load) {
  sub.add_option("--prompt-template", load.prompt_template,
                 "GPT prompting: a template containing {text}");
  sub.add_option("--labels", load.labels, "GPT prompting: the candidate labels (a,b,c)")
      ->delimiter(',');
  sub.add_option("--max-length", load.max_length, "GPT prompting: tokens at most")
      ->check(positive());
  sub.add_flag("--calibrate", load.calibrate,
               "GPT prompting: subtract each label's score for the empty text");
  sub.add_flag("--normalize", load.length_normalize,
               "GPT prompting: mean log-probability per label token");
}

std::unique_ptr<classify::TextClassifier> load_prompted_classifier(const std::string& path,
                                                                   classify::LoadOptions load) {
  load.prompt_template = unescape_template(load.prompt_template);
  return classify::load_classifier(path, load);
}

}  // namespace cf::cli
