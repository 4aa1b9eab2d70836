// GEMM throughput: mlpkit beside every comparator found at build time (OpenBLAS, libxsmm, oneDNN in
// bench_gemm; BLIS in bench_gemm_blis, since it exports the same BLAS symbols as OpenBLAS), side by
// side in one run, over the shapes an application meets: batch 1–16 through square layers in the
// three forms forward and backward use (A·B, Aᵀ·B, A·Bᵀ), small odd layers, large squares with their
// power-of-two neighbours, batch-256 MLP layers, and the fused gemm + bias + ReLU epilogue (against
// oneDNN's matmul with the same post-ops and OpenBLAS gemm followed by a separate pass). Rates are
// GFLOP/s of 2·m·n·k beside the FMA roof (fma_peak<T>) and the streaming-read rate of the same bytes
// (stream_read<T>, mlpkit::dot) at the same thread counts; the context names every comparator's kernel.
// MLPKIT_BENCH_THREADS=1,16 picks other thread counts than the default 1 and 2. OpenBLAS picks its
// kernel from the CPU it knows: run with OPENBLAS_CORETYPE=SkylakeX on AVX-512 CPUs newer than it.
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
#include "gemm_comparators.hpp"
#include "stream_read.hpp"
#include "mlpkit/mlpkit.hpp"
#include "mlpkit/vector.hpp"

