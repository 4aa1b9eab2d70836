// Normalization at memory speed: Standardizer fit and transform, batch norm and layer norm forward
// and backward, beside a memcpy of the same bytes and a single streaming read, in one run.
// streaming_copy is the same copy with non-temporal stores: where glibc's memcpy keeps ordinary
// stores for this size (its threshold comes from the L3 size CPUID reports, 240 MiB on an EPYC VM
// that says 320 MiB), each store first reads its line, and that copy is no longer the memory roof.
//
// Shapes: 784 × 60000 (an MNIST-sized training set, far out of cache) and 256 × 256 (an activation
// batch, in L2). Bytes counted: fit reads x once; transform and the forwards read x and write y
// (2×, like memcpy's read + write); the backwards read x and dy and write dx (3×). The ratio of
// bytes/s to memcpy's (or to the streaming read's, for fit) is the fraction of memory speed reached.
#include <benchmark/benchmark.h>
#include <emmintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "mlpkit/mlpkit.hpp"

namespace {

struct Shape {
  std::size_t features, examples;
};

template <class T>
struct Dataset {
  mlpkit::Matrix<T> x, y, dy, dx;
  std::vector<T> gamma, beta, running_mean, running_variance, dgamma, dbeta;
  mlpkit::NormalizationCache<T> bn_cache, ln_cache;
  mlpkit::Standardizer<T> standardizer;

