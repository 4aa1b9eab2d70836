// GEMM throughput: mlpkit beside OpenBLAS (cblas_?gemm, same thread count) in one run, for square
// shapes and MLP layers (features × batch), plus the fused gemm + bias + ReLU epilogue against
// OpenBLAS gemm followed by a separate bias + ReLU pass. Rates are GFLOP/s of 2·m·n·k, beside the
// machine's FMA roof at the same thread counts (fma_peak<T>), so each reads as a fraction of peak.
// MLPKIT_BENCH_THREADS=1,16 picks other thread counts than the default 1 and 2.
// The same source builds bench_gemm_blis, with BLIS (bli_?gemm) as the comparator instead: both
// libraries export the BLAS symbols, so each gets its own binary (a separate run).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "fma_peak.hpp"
#include "mlpkit/mlpkit.hpp"

#ifdef MLPKIT_BENCH_HAVE_OPENBLAS
#include <cblas.h>
#endif
#ifdef MLPKIT_BENCH_HAVE_BLIS
#include <blis.h>
#endif

namespace {

struct Shape {
  std::int64_t m, n, k;
};

// Square shapes, then MLP layers with batch 256 (M = features out, N = batch, K = features in).
const std::vector<Shape>& shapes() {
  static const std::vector<Shape> all{{32, 32, 32},      {64, 64, 64},       {128, 128, 128},    {256, 256, 256},
                                      {512, 512, 512},   {1024, 1024, 1024}, {2048, 2048, 2048}, {64, 256, 64},
                                      {1024, 256, 1024}, {256, 64, 784}};
  return all;
}
const std::vector<Shape>& mlp_shapes() {
  static const std::vector<Shape> all{{64, 256, 64}, {256, 256, 256}, {1024, 256, 1024}, {256, 64, 784}};
  return all;
}

template <class T>
struct Problem {
  mlpkit::Matrix<T> a, b, c;
  std::vector<T> bias;
  std::size_t m, n, k;
  explicit Problem(const benchmark::State& state)
      : m(static_cast<std::size_t>(state.range(0))),
        n(static_cast<std::size_t>(state.range(1))),
        k(static_cast<std::size_t>(state.range(2))) {
    a = mlpkit::Matrix<T>(m, k);
    b = mlpkit::Matrix<T>(k, n);
    c = mlpkit::Matrix<T>(m, n);
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t p = 0; p < k; ++p) a(i, p) = T(static_cast<double>((i * 7 + p * 3) % 17) / 17.0 - 0.5);
    for (std::size_t p = 0; p < k; ++p)
      for (std::size_t j = 0; j < n; ++j) b(p, j) = T(static_cast<double>((p * 5 + j * 11) % 13) / 13.0 - 0.5);
    bias.assign(m, T(0.01));
  }
};

