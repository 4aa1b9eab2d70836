#pragma once
// The small-problem GEMM kernel (AVX-512 only): the whole product on the calling thread, nothing
// packed, B's rows read in place, for problems whose arithmetic is a few hundred nanoseconds, where
// the direct path's set-up (work items, thread decisions, a partial tile's copy through a buffer)
// cost as much as the FMAs (16×32×16 float: 171 ns against libxsmm's 77).
// - Rows go in balanced tiles of at most MR rows (10 = 5 + 5, 100 = 9 × 8 + 4 × 7), each a kernel
//   specialized for its row count, so no tile computes rows it drops.
// - Whole slivers of the wide tile (Config's WMR × WNB) first, then the columns left, fewer than
//   WNR, in slivers of the MR × NB tile.
// - The last columns are a masked vector: loads and stores of C, B and pre_activation under an
//   AVX-512 mask instead of a scalar copy through a buffer.
// Every element is the same sum in the same order as in micro_tile (acc = Σ_p fma over p from 0,
// then alpha, beta·C, bias and activation through the same operations), so the small, direct and
// packed paths give the same bits and the choice among them never changes a result.
// Instantiated only in isa/avx512_gemm_small.cpp (float) and avx512_gemm_small_double.cpp, never in
// the translation unit of the packed kernel: there it changed GCC's code for the packed micro-tile
// (docs/tuning.md).
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <xsimd/xsimd.hpp>

#include "kernels/gemm/gemm_kernels.hpp"
#include "kernels/gemm/gemm_masked.hpp"
#include "kernels/gemm/gemm_microkernel.hpp"
#include "kernels/gemm/gemm_simd.hpp"

