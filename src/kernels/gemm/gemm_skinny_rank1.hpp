#pragma once
// The skinny kernel's rank-1 form on AVX-512, for a long operand whose columns run along the long
// dimension (Aᵀ·B at batch 9–16 in float, 5–16 in double) and a short operand with contiguous rows:
// each k step adds x(l, p)·y(p, ·) — one broadcast element of the long operand times the short row
// p, NV vectors of all short columns (NV = 2 for double past 8 columns, else 1) — to row l's
// accumulators, which are row l of the result. The long operand is read once, row p after row p, in
// panels of kRank1Panel k steps swept over all the rows of a chunk; between panels the partial sums
// wait in z (one row of NV vectors per long element), and the store writes whole rows of C. Each
// element's sum runs over p in order from p = 0 whatever the tile, the panel or the split, so any
// thread count gives the same bits.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernels/gemm/gemm_kernels.hpp"
#include "kernels/gemm/gemm_microkernel.hpp"
#include "kernels/gemm/gemm_skinny_store.hpp"

namespace mlpkit::detail::gemm_simd {

// Long-dimension elements per z buffer (16 KiB at most: 256 rows of 16 floats, 128 of 16 doubles).
// Variable templates over Arch too: one over T alone, odr-used, would be a weak symbol shared by the
// ISA objects (tests/check_isa_symbols.cmake).
template <class Arch, class T>
constexpr std::size_t kRank1Chunk = 1024 / sizeof(T);
// k steps per sweep over the chunk's rows: the partial sums go through z once per panel.
constexpr std::size_t kRank1Panel = 64;
// Bytes of a row of the long operand ahead of a tile that it prefetches (a tile's row reads one
// line per k step, each in another page, where the hardware prefetchers do not follow).
constexpr std::size_t kRank1AheadBytes = 128;
// Fewest short columns the rank-1 form takes: more than half of its vectors' lanes (float, 16
// lanes: 9; double, 8 lanes: 5).
template <class Arch, class T>
constexpr std::size_t kRank1MinShort = std::is_same_v<T, float> ? 9 : 5;

// Lane masks of the short columns in each of the NV vectors of a row.
template <class T, std::size_t NV>
struct Rank1Cols {
  std::uint32_t mask[NV];
};

template <class Arch, class T, std::size_t NV>
Rank1Cols<T, NV> rank1_cols(std::size_t short_n) {
  constexpr std::size_t W = Batch<Arch, T>::size;
  Rank1Cols<T, NV> c{};
  for (std::size_t v = 0; v < NV; ++v) {
    const std::size_t n = short_n > v * W ? std::min(W, short_n - v * W) : 0;
    c.mask[v] = (std::uint32_t(1) << n) - 1;
  }
  return c;
}

// z rows [0, R) (NV·W elements each) += Σ_{p < kb} x[p·xs + r]·y[p·ys + ·], from zero when `first`.
template <class Arch, class T, std::size_t R, std::size_t NV>
[[gnu::always_inline]] inline void rank1_tile(const T* x, std::size_t xs, const T* y, std::size_t ys,
                                              const Rank1Cols<T, NV>& cols, std::size_t kb, bool first, T* z) {
  using B = Batch<Arch, T>;
  constexpr std::size_t W = B::size;
  B acc[R][NV];
#pragma GCC unroll 16
  for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (std::size_t v = 0; v < NV; ++v) acc[r][v] = first ? B(T(0)) : B::load_aligned(z + (r * NV + v) * W);
  for (std::size_t p = 0; p < kb; ++p) {
    B b[NV];
#pragma GCC unroll 2
    for (std::size_t v = 0; v < NV; ++v) b[v] = masked_load<Arch, T>(y + p * ys + v * W, LaneMask<T>(cols.mask[v]));
    const T* xp = x + p * xs;
#pragma GCC unroll 2
    for (std::size_t line = 0; line < R * sizeof(T); line += 64)
      _mm_prefetch(reinterpret_cast<const char*>(xp) + kRank1AheadBytes + line, _MM_HINT_T0);
#pragma GCC unroll 16
    for (std::size_t r = 0; r < R; ++r) {
      const B xr(xp[r]);
#pragma GCC unroll 2
      for (std::size_t v = 0; v < NV; ++v) acc[r][v] = fmadd<Arch, T>(xr, b[v], acc[r][v]);
    }
  }
#pragma GCC unroll 16
  for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (std::size_t v = 0; v < NV; ++v) acc[r][v].store_aligned(z + (r * NV + v) * W);
}

// z (row l at z + NV·W·l) = the sums of the chunk's `len` rows from l0, panel after panel, in
// tiles of 16 / NV rows (16 accumulators).
template <class Arch, class T, std::size_t NV>
void rank1_sums(const SkinnyProblem<T>& pr, std::size_t l0, std::size_t len, T* z) {
  constexpr std::size_t S = NV * Batch<Arch, T>::size, R = 16 / NV;
  const auto cols = rank1_cols<Arch, T, NV>(pr.short_n);
  for (std::size_t p0 = 0; p0 < pr.k; p0 += kRank1Panel) {
    const std::size_t kb = std::min(kRank1Panel, pr.k - p0);
    const bool first = p0 == 0;
    const T* x = pr.x.data + l0 + p0 * pr.x.cs;
    const T* y = pr.y.data + p0 * pr.y.rs;
    const std::size_t xs = pr.x.cs, ys = pr.y.rs;
    std::size_t l = 0;
    for (; l + R <= len; l += R) rank1_tile<Arch, T, R, NV>(x + l, xs, y, ys, cols, kb, first, z + l * S);
    // The last rows in tiles of 8, 4, 2 and 1: nothing read past the long dimension.
    if constexpr (R > 8)
      if ((len - l) & 8) rank1_tile<Arch, T, 8, NV>(x + l, xs, y, ys, cols, kb, first, z + l * S), l += 8;
    if ((len - l) & 4) rank1_tile<Arch, T, 4, NV>(x + l, xs, y, ys, cols, kb, first, z + l * S), l += 4;
    if ((len - l) & 2) rank1_tile<Arch, T, 2, NV>(x + l, xs, y, ys, cols, kb, first, z + l * S), l += 2;
    if ((len - l) & 1) rank1_tile<Arch, T, 1, NV>(x + l, xs, y, ys, cols, kb, first, z + l * S);
  }
}

/**
 * The store of a chunk of the rank-1 form (C's short dimension contiguous, c_s = pre_s = 1): row l
 * of C = act(alpha·z + beta·C + bias) by skinny_epilogue, NV masked vectors per row.
 */
template <class Arch, class T, std::size_t NV>
void rank1_finish(const SkinnyProblem<T>& pr, std::size_t l0, std::size_t len, const T* z) {
  using B = Batch<Arch, T>;
  constexpr std::size_t W = B::size;
  const auto cols = rank1_cols<Arch, T, NV>(pr.short_n);
  const bool bias_row = pr.fused && pr.bias != nullptr && !pr.bias_along_long;
  B bias[NV];
  for (std::size_t v = 0; v < NV; ++v) bias[v] = bias_row ? masked_load<Arch, T>(pr.bias + v * W, LaneMask<T>(cols.mask[v])) : B(T(0));
  for (std::size_t l = 0; l < len; ++l) {
    T* c = pr.c + (l0 + l) * pr.c_l;
#pragma GCC unroll 2
    for (std::size_t v = 0; v < NV; ++v) {
      const B r = skinny_epilogue<Arch, T>(
          pr, B::load_aligned(z + (l * NV + v) * W), [&] { return masked_load<Arch, T>(c + v * W, LaneMask<T>(cols.mask[v])); },
          [&] { return pr.bias_along_long ? B(pr.bias[l0 + l]) : bias[v]; },
          [&](const B& pre) { masked_store<Arch, T>(pr.pre_activation + (l0 + l) * pr.pre_l + v * W, LaneMask<T>(cols.mask[v]), pre); });
      masked_store<Arch, T>(c + v * W, LaneMask<T>(cols.mask[v]), r);
    }
  }
}

// Whether the rank-1 form takes a skinny problem (see the top of this file).
template <class Arch, class T>
bool rank1_takes(const SkinnyProblem<T>& pr) {
  if constexpr (simd::ops::is_avx512<Arch>)
    return pr.x.rs == 1 && pr.x.cs != 1 && pr.y.cs == 1 && pr.short_n >= kRank1MinShort<Arch, T> && pr.c_s == 1 &&
           (pr.pre_activation == nullptr || pr.pre_s == 1);
  else
    return false;
}

/** Elements [l0, l1) of the long dimension of a problem the rank-1 form takes (rank1_takes). */
template <class Arch, class T>
void rank1_kernel(const SkinnyProblem<T>& pr, std::size_t l0, std::size_t l1) {
  constexpr std::size_t W = Batch<Arch, T>::size;
  alignas(64) T z[kRank1Chunk<Arch, T> * SkinnyProblem<T>::max_short];
  const auto run = [&](auto nv) {
    constexpr std::size_t NV = decltype(nv)::value;
    for (std::size_t l = l0; l < l1; l += kRank1Chunk<Arch, T>) {
      const std::size_t len = std::min(kRank1Chunk<Arch, T>, l1 - l);
      rank1_sums<Arch, T, NV>(pr, l, len, z);
      rank1_finish<Arch, T, NV>(pr, l, len, z);
      skinny_activate<Arch, T>(pr, l, len);
    }
  };
  if constexpr (W * 2 <= SkinnyProblem<T>::max_short)
    if (pr.short_n > W) return run(std::integral_constant<std::size_t, 2>{});
  run(std::integral_constant<std::size_t, 1>{});
}

}  // namespace mlpkit::detail::gemm_simd
