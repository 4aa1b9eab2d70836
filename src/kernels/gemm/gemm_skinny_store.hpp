#pragma once
// The skinny kernel's store on AVX-512 where C's short dimension is contiguous (C with a few
// columns, row-major): the sums, in z by columns, go to C by rows of four columns, transposed in
// registers (a 4 × 4 transpose in each quarter of a float vector, each half of a double one), one
// masked store per row of C, instead of one element at a time. Also the epilogue every skinny store
// applies (skinny_epilogue).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernels/gemm/gemm_kernels.hpp"
#include "kernels/gemm/gemm_masked.hpp"
#include "kernels/gemm/gemm_microkernel.hpp"

namespace mlpkit::detail::gemm_simd {

// The AVX-512 register of T (a class rather than std::conditional_t, whose template arguments
// would drop the vector types' attributes: -Wignored-attributes).
template <class T>
struct ZmmOf {
  using type = __m512d;
};
template <>
struct ZmmOf<float> {
  using type = __m512;
};
// ZmmOf<T>::type.
template <class T>
using Zmm = typename ZmmOf<T>::type;

/**
 * The skinny stores' epilogue of one vector of sums: alpha·sum + beta·old() + bias(), the
 * operations of store_tile in the same order (so every path gives the same bits), and ReLU (one
 * compare and blend); any other activation is skinny_activate's pass over the block just stored.
 * old() is called only when beta ≠ 0 (beta = 0 never reads C), bias() only with a fused bias, and
 * pre(v) receives the value before the activation only when there is a pre-activation output.
 */
template <class Arch, class T, class Old, class Bias, class Pre>
[[gnu::always_inline]] inline Batch<Arch, T> skinny_epilogue(const SkinnyProblem<T>& pr, const Batch<Arch, T>& sum,
                                                              Old&& old, Bias&& bias, Pre&& pre) {
  using B = Batch<Arch, T>;
  B r = sum * B(pr.alpha);
  if (pr.beta != T(0)) r = fmadd<Arch, T>(B(pr.beta), old(), r);
  if (pr.fused) {
    // Through fmadd: a plain add could be contracted with alpha·sum by the compiler.
    if (pr.bias != nullptr) r = fmadd<Arch, T>(r, B(T(1)), bias());
    if (pr.pre_activation != nullptr) pre(r);
    // activation_forward's own lane function, so fused equals unfused bit for bit.
    if (pr.activation == Activation::relu) r = simd::activate_as<Arch, T, Activation::relu, Accuracy::precise>(r, T(0));
  }
  return r;
}

/**
 * The activation pass of the skinny epilogue over long elements [l0, l0 + len) of C, just stored by
 * skinny_epilogue (ReLU it applied itself): one activate_rows call a block, its function and tier
 * resolved once, as activate_tile does for the packed and direct tiles (the run-time switch of
 * activate() once a vector had put a copy of every activation into each skinny store).
 */
template <class Arch, class T>
inline void skinny_activate(const SkinnyProblem<T>& pr, std::size_t l0, std::size_t len) {
  if (!pr.fused || pr.activation == Activation::relu || pr.activation == Activation::identity) return;
  T* c = pr.c + l0 * pr.c_l;
  if (pr.c_s == 1)
    simd::activate_rows<Arch, T>(pr.activation, pr.accuracy, pr.leaky_slope, c, pr.c_l, len, pr.short_n);
  else  // c_l = 1: the long dimension runs along C's rows
    simd::activate_rows<Arch, T>(pr.activation, pr.accuracy, pr.leaky_slope, c, pr.c_s, pr.short_n, len);
}

// Quarter q of v[k] after the call holds element k of quarter q of v[0], v[1], v[2], v[3] (a 4 × 4
// transpose in each group of four lanes): with v[j] column j of W rows, v[k]'s group q is row 4q + k.
template <class Arch, class T>
[[gnu::always_inline]] inline void transpose_quarters(Zmm<T> (&v)[4]) {
  if constexpr (std::is_same_v<T, float>) {
    const __m512 a = _mm512_unpacklo_ps(v[0], v[1]), b = _mm512_unpackhi_ps(v[0], v[1]);
    const __m512 c = _mm512_unpacklo_ps(v[2], v[3]), d = _mm512_unpackhi_ps(v[2], v[3]);
    v[0] = _mm512_shuffle_ps(a, c, _MM_SHUFFLE(1, 0, 1, 0));
    v[1] = _mm512_shuffle_ps(a, c, _MM_SHUFFLE(3, 2, 3, 2));
    v[2] = _mm512_shuffle_ps(b, d, _MM_SHUFFLE(1, 0, 1, 0));
    v[3] = _mm512_shuffle_ps(b, d, _MM_SHUFFLE(3, 2, 3, 2));
  } else {
    // a: (v0, v1) of rows 0, 2, 4, 6; b: of rows 1, 3, 5, 7; c, d: (v2, v3) likewise. Each half of
    // the result takes two pairs from each: rows 0 and 4 (indices 8+ name c or d's lanes), …
    const __m512d a = _mm512_unpacklo_pd(v[0], v[1]), b = _mm512_unpackhi_pd(v[0], v[1]);
    const __m512d c = _mm512_unpacklo_pd(v[2], v[3]), d = _mm512_unpackhi_pd(v[2], v[3]);
    const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    v[0] = _mm512_permutex2var_pd(a, lo, c);
    v[1] = _mm512_permutex2var_pd(b, lo, d);
    v[2] = _mm512_permutex2var_pd(a, hi, c);
    v[3] = _mm512_permutex2var_pd(b, hi, d);
  }
}

// Rows [0, rows) of a W × 4 block held as columns v[j] (lane i: row i) to p + i·ld, the elements of
// `cols` in each row (nothing else written). Group q goes out as a whole vector under a mask from
// 4·q elements before its row (AVX-512F has no 128-bit masked store); that base is never before p.
template <class Arch, class T>
[[gnu::always_inline]] inline void store_block_rows(Zmm<T> (&v)[4], T* p, std::size_t ld, std::size_t rows,
                                                    std::uint32_t cols) {
  constexpr std::size_t groups = Batch<Arch, T>::size / 4;
  transpose_quarters<Arch, T>(v);
#pragma GCC unroll 4
  for (std::size_t k = 0; k < 4; ++k)
#pragma GCC unroll 4
    for (std::size_t q = 0; q < groups; ++q)
      if (4 * q + k < rows) masked_store<Arch, T>(p + (4 * q + k) * ld - 4 * q, LaneMask<T>(cols << (4 * q)), v[k]);
}

// The inverse of store_block_rows: v[j] = column j of rows [0, rows) at p + i·ld (zero elsewhere).
template <class Arch, class T>
[[gnu::always_inline]] inline void load_block_rows(Zmm<T> (&v)[4], const T* p, std::size_t ld, std::size_t rows,
                                                   std::uint32_t cols) {
  constexpr std::size_t groups = Batch<Arch, T>::size / 4;
#pragma GCC unroll 4
  for (std::size_t k = 0; k < 4; ++k) {
    v[k] = Batch<Arch, T>(T(0));
#pragma GCC unroll 4
    for (std::size_t q = 0; q < groups; ++q)
      if (4 * q + k < rows)
        v[k] = masked_load_over<Arch, T>(v[k], p + (4 * q + k) * ld - 4 * q, LaneMask<T>(cols << (4 * q)));
  }
  transpose_quarters<Arch, T>(v);  // its own inverse
}

/**
 * finish_chunk where C's short dimension is contiguous (c_s = 1, and pre_s = 1 when there is a
 * pre-activation): the same operations in the same order on columns [s_begin, short_n) of z
 * (s_begin a multiple of 4), W rows × 4 columns at a time, C read (beta ≠ 0) and written by rows.
 */
template <class Arch, class T>
void finish_chunk_rows(const SkinnyProblem<T>& pr, std::size_t s_begin, std::size_t l0, std::size_t len, const T* z,
                       std::size_t ld_z) {
  using B = Batch<Arch, T>;
  constexpr std::size_t W = B::size;
  for (std::size_t s0 = s_begin; s0 < pr.short_n; s0 += 4) {
    const std::size_t n4 = std::min<std::size_t>(4, pr.short_n - s0);
    const std::uint32_t cols = (1u << n4) - 1;
    for (std::size_t l = 0; l < len; l += W) {
      const std::size_t rows = std::min(W, len - l);
      T* c = pr.c + (l0 + l) * pr.c_l + s0;
      Zmm<T> r[4], old[4], pre[4];
      if (pr.beta != T(0)) load_block_rows<Arch, T>(old, c, pr.c_l, rows, cols);
#pragma GCC unroll 4
      for (std::size_t j = 0; j < 4; ++j) {
        // Columns past n4 are never stored: no bias element is read for them.
        const auto bias = [&] {
          if (j >= n4) return B(T(0));
          return pr.bias_along_long ? masked_load<Arch, T>(pr.bias + l0 + l, LaneMask<T>((1u << rows) - 1)) : B(pr.bias[s0 + j]);
        };
        const B sum = j < n4 ? B::load_aligned(z + (s0 + j) * ld_z + l) : B(T(0));
        r[j] = skinny_epilogue<Arch, T>(
            pr, sum, [&] { return B(old[j]); }, bias, [&](const B& v) { pre[j] = v; });
      }
      if (pr.fused && pr.pre_activation != nullptr)
        store_block_rows<Arch, T>(pre, pr.pre_activation + (l0 + l) * pr.pre_l + s0, pr.pre_l, rows, cols);
      store_block_rows<Arch, T>(r, c, pr.c_l, rows, cols);
    }
  }
}

/**
 * The dot form's short operand with its columns along k (packed[s·k + p] = y(p, s)) from a y whose
 * rows are contiguous (y.cs = 1, as B of A·B): W k steps × 4 columns at a time through the
 * transposing load, one masked vector store per column.
 */
template <class Arch, class T>
void pack_columns_along_k(const SkinnyProblem<T>& pr, T* packed) {
  constexpr std::size_t W = Batch<Arch, T>::size;
  for (std::size_t s0 = 0; s0 < pr.short_n; s0 += 4) {
    const std::size_t n4 = std::min<std::size_t>(4, pr.short_n - s0);
    for (std::size_t p0 = 0; p0 < pr.k; p0 += W) {
      const std::size_t rows = std::min(W, pr.k - p0);
      Zmm<T> v[4];
      load_block_rows<Arch, T>(v, pr.y.data + p0 * pr.y.rs + s0, pr.y.rs, rows, (1u << n4) - 1);
      for (std::size_t j = 0; j < n4; ++j) masked_store<Arch, T>(packed + (s0 + j) * pr.k + p0, LaneMask<T>((1u << rows) - 1), v[j]);
    }
  }
}

}  // namespace mlpkit::detail::gemm_simd
