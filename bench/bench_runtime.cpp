// Level-1 kernels per ISA: the dispatch mechanism at work. Each kernel runs under every ISA this
// machine supports, beside a plain scalar loop, so the SIMD gain reads off one run.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

#include "kernels/vector/vector_kernels.hpp"
#include "mlpkit/mlpkit.hpp"
#include "runtime/dispatch.hpp"

namespace {

// One level-1 kernel, single-threaded under `isa`: op(x, y, n) on two n-element vectors, which per
// element move `arrays` arrays' worth of bytes.
template <class T, class Op>
void run_level1(benchmark::State& state, mlpkit::Isa isa, int arrays, Op&& op) {
  mlpkit::detail::ScopedIsa forced(isa);
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<T> x(n, T(1.5)), y(n, T(0.5));
  mlpkit::set_num_threads(1);
  for (auto _ : state) op(x.data(), y.data(), n);
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * state.range(0) * arrays * static_cast<std::int64_t>(sizeof(T)));
}

template <class T>
void BM_dot(benchmark::State& state, mlpkit::Isa isa) {
  run_level1<T>(state, isa, 2, [](const T* x, const T* y, std::size_t n) { benchmark::DoNotOptimize(mlpkit::dot(x, y, n)); });
}

template <class T>
void BM_axpy(benchmark::State& state, mlpkit::Isa isa) {
  run_level1<T>(state, isa, 3, [](const T* x, T* y, std::size_t n) {
    mlpkit::axpy(T(1e-6), x, y, n);
    benchmark::ClobberMemory();
  });
}

template <class T>
void BM_dot_scalar_reference(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<T> x(n, T(1.5)), y(n, T(0.5));
  const auto& ref = mlpkit::detail::vector_kernels_ref<T>();
  for (auto _ : state) benchmark::DoNotOptimize(ref.dot(x.data(), y.data(), n));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void register_all() {
  for (mlpkit::Isa isa : mlpkit::supported_isas()) {
    const std::string suffix = std::string("/isa:") + std::string(mlpkit::isa_name(isa));
    benchmark::RegisterBenchmark(("dot<float>" + suffix).c_str(), BM_dot<float>, isa)->Arg(4096)->Arg(1 << 20);
    benchmark::RegisterBenchmark(("dot<double>" + suffix).c_str(), BM_dot<double>, isa)->Arg(4096)->Arg(1 << 20);
    benchmark::RegisterBenchmark(("axpy<float>" + suffix).c_str(), BM_axpy<float>, isa)->Arg(4096)->Arg(1 << 20);
  }
  benchmark::RegisterBenchmark("dot<float>/scalar_reference", BM_dot_scalar_reference<float>)->Arg(4096);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  benchmark::AddCustomContext("mlpkit_isa", std::string(mlpkit::isa_name(mlpkit::current_isa())));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
