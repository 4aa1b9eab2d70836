// Explicit instantiations of every SIMD kernel for AVX-512 F/CD/DQ/BW, and nothing else.
// Compiled with this ISA's flags only (cmake/MlpkitCompileOptions.cmake), at -O2 or higher.
#define MLPKIT_ISA_ARCH arch::avx512
#include "kernels/isa/instantiate_kernels.inc"
