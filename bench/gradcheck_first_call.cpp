// The first gradcheck of a process, and the first of a fresh network size, against warm calls: a
// plain program, run once per measurement by bench_gradcheck's first_call rows (a fresh process each
// time) or by hand. Calls the public gradcheck(net, x, y, options) as an application would (the
// analytic gradient included), on the bench network (gradcheck_problem.hpp), full mode, double,
// batch 32. Prints one JSON object: first_ms, warm_ms (median of --warm calls), and for --then the
// same pair on the second network size.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "gradcheck_problem.hpp"
#include "mlpkit/mlpkit.hpp"

namespace {

using mlpkit::bench::make_gradcheck_problem;

double milliseconds_of_check(const mlpkit::bench::GradcheckProblem& p, const mlpkit::GradcheckOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const mlpkit::GradcheckReport report = mlpkit::gradcheck(p.net, p.x.view(), p.y.view(), options);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (report.verdict == mlpkit::Verdict::wrong) std::fprintf(stderr, "unexpected verdict wrong\n");
  return ms;
}

/** The first call on a network of this size, then the median of `warm` calls. */
std::pair<double, double> first_and_warm(std::size_t depth, std::size_t width, const mlpkit::GradcheckOptions& options,
                                         int warm) {
  const auto p = make_gradcheck_problem(depth, width);
  const double first = milliseconds_of_check(p, options);
  std::vector<double> times;
  for (int k = 0; k < warm; ++k) times.push_back(milliseconds_of_check(p, options));
  std::sort(times.begin(), times.end());
  return {first, times.empty() ? 0.0 : times[times.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time the first gradcheck of a process and of a fresh network size"};
  std::size_t depth = 2, width = 16;
  std::vector<std::size_t> then;
  int threads = 1, warm = 15;
  app.add_option("--depth", depth, "layers of the first network")->check(CLI::Range(2, 64));
  app.add_option("--width", width, "width of the first network")->check(CLI::Range(1, 4096));
  app.add_option("--then", then, "depth and width of a second network, checked after the first")->expected(2);
  app.add_option("--threads", threads, "GradcheckOptions::threads")->check(CLI::Range(1, 1024));
  app.add_option("--warm", warm, "warm calls after each first one (their median is reported)")->check(CLI::Range(0, 10000));
  CLI11_PARSE(app, argc, argv);
  mlpkit::GradcheckOptions options;
  options.threads = threads;
  const auto [first, warm_ms] = first_and_warm(depth, width, options, warm);
  std::printf("{\"depth\": %zu, \"width\": %zu, \"first_ms\": %.4f, \"warm_ms\": %.4f", depth, width, first, warm_ms);
  if (then.size() == 2) {
    const auto [next_first, next_warm] = first_and_warm(then[0], then[1], options, warm);
    std::printf(", \"then_depth\": %zu, \"then_width\": %zu, \"then_first_ms\": %.4f, \"then_warm_ms\": %.4f", then[0],
                then[1], next_first, next_warm);
  }
  std::printf("}\n");
  return 0;
}
