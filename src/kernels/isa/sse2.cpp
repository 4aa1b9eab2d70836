// Explicit instantiations of every SIMD kernel for baseline x86-64 (SSE2), and nothing else.
// Compiled with this ISA's flags only (cmake/MlpkitCompileOptions.cmake), at -O2 or higher.
#define MLPKIT_ISA_ARCH arch::sse2
#include "kernels/isa/instantiate_kernels.inc"
