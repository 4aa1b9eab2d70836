// mlpkit: demos, gradient checks and profiling experiments from the command line.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "commands.hpp"
#include "mlpkit/mlpkit.hpp"

namespace mlpkit::tool {

void add_common_options(CLI::App& command, CommonOptions& options) {
  command.add_option("--threads", options.threads, "Threads the kernels use (default: OMP_NUM_THREADS)")
      ->check(CLI::PositiveNumber);
  command.add_option("--seed", options.seed, "Seed of every random choice");
  command.add_flag("--json", options.json, "Print JSON instead of text");
  command.add_option("--out", options.out, "Write the output to this file");
}

void apply_common_options(const CommonOptions& options) {
  if (options.threads > 0) set_num_threads(options.threads);
}

void emit(const CommonOptions& options, const std::string& text) {
  if (options.out.empty()) {
    std::cout << text << std::flush;
    return;
  }
  std::ofstream file(options.out);
  if (!(file << text)) throw CLI::ValidationError("--out", "cannot write '" + options.out + "'");
}

}  // namespace mlpkit::tool

int main(int argc, char** argv) {
  CLI::App app{"mlpkit: SIMD and multithreaded MLP kernels, gradient checking and experiments"};
  app.set_version_flag("--version", std::string("mlpkit ") + std::string(mlpkit::version()));
  app.require_subcommand(1);
  mlpkit::tool::register_info(app);
  mlpkit::tool::register_demo(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  } catch (const mlpkit::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  return 0;
}
