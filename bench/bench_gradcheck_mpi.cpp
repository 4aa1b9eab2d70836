// Wall time of a full gradient check sharded over MPI ranks (run it under mpirun): the network of
// bench_gradcheck (depth × width ReLU layers, one sigmoid output with binary cross-entropy, double,
// batch 32), checked with the incremental evaluator. Prints, on rank 0, the wall time of each
// repetition (barrier to return), the median, and per rank the wall and the CPU time (of the whole
// process) until its block is done (its last progress callback). CPU times show how well the
// estimated costs balance the blocks even on a machine too loaded for wall times to mean much:
// the CPU-time speed-up is (1-rank CPU time) / (largest rank CPU time).
//   mpirun -np 2 bench_gradcheck_mpi [--depth 4] [--width 128] [--repetitions 5]
// bench/mpi/time_gradcheck.sh runs it at 1 and 2 ranks and prints the speed-up.
#include <mpi.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "gradcheck_problem.hpp"
#include "mlpkit/mlpkit.hpp"
#include "mlpkit/mpi.hpp"

namespace {

using namespace mlpkit;
using Clock = std::chrono::steady_clock;


double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

using mlpkit::bench::make_gradcheck_problem;

std::size_t flag(int argc, char** argv, const char* name, std::size_t fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return static_cast<std::size_t>(std::strtoull(argv[i + 1], nullptr, 10));
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  int provided = 0, rank = 0, ranks = 1;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  const std::size_t depth = flag(argc, argv, "--depth", 4), width = flag(argc, argv, "--width", 128);
  const std::size_t repetitions = std::max<std::size_t>(1, flag(argc, argv, "--repetitions", 5));

  const auto p = make_gradcheck_problem(depth, width);
  std::vector<double> walls;
  for (std::size_t rep = 0; rep < repetitions; ++rep) {
    Clock::time_point start;
    double cpu_start = 0, busy[2] = {0, 0};  // wall, cpu
    GradcheckOptions options;
    options.progress = [&](std::size_t done, std::size_t total) {
      if (done == total) {
        busy[0] = std::chrono::duration<double>(Clock::now() - start).count();
        busy[1] = cpu_seconds() - cpu_start;
      }
      return true;
    };
    MPI_Barrier(MPI_COMM_WORLD);
    start = Clock::now();
    cpu_start = cpu_seconds();
    const GradcheckReport report = gradcheck(MPI_COMM_WORLD, p.net, p.x.view(), p.y.view(), options);
    const double wall = std::chrono::duration<double>(Clock::now() - start).count();
    std::vector<double> busy_all(2 * static_cast<std::size_t>(ranks));
    MPI_Gather(busy, 2, MPI_DOUBLE, busy_all.data(), 2, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    walls.push_back(wall);
    if (rank == 0) {
      double cpu_max = 0;
      std::printf("ranks %d threads %d depth %zu width %zu params %zu: wall %.3f s, per rank wall/cpu:", ranks,
                  num_threads(), depth, width, report.total, wall);
      for (std::size_t r = 0; r < busy_all.size(); r += 2) {
        std::printf(" %.3f/%.3f", busy_all[r], busy_all[r + 1]);
        cpu_max = std::max(cpu_max, busy_all[r + 1]);
      }
      std::printf(" s, cpu max %.3f s (verdict %s)\n", cpu_max, std::string(verdict_name(report.verdict)).c_str());
    }
  }
  std::sort(walls.begin(), walls.end());
  if (rank == 0)
    std::printf("median ranks %d threads %d: %.3f s (min %.3f, max %.3f, %zu repetitions)\n", ranks, num_threads(),
                walls[walls.size() / 2], walls.front(), walls.back(), walls.size());
  MPI_Finalize();
  return 0;
}
