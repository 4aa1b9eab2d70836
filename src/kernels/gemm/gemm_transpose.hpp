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

// AVX-512: v[q] becomes column q of the W × W block whose row r was v[r]. Four rounds of pairwise
// shuffles (float: 2-lane, 4-lane, then two of 128-bit chunks; double: 2-lane, then two of chunks).
template <class Arch, class T>
[[gnu::always_inline]] inline void transpose_block(Batch<Arch, T> (&v)[Batch<Arch, T>::size]) {
  using B = Batch<Arch, T>;
  if constexpr (std::is_same_v<T, float>) {
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
      t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);  // per chunk: r_i[0] r_i+1[0] r_i[1] r_i+1[1]
      t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {  // per chunk: element c of rows i..i+3, c = 0..3
      u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
      u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
      u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    // u[4g + c]'s chunk h: element 4h + c of rows 4g..4g+3.
    for (int g = 0; g < 16; g += 8)
      for (int c = 0; c < 4; ++c) {
        t[g + c] = _mm512_shuffle_f32x4(u[g + c], u[g + 4 + c], 0x88);      // elements c, 8 + c
        t[g + 4 + c] = _mm512_shuffle_f32x4(u[g + c], u[g + 4 + c], 0xDD);  // elements 4 + c, 12 + c
      }
    for (int c = 0; c < 8; ++c) {
      v[c] = B(_mm512_shuffle_f32x4(t[c], t[8 + c], 0x88));
      v[8 + c] = B(_mm512_shuffle_f32x4(t[c], t[8 + c], 0xDD));
    }
  } else {
    __m512d t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm512_unpacklo_pd(v[i], v[i + 1]);  // per chunk: element 2h of rows i, i + 1
      t[i + 1] = _mm512_unpackhi_pd(v[i], v[i + 1]);
    }
    for (int g = 0; g < 8; g += 4)
      for (int c = 0; c < 2; ++c) {
        u[g + c] = _mm512_shuffle_f64x2(t[g + c], t[g + 2 + c], 0x88);      // elements c, 4 + c
        u[g + 2 + c] = _mm512_shuffle_f64x2(t[g + c], t[g + 2 + c], 0xDD);  // elements 2 + c, 6 + c
      }
    for (int c = 0; c < 4; ++c) {
      v[c] = B(_mm512_shuffle_f64x2(u[c], u[4 + c], 0x88));
      v[4 + c] = B(_mm512_shuffle_f64x2(u[c], u[4 + c], 0xDD));
    }
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
