// Eigen comparators of bench_activations. Eigen picks its SIMD at compile time, so this file alone is
// compiled with -march=native (mlpkit picks its ISA at run time). It includes no mlpkit or benchmark
// header, so no inline function shared with the library or the rest of the bench is compiled for
// this machine's ISA; only Eigen's own templates are.
#include "bench_activations_eigen.hpp"

// Eigen's AVX-512 paths trip GCC 12's false "maybe uninitialized" on the intrinsics' undefined operands.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <Eigen/Core>

namespace bench_eigen {

template <class T>
void apply(Function f, const T* x, T* y, std::ptrdiff_t n) {
  using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
  const Eigen::Map<const Array> in(x, n);
  Eigen::Map<Array> out(y, n);
  switch (f) {
    case Function::tanh:
      out = in.tanh();
      return;
    case Function::logistic:
      out = in.logistic();
      return;
    case Function::exp:
      out = in.exp();
      return;
  }
}

template void apply<float>(Function, const float*, float*, std::ptrdiff_t);
template void apply<double>(Function, const double*, double*, std::ptrdiff_t);

}  // namespace bench_eigen
