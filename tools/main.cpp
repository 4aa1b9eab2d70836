// mlpkit: demos, gradient checks and profiling experiments from the command line.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>

#include "commands.hpp"
#include "mlpkit/mlpkit.hpp"
#ifdef MLPKIT_WITH_MPI
#include <mpi.h>
#endif

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

#ifdef MLPKIT_WITH_MPI
// MPI is initialized only by the commands that use it, so that every other command runs without
// mpirun; MPI calls come from the main thread only (FUNNELED).
void init_mpi() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) return;
  int provided = 0;
  if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    throw std::runtime_error("MPI_Init_thread failed");
}

int mpi_rank() {
  int initialized = 0, finalized = 0, rank = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

namespace {
/** Finalizes MPI at the end of main when a command initialized it. */
struct MpiFinalizer {
  ~MpiFinalizer() {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized) MPI_Finalize();
  }
};
}  // namespace
#else
void init_mpi() {}
int mpi_rank() { return 0; }
#endif

}  // namespace mlpkit::tool

int main(int argc, char** argv) {
#ifdef MLPKIT_WITH_MPI
  const mlpkit::tool::MpiFinalizer mpi_finalizer;
#endif
  CLI::App app{"mlpkit: SIMD and multithreaded MLP kernels, gradient checking and experiments"};
  app.set_version_flag("--version", std::string("mlpkit ") + std::string(mlpkit::version()));
  app.require_subcommand(1);
  int exit_code = 0;
  mlpkit::tool::register_info(app, exit_code);
  mlpkit::tool::register_demo(app, exit_code);
  mlpkit::tool::register_gradcheck(app, exit_code);
  mlpkit::tool::register_sweep(app, exit_code);
  mlpkit::tool::register_experiment(app, exit_code);
  mlpkit::tool::register_train(app, exit_code);
  mlpkit::tool::register_predict(app, exit_code);
  // Bad flags and bad input end in one line on stderr and exit status 2, never a stack trace.
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::Error& e) {
    if (mlpkit::tool::mpi_rank() == 0) std::fprintf(stderr, "mlpkit: %s\n", e.what());
    return 2;
  } catch (const mlpkit::Error& e) {  // under --mpi every rank throws the same one: rank 0 prints it
    if (mlpkit::tool::mpi_rank() == 0) std::fprintf(stderr, "%s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    if (mlpkit::tool::mpi_rank() == 0) std::fprintf(stderr, "mlpkit: %s\n", e.what());
    return 2;
  }
  return exit_code;
}