  explicit Dataset(Shape s)
      : x(s.features, s.examples), y(s.features, s.examples), dy(s.features, s.examples), dx(s.features, s.examples),
        gamma(s.features, T(1.25)), beta(s.features, T(0.5)), running_mean(s.features, T(0)),
        running_variance(s.features, T(1)), dgamma(s.features), dbeta(s.features) {
    std::uint64_t state = 0x9e3779b97f4a7c15ULL;
    const auto next = [&]() {  // a cheap LCG: filling 1.5 GB must not dominate the smoke run
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      return static_cast<T>(static_cast<double>(state >> 40) * 0x1.0p-24);
    };
    for (std::size_t i = 0; i < s.features; ++i)
      for (std::size_t j = 0; j < s.examples; ++j) {
        x(i, j) = T(static_cast<double>(i % 17)) + next();
        dy(i, j) = next() - T(0.5);
      }
    standardizer.fit(x.view());
  }
};

// One dataset per (type, shape), built on first use and kept: the benchmarks of a shape share it.
template <class T>
Dataset<T>& dataset(Shape s) {
  static std::map<std::pair<std::size_t, std::size_t>, std::unique_ptr<Dataset<T>>> sets;
  auto& slot = sets[{s.features, s.examples}];
  if (!slot) slot = std::make_unique<Dataset<T>>(s);
  return *slot;
}

enum class Op { memcpy_same_bytes, streaming_copy, streaming_read, fit, transform, bn_forward, bn_backward, ln_forward, ln_backward };

template <class T>
void run(benchmark::State& state, Op op, Shape shape, int threads) {
  auto& d = dataset<T>(shape);
  mlpkit::set_num_threads(threads);
  const std::size_t elements = shape.features * shape.examples;
  const std::size_t storage_bytes = d.x.storage_size() * sizeof(T);
  int passes = 2;
  // A backward needs the cache of its forward on the same data.
  if (op == Op::bn_backward)
    mlpkit::batch_norm_forward<T>(d.x.view(), d.gamma, d.beta, d.running_mean, d.running_variance, d.y.view(), d.bn_cache);
  if (op == Op::ln_backward) mlpkit::layer_norm_forward<T>(d.x.view(), d.gamma, d.beta, d.y.view(), d.ln_cache, mlpkit::LayerNormOptions<T>{T(1e-5)});
  for (auto _ : state) {
    switch (op) {
      case Op::memcpy_same_bytes: {
        // Split in `threads` contiguous halves, as the kernels split their work.
        const auto* src = reinterpret_cast<const char*>(d.x.data());
        auto* dst = reinterpret_cast<char*>(d.y.data());
#pragma omp parallel num_threads(threads)
        {
          const std::size_t t = static_cast<std::size_t>(omp_get_thread_num());
          const std::size_t n = static_cast<std::size_t>(omp_get_num_threads());
          const std::size_t begin = storage_bytes * t / n / 64 * 64, end = t + 1 == n ? storage_bytes : storage_bytes * (t + 1) / n / 64 * 64;
          std::memcpy(dst + begin, src + begin, end - begin);
        }
        break;
      }
      case Op::streaming_copy: {
        // 16-byte non-temporal stores (SSE2, every x86-64): the write bandwidth without reads for ownership.
        const auto* src = reinterpret_cast<const __m128i*>(d.x.data());
        auto* dst = reinterpret_cast<__m128i*>(d.y.data());
        const std::size_t vectors = storage_bytes / sizeof(__m128i);
#pragma omp parallel num_threads(threads)
        {
          const std::size_t t = static_cast<std::size_t>(omp_get_thread_num());
          const std::size_t n = static_cast<std::size_t>(omp_get_num_threads());
          const std::size_t begin = vectors * t / n / 4 * 4, end = t + 1 == n ? vectors : vectors * (t + 1) / n / 4 * 4;
          for (std::size_t i = begin; i < end; ++i) _mm_stream_si128(dst + i, _mm_load_si128(src + i));
          _mm_sfence();
        }
        break;
      }
      case Op::streaming_read:
        passes = 1;
        benchmark::DoNotOptimize(mlpkit::sum(d.x.data(), d.x.storage_size()));
        break;
      case Op::fit:
        passes = 1;
        d.standardizer.fit(d.x.view());
        break;
      case Op::transform:
        d.standardizer.transform(d.x.view(), d.y.view());
        break;
      case Op::bn_forward:
        mlpkit::batch_norm_forward<T>(d.x.view(), d.gamma, d.beta, d.running_mean, d.running_variance, d.y.view(), d.bn_cache);
        break;
      case Op::bn_backward:
        passes = 3;
        mlpkit::batch_norm_backward<T>(d.x.view(), d.dy.view(), d.gamma, d.bn_cache, d.dx.view(), d.dgamma, d.dbeta);
        break;
      case Op::ln_forward:
        mlpkit::layer_norm_forward<T>(d.x.view(), d.gamma, d.beta, d.y.view(), d.ln_cache, mlpkit::LayerNormOptions<T>{T(1e-5)});
        break;
      case Op::ln_backward:
        passes = 3;
        mlpkit::layer_norm_backward<T>(d.x.view(), d.dy.view(), d.gamma, d.ln_cache, d.dx.view(), d.dgamma, d.dbeta);
        break;
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(elements));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(elements * sizeof(T)) * passes);
}

template <class T>
void register_type(const char* type_name) {
  const std::vector<std::tuple<Op, const char*>> ops{
      {Op::memcpy_same_bytes, "memcpy"}, {Op::streaming_copy, "streaming_copy"},
      {Op::streaming_read, "streaming_read"},
      {Op::fit, "fit"},                  {Op::transform, "transform"},
      {Op::bn_forward, "batch_norm_forward"}, {Op::bn_backward, "batch_norm_backward"},
      {Op::ln_forward, "layer_norm_forward"}, {Op::ln_backward, "layer_norm_backward"}};
  for (Shape shape : {Shape{784, 60000}, Shape{256, 256}}) {
    for (const auto& [op, name] : ops)
      for (int threads : {1, 2}) {
        const std::string full = std::string(name) + "<" + type_name + ">/" + std::to_string(shape.features) + "x" +
                                 std::to_string(shape.examples) + "/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(full.c_str(), run<T>, op, shape, threads)
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond)
            // On a shared machine the fastest repetition is the one least disturbed by others.
            ->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); })
            ->ComputeStatistics("max", [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); });
      }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_type<float>("float");
  register_type<double>("double");
  benchmark::AddCustomContext("mlpkit_isa", std::string(mlpkit::isa_name(mlpkit::current_isa())));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
