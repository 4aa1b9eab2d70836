#pragma once
// GEMM kernels of one ISA: packing, the macro-kernel over packed panels and the direct kernel,
// with the register tile and cache blocks chosen per ISA and type. Compiled per ISA through
// explicit instantiations in isa/<isa>.cpp; every function is a template over the arch tag.
#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernels/gemm/gemm_kernels.hpp"
#include "kernels/gemm/gemm_microkernel.hpp"
#include "kernels/gemm/gemm_skinny.hpp"
#include "runtime/dispatch.hpp"

namespace mlpkit::detail::gemm_simd {

/**
 * Register tile (MR rows × NB batches) and cache blocks of one ISA and type, measured on Zen 4
 * (single core, CPU time, beside OpenBLAS; BLIS's zen3 6×16 and 144/256/4080 were the start).
 * - avx512 (Zen 4 runs it on a 256-bit datapath): 8 × 2 zmm (16 accumulators of 32) beat 6×32,
 *   10×32, 12×32, 14×32, 24×16, 28×16, 8×48, 6×48 and 4×64 by 3–25 % in float; in double 12×16,
 *   16×8, 6×16 and 8×24 (and KC 128/192/384, MC 96–192) were no better. Sizes that are
 *   multiples of 8 also avoid partial tiles.
 * - sse2 / avx2: 6 × 2 vectors (12 accumulators of 16 registers).
 * KC = 256 makes a KC × NR sliver of B 32 KiB for avx512 (it measured better than 128 or 192 all
 * the same: the A panel streams from L2 alongside); MC = 24 panels keeps MC × KC of A well inside
 * the 1 MiB L2; NC = 1024 bytes of columns makes the KC × NC panel of B a work item packs 256 KiB, in
 * L2 beside the A block. Double takes 4096 bytes (a 1 MiB panel): A, twice float's bytes, is then
 * streamed from L3 a quarter as often (one thread, 1024³ 49.2 → 52.4 GFLOP/s, 2048³ 48.3 → 52.1;
 * two threads 1024³ 95 → 104, 2048³ 96 → 104); float gained nothing from it. Up to 1024 rows
 * (avx512) and a 1024 inner dimension the direct path (A unpacked, one unbroken K loop per tile)
 * beat the packed path on every avx512 shape measured, one and two threads:
 * 256×64×784 float 101 → 115 GFLOP/s (1 thread) and 145 → 226 (2 threads), 1024×256×1024 106 → 114;
 * the hardware prefetchers follow its MR row streams of A (the kernel fetches the next row tile itself,
 * see accumulate), and no packing pass or barrier is paid.
 * With the 6-row avx2 tile the direct path loses beyond 256 rows (1024×256×1024: 100 → 92), so
 * there it stops at 256 rows, but still takes k up to 1024 (256×64×784: 88 → 111). In double on
 * avx512 it reads A again for every 16-column sliver, and past 256 columns packing wins (one
 * thread: 512³ 50.9 → 52.8, 1024³ 50.3 → 52.0 GFLOP/s) while 1024×256×1024 keeps the direct path.
 *
 * The direct path packs each k × NR sliver of B once and runs every row tile over it; only up to
 * DIRECT_IN_PLACE_MAX_M rows (where a sliver serves at most 4–6 tiles and its packing is not repaid)
 * does it read B's rows in place. B's rows at a stride of 1 KiB or more fall into a few L1 sets, so
 * an in-place sliver never stays in L1 and streams from L2 for every tile. On a 16-core Xeon (Emerald
 * Rapids, 2 MiB L2), one thread, in place → packed: sgemm 1024³ 41.7 → 141 GFLOP/s, 512³ 99.9 → 151,
 * 256³ 0.78 → 0.95 of OpenBLAS, dgemm 1024×256×1024 32.2 → 60.5; with avx2 on Zen 4 packed wins too
 * (sgemm 256×1024×256 64 → 102, dgemm 256³ 29.7 → 49.5). Zen 4's L2 keeps up with the avx512 tile,
 * so there B stays in place for the whole direct path (gemm_kernels): packing cost 3–6 % on one
 * thread (64×256×64 float 107.5 → 101.2) and up to 12 % on two, and won only at 1024³ (+1–14 %).
 */
template <class Arch, class T>
struct Config {
  static constexpr bool is_avx512 = simd::ops::is_avx512<Arch>;
  static constexpr std::size_t W = Batch<Arch, T>::size;
  static constexpr std::size_t MR = is_avx512 ? 8 : 6;
  static constexpr std::size_t NB = 2;
  static constexpr std::size_t NR = NB * W;
  static constexpr std::size_t KC = 256;
  static constexpr std::size_t MC = MR * 24;
  static constexpr std::size_t NC_BYTES = std::is_same_v<T, double> ? 4096 : 1024;
  static constexpr std::size_t NC = std::max<std::size_t>(NC_BYTES / sizeof(T) / NR, 1) * NR;
  static constexpr std::size_t DIRECT_MAX_M = is_avx512 ? 1024 : 256;
  static constexpr std::size_t DIRECT_MAX_N = is_avx512 && std::is_same_v<T, double> ? 256 : ~std::size_t{0};
  static constexpr std::size_t DIRECT_MAX_K = 4 * KC;
  static constexpr std::size_t DIRECT_IN_PLACE_MAX_M = 32;
  // The skinny kernel up to 8 columns: at 16 the one-vector direct tile beat it (256×16×256 float
  // 21 µs against 29), at 8 it beat the tile 2× (256×8×256: 11 µs against 21).
  static constexpr std::size_t SKINNY_MAX = 8;
  // Aᵀ·B takes the skinny kernel's axpy form (8 columns a pass) up to 16 columns on avx512 where the
  // small kernel does not take it: the direct tile read Aᵀ's rows 4 KiB apart, one line twice per
  // 16 rows (1024×16×1024 float, one thread: 428 → 319 µs; at 64×16×64 and 256×16×256 the small
  // kernel stays 1.5–1.9× faster). Not measured with the avx2 tile.
  static constexpr std::size_t SKINNY_AXPY_MAX = is_avx512 ? 16 : SKINNY_MAX;
  // The small kernel (avx512) up to m·n·k = 2^20 (101³): there every tile's operands are in L1/L2
  // and the direct path's set-up is a large part of the call.
  static constexpr std::size_t SMALL_MAX_WORK = is_avx512 ? std::size_t(1) << 20 : 0;
  // Intel's avx512 cores (a 16-core Xeon, Emerald Rapids, 2 MiB L2; device sweeps, one thread, each
  // variant beside OpenBLAS in one run): double takes a 48-row A block (96 KiB) beside its 1 MiB
  // panel of B (MC 192 → 48: 1024³ 0.92 → 1.00× OpenBLAS, 2048³ 0.81 → 0.92×, 512³ unchanged; float
  // showed no consistent winner among 48, 96 and 192 rows), and float takes the direct path only up
  // to 256 columns, as double does, since the path reads unpacked A again for every sliver (packed
  // instead: 1024³ 0.85 → 1.03×, 512³ 0.87 → 1.22× in one sweep, 0.99 → 0.92× at 512³ in another).
  static constexpr std::size_t MC_INTEL = std::is_same_v<T, double> ? MR * 6 : MC;
  static constexpr std::size_t DIRECT_MAX_N_INTEL = 256;  // used with the avx512 tile only
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
      // op(B) = Bᵀ: walk each stored row (one column of op(B)) contiguously; a partial sliver (a
      // narrow C, as A·Bᵀ at batch 9–16) zero-fills its last columns.
      for (std::size_t j = 0; j < NR; ++j)
        for (std::size_t p = 0; p < kc; ++p) packed[p * NR + j] = j < cols ? src[j * b.cs + p] : T(0);
    } else {
      for (std::size_t p = 0; p < kc; ++p)
        for (std::size_t j = 0; j < NR; ++j) packed[p * NR + j] = j < cols ? src[p * b.rs + j * b.cs] : T(0);
    }
  }
}

