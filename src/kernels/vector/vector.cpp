// Public level-1 API: argument checks, chunked multithreading, dispatch.
#include <vector>

#include "kernels/vector/vector_kernels.hpp"
#include "mlpkit/vector.hpp"
#include "runtime/checks.hpp"
#include "runtime/dispatch.hpp"
#include "runtime/threads.hpp"

namespace mlpkit {
namespace detail {

MLPKIT_DEFINE_ACTIVE_KERNELS(VectorKernels, vector)

namespace {

std::size_t chunk_count(std::size_t n) { return (n + kReductionChunk - 1) / kReductionChunk; }

// Reduces chunk by chunk (in parallel when long) and adds the partial results in chunk order.
template <class T, class ChunkReduce>
T chunked_reduce(std::size_t n, ChunkReduce&& reduce_chunk) {
  const std::size_t chunks = chunk_count(n);
  if (chunks <= 1) return reduce_chunk(0, n);
  std::vector<T> partial(chunks);
  parallel_for(chunks, 2.0 * kReductionChunk, [&](std::size_t c) {
    const std::size_t begin = c * kReductionChunk;
    partial[c] = reduce_chunk(begin, std::min(n, begin + kReductionChunk) - begin);
  });
  T total = 0;
  for (T p : partial) total += p;
  return total;
}

}  // namespace
}  // namespace detail

template <class T>
T dot(const T* x, const T* y, std::size_t n) {
  detail::check_array("dot", "x", x, n);
  detail::check_array("dot", "y", y, n);
  const auto& k = detail::active_vector_kernels<T>();
  return detail::chunked_reduce<T>(n, [&](std::size_t begin, std::size_t count) { return k.dot(x + begin, y + begin, count); });
}

template <class T>
void axpy(T alpha, const T* x, T* y, std::size_t n) {
  detail::check_array("axpy", "x", x, n);
  detail::check_array("axpy", "y", y, n);
  // Chunks run in parallel: y = x (in place) is elementwise and safe, a shifted overlap is not.
  detail::check_alias("axpy", "y", detail::array_view(y, n), "x", detail::array_view(x, n));
  const auto& k = detail::active_vector_kernels<T>();
  const std::size_t chunks = detail::chunk_count(n);
  detail::parallel_for(chunks, 2.0 * detail::kReductionChunk, [&](std::size_t c) {
    const std::size_t begin = c * detail::kReductionChunk;
    k.axpy(alpha, x + begin, y + begin, std::min(n, begin + detail::kReductionChunk) - begin);
  });
}

template <class T>
T sum(const T* x, std::size_t n) {
  detail::check_array("sum", "x", x, n);
  const auto& k = detail::active_vector_kernels<T>();
  return detail::chunked_reduce<T>(n, [&](std::size_t begin, std::size_t count) { return k.sum(x + begin, count); });
}

template <class T>
T dot(std::span<const T> x, std::span<const T> y) {
  if (x.size() != y.size()) detail::fail("dot", "x has ", x.size(), " elements but y has ", y.size());
  return dot(x.data(), y.data(), x.size());
}

template <class T>
void axpy(T alpha, std::span<const T> x, std::span<T> y) {
  if (x.size() != y.size()) detail::fail("axpy", "x has ", x.size(), " elements but y has ", y.size());
  axpy(alpha, x.data(), y.data(), x.size());
}

template <class T>
T sum(std::span<const T> x) {
  return sum(x.data(), x.size());
}

template float dot<float>(std::span<const float>, std::span<const float>);
template double dot<double>(std::span<const double>, std::span<const double>);
template void axpy<float>(float, std::span<const float>, std::span<float>);
template void axpy<double>(double, std::span<const double>, std::span<double>);
template float sum<float>(std::span<const float>);
template double sum<double>(std::span<const double>);
template float dot<float>(const float*, const float*, std::size_t);
template double dot<double>(const double*, const double*, std::size_t);
template void axpy<float>(float, const float*, float*, std::size_t);
template void axpy<double>(double, const double*, double*, std::size_t);
template float sum<float>(const float*, std::size_t);
template double sum<double>(const double*, std::size_t);
template const detail::VectorKernels<float>& detail::active_vector_kernels<float>();
template const detail::VectorKernels<double>& detail::active_vector_kernels<double>();

}  // namespace mlpkit
