// Explicit instantiations of every SIMD kernel for AVX-512 F/CD/DQ/BW, and nothing else.
// Compiled with this ISA's flags only (cmake/MlpkitCompileOptions.cmake), at -O2 or higher.
#include "kernels/vector/vector_simd.hpp"
#include "runtime/dispatch.hpp"

namespace mlpkit::detail {

using IsaArch = arch::avx512;

template const VectorKernels<float>& vector_kernels<IsaArch, float>();
template const VectorKernels<double>& vector_kernels<IsaArch, double>();

}  // namespace mlpkit::detail