template <class Arch, class T>
void pack_a(std::size_t mc, std::size_t kc, StridedOperand<T> a, T* packed) {
  pack_a_panels<Arch, T, Config<Arch, T>::MR>(mc, kc, a, packed);
}

template <class Arch, class T>
void pack_b(std::size_t kc, std::size_t nc, StridedOperand<T> b, T* packed) {
  pack_b_slivers<Arch, T, Config<Arch, T>::NR>(kc, nc, b, packed);
}

// The epilogue of the tile at (i, j) of a block whose epilogue starts at `base`. Templated on Arch
// although it does not use it: a helper on T alone would be one weak symbol for all ISA objects.
template <class Arch, class T>
GemmTileEpilogue<T> offset_epilogue(const GemmTileEpilogue<T>& base, std::size_t i, std::size_t j) {
  GemmTileEpilogue<T> e = base;
  if (e.bias != nullptr) e.bias += i;
  if (e.pre_activation != nullptr) e.pre_activation += i * e.ld_pre + j;
  return e;
}

// Loop order jr (B sliver stays in L1) then ir (A panels stream from L2), as in BLIS.
template <class Arch, class T>
void macro_kernel(std::size_t mc, std::size_t nc, std::size_t kc, T alpha, const T* packed_a, const T* packed_b, T beta,
                  T* c, std::size_t ldc, const GemmTileEpilogue<T>* epilogue) {
  using C = Config<Arch, T>;
  for (std::size_t jr = 0; jr < nc; jr += C::NR) {
    const T* b = packed_b + (jr / C::NR) * kc * C::NR;
    const std::size_t n_eff = std::min(C::NR, nc - jr);
    for (std::size_t ir = 0; ir < mc; ir += C::MR) {
      const T* a = packed_a + (ir / C::MR) * kc * C::MR;
      const std::size_t m_eff = std::min(C::MR, mc - ir);
      GemmTileEpilogue<T> e{};
      if (epilogue != nullptr) e = offset_epilogue<Arch>(*epilogue, ir, jr);
      micro_tile<Arch, T, C::MR, C::NB, true, true>(kc, a, 1, C::MR, b, C::NR, alpha, beta, c + ir * ldc + jr, ldc,
                                                    m_eff, n_eff, epilogue != nullptr ? &e : nullptr);
    }
  }
}

