#pragma once
// Copies of a transposed operand (op(B) = Bᵀ) into rows, for the packed path's B slivers and the
// small kernel's B: dst(p, j) = src[j·src_ld + p]. On AVX-512 in W × W blocks, each W loads along
// src's rows, an in-register transpose and W stores along dst's rows; element by element elsewhere
// (a strided read or a strided write per element: 64×16×64 A·Bᵀ spent a third of its time there).
// A copy: the packed values are the source's bits, whatever the route.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernels/gemm/gemm_masked.hpp"
#include "kernels/gemm/gemm_microkernel.hpp"

namespace mlpkit::detail::gemm_simd {

// AVX-512: chunks (x's 128-bit chunks a, b and y's c, d of imm = _MM_SHUFFLE(d, c, b, a)) of two vectors.
template <int imm, class Arch, class T>
[[gnu::always_inline]] inline Batch<Arch, T> chunks(const Batch<Arch, T>& x, const Batch<Arch, T>& y) {
  if constexpr (std::is_same_v<T, float>)
    return _mm512_shuffle_f32x4(x, y, imm);
  else
    return _mm512_shuffle_f64x2(x, y, imm);
}

// AVX-512: v[q] becomes column q of the W × W block whose row r was v[r]. First each 128-bit chunk
// is transposed among groups of L rows (L = 4 float, 2 double: unpacks, and for float 2-lane
// shuffles), so that chunk h of v[G·L + c] holds element L·h + c of rows G·L … G·L + L − 1; then
// two rounds of chunk shuffles gather each column's chunks.
template <class Arch, class T, std::size_t W>
[[gnu::always_inline]] inline void transpose_block(Batch<Arch, T> (&v)[W]) {
  using B = Batch<Arch, T>;
  static_assert(W == B::size, "a block of W vectors of W lanes");
  constexpr std::size_t L = 16 / sizeof(T);
  B t[W];
  if constexpr (std::is_same_v<T, float>) {
    for (std::size_t i = 0; i < W; i += 2) {
      t[i] = B(_mm512_unpacklo_ps(v[i], v[i + 1]));  // per chunk: r_i[0] r_i+1[0] r_i[1] r_i+1[1]
      t[i + 1] = B(_mm512_unpackhi_ps(v[i], v[i + 1]));
    }
    for (std::size_t i = 0; i < W; i += 4) {
      v[i] = B(_mm512_shuffle_ps(t[i], t[i + 2], 0x44));
      v[i + 1] = B(_mm512_shuffle_ps(t[i], t[i + 2], 0xEE));
      v[i + 2] = B(_mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44));
      v[i + 3] = B(_mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE));
    }
  } else {
    for (std::size_t i = 0; i < W; i += 2) {
      t[i] = B(_mm512_unpacklo_pd(v[i], v[i + 1]));  // per chunk: element 2h of rows i, i + 1
      t[i + 1] = B(_mm512_unpackhi_pd(v[i], v[i + 1]));
    }
    for (std::size_t i = 0; i < W; ++i) v[i] = t[i];
  }
  // Chunks 0, 2 and 1, 3 of row groups G and G + 1: elements c, 2L + c and L + c, 3L + c of 2L rows.
  for (std::size_t g = 0; g < W; g += 2 * L)
    for (std::size_t c = 0; c < L; ++c) {
      t[g + c] = chunks<0x88, Arch, T>(v[g + c], v[g + L + c]);
      t[g + L + c] = chunks<0xDD, Arch, T>(v[g + c], v[g + L + c]);
    }
  for (std::size_t c = 0; c < W / 2; ++c) {
    v[c] = chunks<0x88, Arch, T>(t[c], t[W / 2 + c]);
    v[W / 2 + c] = chunks<0xDD, Arch, T>(t[c], t[W / 2 + c]);
  }
}

/**
 * dst[p·dst_ld + j] = src[j·src_ld + p] for p < k, j < n, and 0 for n ≤ j < dst_cols (a sliver's
 * padding). Nothing else of dst is written.
 */
template <class Arch, class T>
void transpose_into(std::size_t k, std::size_t n, const T* src, std::size_t src_ld, T* dst, std::size_t dst_ld,
                    std::size_t dst_cols) {
  if constexpr (simd::ops::is_avx512<Arch>) {
    using B = Batch<Arch, T>;
    constexpr std::size_t W = B::size;
    for (std::size_t j0 = 0; j0 < dst_cols; j0 += W) {
      const std::size_t rows = j0 < n ? std::min(W, n - j0) : 0;  // source rows in this block
      const auto columns = LaneMask<T>((std::uint32_t(1) << std::min(W, dst_cols - j0)) - 1);
      for (std::size_t p0 = 0; p0 < k; p0 += W) {
        const std::size_t steps = std::min(W, k - p0);
        const auto along = LaneMask<T>((std::uint32_t(1) << steps) - 1);
        B v[W];
        for (std::size_t r = 0; r < W; ++r)
          v[r] = r < rows ? masked_load<Arch, T>(src + (j0 + r) * src_ld + p0, along) : B(T(0));
        transpose_block<Arch, T>(v);
        for (std::size_t q = 0; q < steps; ++q) masked_store<Arch, T>(dst + (p0 + q) * dst_ld + j0, columns, v[q]);
      }
    }
  } else {
    for (std::size_t j = 0; j < dst_cols; ++j)
      for (std::size_t p = 0; p < k; ++p) dst[p * dst_ld + j] = j < n ? src[j * src_ld + p] : T(0);
  }
}

}  // namespace mlpkit::detail::gemm_simd
