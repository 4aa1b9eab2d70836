// The AVX-512 small-problem GEMM kernel, double: see avx512_gemm_small.cpp (float).
#include "kernels/gemm/gemm_small.hpp"
#include "runtime/dispatch.hpp"

namespace mlpkit::detail {

template void small_gemm_kernel<arch::avx512, double>(std::size_t, std::size_t, std::size_t, double,
                                                      const StridedOperand<double>&, const double*, std::size_t, double,
                                                      double*, std::size_t, const GemmTileEpilogue<double>*);

}  // namespace mlpkit::detail
