#pragma once
// GEMM kernels of one ISA: packing, the macro-kernel over packed panels and the direct kernel,
// with the register tile and cache blocks of gemm_config.hpp. Compiled per ISA through
// explicit instantiations in isa/<isa>.cpp; every function is a template over the arch tag.
#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernels/gemm/gemm_config.hpp"
#include "kernels/gemm/gemm_kernels.hpp"
#include "kernels/gemm/gemm_microkernel.hpp"
#include "kernels/gemm/gemm_skinny.hpp"
#include "kernels/gemm/gemm_transpose.hpp"
#include "runtime/dispatch.hpp"

namespace mlpkit::detail::gemm_simd {

// The ISA whose arch tag (dispatch.hpp) `Arch` is.
template <class Arch>
inline constexpr Isa isa_of = std::is_same_v<Arch, arch::avx512> ? Isa::avx512
                              : std::is_same_v<Arch, arch::avx2> ? Isa::avx2
                                                                 : Isa::sse2;

/**
 * The compile-time part of the configuration of one ISA and type (gemm_config.hpp): the register
 * tile, MR rows × NB vectors of columns, the same in every row of the ISA.
 */
template <class Arch, class T>
struct Config {
  static constexpr bool is_avx512 = simd::ops::is_avx512<Arch>;
  static constexpr GemmBlocking blocks = gemm_config(isa_of<Arch>, CpuVendor::any).template blocking<T>();
  static constexpr std::size_t W = Batch<Arch, T>::size;
  static constexpr std::size_t MR = blocks.mr;
  static constexpr std::size_t NR = blocks.nr;
  static constexpr std::size_t NB = NR / W;
  static_assert(NB * W == NR && blocks.narrow_nr == W, "the tile is whole vectors; the narrow tile one vector");
  // The wide tile, which the packed and direct paths take for a C it pads at most 1/16 more than
  // MR × NR does (gemm_driver.cpp, wide_tile). AVX-512: 4 vectors wide, 5 rows (float) or 6
  // (double): 20 or 24 accumulators take 4 loads and 5–6 broadcasts for 20–24 FMAs, where MR × NB
  // takes 2 and 8 for 16.
  // On an Ice Lake-SP guest, one thread, the same product run alternately with both tiles in one
  // process: 0.80–0.81 of the 8 × 2 tile's time at 256×64×784 (direct path), 0.85–0.86 at 256³,
  // 0.84–0.93 on the packed path's large products (docs/tuning.md). Float 6 × 4 is not used: under
  // -fsched-pressure GCC keeps part of its K loop on the stack, and it ran slower than 8 × 2.
  // Elsewhere MR × NB.
  static constexpr std::size_t WMR = is_avx512 ? (std::is_same_v<T, float> ? 5 : 6) : MR;
  static constexpr std::size_t WNB = is_avx512 ? 4 : NB;
  static constexpr std::size_t WNR = WNB * W;
  /// Whether the wide tile differs from MR × NB (where it does not, its entries share MR × NB's code).
  static constexpr bool has_wide = WNR != NR || WMR != MR;
  static_assert(isa_of<Arch> != Isa::sse2 || std::is_same_v<Arch, arch::sse2>, "an arch tag of dispatch.hpp");
};

// packed[p·MR + i] = A(i, p) for each MR-row panel; rows past mc are zero.
template <class Arch, class T, std::size_t MR>
void pack_a_panels(std::size_t mc, std::size_t kc, StridedOperand<T> a, T* packed) {
  for (std::size_t ir = 0; ir < mc; ir += MR, packed += MR * kc) {
    const std::size_t rows = std::min(MR, mc - ir);
    const T* src = a.data + ir * a.rs;
    if (a.rs == 1 && rows == MR) {
      // op(A) = Aᵀ: each p reads MR contiguous elements.
      for (std::size_t p = 0; p < kc; ++p)
        for (std::size_t i = 0; i < MR; ++i) packed[p * MR + i] = src[p * a.cs + i];
    } else if (a.cs == 1 && rows == MR) {
      // Rows are contiguous: read MR rows in step, write the panel column by column.
      const T* row[MR];
      for (std::size_t i = 0; i < MR; ++i) row[i] = src + i * a.rs;
      for (std::size_t p = 0; p < kc; ++p)
#pragma GCC unroll 32
        for (std::size_t i = 0; i < MR; ++i) packed[p * MR + i] = row[i][p];
    } else {
      for (std::size_t p = 0; p < kc; ++p)
        for (std::size_t i = 0; i < MR; ++i) packed[p * MR + i] = i < rows ? src[i * a.rs + p * a.cs] : T(0);
    }
  }
}

// packed[p·NR + j] = B(p, j) for each NR-column sliver; columns past nc are zero.
template <class Arch, class T, std::size_t NR>
void pack_b_slivers(std::size_t kc, std::size_t nc, StridedOperand<T> b, T* packed) {
  for (std::size_t jr = 0; jr < nc; jr += NR, packed += NR * kc) {
    const std::size_t cols = std::min(NR, nc - jr);
    const T* src = b.data + jr * b.cs;
    if (b.cs == 1 && cols == NR) {
      for (std::size_t p = 0; p < kc; ++p)
        for (std::size_t j = 0; j < NR; ++j) packed[p * NR + j] = src[p * b.rs + j];
    } else if (b.rs == 1) {
      // op(B) = Bᵀ: its stored rows (columns of op(B)) transposed into the sliver's rows; a partial
      // sliver (a narrow C, as A·Bᵀ at batch 9–16) zero-fills its last columns.
      transpose_into<Arch, T>(kc, cols, src, b.cs, packed, NR, NR);
    } else {
      for (std::size_t p = 0; p < kc; ++p)
        for (std::size_t j = 0; j < NR; ++j) packed[p * NR + j] = j < cols ? src[p * b.rs + j * b.cs] : T(0);
    }
  }
}

template <class Arch, class T, bool Wide>
void pack_a(std::size_t mc, std::size_t kc, StridedOperand<T> a, T* packed) {
  pack_a_panels<Arch, T, Wide ? Config<Arch, T>::WMR : Config<Arch, T>::MR>(mc, kc, a, packed);
}

template <class Arch, class T, bool Wide>
void pack_b(std::size_t kc, std::size_t nc, StridedOperand<T> b, T* packed) {
  pack_b_slivers<Arch, T, Wide ? Config<Arch, T>::WNR : Config<Arch, T>::NR>(kc, nc, b, packed);
}

template <class Arch, class T>
void copy_b_rows(std::size_t k, std::size_t n, StridedOperand<T> b, T* packed) {
  if (b.rs == 1) return transpose_into<Arch, T>(k, n, b.data, b.cs, packed, n, n);
  for (std::size_t p = 0; p < k; ++p)
    for (std::size_t j = 0; j < n; ++j) packed[p * n + j] = b.data[p * b.rs + j * b.cs];
}

// Loop order jr (B sliver stays in L1) then ir (A panels stream from L2), as in BLIS; the MR × NR
// tile, or the wide one.
template <class Arch, class T, bool Wide>
void macro_kernel(std::size_t mc, std::size_t nc, std::size_t kc, T alpha, const T* packed_a, const T* packed_b, T beta,
                  T* c, std::size_t ldc, const GemmTileEpilogue<T>* epilogue) {
  using C = Config<Arch, T>;
  constexpr std::size_t MR = Wide ? C::WMR : C::MR, NB = Wide ? C::WNB : C::NB, NR = NB * C::W;
  for (std::size_t jr = 0; jr < nc; jr += NR) {
    const T* b = packed_b + (jr / NR) * kc * NR;
    const std::size_t n_eff = std::min(NR, nc - jr);
    for (std::size_t ir = 0; ir < mc; ir += MR) {
      const T* a = packed_a + (ir / MR) * kc * MR;
      const std::size_t m_eff = std::min(MR, mc - ir);
      GemmTileEpilogue<T> e{};
      if (epilogue != nullptr) e = offset_epilogue<Arch>(*epilogue, ir, jr);
      micro_tile<Arch, T, MR, NB, true, true>(kc, a, 1, MR, b, NR, alpha, beta, c + ir * ldc + jr, ldc, m_eff, n_eff,
                                              epilogue != nullptr ? &e : nullptr);
      if (epilogue != nullptr) activate_tile<Arch>(e, c + ir * ldc + jr, ldc, m_eff, n_eff);
    }
  }
}

// MR rows × NB vectors of columns: the ISA's MR × NB; MR × 1 for a C of at most one vector's width
// (batch 9–16 in float on avx512), where the MR × NB tile would spend half its FMAs on padding; or
// the wide WMR × WNB.
template <class Arch, class T, std::size_t MR, std::size_t NB>
void direct_kernel(std::size_t m, std::size_t nc, std::size_t k, T alpha, StridedOperand<T> a, const T* b,
                   std::size_t b_rs, bool b_packed, T beta, T* c, std::size_t ldc,
                   const GemmTileEpilogue<T>* epilogue, bool prefetch_next) {
  using C = Config<Arch, T>;
  constexpr std::size_t NR = NB * C::W;
  for (std::size_t ir = 0; ir < m; ir += MR) {
    const std::size_t m_eff = std::min(MR, m - ir);
    GemmTileEpilogue<T> e{};
    if (epilogue != nullptr) e = offset_epilogue<Arch>(*epilogue, ir, 0);
    const GemmTileEpilogue<T>* tile_epilogue = epilogue != nullptr ? &e : nullptr;
    if (b_packed && b_rs == NR)
      micro_tile<Arch, T, MR, NB, false, true>(k, a.data + ir * a.rs, a.rs, a.cs, b, NR, alpha, beta, c + ir * ldc,
                                               ldc, m_eff, nc, tile_epilogue, prefetch_next);
    else
      micro_tile<Arch, T, MR, NB, false, false>(k, a.data + ir * a.rs, a.rs, a.cs, b, b_rs, alpha, beta, c + ir * ldc,
                                                ldc, m_eff, nc, tile_epilogue, prefetch_next);
    if (epilogue != nullptr) activate_tile<Arch>(e, c + ir * ldc, ldc, m_eff, nc);
  }
}

}  // namespace mlpkit::detail::gemm_simd