namespace {

using mlpkit::Trans;
using mlpkit_bench::GemmProblem;

struct Shape {
  std::int64_t m, n, k;
  Trans ta = Trans::no, tb = Trans::no;
};

// The grid: batch 1, 4, 16 through square layers of 64, 256, 1024 (forward W·X, and the backward
// forms Wᵀ·δ and δ·Xᵀ at the same sizes), small odd layers, large squares with the power-of-two
// size between its neighbours, batch-256 MLP layers (M = features out, N = batch, K = features in), and
// batch 16 through a layer of 2048 outputs (more rows than the direct path's limit, one sliver of C).
const std::vector<Shape>& shapes() {
  static const std::vector<Shape> all = [] {
    std::vector<Shape> s;
    for (std::int64_t w : {64, 256, 1024})
      for (std::int64_t batch : {1, 4, 16})
        for (auto [ta, tb] : {std::pair{Trans::no, Trans::no}, {Trans::yes, Trans::no}, {Trans::no, Trans::yes}})
          s.push_back({w, batch, w, ta, tb});
    for (Shape small : std::vector<Shape>{{16, 32, 16}, {10, 32, 64}, {32, 32, 32}, {64, 64, 64}, {100, 100, 100}})
      s.push_back(small);
    for (std::int64_t n : {512, 1000, 1024, 1040, 2048}) s.push_back({n, n, n});
    for (Shape layer : std::vector<Shape>{{64, 256, 64}, {1024, 256, 1024}, {256, 64, 784}, {2048, 16, 512}})
      s.push_back(layer);
    return s;
  }();
  return all;
}
// Fused bias + ReLU: the batch-256 layers and batch 1.
const std::vector<Shape>& mlp_shapes() {
  static const std::vector<Shape> all{{64, 256, 64},   {256, 256, 256}, {1024, 256, 1024},
                                      {256, 64, 784},  {256, 1, 256},   {1024, 1, 1024}};
  return all;
}

Trans trans_of(std::int64_t v) { return v != 0 ? Trans::yes : Trans::no; }

template <class T>
GemmProblem<T> make_problem(const benchmark::State& state) {
  GemmProblem<T> p{trans_of(state.range(4)), trans_of(state.range(5)), static_cast<std::size_t>(state.range(0)),
                   static_cast<std::size_t>(state.range(1)), static_cast<std::size_t>(state.range(2)), {}, {}, {}, {}};
  const bool ta = p.ta == Trans::yes, tb = p.tb == Trans::yes;
  p.a = mlpkit::Matrix<T>(ta ? p.k : p.m, ta ? p.m : p.k);
  p.b = mlpkit::Matrix<T>(tb ? p.n : p.k, tb ? p.k : p.n);
  p.c = mlpkit::Matrix<T>(p.m, p.n);
  for (std::size_t i = 0; i < p.a.rows(); ++i)
    for (std::size_t j = 0; j < p.a.cols(); ++j) p.a(i, j) = T(static_cast<double>((i * 7 + j * 3) % 17) / 17.0 - 0.5);
  for (std::size_t i = 0; i < p.b.rows(); ++i)
    for (std::size_t j = 0; j < p.b.cols(); ++j) p.b(i, j) = T(static_cast<double>((i * 5 + j * 11) % 13) / 13.0 - 0.5);
  p.bias.assign(p.m, T(0.01));
  return p;
}

// The bytes of the larger operand, which a skinny product must stream once.
double weight_bytes(const benchmark::State& state, std::size_t elem) {
  const double m = double(state.range(0)), n = double(state.range(1)), k = double(state.range(2));
  return std::max(m, n) * k * double(elem);
}

template <class T>
void set_rate(benchmark::State& state) {
  const double flops = 2.0 * double(state.range(0)) * double(state.range(1)) * double(state.range(2));
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] =
      benchmark::Counter(weight_bytes(state, sizeof(T)) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
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
void mlpkit_gemm(GemmProblem<T>& p, const mlpkit::Epilogue<T>& epilogue = {}) {
  mlpkit::gemm(p.ta, p.tb, T(1), p.a.view(), p.b.view(), T(0), p.c.view(), epilogue);
}

// Times call() on the problem after the untimed warm-up; `threads` is range(3).
template <class T, class Call>
void run(benchmark::State& state, Call&& call) {
  warm_up(state, call);
  for (auto _ : state) {
    call();
    benchmark::ClobberMemory();
  }
  set_rate<T>(state);
  let_idle_workers_sleep(state);
}

template <class T>
void BM_mlpkit(benchmark::State& state) {
  GemmProblem<T> p = make_problem<T>(state);
  mlpkit::set_num_threads(static_cast<int>(state.range(3)));
  run<T>(state, [&] { mlpkit_gemm(p); });
}

template <class T>
void BM_mlpkit_fused_bias_relu(benchmark::State& state) {
  GemmProblem<T> p = make_problem<T>(state);
  mlpkit::set_num_threads(static_cast<int>(state.range(3)));
  const mlpkit::Epilogue<T> epilogue{p.bias.data(), mlpkit::Activation::relu};
  run<T>(state, [&] { mlpkit_gemm(p, epilogue); });
}

// The separate pass an unfused layer needs after a comparator's gemm: C = max(C + b, 0), one row per feature.
template <class T>
void bias_relu_pass(GemmProblem<T>& p) {
  for (std::size_t i = 0; i < p.m; ++i) {
    T* row = p.c.data() + i * p.c.ld();
    const T b = p.bias[i];
    for (std::size_t j = 0; j < p.n; ++j) row[j] = std::max(row[j] + b, T(0));
  }
}

#ifdef MLPKIT_BENCH_HAVE_BLAS
template <class T>
void BM_blas(benchmark::State& state) {
  GemmProblem<T> p = make_problem<T>(state);
  mlpkit_bench::set_blas_threads(static_cast<int>(state.range(3)));
  run<T>(state, [&] { mlpkit_bench::blas_gemm(p); });
}

template <class T>
void BM_blas_then_bias_relu(benchmark::State& state) {
  GemmProblem<T> p = make_problem<T>(state);
  mlpkit_bench::set_blas_threads(static_cast<int>(state.range(3)));
  run<T>(state, [&] {
    mlpkit_bench::blas_gemm(p);
    bias_relu_pass(p);
  });
}
#endif

#ifdef MLPKIT_BENCH_HAVE_LIBXSMM
// libxsmm's JIT kernels are single-threaded: registered for one thread only.
template <class T>
void BM_libxsmm(benchmark::State& state) {
  GemmProblem<T> p = make_problem<T>(state);
  const mlpkit_bench::XsmmCall<T> call(p);
  if (call.kernel == nullptr) {
    state.SkipWithError("libxsmm has no JIT kernel for this shape");
    return;
  }
  run<T>(state, [&] { call(p); });
}
#endif

#ifdef MLPKIT_BENCH_HAVE_DNNL
template <class T>
void BM_onednn(benchmark::State& state, bool bias_relu) {
  GemmProblem<T> p = make_problem<T>(state);
  omp_set_num_threads(static_cast<int>(state.range(3)));  // oneDNN's OpenMP runtime follows it
  try {
    mlpkit_bench::DnnlCall<T> call(p, bias_relu);
    state.SetLabel(call.impl);
    run<T>(state, [&] { call(); });
  } catch (const dnnl::error& e) {
    state.SkipWithError(e.what());
  }
}
#endif

// The roof of a skinny product: a streaming read of its larger operand's bytes (mlpkit::dot of
// that many elements against a second vector reads twice the bytes; the rate counts both).
template <class T>
void BM_stream_read(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  mlpkit::set_num_threads(static_cast<int>(state.range(1)));
  mlpkit_bench::time_stream_read<T>(state, n, "GB/s");
}

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

std::string form(const Shape& s) {
  return std::string(s.ta == Trans::yes ? "T" : "N") + (s.tb == Trans::yes ? "T" : "N");
}

void register_gemm(const std::string& name, void (*fn)(benchmark::State&), const Shape& s, int threads) {
  benchmark::internal::Benchmark* bench = benchmark::RegisterBenchmark(name.c_str(), fn);
  bench->Args({s.m, s.n, s.k, threads, s.ta == Trans::yes, s.tb == Trans::yes})
      ->ArgNames({"m", "n", "k", "threads", "ta", "tb"});
  // One thread: CPU time, which a shared machine's other processes do not inflate; more: real time.
  if (threads > 1) bench->UseRealTime();
}

template <class T>
void register_type(const std::string& type) {
  for (int threads : thread_counts()) {
    benchmark::internal::Benchmark* peak =
        benchmark::RegisterBenchmark(("fma_peak<" + type + ">").c_str(), BM_fma_peak<T>)->Arg(threads)->ArgName("threads");
    if (threads > 1) peak->UseRealTime();  // its other threads are not the calling thread's CPU time
    // Reads of 256 KiB (L2), 4 MiB (the weights of a 1024² float layer, L3) and 16 MiB, both vectors counted.
    for (std::int64_t bytes : {std::int64_t(1) << 18, std::int64_t(1) << 22, std::int64_t(1) << 24}) {
      benchmark::internal::Benchmark* read =
          benchmark::RegisterBenchmark(("stream_read<" + type + ">/dot").c_str(), BM_stream_read<T>)
              ->Args({bytes / std::int64_t(2 * sizeof(T)), threads})
              ->ArgNames({"n", "threads"});
      if (threads > 1) read->UseRealTime();
    }
    for (const Shape& s : shapes()) {
      const std::string prefix = "gemm<" + type + ">/" + form(s) + "/";
      register_gemm(prefix + "mlpkit", BM_mlpkit<T>, s, threads);
#ifdef MLPKIT_BENCH_HAVE_BLAS
      register_gemm(prefix + "blas", BM_blas<T>, s, threads);
#endif
#ifdef MLPKIT_BENCH_HAVE_LIBXSMM
      if (threads == 1) register_gemm(prefix + "libxsmm", BM_libxsmm<T>, s, threads);
#endif
#ifdef MLPKIT_BENCH_HAVE_DNNL
      if constexpr (std::is_same_v<T, float>)
        register_gemm(prefix + "onednn", [](benchmark::State& st) { BM_onednn<T>(st, false); }, s, threads);
#endif
    }
    for (const Shape& s : mlp_shapes()) {
      const std::string prefix = "gemm_bias_relu<" + type + ">/";
      register_gemm(prefix + "mlpkit_fused", BM_mlpkit_fused_bias_relu<T>, s, threads);
#ifdef MLPKIT_BENCH_HAVE_BLAS
      register_gemm(prefix + "blas_then_pass", BM_blas_then_bias_relu<T>, s, threads);
#endif
#ifdef MLPKIT_BENCH_HAVE_DNNL
      if constexpr (std::is_same_v<T, float>)
        register_gemm(prefix + "onednn_post_ops", [](benchmark::State& st) { BM_onednn<T>(st, true); }, s, threads);
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
  benchmark::AddCustomContext("mlpkit_isa", std::string(mlpkit::isa_name(mlpkit::current_isa())));
#ifdef MLPKIT_BENCH_HAVE_BLAS
  benchmark::AddCustomContext("blas", mlpkit_bench::blas_kernel());
#endif
#ifdef MLPKIT_BENCH_HAVE_LIBXSMM
  libxsmm_init();
  benchmark::AddCustomContext("libxsmm", mlpkit_bench::xsmm_kernel());
#endif
#ifdef MLPKIT_BENCH_HAVE_DNNL
  benchmark::AddCustomContext("onednn_isa", mlpkit_bench::dnnl_isa());
#endif
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
