// The cformer command-line tool. Every failure ends with "error: ..." on stderr and a non-zero
// exit code (1: the work failed, 2: bad command line); the library itself never exits.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "cformer/cformer.h"
#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"cformer: build, train, run and benchmark Transformers in C++"};
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads, "CPU threads (default: all cores)")->check(cf::cli::positive());
  cf::cli::Commands cmds = cf::cli::register_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "error: %s\nhint: run '%s --help'\n", e.what(), argv[0]);
    return 2;
  }
  try {
    if (threads > 0) cf::set_num_threads(threads);
    return cmds.run();
  } catch (const cf::Error& e) {
    std::fprintf(stderr, "\nerror: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nerror: %s\n", e.what());
    return 1;
  }
}