void set_rate(benchmark::State& state) {
  const double flops = 2.0 * double(state.range(0)) * double(state.range(1)) * double(state.range(2));
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// After a multithreaded run, wait until the library's idle workers have stopped spinning, so the next
// benchmark does not share the cores with them: OpenBLAS's pool threads spin for 2^28 cycles
// (~0.1 s) after each call before they sleep (libgomp's for a much shorter time), and a run that
// starts meanwhile shares the cores with them. Not timed.
void let_idle_workers_sleep(const benchmark::State& state) {
  if (state.range(3) > 1) std::this_thread::sleep_for(std::chrono::milliseconds(250));
}

// Before a multithreaded run is timed, its threads (asleep since the pause above) are woken and the
// cores brought back to speed by ~30 ms of untimed calls: without it a virtual machine's idle cores
// cost mlpkit's 2-thread runs up to 10 %.
template <class Call>
void warm_up(const benchmark::State& state, Call&& call) {
  if (state.range(3) <= 1) return;
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(30);
  do call();
  while (std::chrono::steady_clock::now() < end);
}

// The roof: independent FMAs on the widest vectors of the active ISA, on `threads` threads at once.
template <class T>
void BM_fma_peak(benchmark::State& state) {
  const auto threads = static_cast<std::size_t>(state.range(0));
  const mlpkit::Isa isa = mlpkit::current_isa();
  constexpr std::uint64_t kTrips = std::uint64_t{1} << 21;  // ~10 ms a thread: thread starts do not count
  double flops = 0;
  for (auto _ : state) {
    std::vector<std::thread> team;
    for (std::size_t t = 1; t < threads; ++t) team.emplace_back([isa] { mlpkit_bench::fma_loop<T>(isa, kTrips); });
    flops = mlpkit_bench::fma_loop<T>(isa, kTrips);
    for (std::thread& member : team) member.join();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * double(threads) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

template <class T>
void BM_mlpkit(benchmark::State& state) {
  Problem<T> p(state);
  mlpkit::set_num_threads(static_cast<int>(state.range(3)));
  warm_up(state, [&] { mlpkit::gemm(mlpkit::Trans::no, mlpkit::Trans::no, T(1), p.a.view(), p.b.view(), T(0), p.c.view()); });
  for (auto _ : state) {
    mlpkit::gemm(mlpkit::Trans::no, mlpkit::Trans::no, T(1), p.a.view(), p.b.view(), T(0), p.c.view());
    benchmark::ClobberMemory();
  }
  set_rate(state);
  let_idle_workers_sleep(state);
}

template <class T>
void BM_mlpkit_fused_bias_relu(benchmark::State& state) {
  Problem<T> p(state);
  mlpkit::set_num_threads(static_cast<int>(state.range(3)));
  const mlpkit::Epilogue<T> epilogue{p.bias.data(), mlpkit::Activation::relu};
  warm_up(state, [&] {
    mlpkit::gemm(mlpkit::Trans::no, mlpkit::Trans::no, T(1), p.a.view(), p.b.view(), T(0), p.c.view(), epilogue);
  });
  for (auto _ : state) {
    mlpkit::gemm(mlpkit::Trans::no, mlpkit::Trans::no, T(1), p.a.view(), p.b.view(), T(0), p.c.view(), epilogue);
    benchmark::ClobberMemory();
  }
  set_rate(state);
  let_idle_workers_sleep(state);
}

// The separate pass an unfused layer needs after a comparator's gemm: C = max(C + b, 0), one row per feature.
template <class T>
void bias_relu_pass(Problem<T>& p) {
  for (std::size_t i = 0; i < p.m; ++i) {
    T* row = p.c.data() + i * p.c.ld();
    const T b = p.bias[i];
    for (std::size_t j = 0; j < p.n; ++j) row[j] = std::max(row[j] + b, T(0));
  }
}

#ifdef MLPKIT_BENCH_HAVE_OPENBLAS
constexpr const char* kComparator = "openblas";

template <class T>
void comparator_gemm(Problem<T>& p) {
  const auto m = static_cast<blasint>(p.m), n = static_cast<blasint>(p.n), k = static_cast<blasint>(p.k);
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, p.a.data(), static_cast<blasint>(p.a.ld()),
                p.b.data(), static_cast<blasint>(p.b.ld()), 0.0f, p.c.data(), static_cast<blasint>(p.c.ld()));
  else
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0, p.a.data(), static_cast<blasint>(p.a.ld()),
                p.b.data(), static_cast<blasint>(p.b.ld()), 0.0, p.c.data(), static_cast<blasint>(p.c.ld()));
}

void set_comparator_threads(int threads) { openblas_set_num_threads(threads); }
#elif defined(MLPKIT_BENCH_HAVE_BLIS)
constexpr const char* kComparator = "blis";

// BLIS's typed API with general strides: row-major is row stride ld, column stride 1.
template <class T>
void comparator_gemm(Problem<T>& p) {
  T one(1), zero(0);
  const auto m = static_cast<dim_t>(p.m), n = static_cast<dim_t>(p.n), k = static_cast<dim_t>(p.k);
  const auto lda = static_cast<inc_t>(p.a.ld()), ldb = static_cast<inc_t>(p.b.ld()), ldc = static_cast<inc_t>(p.c.ld());
  if constexpr (std::is_same_v<T, float>)
    bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &one, p.a.data(), lda, 1, p.b.data(), ldb, 1, &zero,
              p.c.data(), ldc, 1);
  else
    bli_dgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &one, p.a.data(), lda, 1, p.b.data(), ldb, 1, &zero,
              p.c.data(), ldc, 1);
}

