// Explicit instantiations of every SIMD kernel for AVX2 with FMA3, and nothing else.
// Compiled with this ISA's flags only (cmake/MlpkitCompileOptions.cmake), at -O2 or higher.
#define MLPKIT_ISA_ARCH arch::avx2
#include "kernels/isa/instantiate_kernels.inc"
