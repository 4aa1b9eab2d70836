#pragma once
// The subcommands of the mlpkit tool. Each register_* adds its CLI11 subcommand and the callback
// that runs it; options every command shares live in CommonOptions.
#include <CLI/CLI.hpp>

#include <string>

namespace mlpkit::tool {

/** Options shared by the commands (--threads, --seed, --json, --out). */
struct CommonOptions {
  int threads = 0;  // 0: the library's default (OMP_NUM_THREADS)
  unsigned long long seed = 0;
  bool json = false;
  std::string out;  // empty: standard output
};

/** Adds --threads, --seed, --json and --out to a subcommand. */
void add_common_options(CLI::App& command, CommonOptions& options);
/** Applies --threads to the library. */
void apply_common_options(const CommonOptions& options);
/** Writes text to --out (or stdout); an unwritable path is a one-line error, exit 2. */
void emit(const CommonOptions& options, const std::string& text);

/**
 * MPI (a build with MLPKIT_WITH_MPI only): init_mpi() initializes it on first use (gradcheck --mpi),
 * main finalizes it; mpi_rank() is this process's rank in MPI_COMM_WORLD, 0 when MPI is not in use.
 */
void init_mpi();
int mpi_rank();

// Each adds its subcommand; its callback sets exit_code (0, or 1 where the command reports a failure).
void register_info(CLI::App& app, int& exit_code);
void register_demo(CLI::App& app, int& exit_code);
void register_gradcheck(CLI::App& app, int& exit_code);
void register_sweep(CLI::App& app, int& exit_code);
void register_experiment(CLI::App& app, int& exit_code);
void register_train(CLI::App& app, int& exit_code);
void register_predict(CLI::App& app, int& exit_code);

}  // namespace mlpkit::tool
