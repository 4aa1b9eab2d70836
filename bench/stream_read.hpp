#pragma once
// The memory roof a bandwidth-bound benchmark is read against: a streaming read of `n` elements of
// two vectors (mlpkit::dot), timed in the benchmark's own process. bench_gemm times it beside the
// skinny products (the bytes of their larger operand), bench_mlp beside batch-1 predict (the bytes
// of the network's weights).
#include <benchmark/benchmark.h>

#include <cstddef>
#include <string>
#include <vector>

#include "mlpkit/vector.hpp"

namespace mlpkit_bench {

/** Times mlpkit::dot over two vectors of `n` elements of T; `counter` reports the bytes of both read per second. */
template <class T>
void time_stream_read(benchmark::State& state, std::size_t n, const std::string& counter) {
  const std::vector<T> x(n, T(0.5)), y(n, T(0.25));
  for (auto _ : state) benchmark::DoNotOptimize(mlpkit::dot(x.data(), y.data(), n));
  state.counters[counter] =
      benchmark::Counter(2.0 * double(n) * sizeof(T) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace mlpkit_bench
