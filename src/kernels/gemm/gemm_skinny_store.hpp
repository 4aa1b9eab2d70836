#pragma once
// The skinny kernel's store for float on AVX-512 where C's short dimension is contiguous (C with a
// few columns, row-major): the sums, in z by columns, go to C by rows of four columns, transposed in
// registers (a 4 × 4 transpose in each 128-bit quarter), one 128-bit store per row of C, instead of
// one element at a time.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <xsimd/xsimd.hpp>

#include "kernels/gemm/gemm_kernels.hpp"
#include "kernels/gemm/gemm_microkernel.hpp"

namespace mlpkit::detail::gemm_simd {

// Quarter q of v[k] after the call holds element k of quarter q of v[0], v[1], v[2], v[3] (a 4 × 4
// transpose in each quarter): with v[j] column j of 16 rows, v[k]'s quarter q is row 4q + k.
template <class Arch>
[[gnu::always_inline]] inline void transpose_quarters(__m512 (&v)[4]) {
  const __m512 a = _mm512_unpacklo_ps(v[0], v[1]), b = _mm512_unpackhi_ps(v[0], v[1]);
  const __m512 c = _mm512_unpacklo_ps(v[2], v[3]), d = _mm512_unpackhi_ps(v[2], v[3]);
  v[0] = _mm512_shuffle_ps(a, c, _MM_SHUFFLE(1, 0, 1, 0));
  v[1] = _mm512_shuffle_ps(a, c, _MM_SHUFFLE(3, 2, 3, 2));
  v[2] = _mm512_shuffle_ps(b, d, _MM_SHUFFLE(1, 0, 1, 0));
  v[3] = _mm512_shuffle_ps(b, d, _MM_SHUFFLE(3, 2, 3, 2));
}

// Rows [0, rows) of a 16 × 4 block held as columns v[j] (lane i: row i) to p + i·ld, the elements of
// `cols` in each row (nothing else written). Quarter q goes out as a whole vector under a mask from
// 4·q elements before its row (AVX-512F has no 128-bit masked store); that base is never before p.
template <class Arch>
[[gnu::always_inline]] inline void store_block_rows(__m512 (&v)[4], float* p, std::size_t ld, std::size_t rows,
                                                    std::uint32_t cols) {
  transpose_quarters<Arch>(v);
#pragma GCC unroll 4
  for (std::size_t k = 0; k < 4; ++k)
#pragma GCC unroll 4
    for (std::size_t q = 0; q < 4; ++q)
      if (4 * q + k < rows) _mm512_mask_storeu_ps(p + (4 * q + k) * ld - 4 * q, __mmask16(cols << (4 * q)), v[k]);
}

// The inverse of store_block_rows: v[j] = column j of rows [0, rows) at p + i·ld (zero elsewhere).
template <class Arch>
[[gnu::always_inline]] inline void load_block_rows(__m512 (&v)[4], const float* p, std::size_t ld, std::size_t rows,
                                                   std::uint32_t cols) {
#pragma GCC unroll 4
  for (std::size_t k = 0; k < 4; ++k) {
    v[k] = _mm512_setzero_ps();
#pragma GCC unroll 4
    for (std::size_t q = 0; q < 4; ++q)
      if (4 * q + k < rows) v[k] = _mm512_mask_loadu_ps(v[k], __mmask16(cols << (4 * q)), p + (4 * q + k) * ld - 4 * q);
  }
  transpose_quarters<Arch>(v);  // its own inverse
}

/**
 * finish_chunk where C's short dimension is contiguous (c_s = 1, and pre_s = 1 when there is a
 * pre-activation): the same operations in the same order on the columns of z, 16 rows × 4 columns
 * at a time, C read (beta ≠ 0) and written by rows.
 */
template <class Arch>
void finish_chunk_rows(const SkinnyProblem<float>& pr, std::size_t l0, std::size_t len, const float* z,
                       std::size_t ld_z) {
  using B = Batch<Arch, float>;
  const B va(pr.alpha), vb(pr.beta), one(1.0f);
  for (std::size_t s0 = 0; s0 < pr.short_n; s0 += 4) {
    const std::size_t n4 = std::min<std::size_t>(4, pr.short_n - s0);
    const std::uint32_t cols = (1u << n4) - 1;
    for (std::size_t l = 0; l < len; l += 16) {
      const std::size_t rows = std::min<std::size_t>(16, len - l);
      float* c = pr.c + (l0 + l) * pr.c_l + s0;
      __m512 r[4], old[4], pre[4];
      if (pr.beta != 0.0f) load_block_rows<Arch>(old, c, pr.c_l, rows, cols);
#pragma GCC unroll 4
      for (std::size_t j = 0; j < 4; ++j) {
        B v = j < n4 ? B(_mm512_load_ps(z + (s0 + j) * ld_z + l)) * va : B(0.0f);
        if (pr.beta != 0.0f) v = fmadd<Arch, float>(vb, B(old[j]), v);
        if (pr.fused) {
          if (pr.bias != nullptr && j < n4)
            v = fmadd<Arch, float>(v, one, pr.bias_along_long ? B(_mm512_maskz_loadu_ps(__mmask16((1u << rows) - 1), pr.bias + l0 + l))
                                                              : B(pr.bias[s0 + j]));
          pre[j] = v;
          v = simd::activate<Arch, float>(pr.activation, v, pr.leaky_slope, pr.accuracy);
        }
        r[j] = v;
      }
      if (pr.fused && pr.pre_activation != nullptr)
        store_block_rows<Arch>(pre, pr.pre_activation + (l0 + l) * pr.pre_l + s0, pr.pre_l, rows, cols);
      store_block_rows<Arch>(r, c, pr.c_l, rows, cols);
    }
  }
}

/**
 * The dot form's short operand with its columns along k (packed[s·k + p] = y(p, s)) from a y whose
 * rows are contiguous (y.cs = 1, as B of A·B): 16 k steps × 4 columns at a time through the
 * transposing load, one masked vector store per column.
 */
template <class Arch>
void pack_columns_along_k(const SkinnyProblem<float>& pr, float* packed) {
  for (std::size_t s0 = 0; s0 < pr.short_n; s0 += 4) {
    const std::size_t n4 = std::min<std::size_t>(4, pr.short_n - s0);
    for (std::size_t p0 = 0; p0 < pr.k; p0 += 16) {
      const std::size_t rows = std::min<std::size_t>(16, pr.k - p0);
      __m512 v[4];
      load_block_rows<Arch>(v, pr.y.data + p0 * pr.y.rs + s0, pr.y.rs, rows, (1u << n4) - 1);
      for (std::size_t j = 0; j < n4; ++j)
        _mm512_mask_storeu_ps(packed + (s0 + j) * pr.k + p0, __mmask16((1u << rows) - 1), v[j]);
    }
  }
}

}  // namespace mlpkit::detail::gemm_simd