namespace mlpkit::detail::gemm_simd {

/**
 * Stores one R × (NB·W) tile from its accumulators: alpha (skipped when Scale is false, for alpha = 1:
 * x·1 is x in every bit), beta·C, bias and pre_activation, then the activation as a second pass.
 */
template <class Arch, class T, std::size_t R, std::size_t NB, bool Tail, bool Scale>
[[gnu::always_inline]] inline void store_small_tile(const Batch<Arch, T> (&acc)[R][NB], LaneMask<T> tail, T alpha,
                                                    T beta, T* c, std::size_t ldc,
                                                    const GemmTileEpilogue<T>* epilogue) {
  using B = Batch<Arch, T>;
  constexpr std::size_t W = B::size;
  // The store stays inline, straight from the registers (through an out-of-line store, 16×32×16
  // spent a fifth of its time there); the activation is a second pass over the stored tile.
  constexpr LaneMask<T> all = LaneMask<T>(~LaneMask<T>(0));
  const B va(alpha), vb(beta), one(T(1));
  const bool read_c = beta != T(0);
  // ReLU (the usual hidden layer) costs one compare and blend: applied in the store, by the lane
  // expression of activate_as (bitwise the second pass's result), instead of a pass over the tile.
  const bool relu = epilogue != nullptr && epilogue->activation == Activation::relu;
  const B zero(T(0));
  // C's rows through one pointer stepped by ldc (opaque, so GCC keeps it so): left to itself, GCC
  // computed every row's and vector's address apart, from offsets it kept on the stack.
  T* row = c;
#pragma GCC unroll 16
  for (std::size_t i = 0; i < R; ++i, row += ldc, simd::ops::opaque_pointer<Arch>(row))
#pragma GCC unroll 4
    for (std::size_t jb = 0; jb < NB; ++jb) {
      T* cp = row + jb * W;
      const LaneMask<T> m = Tail && jb + 1 == NB ? tail : all;
      B r = Scale ? acc[i][jb] * va : acc[i][jb];
      if (read_c) r = fmadd<Arch, T>(vb, masked_load<Arch, T>(cp, m), r);
      if (epilogue != nullptr) {
        if (epilogue->bias != nullptr) r = fmadd<Arch, T>(r, one, B(epilogue->bias[i]));
        if (epilogue->pre_activation != nullptr)
          masked_store<Arch, T>(epilogue->pre_activation + i * epilogue->ld_pre + jb * W, m, r);
        if (relu) r = xsimd::select(r < zero, zero, r);
      }
      masked_store<Arch, T>(cp, m, r);
    }
  if (epilogue != nullptr && !relu) {
    const std::size_t cols = NB * W - (Tail ? W - std::size_t(__builtin_popcount(unsigned(tail))) : 0);
    simd::activate_rows<Arch, T>(epilogue->activation, epilogue->accuracy, epilogue->leaky_slope, c, ldc, R, cols);
  }
}

/**
 * `count` tiles of C(R × (NB·W)), one below the other: rows at a + i·a_rs (element p at p·a_cs), B's
 * rows at b + p·ldb. With Tail, the last vector of columns holds only the lanes of `tail` (read and
 * written under that mask). One call runs every tile of a row count, so a tile costs no call.
 */
template <class Arch, class T, std::size_t R, std::size_t NB, bool Tail, bool Fused>
void small_tile(std::size_t count, std::size_t k, const T* a, std::size_t a_rs, std::size_t a_cs, const T* b,
                std::size_t ldb, LaneMask<T> tail, T alpha, T beta, T* c, std::size_t ldc,
                const GemmTileEpilogue<T>* epilogue) {
  using B = Batch<Arch, T>;
  constexpr std::size_t W = B::size;
  for (std::size_t t = 0; t < count; ++t) {
    // The tile's A and C from opaque copies of the running pointers: otherwise GCC strength-reduces
    // every row's (and vector's) address across the tiles into an induction variable of its own,
    // 16 of them spilled for an 8 × 2-vector tile and updated in memory at every tile.
    simd::ops::opaque_pointer<Arch>(a);
    simd::ops::opaque_pointer<Arch>(c);
    B acc[R][NB];
#pragma GCC unroll 16
    for (std::size_t i = 0; i < R; ++i)
#pragma GCC unroll 4
      for (std::size_t jb = 0; jb < NB; ++jb) acc[i][jb] = B(T(0));
    const T* rows[R];
#pragma GCC unroll 16
    for (std::size_t i = 0; i < R; ++i) rows[i] = a + i * a_rs;
    const auto step = [&](std::size_t p) __attribute__((always_inline)) {
      B bv[NB];
#pragma GCC unroll 4
      for (std::size_t jb = 0; jb < NB; ++jb)
        bv[jb] = Tail && jb + 1 == NB ? masked_load<Arch, T>(b + p * ldb + jb * W, tail)
                                      : B::load_unaligned(b + p * ldb + jb * W);
#pragma GCC unroll 16
      for (std::size_t i = 0; i < R; ++i) {
        const B ai(rows[i][p * a_cs]);
#pragma GCC unroll 4
        for (std::size_t jb = 0; jb < NB; ++jb) acc[i][jb] = fmadd<Arch, T>(ai, bv[jb], acc[i][jb]);
      }
    };
    // Two k steps an iteration where both steps' operands fit the registers beside the accumulators
    // (the loop's counter and pointer updates were 5 of 22 instructions a step of a 5-row tile); the
    // 8-row tile unrolled so spilled a broadcast in its K loop.
    constexpr bool two_steps = R * NB + 2 * (R + NB) <= 30;
    std::size_t p = 0;
    if constexpr (two_steps)
      for (; p + 2 <= k; p += 2) {
        step(p);
        step(p + 1);
      }
    for (; p < k; ++p) step(p);
    GemmTileEpilogue<T> e{};
    if constexpr (Fused) e = offset_epilogue<Arch>(*epilogue, t * R, 0);
    const GemmTileEpilogue<T>* te = Fused ? &e : nullptr;
    if (alpha == T(1))
      store_small_tile<Arch, T, R, NB, Tail, false>(acc, tail, alpha, beta, c, ldc, te);
    else
      store_small_tile<Arch, T, R, NB, Tail, true>(acc, tail, alpha, beta, c, ldc, te);
    a += R * a_rs;
    c += R * ldc;
  }
}

template <class T>
using SmallTileFn = void (*)(std::size_t, std::size_t, const T*, std::size_t, std::size_t, const T*, std::size_t,
                             LaneMask<T>, T, T, T*, std::size_t, const GemmTileEpilogue<T>*);

// The tile kernels of every row count 1..MR: [R − 1][0] whole NR columns, [1] NR columns with a
// masked last vector, [2] one masked vector, [3] NR columns and one more masked vector. Fused: with
// the epilogue (its pointer non-null), else without (the pointer ignored). Whole: only [R − 1][0].
template <class Arch, class T, std::size_t MR, std::size_t NB, bool Fused, bool Whole, std::size_t... I>
constexpr auto small_tiles(std::index_sequence<I...>) {
  if constexpr (Whole)
    return std::array<std::array<SmallTileFn<T>, 1>, MR>{{{&small_tile<Arch, T, I + 1, NB, false, Fused>}...}};
  else
    return std::array<std::array<SmallTileFn<T>, 4>, MR>{
        {{&small_tile<Arch, T, I + 1, NB, false, Fused>, &small_tile<Arch, T, I + 1, NB, true, Fused>,
          &small_tile<Arch, T, I + 1, 1, true, Fused>, &small_tile<Arch, T, I + 1, NB + 1, true, Fused>}...}};
}

/**
 * C = alpha·op(A)·B + beta·C (+ epilogue) on the calling thread: A unpacked (element (i, p) at
 * a.data[i·a.rs + p·a.cs]), B's rows contiguous at ldb. Column slivers of NR (the last one masked),
 * each over balanced row tiles: first the tiles one row longer, then the others, a call each. A
 * last sliver of at most one vector joins the sliver before it (NR + W columns at most, the extra
 * vector masked): its FMAs then share that sliver's broadcasts of A and keep (NB + 1)·R
 * accumulators in flight instead of R (100³ float spent 17 % of its time on its last 4 columns).
 * Whole: n is a multiple of NR, every sliver whole (the wide tile's kernel: small_gemm_kernel).
 */
template <class Arch, class T, std::size_t MR, std::size_t NB, bool Whole = false>
void small_kernel(std::size_t m, std::size_t n, std::size_t k, T alpha, const StridedOperand<T>& a, const T* b,
                  std::size_t ldb, T beta, T* c, std::size_t ldc, const GemmTileEpilogue<T>* epilogue) {
  constexpr std::size_t W = Batch<Arch, T>::size, NR = NB * W;
  // Tiles without the epilogue apart from those with it: in one function the epilogue's pointers
  // and tests took registers that the plain store then reloaded from the stack.
  static constexpr auto plain_tiles = small_tiles<Arch, T, MR, NB, false, Whole>(std::make_index_sequence<MR>());
  static constexpr auto fused_tiles = small_tiles<Arch, T, MR, NB, true, Whole>(std::make_index_sequence<MR>());
  const auto& tiles = epilogue != nullptr ? fused_tiles : plain_tiles;
  const std::size_t row_tiles = (m + MR - 1) / MR;
  // Whole tiles need no division (two of them cost ~5 % of a 16×32×16 call).
  const std::size_t base = m % MR == 0 ? MR : m / row_tiles, longer = m % MR == 0 ? 0 : m % row_tiles;
  for (std::size_t j = 0, cols = 0; j < n; j += cols) {
    const std::size_t left = n - j;
    const bool joined = !Whole && left > NR && left <= NR + W;
    cols = joined ? left : std::min(NR, left);
    const int variant = Whole || cols == NR ? 0 : joined ? 3 : cols > W ? 1 : 2;
    const std::size_t tail_lanes = cols - (cols - 1) / W * W;  // lanes of the last vector
    const auto tail = LaneMask<T>((std::uint32_t(1) << tail_lanes) - 1);
    const std::size_t done = longer * (base + 1);
    GemmTileEpilogue<T> first{}, rest{};
    if (epilogue != nullptr) {
      first = offset_epilogue<Arch>(*epilogue, 0, j);
      rest = offset_epilogue<Arch>(*epilogue, done, j);
    }
    if (longer > 0)
      tiles[base][variant](longer, k, a.data, a.rs, a.cs, b + j, ldb, tail, alpha, beta, c + j, ldc,
                           epilogue != nullptr ? &first : nullptr);
    tiles[base - 1][variant](row_tiles - longer, k, a.data + done * a.rs, a.rs, a.cs, b + j, ldb, tail, alpha, beta,
                             c + done * ldc + j, ldc, epilogue != nullptr ? &rest : nullptr);
  }
}

}  // namespace mlpkit::detail::gemm_simd

