// Scalar reference level-1 kernels: the simple path every SIMD kernel is tested against.
#include "kernels/vector/vector_kernels.hpp"

namespace mlpkit::detail {
namespace {

template <class T>
using Accumulator = double;  // float inputs are accumulated in double, double inputs too

template <class T>
T dot_ref(const T* x, const T* y, std::size_t n) {
  Accumulator<T> s = 0;
  for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * static_cast<double>(y[i]);
  return static_cast<T>(s);
}

template <class T>
void axpy_ref(T alpha, const T* x, T* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

template <class T>
T sum_ref(const T* x, std::size_t n) {
  Accumulator<T> s = 0;
  for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(x[i]);
  return static_cast<T>(s);
}

template <class T>
bool signs_differ_ref(const T* x, const T* y, std::size_t rows, std::size_t cols, std::size_t ld) {
  bool differ = false;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t i = 0; i < cols; ++i) differ |= (x[r * ld + i] > T(0)) != (y[r * ld + i] > T(0));
  return differ;
}

}  // namespace

template <class T>
const VectorKernels<T>& vector_kernels_ref() {
  static constexpr VectorKernels<T> table{&dot_ref<T>, &axpy_ref<T>, &sum_ref<T>, &signs_differ_ref<T>};
  return table;
}

template const VectorKernels<float>& vector_kernels_ref<float>();
template const VectorKernels<double>& vector_kernels_ref<double>();

}  // namespace mlpkit::detail
