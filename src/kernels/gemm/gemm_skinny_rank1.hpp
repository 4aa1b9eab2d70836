#pragma once
// The skinny kernel's rank-1 form, float on AVX-512, for a long operand whose columns run along the
// long dimension (Aᵀ·B at batch 9–16) and a short operand with contiguous rows: each k step adds
// x(l, p)·y(p, ·) — one broadcast element of the long operand times the short row p, one vector
// of all short columns — to row l's accumulator, which is row l of the result. The long operand is
// read once, row p after row p, in panels of kRank1Panel k steps swept over all the rows of a
// chunk; between panels the partial sums wait in z (one row of max_short per long element), and
// the store writes whole rows of C. Each element's sum runs over p in order from p = 0 whatever
// the tile, the panel or the split, so any thread count gives the same bits.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <xsimd/xsimd.hpp>

#include "kernels/gemm/gemm_kernels.hpp"
#include "kernels/gemm/gemm_microkernel.hpp"

namespace mlpkit::detail::gemm_simd {

// Long-dimension elements per z buffer (256 rows of 16 floats: 16 KiB, in L1).
constexpr std::size_t kRank1Chunk = 256;
// k steps per sweep over the chunk's rows: the partial sums go through z once per panel.
constexpr std::size_t kRank1Panel = 64;
// Elements of a row of the long operand ahead of a tile that it prefetches (a tile's row reads one
// line per k step, each in another page, where the hardware prefetchers do not follow).
constexpr std::size_t kRank1Ahead = 32;
// Fewest short columns the rank-1 form takes (its vectors are 16 columns wide).
constexpr std::size_t kRank1MinShort = 9;

// z rows [0, R) (16 floats each) += Σ_{p < kb} x[p·xs + r]·y[p·ys + ·], from zero when `first`.
template <class Arch, std::size_t R>
[[gnu::always_inline]] inline void rank1_tile(const float* x, std::size_t xs, const float* y, std::size_t ys,
                                              __mmask16 cols, std::size_t kb, bool first, float* z) {
  __m512 acc[R];
#pragma GCC unroll 16
  for (std::size_t r = 0; r < R; ++r) acc[r] = first ? _mm512_setzero_ps() : _mm512_load_ps(z + r * 16);
  for (std::size_t p = 0; p < kb; ++p) {
    const __m512 b = _mm512_maskz_loadu_ps(cols, y + p * ys);
    const float* xp = x + p * xs;
    _mm_prefetch(reinterpret_cast<const char*>(xp + kRank1Ahead), _MM_HINT_T0);
#pragma GCC unroll 16
    for (std::size_t r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(xp[r]), b, acc[r]);
  }
#pragma GCC unroll 16
  for (std::size_t r = 0; r < R; ++r) _mm512_store_ps(z + r * 16, acc[r]);
}

// z (row l at z + 16·l) = the sums of the chunk's `len` rows from l0, panel after panel.
template <class Arch>
void rank1_sums(const SkinnyProblem<float>& pr, std::size_t l0, std::size_t len, float* z) {
  const auto cols = __mmask16((std::uint32_t(1) << pr.short_n) - 1);
  for (std::size_t p0 = 0; p0 < pr.k; p0 += kRank1Panel) {
    const std::size_t kb = std::min(kRank1Panel, pr.k - p0);
    const bool first = p0 == 0;
    const float* x = pr.x.data + l0 + p0 * pr.x.cs;
    const float* y = pr.y.data + p0 * pr.y.rs;
    const std::size_t xs = pr.x.cs, ys = pr.y.rs;
    std::size_t l = 0;
    for (; l + 16 <= len; l += 16) rank1_tile<Arch, 16>(x + l, xs, y, ys, cols, kb, first, z + l * 16);
    // The last rows in tiles of 8, 4, 2 and 1: nothing read past the long dimension.
    if ((len - l) & 8) rank1_tile<Arch, 8>(x + l, xs, y, ys, cols, kb, first, z + l * 16), l += 8;
    if ((len - l) & 4) rank1_tile<Arch, 4>(x + l, xs, y, ys, cols, kb, first, z + l * 16), l += 4;
    if ((len - l) & 2) rank1_tile<Arch, 2>(x + l, xs, y, ys, cols, kb, first, z + l * 16), l += 2;
    if ((len - l) & 1) rank1_tile<Arch, 1>(x + l, xs, y, ys, cols, kb, first, z + l * 16);
  }
}

/**
 * The store of a chunk of the rank-1 form (C's short dimension contiguous, c_s = pre_s = 1): row l
 * of C = act(alpha·z + beta·C + bias), the operations of finish_chunk in the same order, one
 * masked vector per row.
 */
template <class Arch>
void rank1_finish(const SkinnyProblem<float>& pr, std::size_t l0, std::size_t len, const float* z) {
  using B = Batch<Arch, float>;
  const auto cols = __mmask16((std::uint32_t(1) << pr.short_n) - 1);
  const B va(pr.alpha), vb(pr.beta), one(1.0f);
  const B bias_row = pr.fused && pr.bias != nullptr && !pr.bias_along_long ? B(_mm512_maskz_loadu_ps(cols, pr.bias))
                                                                             : B(0.0f);
  for (std::size_t l = 0; l < len; ++l) {
    float* c = pr.c + (l0 + l) * pr.c_l;
    B r = B(_mm512_load_ps(z + l * 16)) * va;
    if (pr.beta != 0.0f) r = fmadd<Arch, float>(vb, B(_mm512_maskz_loadu_ps(cols, c)), r);
    if (pr.fused) {
      if (pr.bias != nullptr) r = fmadd<Arch, float>(r, one, pr.bias_along_long ? B(pr.bias[l0 + l]) : bias_row);
      if (pr.pre_activation != nullptr) _mm512_mask_storeu_ps(pr.pre_activation + (l0 + l) * pr.pre_l, cols, r);
      r = simd::activate<Arch, float>(pr.activation, r, pr.leaky_slope, pr.accuracy);
    }
    _mm512_mask_storeu_ps(c, cols, r);
  }
}

// Whether the rank-1 form takes a skinny problem (see the top of this file).
template <class Arch, class T>
bool rank1_takes(const SkinnyProblem<T>& pr) {
  if constexpr (simd::ops::is_avx512<Arch> && std::is_same_v<T, float>)
    return pr.x.rs == 1 && pr.x.cs != 1 && pr.y.cs == 1 && pr.short_n >= kRank1MinShort && pr.c_s == 1 &&
           (pr.pre_activation == nullptr || pr.pre_s == 1);
  else
    return false;
}

/** Elements [l0, l1) of the long dimension of a problem the rank-1 form takes (rank1_takes). */
template <class Arch>
void rank1_kernel(const SkinnyProblem<float>& pr, std::size_t l0, std::size_t l1) {
  alignas(64) float z[kRank1Chunk * 16];
  for (std::size_t l = l0; l < l1; l += kRank1Chunk) {
    const std::size_t len = std::min(kRank1Chunk, l1 - l);
    rank1_sums<Arch>(pr, l, len, z);
    rank1_finish<Arch>(pr, l, len, z);
  }
}

}  // namespace mlpkit::detail::gemm_simd
