// Gradient checking throughput: parameters checked per second in full mode, double, batch 32,
// ReLU hidden layers (width × width) and a sigmoid output with binary cross-entropy, for
// depth {2, 4, 8, 16} × width {16, 32, 64, 128}. Compared side by side: (a) the naive loop on one
// thread (the course's algorithm: a full forward pass per evaluation), (b) the naive loop on every
// thread, (c) the incremental loop on 1 and 2 threads.
//
// Two measurements:
// - gradcheck_full/…: the public gradcheck(), every parameter, wall time per call. Run at the points
//   where PyTorch was measured (a full check of the largest networks takes minutes).
// - gradcheck_projected/…: the same evaluators and the same parallel loop over work items, run on a
//   sample of every tensor (≥ 64 parameters, 4 work items per thread); a full check is projected as
//   Σ_tensors size · (time / sampled). Exact for the naive loop (every parameter costs the same) and
//   for the incremental one (every parameter of a tensor costs the same).
// Counters: params_per_s (the figure to compare with PyTorch's 650–2 138 checks/s) and, for the
// incremental loop, flop_per_s: the flops it actually performs (rank-1 updates and recomputed
// layers over the changed examples only) per second.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gradcheck/gradcheck_internal.hpp"
#include "gradcheck/mlp_evaluators.hpp"
#include "gradcheck_problem.hpp"
#include "mlpkit/mlpkit.hpp"
#include "runtime/threads.hpp"

