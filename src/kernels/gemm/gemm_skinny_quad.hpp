#pragma once
// The skinny kernel's dot form for 3–4 short columns in float on AVX-512 (W·X at batch 4, δ·Xᵀ):
// each 128-bit quarter of a vector holds one short column, its four lanes four consecutive k steps.
// The short operand is packed in that order (four k steps × four columns per vector, zeros past k
// and past the last column); a long row's four k steps are broadcast to the four quarters. A tile's
// accumulator then holds four partial sums per output instead of sixteen, so the reduction at the
// end of a tile is 2 shuffle steps per four rows instead of a 16-vector tree per 4 × 4 tile (at
// k = 64 that tree cost as much as the FMAs).
// Each output's sum: lane r of its quarter sums k steps p ≡ r (mod 4) in order from p = 0, then the
// four lanes ((0 + 2) + (1 + 3)); the same wherever the tile lies, so any split gives the same bits.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernels/gemm/gemm_kernels.hpp"
#include "kernels/gemm/gemm_skinny_store.hpp"

namespace mlpkit::detail::gemm_simd {

/**
 * The long rows of a skinny tile: row r at base + r·stride, or with Clamp (the last, partial tile)
 * at base + min(r, last)·stride, so rows past the end read the last row again (their sums are
 * dropped). One base and a stride, where an array of row pointers built per tile cost a fifth of
 * 64×1×64 A·x (GCC assembled it with vector inserts and extracts).
 */
template <class T, bool Clamp>
struct TileRows {
  const T* base;
  std::size_t stride, last;
  [[gnu::always_inline]] const T* operator()(std::size_t r) const {
    return base + (Clamp ? std::min(r, last) : r) * stride;
  }
};

/**
 * Packs columns (AVX-512 only, like the rest of this file) [s0, s0 + cols) of y (cols ≤ 4) into quads: q[(p / 4)·16 + j·4 + p % 4] = y(p, s0 + j),
 * zero past k (up to the next multiple of 4) and for j ≥ cols. q holds quad_elements(k) floats.
 */
constexpr std::size_t quad_elements(std::size_t k) { return (k + 3) / 4 * 16; }

template <class Arch>
void pack_quads(const SkinnyProblem<float>& pr, std::size_t s0, std::size_t cols, float* q) {
  const float* y = pr.y.data + s0 * pr.y.cs;
  const std::size_t rs = pr.y.rs, cs = pr.y.cs, whole = pr.k / 4 * 4;
  if (cols < 4 || whole < pr.k) std::fill(q + (cols < 4 ? 0 : whole * 4), q + quad_elements(pr.k), 0.0f);
  if (cols == 4 && cs == 1) {
    // Four rows of y (four k steps × four columns) per vector, transposed by one permute.
    const __m512i to_quads = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    for (std::size_t p = 0; p < whole; p += 4) {
      __m512 v = _mm512_castps128_ps512(_mm_loadu_ps(y + p * rs));
      v = _mm512_insertf32x4(v, _mm_loadu_ps(y + (p + 1) * rs), 1);
      v = _mm512_insertf32x4(v, _mm_loadu_ps(y + (p + 2) * rs), 2);
      v = _mm512_insertf32x4(v, _mm_loadu_ps(y + (p + 3) * rs), 3);
      _mm512_storeu_ps(q + p * 4, _mm512_permutexvar_ps(to_quads, v));
    }
  } else if (rs == 1) {
    // Columns along k: each quarter is four consecutive elements of one column. Four whole columns
    // go 16 k steps at a time: one load per column and a 4 × 4 transpose of their quarters (8
    // shuffles), where one 128-bit load and store per quarter took a tenth of 64×4×64 A·Bᵀ.
    std::size_t p = 0;
    if (cols == 4)
      for (; p + 16 <= whole; p += 16) {
        const __m512 c0 = _mm512_loadu_ps(y + p), c1 = _mm512_loadu_ps(y + cs + p);
        const __m512 c2 = _mm512_loadu_ps(y + 2 * cs + p), c3 = _mm512_loadu_ps(y + 3 * cs + p);
        // Quarters (c0 0, c0 1, c1 0, c1 1), (c0 2, c0 3, c1 2, c1 3), and the same of c2, c3.
        const __m512 lo01 = _mm512_shuffle_f32x4(c0, c1, _MM_SHUFFLE(1, 0, 1, 0));
        const __m512 hi01 = _mm512_shuffle_f32x4(c0, c1, _MM_SHUFFLE(3, 2, 3, 2));
        const __m512 lo23 = _mm512_shuffle_f32x4(c2, c3, _MM_SHUFFLE(1, 0, 1, 0));
        const __m512 hi23 = _mm512_shuffle_f32x4(c2, c3, _MM_SHUFFLE(3, 2, 3, 2));
        // Vector t: quarter t of c0, c1, c2, c3.
        _mm512_storeu_ps(q + p * 4, _mm512_shuffle_f32x4(lo01, lo23, _MM_SHUFFLE(2, 0, 2, 0)));
        _mm512_storeu_ps(q + p * 4 + 16, _mm512_shuffle_f32x4(lo01, lo23, _MM_SHUFFLE(3, 1, 3, 1)));
        _mm512_storeu_ps(q + p * 4 + 32, _mm512_shuffle_f32x4(hi01, hi23, _MM_SHUFFLE(2, 0, 2, 0)));
        _mm512_storeu_ps(q + p * 4 + 48, _mm512_shuffle_f32x4(hi01, hi23, _MM_SHUFFLE(3, 1, 3, 1)));
      }
    for (; p < whole; p += 4)
      for (std::size_t j = 0; j < cols; ++j) _mm_storeu_ps(q + p * 4 + j * 4, _mm_loadu_ps(y + j * cs + p));
  } else {
    for (std::size_t p = 0; p < whole; p += 4)
      for (std::size_t j = 0; j < cols; ++j)
        for (std::size_t r = 0; r < 4; ++r) q[p * 4 + j * 4 + r] = y[(p + r) * rs + j * cs];
  }
  for (std::size_t p = whole; p < pr.k; ++p)
    for (std::size_t j = 0; j < cols; ++j) q[whole * 4 + j * 4 + p - whole] = y[p * rs + j * cs];
}

// The sums of four rows' accumulators: quarter j of the result holds rows 0..3 of column j.
template <class Arch>
[[gnu::always_inline]] inline __m512 quad_reduce(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  const __m512 s01 = _mm512_add_ps(_mm512_unpacklo_ps(a0, a1), _mm512_unpackhi_ps(a0, a1));
  const __m512 s23 = _mm512_add_ps(_mm512_unpacklo_ps(a2, a3), _mm512_unpackhi_ps(a2, a3));
  return _mm512_add_ps(_mm512_shuffle_ps(s01, s23, _MM_SHUFFLE(1, 0, 1, 0)),
                       _mm512_shuffle_ps(s01, s23, _MM_SHUFFLE(3, 2, 3, 2)));
}

/**
 * The sums Σ_p x_r[p]·y(p, j) of the first `rows` of R long rows (contiguous along k) and the
 * columns packed in q, handed four rows at a time to store(g, sums, n): quarter j of `sums` holds
 * rows g .. g + 3 of column j, of which the first n are wanted.
 */
template <class Arch, std::size_t R, class Rows, class Store>
void quad_tile(std::size_t k, Rows x, const float* q, std::size_t rows, const Store& store) {
  static_assert(R % 4 == 0);
  __m512 acc[R];
#pragma GCC unroll 8
  for (std::size_t r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  std::size_t p = 0;
  for (; p + 16 <= k; p += 16) {
    // Each row's four k steps broadcast to the quarters by the load itself (vbroadcastf32x4 from
    // memory), where one load and an in-register vshuff32x4 per FMA ran 6–13 % slower at 64×4×64.
    const __m512 b0 = _mm512_loadu_ps(q + p * 4), b1 = _mm512_loadu_ps(q + p * 4 + 16);
    const __m512 b2 = _mm512_loadu_ps(q + p * 4 + 32), b3 = _mm512_loadu_ps(q + p * 4 + 48);
#pragma GCC unroll 8
    for (std::size_t r = 0; r < R; ++r) {
      const float* a = x(r) + p;
      acc[r] = _mm512_fmadd_ps(_mm512_broadcast_f32x4(_mm_loadu_ps(a)), b0, acc[r]);
      acc[r] = _mm512_fmadd_ps(_mm512_broadcast_f32x4(_mm_loadu_ps(a + 4)), b1, acc[r]);
      acc[r] = _mm512_fmadd_ps(_mm512_broadcast_f32x4(_mm_loadu_ps(a + 8)), b2, acc[r]);
      acc[r] = _mm512_fmadd_ps(_mm512_broadcast_f32x4(_mm_loadu_ps(a + 12)), b3, acc[r]);
    }
  }
  for (; p + 4 <= k; p += 4) {
    const __m512 b = _mm512_loadu_ps(q + p * 4);
#pragma GCC unroll 8
    for (std::size_t r = 0; r < R; ++r)
      acc[r] = _mm512_fmadd_ps(_mm512_broadcast_f32x4(_mm_loadu_ps(x(r) + p)), b, acc[r]);
  }
  if (p < k) {
    // The last k steps under a mask: nothing read past a row (q holds zeros there).
    const auto m = __mmask16((1u << (k - p)) - 1);
    const __m512 b = _mm512_loadu_ps(q + p * 4);
#pragma GCC unroll 8
    for (std::size_t r = 0; r < R; ++r)
    {
      const __m512 tail = _mm512_maskz_loadu_ps(m, x(r) + p);
      acc[r] = _mm512_fmadd_ps(_mm512_shuffle_f32x4(tail, tail, 0), b, acc[r]);
    }
  }
#pragma GCC unroll 2
  for (std::size_t g = 0; g < R; g += 4) {
    if (g >= rows) break;
    store(g, quad_reduce<Arch>(acc[g], acc[g + 1], acc[g + 2], acc[g + 3]), std::min<std::size_t>(rows - g, 4));
  }
}

/**
 * The skinny store of rows [l, l + n) (n ≤ 4) × columns [s0, s0 + cols) (cols ≤ 4) of C straight
 * from a quad tile's sums (quarter j: the rows of column j), where C's short dimension is
 * contiguous (c_s = 1, pre_s = 1, the bias along the long dimension): one permute makes quarter i
 * row l + i, then skinny_epilogue on the whole vector and one store per row. finish_chunk_rows'
 * operations in the same order, without the sums' round trip through z and a transpose per 16 rows.
 */
template <class Arch>
[[gnu::always_inline]] inline void quad_store_rows(const SkinnyProblem<float>& pr, std::size_t s0, std::size_t cols,
                                                   std::size_t l, std::size_t n, __m512 sums) {
  using B = Batch<Arch, float>;
  const __m512i to_rows = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const auto col_mask = __mmask16((1u << cols) - 1);
  // Row i of a block at p (rows ld apart) into quarter i, and back; nothing read or written past
  // column cols or row n (AVX-512F has no 128-bit masked access: the low quarter of a masked one).
  const auto for_rows = [n](auto&& row) __attribute__((always_inline)) {
    row(std::integral_constant<int, 0>{});
    if (n > 1) row(std::integral_constant<int, 1>{});
    if (n > 2) row(std::integral_constant<int, 2>{});
    if (n > 3) row(std::integral_constant<int, 3>{});
  };
  const auto load_rows = [&](const float* p, std::size_t ld) __attribute__((always_inline)) {
    __m512 v = _mm512_setzero_ps();
    for_rows([&](auto i) __attribute__((always_inline)) {
      const __m128 row = _mm512_castps512_ps128(_mm512_maskz_loadu_ps(col_mask, p + decltype(i)::value * ld));
      v = _mm512_insertf32x4(v, row, decltype(i)::value);
    });
    return B(v);
  };
  const auto store_rows = [&](float* p, std::size_t ld, __m512 v) __attribute__((always_inline)) {
    for_rows([&](auto i) __attribute__((always_inline)) {
      const __m128 row = _mm512_extractf32x4_ps(v, decltype(i)::value);
      if (cols == 4)
        _mm_storeu_ps(p + decltype(i)::value * ld, row);
      else
        _mm512_mask_storeu_ps(p + decltype(i)::value * ld, col_mask, _mm512_castps128_ps512(row));
    });
  };
  float* c = pr.c + l * pr.c_l + s0;
  const B r = skinny_epilogue<Arch, float>(
      pr, B(_mm512_permutexvar_ps(to_rows, sums)), [&] { return load_rows(c, pr.c_l); },
      [&] {
        // bias[l + i] in every lane of quarter i.
        const __m512 four = _mm512_maskz_loadu_ps(__mmask16((1u << n) - 1), pr.bias + l);
        return B(_mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3), four));
      },
      [&](const B& pre) { store_rows(pr.pre_activation + l * pr.pre_l + s0, pr.pre_l, pre); });
  store_rows(c, pr.c_l, r);
}

