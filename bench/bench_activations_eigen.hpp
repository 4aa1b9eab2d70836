#pragma once
// The Eigen comparators of bench_activations, behind plain functions: their definitions live in
// bench_activations_eigen.cpp, the one source compiled with -march=native (see bench/CMakeLists.txt).
#include <cstddef>

namespace bench_eigen {

/** The Eigen array functions compared against mlpkit's activations. */
enum class Function { tanh, logistic, exp };

/** y[i] = f(x[i]) for i < n through Eigen arrays (unaligned maps over x and y). */
template <class T>
void apply(Function f, const T* x, T* y, std::ptrdiff_t n);

}  // namespace bench_eigen
