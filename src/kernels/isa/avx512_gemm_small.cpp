// The AVX-512 small-problem GEMM kernel, float (double: avx512_gemm_small_double.cpp, a translation
// unit of its own so that the two compile side by side), instantiated apart from avx512.cpp. In the
// packed kernel's translation unit it changed how GCC 12 compiled the packed micro-tile, although
// never called there (1040³ float, one thread: 172 → 77 GFLOP/s); here it leaves that code as it
// was. Compiled with the avx512 flags, like avx512.cpp (cmake/MlpkitCompileOptions.cmake), and
// reached only through the avx512 kernel table (gemm_kernels in gemm_simd.hpp).
#include "kernels/gemm/gemm_small.hpp"
#include "runtime/dispatch.hpp"

namespace mlpkit::detail {

template void small_gemm_kernel<arch::avx512, float>(std::size_t, std::size_t, std::size_t, float,
                                                     const StridedOperand<float>&, const float*, std::size_t, float,
                                                     float*, std::size_t, const GemmTileEpilogue<float>*);

}  // namespace mlpkit::detail