namespace {

using namespace mlpkit;


using mlpkit::bench::make_gradcheck_problem;

void set_counters(benchmark::State& state, double parameters, double flops, bool incremental) {
  state.counters["params"] = parameters;
  state.counters["params_per_s"] = benchmark::Counter(parameters, benchmark::Counter::kIsIterationInvariantRate);
  if (incremental) state.counters["flop_per_s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
}

/** The public gradcheck() in full mode. */
void BM_full(benchmark::State& state, std::size_t depth, std::size_t width, GradcheckEvaluator evaluator, int threads) {
  const auto p = make_gradcheck_problem(depth, width);
  Mlp<double> analytic = p.net;
  analytic.forward_backward(p.x.view(), p.y.view());
  const std::vector<double> gradient(analytic.gradients().begin(), analytic.gradients().end());
  GradcheckOptions options;
  options.evaluator = evaluator;
  options.threads = threads;
  for (auto _ : state) {
    const GradcheckReport report = gradcheck(p.net, p.x.view(), p.y.view(), gradient, options);
    benchmark::DoNotOptimize(report.relative_error);
  }
  // The flops one full incremental check performs (GEMMs and rank-1 updates), counted by the
  // evaluator itself in one more check outside the timed loop.
  double flops = 0;
  if (evaluator == GradcheckEvaluator::incremental) {
    const detail::IncrementalMlpEvaluator counting(p.net, p.x.view(), p.y.view(), options.eps);
    const std::vector<TensorInfo> layout = p.net.tensors();
    GradcheckOptions serial = options;
    serial.threads = 0;
    detail::run_gradcheck("bench", counting, p.net.parameters(), gradient, layout, serial);
    flops = counting.performed_flops();
  }
  set_counters(state, static_cast<double>(p.net.parameter_count()), flops, evaluator == GradcheckEvaluator::incremental);
}

/** The same loop on a sample of every tensor, projected to a full check (manual time). */
void BM_projected(benchmark::State& state, std::size_t depth, std::size_t width, GradcheckEvaluator which,
                  int threads) {
  const auto p = make_gradcheck_problem(depth, width);
  set_num_threads(threads);
  const detail::IncrementalMlpEvaluator incremental(p.net, p.x.view(), p.y.view(), 1e-7);
  const detail::NaiveMlpEvaluator naive(p.net, p.x.view(), p.y.view(), 1e-7);
  const detail::LossEvaluator& evaluator =
      which == GradcheckEvaluator::incremental ? static_cast<const detail::LossEvaluator&>(incremental) : naive;
  const std::vector<TensorInfo> tensors = p.net.tensors();
  const std::size_t batch = evaluator.batch();
  // Enough items per tensor to keep every thread busy, never fewer than 64 parameters, and at least
  // ~2 MFLOP of differences, so the start of each tensor's parallel region stays small beside them:
  // a depth-2 network's parameters cost ~0.2 µs each, and 64 of them on two threads measured the
  // region more than the loop (2t/1t 1.12–1.33 projected against 1.61 in a full check at 2/16).
  const auto by_work = static_cast<std::size_t>(2e6 / std::max(evaluator.work_per_parameter(), 1.0));
  const std::size_t wanted = std::max({std::size_t{64}, 4 * static_cast<std::size_t>(threads) * batch, by_work});
  auto run = [&](const TensorInfo& t, std::size_t sample) {
    const std::size_t items = (sample + batch - 1) / batch;
    detail::parallel_for(
        items, evaluator.work_per_parameter() * static_cast<double>(batch),
        [&](std::size_t k) {
          const std::size_t first = t.offset + k * batch, count = std::min(batch, t.offset + sample - first);
          std::vector<std::size_t> indices(count);
          for (std::size_t q = 0; q < count; ++q) indices[q] = first + q;
          std::vector<double> numeric(count), rounding(count);
          std::vector<unsigned char> kink(count);
          evaluator.differences(indices, numeric, rounding, kink);
          benchmark::DoNotOptimize(numeric.data());
        },
        detail::Schedule::balanced);
  };
  run(tensors.front(), std::min(tensors.front().rows * tensors.front().cols, wanted));  // warm the scratch
  double flops = 0;
  for (auto _ : state) {
    double projected = 0;
    flops = 0;
    for (const TensorInfo& t : tensors) {
      const std::size_t size = t.rows * t.cols;
      const std::size_t sample = std::min(size, wanted);
      const double flops_before = incremental.performed_flops();
      const auto start = std::chrono::steady_clock::now();
      run(t, sample);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double scale = static_cast<double>(size) / static_cast<double>(sample);
      projected += seconds * scale;
      flops += (incremental.performed_flops() - flops_before) * scale;
    }
    state.SetIterationTime(projected);
  }
  set_counters(state, static_cast<double>(p.net.parameter_count()), flops, which == GradcheckEvaluator::incremental);
}

/**
 * Directional mode on the README's 784-128-64-10 classifier, batch 32, one thread: wall time of a
 * warm check of `directions` directions, and s_per_evaluation, the time per evaluation of J (to
 * compare with BM_classifier_loss; the target is ≤ 3×), from the CPU time (one thread; the wall time of a
 * loaded machine is not its own).
 */
void BM_directional(benchmark::State& state, std::size_t directions) {
  const auto p = mlpkit::bench::make_classifier_problem();
  Mlp<double> analytic = p.net;
  analytic.forward_backward(p.x.view(), p.y.view());
  const std::vector<double> gradient(analytic.gradients().begin(), analytic.gradients().end());
  GradcheckOptions options;
  options.mode = GradcheckMode::directional;
  options.directions = directions;
  options.threads = 1;
  std::size_t evaluations = 0;
  for (auto _ : state) {
    const GradcheckReport report = gradcheck(p.net, p.x.view(), p.y.view(), gradient, options);
    evaluations = report.evaluations;
    benchmark::DoNotOptimize(report.relative_error);
  }
  state.counters["evaluations"] = static_cast<double>(evaluations);
  // Seconds per evaluation of J (CPU time: one thread).
  state.counters["s_per_evaluation"] = benchmark::Counter(
      static_cast<double>(evaluations), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

/**
 * check_hvp on the bench network of depth × width with tanh hidden layers (the R-operator's second
 * order is smooth there), one thread, default options: wall time of a warm check, and the
 * evaluations of the gradient it made.
 */
void BM_check_hvp(benchmark::State& state, std::size_t depth, std::size_t width) {
  const auto p = mlpkit::bench::make_gradcheck_problem(depth, width);
  MlpConfig<double> config = p.net.config();
  config.hidden = Activation::tanh;
  const Mlp<double> net(config);
  GradcheckOptions options;
  options.threads = 1;
  std::size_t evaluations = 0;
  for (auto _ : state) {
    const GradcheckReport report = check_hvp(net, p.x.view(), p.y.view(), options);
    evaluations = report.evaluations;
    benchmark::DoNotOptimize(report.relative_error);
  }
  state.counters["evaluations"] = static_cast<double>(evaluations);
  state.counters["parameters"] = static_cast<double>(net.parameter_count());
}

/** Mlp::loss on the same classifier with a warm workspace, one thread: the unit directional's cost is measured in. */
void BM_classifier_loss(benchmark::State& state) {
  const auto p = mlpkit::bench::make_classifier_problem();
  set_num_threads(1);
  MlpWorkspace<double> workspace;
  for (auto _ : state) benchmark::DoNotOptimize(p.net.loss(p.x.view(), p.y.view(), workspace));
}

/**
 * The first call of a fresh process: each iteration launches gradcheck_first_call (one thread, full
 * mode) on depth × width, then a first call on `then` (a fresh network size in the same process);
 * the iteration time is the first call's, the counters the median warm call and the fresh size's
 * first and warm calls (averages over iterations).
 */
void BM_first_call(benchmark::State& state, std::size_t depth, std::size_t width, std::pair<std::size_t, std::size_t> then) {
  const std::string command = std::string(MLPKIT_GRADCHECK_FIRST_CALL) + " --depth " + std::to_string(depth) +
                              " --width " + std::to_string(width) + " --then " + std::to_string(then.first) + " " +
                              std::to_string(then.second) + " --warm 9";
  double warm = 0, then_first = 0, then_warm = 0;
  for (auto _ : state) {
    std::string output;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) {
      state.SkipWithError("cannot launch gradcheck_first_call");
      return;
    }
    std::array<char, 512> buffer{};
    while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr) output += buffer.data();
    if (pclose(pipe) != 0) {
      state.SkipWithError("gradcheck_first_call failed");
      return;
    }
    const nlohmann::json j = nlohmann::json::parse(output);
    state.SetIterationTime(j.at("first_ms").get<double>() * 1e-3);
    warm += j.at("warm_ms").get<double>();
    then_first += j.at("then_first_ms").get<double>();
    then_warm += j.at("then_warm_ms").get<double>();
  }
  const auto n = static_cast<double>(state.iterations());
  state.counters["warm_ms"] = warm / n;
  state.counters["fresh_size_first_ms"] = then_first / n;
  state.counters["fresh_size_warm_ms"] = then_warm / n;
}

struct Variant {
  const char* name;
  GradcheckEvaluator evaluator;
  int threads;
};

/** True when --benchmark_min_time asks for a smoke run (the bench-smoke CTest test): a tiny grid then. */
bool smoke_run(int argc, char** argv) {
  const std::string flag = "--benchmark_min_time=";
  for (int k = 1; k < argc; ++k) {
    const std::string arg = argv[k];
    if (arg.rfind(flag, 0) == 0) return std::stod(arg.substr(flag.size())) < 0.01;
  }
  return false;
}

void register_all(bool smoke) {
  const int all = std::max(2, num_threads());
  std::vector<Variant> variants{{"naive_1thread", GradcheckEvaluator::naive, 1},
                                      {"naive_parallel", GradcheckEvaluator::naive, all},
                                      {"incremental_1thread", GradcheckEvaluator::incremental, 1},
                                      {"incremental_2threads", GradcheckEvaluator::incremental, 2}};
  // On a machine with more cores, the scaling target (≥ 13× one thread on 16 cores).
  if (num_threads() > 2) {
    static const std::string many = "incremental_" + std::to_string(num_threads()) + "threads";
    variants.push_back({many.c_str(), GradcheckEvaluator::incremental, num_threads()});
  }
  // The points where PyTorch's torch.autograd.gradcheck was measured (depth, width).
  std::vector<std::pair<std::size_t, std::size_t>> pytorch_points{{2, 16}, {4, 16}, {4, 32},
                                                                  {8, 32}, {4, 64}, {8, 64}};
  std::vector<std::size_t> depths{2, 4, 8, 16}, widths{16, 32, 64, 128};
  if (smoke) {  // one iteration of every variant on small networks: seconds, not minutes
    pytorch_points = {{2, 16}};
    depths = {2, 4};
    widths = {16};
  }
  benchmark::RegisterBenchmark("classifier_loss/784-128-64-10/1thread", BM_classifier_loss)->Unit(benchmark::kMicrosecond);
  for (const std::size_t directions : smoke ? std::vector<std::size_t>{8} : std::vector<std::size_t>{8, 32})
    benchmark::RegisterBenchmark(("gradcheck_directional/784-128-64-10/directions:" + std::to_string(directions) +
                                  "/1thread").c_str(),
                                 BM_directional, directions)
        ->Unit(benchmark::kMillisecond);
  for (const auto& [depth, width] : smoke ? std::vector<std::pair<std::size_t, std::size_t>>{{2, 16}}
                                          : std::vector<std::pair<std::size_t, std::size_t>>{{2, 16}, {4, 32}})
    benchmark::RegisterBenchmark(("check_hvp/depth:" + std::to_string(depth) + "/width:" + std::to_string(width) +
                                  "/tanh/1thread").c_str(),
                                 BM_check_hvp, depth, width)
        ->Unit(benchmark::kMillisecond);
  // First calls: of a process at each point, and of the next point's size right after it.
  for (std::size_t k = 0; k < pytorch_points.size(); ++k) {
    const auto point = pytorch_points[k];
    const auto next = pytorch_points[(k + 1) % pytorch_points.size()];
    benchmark::RegisterBenchmark(("gradcheck_first_call/depth:" + std::to_string(point.first) +
                                  "/width:" + std::to_string(point.second) + "/incremental_1thread").c_str(),
                                 BM_first_call, point.first, point.second, next)
        ->Unit(benchmark::kMillisecond)
        ->UseManualTime();
  }
  for (const auto& [depth, width] : pytorch_points)
    for (const Variant& v : variants) {
      const std::string name = "gradcheck_full/depth:" + std::to_string(depth) + "/width:" + std::to_string(width) +
                               "/" + v.name;
      benchmark::RegisterBenchmark(name.c_str(), BM_full, depth, width, v.evaluator, v.threads)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  for (std::size_t depth : depths)
    for (std::size_t width : widths)
      for (const Variant& v : variants) {
        const std::string name = "gradcheck_projected/depth:" + std::to_string(depth) +
                                 "/width:" + std::to_string(width) + "/" + v.name;
        benchmark::RegisterBenchmark(name.c_str(), BM_projected, depth, width, v.evaluator, v.threads)
            ->Unit(benchmark::kMillisecond)
            ->UseManualTime();
      }
}

}  // namespace

int main(int argc, char** argv) {
  const bool smoke = smoke_run(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all(smoke);
  benchmark::AddCustomContext("mlpkit_isa", std::string(mlpkit::isa_name(mlpkit::current_isa())));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