void set_comparator_threads(int threads) { bli_thread_set_num_threads(threads); }
#endif

#if defined(MLPKIT_BENCH_HAVE_OPENBLAS) || defined(MLPKIT_BENCH_HAVE_BLIS)
#define MLPKIT_BENCH_HAVE_COMPARATOR 1

template <class T>
void BM_comparator(benchmark::State& state) {
  Problem<T> p(state);
  set_comparator_threads(static_cast<int>(state.range(3)));
  warm_up(state, [&] { comparator_gemm(p); });
  for (auto _ : state) {
    comparator_gemm(p);
    benchmark::ClobberMemory();
  }
  set_rate(state);
  let_idle_workers_sleep(state);
}

template <class T>
void BM_comparator_then_bias_relu(benchmark::State& state) {
  Problem<T> p(state);
  set_comparator_threads(static_cast<int>(state.range(3)));
  warm_up(state, [&] { comparator_gemm(p); });
  for (auto _ : state) {
    comparator_gemm(p);
    bias_relu_pass(p);
    benchmark::ClobberMemory();
  }
  set_rate(state);
  let_idle_workers_sleep(state);
}
#endif

// Thread counts to run: 1 and 2, or the comma-separated list in MLPKIT_BENCH_THREADS (e.g. "1,16").
std::vector<int> thread_counts() {
  std::vector<int> counts;
  if (const char* list = std::getenv("MLPKIT_BENCH_THREADS")) {
    for (const char* p = list; *p != '\0';) {
      char* end = nullptr;
      const long value = std::strtol(p, &end, 10);
      if (end == p) break;
      if (value > 0) counts.push_back(static_cast<int>(value));
      p = *end == ',' ? end + 1 : end;
    }
  }
  if (counts.empty()) counts = {1, 2};
  return counts;
}

template <class T>
void register_type(const std::string& type) {
  for (int threads : thread_counts()) {
    benchmark::RegisterBenchmark(("fma_peak<" + type + ">").c_str(), BM_fma_peak<T>)
        ->Arg(threads)
        ->ArgName("threads")
        ->UseRealTime();
    for (const Shape& s : shapes()) {
      const std::vector<std::int64_t> args{s.m, s.n, s.k, threads};
      benchmark::RegisterBenchmark(("gemm<" + type + ">/mlpkit").c_str(), BM_mlpkit<T>)
          ->Args(args)
          ->ArgNames({"m", "n", "k", "threads"})
          ->UseRealTime();
#ifdef MLPKIT_BENCH_HAVE_COMPARATOR
      benchmark::RegisterBenchmark(("gemm<" + type + ">/" + kComparator).c_str(), BM_comparator<T>)
          ->Args(args)
          ->ArgNames({"m", "n", "k", "threads"})
          ->UseRealTime();
#endif
    }
    for (const Shape& s : mlp_shapes()) {
      const std::vector<std::int64_t> args{s.m, s.n, s.k, threads};
      benchmark::RegisterBenchmark(("gemm_bias_relu<" + type + ">/mlpkit_fused").c_str(), BM_mlpkit_fused_bias_relu<T>)
          ->Args(args)
          ->ArgNames({"m", "n", "k", "threads"})
          ->UseRealTime();
#ifdef MLPKIT_BENCH_HAVE_COMPARATOR
      benchmark::RegisterBenchmark(("gemm_bias_relu<" + type + ">/" + kComparator + "_then_pass").c_str(),
                                   BM_comparator_then_bias_relu<T>)
          ->Args(args)
          ->ArgNames({"m", "n", "k", "threads"})
          ->UseRealTime();
#endif
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_type<float>("float");
  register_type<double>("double");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("mlpkit_isa", std::string(mlpkit::active_isa()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