namespace mlpkit::detail {

template <class Arch, class T>
void small_gemm_kernel(std::size_t m, std::size_t n, std::size_t k, T alpha, const StridedOperand<T>& a, const T* b,
                       std::size_t ldb, T beta, T* c, std::size_t ldc, const GemmTileEpilogue<T>* epilogue) {
  using C = gemm_simd::Config<Arch, T>;
  if constexpr (C::has_wide) {
    // Whole slivers of the wide tile (WMR × WNB vectors: 4 loads of B and 5–6 broadcasts for 20–24
    // FMAs, where MR × NB takes 2 and 8 for 16), then the last columns, fewer than WNR, through
    // MR × NB and its masked tails. On an Ice Lake-SP guest, one thread, both alternating in one
    // process: 0.82 of the time at float 64×256×64, 0.85 at 64³, 0.76 at double 10×32×64.
    const std::size_t wide_n = n / C::WNR * C::WNR;
    if (wide_n > 0)
      gemm_simd::small_kernel<Arch, T, C::WMR, C::WNB, true>(m, wide_n, k, alpha, a, b, ldb, beta, c, ldc, epilogue);
    if (wide_n == n) return;
    GemmTileEpilogue<T> rest{};
    if (epilogue != nullptr) rest = offset_epilogue<Arch>(*epilogue, 0, wide_n);
    gemm_simd::small_kernel<Arch, T, C::MR, C::NB>(m, n - wide_n, k, alpha, a, b + wide_n, ldb, beta, c + wide_n, ldc,
                                                   epilogue != nullptr ? &rest : nullptr);
  } else {
    gemm_simd::small_kernel<Arch, T, C::MR, C::NB>(m, n, k, alpha, a, b, ldb, beta, c, ldc, epilogue);
  }
}

}  // namespace mlpkit::detail