// NB vectors of columns: the ISA's NB, or 1 for a C of at most one vector's width (batch 9–16 in
// float on avx512), where the wide tile would spend half its FMAs on padding.
template <class Arch, class T, std::size_t NB>
void direct_kernel(std::size_t m, std::size_t nc, std::size_t k, T alpha, StridedOperand<T> a, const T* b,
                   std::size_t b_rs, bool b_packed, T beta, T* c, std::size_t ldc,
                   const GemmTileEpilogue<T>* epilogue) {
  using C = Config<Arch, T>;
  constexpr std::size_t NR = NB * C::W;
  for (std::size_t ir = 0; ir < m; ir += C::MR) {
    const std::size_t m_eff = std::min(C::MR, m - ir);
    GemmTileEpilogue<T> e{};
    if (epilogue != nullptr) e = offset_epilogue<Arch>(*epilogue, ir, 0);
    const GemmTileEpilogue<T>* tile_epilogue = epilogue != nullptr ? &e : nullptr;
    if (b_packed && b_rs == NR)
      micro_tile<Arch, T, C::MR, NB, false, true>(k, a.data + ir * a.rs, a.rs, a.cs, b, NR, alpha, beta,
                                                  c + ir * ldc, ldc, m_eff, nc, tile_epilogue);
    else
      micro_tile<Arch, T, C::MR, NB, false, false>(k, a.data + ir * a.rs, a.rs, a.cs, b, b_rs, alpha, beta,
                                                   c + ir * ldc, ldc, m_eff, nc, tile_epilogue);
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
  // Zen 4 streams B's rows from L2 fast enough that reading them in place beats packing with the
  // avx512 tile (Config); elsewhere the packed sliver is the default. Other vendors' avx512 cores take
  // Config's Intel blocks.
  static const GemmKernels<T> table = [] {
    const bool amd = cpu_is_amd(), intel_avx512 = C::is_avx512 && !amd;
    return GemmKernels<T>{
        GemmBlocking{C::MR, C::NR, intel_avx512 ? C::MC_INTEL : C::MC, C::KC, C::NC, C::DIRECT_MAX_M,
                     intel_avx512 ? C::DIRECT_MAX_N_INTEL : C::DIRECT_MAX_N, C::DIRECT_MAX_K,
                     C::is_avx512 && amd ? C::DIRECT_MAX_M : C::DIRECT_IN_PLACE_MAX_M, C::SKINNY_MAX,
                     C::SKINNY_AXPY_MAX, C::W, C::SMALL_MAX_WORK},
        &gemm_simd::pack_a<Arch, T>, &gemm_simd::pack_b<Arch, T>, &gemm_simd::macro_kernel<Arch, T>,
        &gemm_simd::direct_kernel<Arch, T, C::NB>, &gemm_simd::direct_kernel<Arch, T, 1>,
        &gemm_simd::skinny_kernel<Arch, T>, gemm_simd::small_kernel_of<Arch, T>()};
  }();
  return table;
}

}  // namespace mlpkit::detail