namespace mlpkit::detail {

namespace gemm_simd {
// The small kernel lives in its own translation unit (isa/<isa>_gemm_small.cpp): only its address
// is taken here, so the packed kernel's code is compiled as if it did not exist.
template <class Arch, class T>
constexpr auto small_kernel_of() -> decltype(GemmKernels<T>::small_kernel) {
  if constexpr (Config<Arch, T>::is_avx512)
    return &small_gemm_kernel<Arch, T>;
  else
    return nullptr;
}
}  // namespace gemm_simd

template <class Arch, class T>
const GemmKernels<T>& gemm_kernels() {
  static_assert(Arch::supported(), "compile this ISA's source with its flags (cmake/MlpkitCompileOptions.cmake)");
  using C = gemm_simd::Config<Arch, T>;
  // Both rows chosen at compile time: a run-time call of gemm_config would be a weak symbol of every
  // ISA's object in an unoptimized build (tests/check_isa_symbols.cmake).
  static constexpr GemmBlocking amd = gemm_config(gemm_simd::isa_of<Arch>, CpuVendor::amd).template blocking<T>();
  static constexpr GemmBlocking other = gemm_config(gemm_simd::isa_of<Arch>, CpuVendor::any).template blocking<T>();
  // Where the wide tile is MR × NR itself, entries [1] are entries [0] (no second copy of the code).
  static const GemmKernels<T> table{
      cpu_vendor() == CpuVendor::amd ? amd : other,
      C::WMR,
      C::WNR,
      {&gemm_simd::pack_a<Arch, T, false>, &gemm_simd::pack_a<Arch, T, C::has_wide>},
      {&gemm_simd::pack_b<Arch, T, false>, &gemm_simd::pack_b<Arch, T, C::has_wide>},
      &gemm_simd::copy_b_rows<Arch, T>,
      {&gemm_simd::macro_kernel<Arch, T, false>, &gemm_simd::macro_kernel<Arch, T, C::has_wide>},
      {&gemm_simd::direct_kernel<Arch, T, C::MR, C::NB>, &gemm_simd::direct_kernel<Arch, T, C::WMR, C::WNB>},
      &gemm_simd::direct_kernel<Arch, T, C::MR, 1>,
      &gemm_simd::skinny_kernel<Arch, T>,
      gemm_simd::small_kernel_of<Arch, T>()};
  return table;
}

}  // namespace mlpkit::detail
