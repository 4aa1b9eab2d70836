// Activations forward (both accuracy tiers: forward<…> is precise, forward_fast<…> fast) and backward,
// float and double, in cache (n = 4096) and out of cache (n = 4 Mi), beside a scalar std:: loop, Eigen
// arrays (when found) and a memcpy of the same bytes (the memory roof), so every ratio reads off one run.
// items/s counts elements; bytes/s counts the bytes each call must move (forward: read x, write y;
// backward: read x and dy, write dx; memcpy: read + write).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "mlpkit/mlpkit.hpp"

#ifdef MLPKIT_BENCH_HAVE_EIGEN
#include "bench_activations_eigen.hpp"  // Eigen itself is compiled for this machine, in its own file
#endif

namespace {

using mlpkit::Activation;

constexpr std::int64_t kInCache = 4096;
constexpr std::int64_t kOutOfCache = std::int64_t{4} << 20;

template <class T>
std::vector<T> inputs(std::size_t n) {
  std::vector<T> x(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<T>(-6.0 + 12.0 * double((i * 7919) % 10007) / 10007.0);
  return x;
}

template <class T>
void set_counters(benchmark::State& state, int arrays_moved) {
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * state.range(0) * arrays_moved * static_cast<std::int64_t>(sizeof(T)));
}

// The thread count range(1) asks for (0 = the library default) while a benchmark runs; the previous
// count is restored after it.
class RangeThreads {
 public:
  explicit RangeThreads(const benchmark::State& state) : previous_(mlpkit::num_threads()) {
    if (state.range(1) > 0) mlpkit::set_num_threads(static_cast<int>(state.range(1)));
  }
  ~RangeThreads() { mlpkit::set_num_threads(previous_); }
  RangeThreads(const RangeThreads&) = delete;
  RangeThreads& operator=(const RangeThreads&) = delete;

 private:
  int previous_;
};

template <class T>
void BM_forward(benchmark::State& state, Activation f, mlpkit::Accuracy accuracy) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const RangeThreads threads(state);
  const auto x = inputs<T>(n);
  std::vector<T> y(n);
  for (auto _ : state) {
    mlpkit::activation_forward(f, accuracy, x.data(), y.data(), n);
    benchmark::ClobberMemory();
  }
  set_counters<T>(state, 2);
}

template <class T>
void BM_backward(benchmark::State& state, Activation f) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const RangeThreads threads(state);
  const auto x = inputs<T>(n);
  const std::vector<T> dy(n, T(0.5));
  std::vector<T> dx(n);
  for (auto _ : state) {
    mlpkit::activation_backward(f, x.data(), dy.data(), dx.data(), n);
    benchmark::ClobberMemory();
  }
  set_counters<T>(state, 3);
}

template <class T>
void BM_backward_from_output(benchmark::State& state, Activation f) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto x = inputs<T>(n);
  std::vector<T> y(n), dx(n);
  const std::vector<T> dy(n, T(0.5));
  mlpkit::activation_forward(f, x.data(), y.data(), n);
  for (auto _ : state) {
    mlpkit::activation_backward_from_output(f, y.data(), dy.data(), dx.data(), n);
    benchmark::ClobberMemory();
  }
  set_counters<T>(state, 3);
}

template <class T, class Op>
void BM_scalar_loop(benchmark::State& state, Op op) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto x = inputs<T>(n);
  std::vector<T> y(n);
  for (auto _ : state) {
    for (std::size_t i = 0; i < n; ++i) y[i] = op(x[i]);
    benchmark::ClobberMemory();
  }
  set_counters<T>(state, 2);
}

template <class T>
void BM_memcpy(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto x = inputs<T>(n);
  std::vector<T> y(n);
  for (auto _ : state) {
    std::memcpy(y.data(), x.data(), n * sizeof(T));
    benchmark::ClobberMemory();
  }
  set_counters<T>(state, 2);
}

#ifdef MLPKIT_BENCH_HAVE_EIGEN
template <class T>
void BM_eigen(benchmark::State& state, bench_eigen::Function f) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto x = inputs<T>(n);
  std::vector<T> y(n);
  for (auto _ : state) {
    bench_eigen::apply(f, x.data(), y.data(), static_cast<std::ptrdiff_t>(n));
    benchmark::ClobberMemory();
  }
  set_counters<T>(state, 2);
}
#endif

