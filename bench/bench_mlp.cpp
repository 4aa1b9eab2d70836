// Mlp throughput across depths and widths: the forward pass (training-mode loss with a warm
// workspace) and a full training step's forward_backward, float, batch 256; and the latency of
// predict at batch 1 (inference), also after a parallel region.
//
// The network is `depth` layers of width × width (dims = {width, …, width}), ReLU hidden layers, an
// identity output and MSE, like the `nn.Sequential` of Linear+ReLU it is compared with.
// Counters: samples/s, and GFLOP/s counting 2·m·Σ n[l]·n[l−1] for forward and 3× that for a
// training step (forward, dA and dW products).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "mlpkit/mlpkit.hpp"
#include "stream_read.hpp"

namespace {

constexpr std::size_t kBatch = 256;

struct Setup {
  mlpkit::Mlp<float> net;
  mlpkit::Matrix<float> x, y;
  double flops_forward;
};

Setup make_setup(std::size_t depth, std::size_t width) {
  mlpkit::MlpConfig<float> config;
  config.dims.assign(depth + 1, width);
  config.hidden = mlpkit::Activation::relu;
  config.output = mlpkit::Activation::identity;
  config.loss = mlpkit::Loss::mean_squared_error;
  config.init = mlpkit::Init::he;
  Setup s{mlpkit::Mlp<float>(config), mlpkit::Matrix<float>(width, kBatch), mlpkit::Matrix<float>(width, kBatch), 0};
  std::uint32_t state = 12345;
  for (std::size_t i = 0; i < width; ++i)
    for (std::size_t j = 0; j < kBatch; ++j) {
      state = state * 1664525u + 1013904223u;
      s.x(i, j) = static_cast<float>(state >> 8) * 0x1.0p-24f - 0.5f;
      s.y(i, j) = static_cast<float>(state & 0xff) * 0x1.0p-8f;
    }
  s.flops_forward = 2.0 * static_cast<double>(kBatch) * static_cast<double>(depth) * static_cast<double>(width * width);
  return s;
}

// The model of the last shape asked for: consecutive benchmarks (threads 1 and 2) share it, so the
// large models (depth 32 × width 1024 has 34 M parameters) are initialized once per family, not per run.
Setup& setup_for(std::size_t depth, std::size_t width) {
  static std::unique_ptr<Setup> cached;
  static std::size_t cached_depth = 0, cached_width = 0;
  if (!cached || cached_depth != depth || cached_width != width) {
    cached.reset();  // free the old model before building the new one
    cached = std::make_unique<Setup>(make_setup(depth, width));
    cached_depth = depth;
    cached_width = width;
  }
  return *cached;
}

void set_counters(benchmark::State& state, double flops_per_iteration) {
  const auto iterations = static_cast<double>(state.iterations());
  state.counters["samples/s"] =
      benchmark::Counter(iterations * static_cast<double>(kBatch), benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(iterations * flops_per_iteration * 1e-9, benchmark::Counter::kIsRate);
}

void BM_forward(benchmark::State& state) {
  const auto depth = static_cast<std::size_t>(state.range(0)), width = static_cast<std::size_t>(state.range(1));
  mlpkit::set_num_threads(static_cast<int>(state.range(2)));
  Setup& s = setup_for(depth, width);
  mlpkit::MlpWorkspace<float> workspace;
  for (auto _ : state) benchmark::DoNotOptimize(s.net.loss(s.x, s.y, workspace));
  set_counters(state, s.flops_forward);
}

void BM_forward_backward(benchmark::State& state) {
  const auto depth = static_cast<std::size_t>(state.range(0)), width = static_cast<std::size_t>(state.range(1));
  mlpkit::set_num_threads(static_cast<int>(state.range(2)));
  Setup& s = setup_for(depth, width);
  for (auto _ : state) {
    benchmark::DoNotOptimize(s.net.forward_backward(s.x, s.y));
    benchmark::ClobberMemory();
  }
  set_counters(state, 3.0 * s.flops_forward);
}

// One example through the network (inference at batch 1), with a caller's warm workspace, so a call
// allocates nothing. after_parallel:1 first runs a two-thread GEMM (one OpenMP team, whose idle
// workers then wait for work) and times the one-thread call after it: filtered to alone, the row
// measures a fresh process whose history is one parallel region.
void BM_predict_batch1(benchmark::State& state) {
  const auto depth = static_cast<std::size_t>(state.range(0)), width = static_cast<std::size_t>(state.range(1));
  Setup& s = setup_for(depth, width);
  if (state.range(2) != 0) {
    mlpkit::set_num_threads(2);
    mlpkit::Matrix<float> c(width, width);
    mlpkit::gemm(mlpkit::Trans::no, mlpkit::Trans::yes, 1.0f, s.x.view(), s.x.view(), 0.0f, c.view());
  }
  mlpkit::set_num_threads(1);
  mlpkit::Matrix<float> x(width, 1), out(width, 1);
  for (std::size_t i = 0; i < width; ++i) x(i, 0) = s.x(i, 0);
  mlpkit::MlpWorkspace<float> workspace;
  s.net.predict(x, out.view(), workspace);
  for (auto _ : state) {
    s.net.predict(x, out.view(), workspace);
    benchmark::ClobberMemory();
  }
  state.counters["weights GB/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * double(depth * width * width * sizeof(float)) * 1e-9,
      benchmark::Counter::kIsRate);
}

// The roof of batch-1 inference: a streaming read of as many bytes as the network's weights
// (mlpkit::dot of two vectors of half that many floats each, one thread), in the same process as
// BM_predict_batch1, so the two rows divide into predict's distance from the read.
void BM_weights_read(benchmark::State& state) {
  const auto depth = static_cast<std::size_t>(state.range(0)), width = static_cast<std::size_t>(state.range(1));
  const std::size_t n = depth * width * width / 2;
  mlpkit::set_num_threads(1);
  mlpkit_bench::time_stream_read<float>(state, n, "weights GB/s");
}

void grid(benchmark::internal::Benchmark* b) {
  b->ArgNames({"depth", "width", "threads"});
  for (std::int64_t depth : {1, 2, 4, 8, 16, 32})
    for (std::int64_t width : {32, 64, 128, 256, 512, 1024})
      for (std::int64_t threads : {1, 2}) b->Args({depth, width, threads});
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

BENCHMARK(BM_forward)->Apply(grid);
BENCHMARK(BM_forward_backward)->Apply(grid);
BENCHMARK(BM_predict_batch1)
    ->ArgNames({"depth", "width", "after_parallel"})
    ->ArgsProduct({{8}, {64, 256, 1024}, {0, 1}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(BM_weights_read)
    ->ArgNames({"depth", "width"})
    ->ArgsProduct({{8}, {64, 256, 1024}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