/** Whether quad_rows stores into C itself (quad_store_rows) rather than into z. */
template <class Arch>
bool quad_stores_rows(const SkinnyProblem<float>& pr) {
  return pr.c_s == 1 && pr.bias_along_long && (pr.pre_activation == nullptr || pr.pre_s == 1);
}

/**
 * Rows [l0, l0 + len) of columns [s0, s0 + cols) in tiles of R rows: stored into C with the
 * epilogue where quad_stores_rows(pr), else into z (column s at z + s·ld_z) for finish_chunk.
 */
template <class Arch, std::size_t R>
void quad_rows(const SkinnyProblem<float>& problem, const float* q, std::size_t s0, std::size_t cols, std::size_t l0,
               std::size_t len, float* z, std::size_t ld_z) {
  // A local copy: C's floats could alias the problem's alpha and beta, and the stores inside the
  // tiles would reload them (and every other field) for each group of four rows.
  const SkinnyProblem<float> pr = problem;
  const auto tiles = [&](const auto& store) __attribute__((always_inline)) {
    std::size_t l = 0;
    for (; l + R <= len; l += R)
      quad_tile<Arch, R>(pr.k, TileRows<float, false>{pr.x.data + (l0 + l) * pr.x.rs, pr.x.rs, R - 1}, q, R,
                         [&](std::size_t g, __m512 sums, std::size_t n)
                             __attribute__((always_inline)) { store(l + g, sums, n); });
    if (l < len)
      quad_tile<Arch, R>(pr.k, TileRows<float, true>{pr.x.data + (l0 + l) * pr.x.rs, pr.x.rs, len - l - 1}, q,
                         len - l, [&](std::size_t g, __m512 sums, std::size_t n)
                                      __attribute__((always_inline)) { store(l + g, sums, n); });
  };
  if (quad_stores_rows<Arch>(pr))
    return tiles([&](std::size_t l, __m512 sums, std::size_t n) __attribute__((always_inline)) {
      quad_store_rows<Arch>(pr, s0, cols, l0 + l, n, sums);
    });
  tiles([&](std::size_t l, __m512 sums, std::size_t n) __attribute__((always_inline)) {
    const std::uint32_t row_lanes = (std::uint32_t(1) << n) - 1;
    // Quarter j goes to z[(s0 + j)·ld_z + l ..]: stored from a base 4·j floats before it (ld_z ≥
    // 16, so the base lies inside z), under that quarter's mask.
    for (std::size_t j = 0; j < cols; ++j)
      _mm512_mask_storeu_ps(z + (s0 + j) * ld_z + l - 4 * j, __mmask16(row_lanes << (4 * j)), sums);
  });
}

}  // namespace mlpkit::detail::gemm_simd
