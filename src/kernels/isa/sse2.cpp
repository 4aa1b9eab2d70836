// Explicit instantiations of every SIMD kernel for baseline x86-64 (SSE2), and nothing else.
// Compiled with this ISA's flags only (cmake/MlpkitCompileOptions.cmake), at -O2 or higher.
#include "kernels/vector/vector_simd.hpp"
#include "runtime/dispatch.hpp"

namespace mlpkit::detail {

using IsaArch = arch::sse2;

template const VectorKernels<float>& vector_kernels<IsaArch, float>();
template const VectorKernels<double>& vector_kernels<IsaArch, double>();

}  // namespace mlpkit::detail