template <class T>
void register_type(const std::string& type) {
  for (Activation f : mlpkit::enum_values<Activation>()) {
    const std::string name(mlpkit::activation_name(f));
    benchmark::RegisterBenchmark(("forward<" + type + ">/" + name).c_str(), BM_forward<T>, f, mlpkit::Accuracy::precise)
        ->ArgNames({"n", "threads"})->Args({kInCache, 1})->Args({kOutOfCache, 1})->Args({kOutOfCache, 0});
    benchmark::RegisterBenchmark(("backward<" + type + ">/" + name).c_str(), BM_backward<T>, f)
        ->ArgNames({"n", "threads"})->Args({kInCache, 1})->Args({kOutOfCache, 1})->Args({kOutOfCache, 0});
    // The fast tier where it differs from precise (identity and the ReLUs are exact in both).
    if (f != Activation::identity && f != Activation::relu && f != Activation::leaky_relu)
      benchmark::RegisterBenchmark(("forward_fast<" + type + ">/" + name).c_str(), BM_forward<T>, f,
                                   mlpkit::Accuracy::fast)
          ->ArgNames({"n", "threads"})->Args({kInCache, 1})->Args({kOutOfCache, 1})->Args({kOutOfCache, 0});
    if (f == Activation::sigmoid || f == Activation::tanh)
      benchmark::RegisterBenchmark(("backward_from_output<" + type + ">/" + name).c_str(), BM_backward_from_output<T>, f)
          ->Arg(kInCache);
  }
  benchmark::RegisterBenchmark(("scalar_std<" + type + ">/tanh").c_str(), BM_scalar_loop<T, T (*)(T)>,
                               [](T v) { return std::tanh(v); })
      ->Arg(kInCache);
  benchmark::RegisterBenchmark(("scalar_std<" + type + ">/sigmoid").c_str(), BM_scalar_loop<T, T (*)(T)>,
                               [](T v) { return T(1) / (T(1) + std::exp(-v)); })
      ->Arg(kInCache);
  benchmark::RegisterBenchmark(("scalar_std<" + type + ">/exp").c_str(), BM_scalar_loop<T, T (*)(T)>,
                               [](T v) { return std::exp(v); })
      ->Arg(kInCache);
  // x/2·erfc(−x/√2) and x/2·(1 + tanh(√(2/π)(x + 0.044715x³))) in T, as a plain loop would write them.
  benchmark::RegisterBenchmark(("scalar_std<" + type + ">/gelu").c_str(), BM_scalar_loop<T, T (*)(T)>,
                               [](T v) { return T(0.5) * v * std::erfc(v * T(-0.70710678118654752)); })
      ->Arg(kInCache);
  benchmark::RegisterBenchmark(("scalar_std<" + type + ">/gelu_tanh").c_str(), BM_scalar_loop<T, T (*)(T)>,
                               [](T v) {
                                 const T inner = T(0.79788456080286536) * (v + T(0.044715) * v * v * v);
                                 return T(0.5) * v * (T(1) + std::tanh(inner));
                               })
      ->Arg(kInCache);
#ifdef MLPKIT_BENCH_HAVE_EIGEN
  benchmark::RegisterBenchmark(("eigen<" + type + ">/tanh").c_str(), BM_eigen<T>, bench_eigen::Function::tanh)
      ->Arg(kInCache)->Arg(kOutOfCache);
  benchmark::RegisterBenchmark(("eigen<" + type + ">/sigmoid").c_str(), BM_eigen<T>, bench_eigen::Function::logistic)
      ->Arg(kInCache)->Arg(kOutOfCache);
  benchmark::RegisterBenchmark(("eigen<" + type + ">/exp").c_str(), BM_eigen<T>, bench_eigen::Function::exp)
      ->Arg(kInCache);
#endif
  benchmark::RegisterBenchmark(("memcpy<" + type + ">").c_str(), BM_memcpy<T>)->Arg(kInCache)->Arg(kOutOfCache);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  register_type<float>("float");
  register_type<double>("double");
  benchmark::AddCustomContext("mlpkit_isa", std::string(mlpkit::isa_name(mlpkit::current_isa())));
#ifndef MLPKIT_BENCH_HAVE_EIGEN
  benchmark::AddCustomContext("eigen", "not found: its comparisons are skipped");
#endif
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
