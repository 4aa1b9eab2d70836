#pragma once
// The skinny GEMM kernels (one output dimension of at most SkinnyProblem::max_short): each element of
// C is a sum along k that reads the long operand once, so the cost follows the bytes of that operand
// (a layer's weights) instead of a full MR × NR tile computed for one useful column.
// - dot form, for a long operand whose rows run along k (W·x): MR rows × up to 4 short columns of
//   vector partial sums, reduced horizontally at the end;
// - axpy form, for a long operand whose columns run along the long dimension (Wᵀ·δ): vectors along
//   the long dimension times broadcast elements of the short operand (one short column with a long
//   operand past L2: its rows read whole, axpy_stream);
// - rank-1 form (gemm_skinny_rank1.hpp, AVX-512, 9–16 short columns in float, 5–16 in double), for
//   the same long operand with a short operand whose rows are contiguous: broadcast elements of the
//   long operand times rows of the short one, a row of C per accumulator.
// Every element's sum has the same order wherever its tile lies, so any split over threads gives
// the same bits.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernels/gemm/gemm_kernels.hpp"
#include "kernels/gemm/gemm_masked.hpp"
#include "kernels/gemm/gemm_microkernel.hpp"
#include "kernels/gemm/gemm_skinny_quad.hpp"
#include "kernels/gemm/gemm_skinny_rank1.hpp"
#include "kernels/gemm/gemm_skinny_store.hpp"

namespace mlpkit::detail::gemm_simd {

// Long-dimension elements finished together: the z buffer (kChunk × max_short) stays in L1.
constexpr std::size_t kSkinnyChunk = 128;

// Loads n ≤ W elements from p[i·stride] into a batch, zero past n. A whole contiguous vector is
// one load: lanes written one by one and read as a vector stall on store forwarding (at 16×32×16,
// half the time of the call went there).
template <class Arch, class T>
Batch<Arch, T> gather_lanes(const T* p, std::size_t stride, std::size_t n) {
  constexpr std::size_t W = Batch<Arch, T>::size;
  if (stride == 1 && n == W) return Batch<Arch, T>::load_unaligned(p);
  alignas(64) T lanes[W] = {};
  for (std::size_t i = 0; i < n; ++i) lanes[i] = p[i * stride];
  return Batch<Arch, T>::load_aligned(lanes);
}

// p[i·stride] = lane i of v for i < n ≤ W. AVX-512 scatters a strided run in one instruction (C's
// column of 64×1×64 at ld 16: the stores lane by lane were 19 % of Aᵀ·x).
template <class Arch, class T>
void scatter_lanes(const Batch<Arch, T>& v, T* p, std::size_t stride, std::size_t n) {
  constexpr std::size_t W = Batch<Arch, T>::size;
  if (stride == 1 && n == W) return v.store_unaligned(p);
  if constexpr (simd::ops::is_avx512<Arch>)
    if (scatter_reaches<T>(stride))
      return masked_scatter<Arch, T>(p, stride, LaneMask<T>((std::uint32_t(1) << n) - 1), v);
  alignas(64) T lanes[W];
  v.store_aligned(lanes);
  for (std::size_t i = 0; i < n; ++i) p[i * stride] = lanes[i];
}

/**
 * The store of a chunk: C(l, s) = act(alpha·z[s·ld_z + l] + beta·C(l, s) + bias) by skinny_epilogue,
 * vectorized along the long dimension, for the columns s ≥ s_begin (a multiple of 4: those before
 * are stored already).
 */
template <class Arch, class T>
void finish_chunk(const SkinnyProblem<T>& pr, std::size_t s_begin, std::size_t l0, std::size_t len, const T* z,
                  std::size_t ld_z) {
  if constexpr (simd::ops::is_avx512<Arch>)
    if (pr.short_n > 1 && pr.c_s == 1 && (pr.pre_activation == nullptr || pr.pre_s == 1))
      return finish_chunk_rows<Arch, T>(pr, s_begin, l0, len, z, ld_z);  // one column: whole vectors below
  using B = Batch<Arch, T>;
  constexpr std::size_t W = B::size;
  for (std::size_t s = s_begin; s < pr.short_n; ++s)
    for (std::size_t l = 0; l < len; l += W) {
      const std::size_t lanes = std::min(W, len - l);
      const std::size_t at = (l0 + l) * pr.c_l + s * pr.c_s;
      const B r = skinny_epilogue<Arch, T>(
          pr, B::load_aligned(z + s * ld_z + l), [&] { return gather_lanes<Arch, T>(pr.c + at, pr.c_l, lanes); },
          [&] { return pr.bias_along_long ? gather_lanes<Arch, T>(pr.bias + l0 + l, 1, lanes) : B(pr.bias[s]); },
          [&](const B& pre) {
            scatter_lanes<Arch, T>(pre, pr.pre_activation + (l0 + l) * pr.pre_l + s * pr.pre_s, pr.pre_l, lanes);
          });
      scatter_lanes<Arch, T>(r, pr.c + at, pr.c_l, lanes);
    }
}

// AVX-512: p[i] = lane i of v for the lanes whose bit is set in `mask` (no other element touched).
template <class Arch, class T>
[[gnu::always_inline]] inline void store_lanes(T* p, std::uint32_t mask, const Batch<Arch, T>& v) {
  if constexpr (std::is_same_v<T, float>)
    _mm512_mask_storeu_ps(p, __mmask16(mask & 0xffffu), v);
  else
    _mm512_mask_storeu_pd(p, __mmask8(mask & 0xffu), v);
}

// AVX-512: lane i of the result is the sum of the lanes of v[i], for count ≤ W vectors (the rest
// read as zeros), by a fixed tree of W − 1 vector adds between interleaved halves, quarters, … of
// pairs of vectors (where W horizontal sums would take W·log2(W) dependent steps). Every lane is
// summed in the same order wherever its vector sits, so results never depend on the split.
template <class Arch, class T>
[[gnu::always_inline]] inline Batch<Arch, T> reduce_to_lanes(const Batch<Arch, T>* v, std::size_t count) {
  using B = Batch<Arch, T>;
  constexpr std::size_t W = B::size;
  B level[W];
  for (std::size_t i = 0; i < W; ++i) level[i] = i < count ? v[i] : B(T(0));
  if constexpr (std::is_same_v<T, float>) {
    // 16 → 8: each 128-bit chunk keeps two partial sums of v[2i] (lanes 0, 2) and of v[2i+1] (1, 3).
    for (std::size_t i = 0; i < 8; ++i)
      level[i] = B(_mm512_unpacklo_ps(level[2 * i], level[2 * i + 1])) +
                 B(_mm512_unpackhi_ps(level[2 * i], level[2 * i + 1]));
    // 8 → 4: each chunk holds one partial sum of each of four vectors.
    for (std::size_t i = 0; i < 4; ++i)
      level[i] = B(_mm512_shuffle_ps(level[2 * i], level[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0))) +
                 B(_mm512_shuffle_ps(level[2 * i], level[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  } else {
    // 8 → 4: each 128-bit chunk keeps one partial sum of v[2i] (lane 0) and of v[2i+1] (lane 1).
    for (std::size_t i = 0; i < 4; ++i)
      level[i] = B(_mm512_unpacklo_pd(level[2 * i], level[2 * i + 1])) +
                 B(_mm512_unpackhi_pd(level[2 * i], level[2 * i + 1]));
  }
  // 4 → 2 → 1: chunks of two vectors' sums added pairwise across the 128-bit chunks.
  const auto fold = [](const B& x, const B& y) {
    if constexpr (std::is_same_v<T, float>)
      return B(_mm512_shuffle_f32x4(x, y, _MM_SHUFFLE(2, 0, 2, 0))) + B(_mm512_shuffle_f32x4(x, y, _MM_SHUFFLE(3, 1, 3, 1)));
    else
      return B(_mm512_shuffle_f64x2(x, y, _MM_SHUFFLE(2, 0, 2, 0))) + B(_mm512_shuffle_f64x2(x, y, _MM_SHUFFLE(3, 1, 3, 1)));
  };
  level[0] = fold(level[0], level[1]);
  level[1] = fold(level[2], level[3]);
  return fold(level[0], level[1]);
}

// z[j·ld_z + r] = Σ_p x(r)[p]·y_j[p] for the first `rows` of R long rows and J short columns, both
// contiguous along k (z points at the tile's first row of its first column). x(r): row r (TileRows).
template <class Arch, class T, std::size_t R, std::size_t J, class Rows>
void dot_tile(std::size_t k, Rows x, const T* const (&y)[J], std::size_t rows, T* z, std::size_t ld_z) {
  using B = Batch<Arch, T>;
  constexpr std::size_t W = B::size;
  B acc[R][J]{};  // value-initialized: zeros
  // One k vector of every row and column, each read by load(pointer): whole vectors in the loop,
  // the masked last vector on AVX-512, so the tail runs the same body.
  const auto step = [&](const auto& xs, const T* const (&ys)[J], std::size_t p, const auto& load)
                        __attribute__((always_inline)) {
    B yv[J];
#pragma GCC unroll 4
    for (std::size_t j = 0; j < J; ++j) yv[j] = load(ys[j] + p);
#pragma GCC unroll 16
    for (std::size_t r = 0; r < R; ++r) {
      const B xv = load(xs(r) + p);
#pragma GCC unroll 4
      for (std::size_t j = 0; j < J; ++j) acc[r][j] = fmadd<Arch, T>(xv, yv[j], acc[r][j]);
    }
  };
  const auto whole = [](const T* v) __attribute__((always_inline)) { return B::load_unaligned(v); };
  std::size_t p = 0;
  for (; p + W <= k; p += W) step(x, y, p, whole);
  if constexpr (simd::ops::is_avx512<Arch>) {
    // The last partial vector under a mask, zeros past k: the terms of the zero-padded copies
    // below without their calls (around which GCC spilled every accumulator).
    if (p < k) {
      const auto mask = LaneMask<T>((std::uint32_t(1) << (k - p)) - 1);
      step(x, y, p, [mask](const T* v) __attribute__((always_inline)) { return masked_load<Arch, T>(v, mask); });
    }
  } else if (p < k) {
    // The last partial vector through zero-padded copies: the same lanes take the same terms.
    alignas(64) T xt[R][W] = {}, yt[J][W] = {};
    const T* yp[J];
    for (std::size_t r = 0; r < R; ++r) std::copy(x(r) + p, x(r) + k, xt[r]);
    for (std::size_t j = 0; j < J; ++j) std::copy(y[j] + p, y[j] + k, yt[j]), yp[j] = yt[j];
    step([&](std::size_t r) { return &xt[r][0]; }, yp, 0, whole);
  }
  if constexpr (simd::ops::is_avx512<Arch>) {
    // Transpose-and-add: W sums per vector of results instead of one horizontal sum each. Lane
    // i − v of a vector is the sum of column j = i / R, row r = i % R: the lanes of one column are
    // its rows in order, stored straight into z under a mask (written lane by lane and then read
    // back as wider words, they stalled on store forwarding: a quarter of 64×4×64).
    B sums[R * J];
    for (std::size_t j = 0; j < J; ++j)
      for (std::size_t r = 0; r < R; ++r) sums[j * R + r] = acc[r][j];
    const std::uint32_t row_lanes = (std::uint32_t(1) << rows) - 1;
#pragma GCC unroll 2
    for (std::size_t v = 0; v < R * J; v += W) {
      const B lanes = reduce_to_lanes<Arch, T>(sums + v, std::min(W, R * J - v));
      for (std::size_t j = v / R; j < J && j * R < v + W; ++j) {
        // Lane i goes to z[j·ld_z + v + i − j·R] (row v + i − j·R of column j); the mask keeps
        // column j's first `rows` rows. ld_z ≥ R, so the base pointer lies inside z.
        const std::uint32_t mask = j * R >= v ? row_lanes << (j * R - v) : row_lanes >> (v - j * R);
        store_lanes<Arch, T>(z + j * ld_z + v - j * R, mask, lanes);
      }
    }
  } else {
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t j = 0; j < J; ++j) z[j * ld_z + r] = xsimd::hadd(acc[r][j]);
  }
}

// Rows [l0, l0 + len) of the dot form into z, in tiles of R rows × J columns. Rows past the end
// read the last row again (their sums are dropped), as micro_tile does.
template <class Arch, class T, std::size_t R, std::size_t J>
void dot_rows(const SkinnyProblem<T>& pr, std::size_t s0, std::size_t l0, std::size_t len, T* z, std::size_t ld_z) {
  const T* y[J];
  for (std::size_t j = 0; j < J; ++j) y[j] = pr.y.data + (s0 + j) * pr.y.cs;
  std::size_t l = 0;
  for (; l + R <= len; l += R)
    dot_tile<Arch, T, R, J>(pr.k, TileRows<T, false>{pr.x.data + (l0 + l) * pr.x.rs, pr.x.rs, R - 1}, y, R,
                            z + s0 * ld_z + l, ld_z);
  if (l < len)
    dot_tile<Arch, T, R, J>(pr.k, TileRows<T, true>{pr.x.data + (l0 + l) * pr.x.rs, pr.x.rs, len - l - 1}, y, len - l,
                            z + s0 * ld_z + l, ld_z);
}

// z[j·ld_z + l] = Σ_p x(l, p)·y(p, s0 + j) for V vectors of rows at once, x contiguous along l.
// One short column sums even and odd k steps in two chains, added at the end: V ≤ 4 chains of
// dependent FMAs waited on the FMA latency (64×1×64 Aᵀ·x). The order depends on J only, never on
// where a block lies, so any split over threads gives the same bits.
template <class Arch, class T, std::size_t V, std::size_t J>
void axpy_block(const SkinnyProblem<T>& pr, std::size_t s0, const T* x, std::size_t lanes, T* z, std::size_t ld_z) {
  using B = Batch<Arch, T>;
  constexpr std::size_t W = B::size;
  constexpr std::size_t C = J == 1 ? 2 : 1;  // chains per output
  B acc[C][J][V]{};  // value-initialized: zeros
  const T* y = pr.y.data + s0 * pr.y.cs;
  const auto step = [&](std::size_t p, std::size_t c) __attribute__((always_inline)) {
    const T* xp = x + p * pr.x.cs;
    B xv[V];
    if (lanes == V * W) {
#pragma GCC unroll 8
      for (std::size_t v = 0; v < V; ++v) xv[v] = B::load_unaligned(xp + v * W);
    } else {
      xv[0] = gather_lanes<Arch, T>(xp, 1, lanes);  // the last rows, V = 1
    }
#pragma GCC unroll 4
    for (std::size_t j = 0; j < J; ++j) {
      const B yj(y[p * pr.y.rs + j * pr.y.cs]);
#pragma GCC unroll 8
      for (std::size_t v = 0; v < V; ++v) acc[c][j][v] = fmadd<Arch, T>(xv[v], yj, acc[c][j][v]);
    }
  };
  std::size_t p = 0;
  for (; p + C <= pr.k; p += C)
#pragma GCC unroll 2
    for (std::size_t c = 0; c < C; ++c) step(p + c, c);
  if (p < pr.k) step(p, 0);  // C = 2 and k odd: the last step is even
  for (std::size_t j = 0; j < J; ++j)
    for (std::size_t v = 0; v < V; ++v) {
      B sum = acc[0][j][v];
      if constexpr (C == 2) sum += acc[1][j][v];
      sum.store_aligned(z + (s0 + j) * ld_z + v * W);
    }
}

template <class Arch, class T, std::size_t V, std::size_t J>
void axpy_rows(const SkinnyProblem<T>& pr, std::size_t s0, std::size_t l0, std::size_t len, T* z, std::size_t ld_z) {
  constexpr std::size_t W = Batch<Arch, T>::size;
  std::size_t l = 0;
  for (; l + V * W <= len; l += V * W) axpy_block<Arch, T, V, J>(pr, s0, pr.x.data + (l0 + l) * pr.x.rs, V * W, z + l, ld_z);
  // Fewer whole vectors than V go 4 and 2 at a time: one vector per block is one dependent chain of
  // k FMAs (64×1×64 Aᵀ·x spent 4 FMA latencies a step). Each lane's sum is the same in any block.
  if constexpr (V > 4)
    for (; l + 4 * W <= len; l += 4 * W) axpy_block<Arch, T, 4, J>(pr, s0, pr.x.data + (l0 + l) * pr.x.rs, 4 * W, z + l, ld_z);
  if constexpr (V > 2)
    for (; l + 2 * W <= len; l += 2 * W) axpy_block<Arch, T, 2, J>(pr, s0, pr.x.data + (l0 + l) * pr.x.rs, 2 * W, z + l, ld_z);
  // Whole vectors then the last partial one, one vector per block: each lane's sum is unchanged.
  for (; l < len; l += W)
    axpy_block<Arch, T, 1, J>(pr, s0, pr.x.data + (l0 + l) * pr.x.rs, std::min(W, len - l), z + l, ld_z);
}

// Aᵀ·x past L2 (SkinnyStream::takes; AVX-512), on [l0, l1) in pieces of SkinnyStream::item: the
// long operand's rows read whole, each row's FMAs added into sums kept in memory (L1), even k steps
// into one and odd into the other, then added: the two chains of axpy_block, so the same bits.
// axpy_block reads a strip of 8 vectors of every row in turn, k rows 4 KiB apart at 1024×1×1024:
// a few lines from each of k pages. On an Ice Lake-SP guest, one thread, the whole gemm call with
// either form alternating in one process: 0.74 of the strips' time at float 1024 × 1024 (0.77
// double), 0.87 at 768 × 768; in L2 the sums' loads and stores bound it (256 × 256 float in a
// harness: 44 GB/s against the strips' 117).
template <class Arch, class T>
void axpy_stream(const SkinnyProblem<T>& pr, std::size_t l0, std::size_t l1) {
  using B = Batch<Arch, T>;
  constexpr std::size_t W = B::size, kItem = SkinnyStream::item;
  alignas(64) T even[kItem], odd[kItem];
  for (std::size_t l = l0; l < l1; l += kItem) {
    const std::size_t len = std::min(kItem, l1 - l), whole = len / W * W, padded = (len + W - 1) / W * W;
    const auto tail = LaneMask<T>((std::uint32_t(1) << (len - whole)) - 1);
    std::fill(even, even + padded, T(0));
    std::fill(odd, odd + padded, T(0));
    const T* x = pr.x.data + l * pr.x.rs;
    const auto add_row = [&](std::size_t p, T* sums, std::size_t i) __attribute__((always_inline)) {
      const T* row = x + p * pr.x.cs + i;
      const B xv = i < whole ? B::load_unaligned(row) : masked_load<Arch, T>(row, tail);
      fmadd<Arch, T>(xv, B(pr.y.data[p * pr.y.rs]), B::load_aligned(sums + i)).store_aligned(sums + i);
    };
    std::size_t p = 0;
    for (; p + 2 <= pr.k; p += 2)
      for (std::size_t i = 0; i < padded; i += W) {
        add_row(p, even, i);
        add_row(p + 1, odd, i);
      }
    if (p < pr.k)
      for (std::size_t i = 0; i < padded; i += W) add_row(p, even, i);
    for (std::size_t i = 0; i < padded; i += W)
      (B::load_aligned(even + i) + B::load_aligned(odd + i)).store_aligned(even + i);
    for (std::size_t c = 0; c < len; c += kSkinnyChunk) {
      const std::size_t chunk = std::min(kSkinnyChunk, len - c);
      finish_chunk<Arch, T>(pr, 0, l + c, chunk, even + c, kSkinnyChunk);
      skinny_activate<Arch, T>(pr, l + c, chunk);
    }
  }
}

// Whether groups of 3–4 short columns of the dot form take the quad form (gemm_skinny_quad.hpp):
// AVX-512 float up to kQuadMaxK. Measured one thread against dot_rows (docs/tuning.md): 64×4×64
// 627 → 442 ns, but 256×4×256 4.3 → 5.0 µs, where A streams from L2 and the in-register broadcasts
// cost more than the reduction they save.
template <class Arch, class T>
constexpr bool kQuadDot = simd::ops::is_avx512<Arch> && std::is_same_v<T, float>;
constexpr std::size_t kQuadMaxK = 128;

// Whether the dot form's 4-column tile takes 6 rows (24 accumulators: 10 loads per 24 FMAs instead
// of 8 per 16): AVX-512 float with the long operand within kSixRowMaxElements (A from L2). One
// thread: 256×4×256 A·B 4.28 → 4.08 µs, A·Bᵀ 4.03 → 3.82 µs (7 rows no better); from memory
// (1024×4×1024) 6 rows were 3–9 % slower. The limit between was not measured.
constexpr std::size_t kSixRowMaxElements = std::size_t(1) << 18;
template <class Arch, class T>
bool dot_six_rows(const SkinnyProblem<T>& pr) {
  return kQuadDot<Arch, T> && pr.long_n * pr.k <= kSixRowMaxElements;
}

// The quad form's groups of short columns: 4 at a time, and 3 left over (1 or 2 take dot_rows).
constexpr std::size_t quad_groups_of(std::size_t short_n) { return short_n / 4 + (short_n % 4 == 3 ? 1 : 0); }

// Room for the quad form's groups: at most 4 of quad_elements(kQuadMaxK).
template <class Arch, class T>
constexpr std::size_t kQuadRoom = kQuadDot<Arch, T> ? 4 * quad_elements(kQuadMaxK) : 0;

// The dot form's short operand as its tiles read it, packed once per call into `room` (kQuadRoom +
// max_kernel_pack elements): the quad form's groups (group g at g·quad_elements(k)) and, where y's
// columns do not run along k (then short_n·k ≤ max_kernel_pack: the driver packed larger ones) and
// some group takes dot_rows, all of y with its columns contiguous along k (pr.y then points there).
// Returns the quads (null when no group takes the quad form).
template <class Arch, class T>
const T* pack_short_operand(SkinnyProblem<T>& pr, T* room) {
  const std::size_t quad_groups = kQuadDot<Arch, T> && pr.k <= kQuadMaxK ? quad_groups_of(pr.short_n) : 0;
  const bool transpose = pr.y.rs != 1 && pr.short_n > quad_groups * 4;
  if constexpr (kQuadDot<Arch, T>)
    for (std::size_t g = 0; g < quad_groups; ++g)
      pack_quads<Arch>(pr, g * 4, std::min<std::size_t>(4, pr.short_n - g * 4), room + g * quad_elements(pr.k));
  if (transpose) {
    T* packed = room + kQuadRoom<Arch, T>;
    bool done = false;
    // One float column takes the plain strided copy: the transposing load (16 masked loads per 16
    // k steps) was 16 % of 64×1×64 A·x's perf samples (double not measured).
    if constexpr (simd::ops::is_avx512<Arch>)
      if (pr.y.cs == 1 && (pr.short_n > 1 || !std::is_same_v<T, float>))
        pack_columns_along_k<Arch, T>(pr, packed), done = true;
    for (std::size_t s = 0; s < pr.short_n && !done; ++s)
      for (std::size_t p = 0; p < pr.k; ++p) packed[s * pr.k + p] = pr.y.data[p * pr.y.rs + s * pr.y.cs];
    pr.y = {packed, 1, pr.k};
  }
  return quad_groups > 0 ? room : nullptr;
}

// Vectors of rows per block of the axpy form at 4 columns: 16 accumulators on AVX-512 (one thread,
// double Aᵀ·B 64×4×64 455 → 360 ns, 256×4×256 -20 %; float on Ice Lake-SP 0.85-0.96 of the time
// with 2 at 64, 256 and 1024; docs/tuning.md), 2 elsewhere.
template <class Arch, class T>
constexpr std::size_t kAxpyQuadVectors = simd::ops::is_avx512<Arch> ? 4 : 2;

// Rows of the dot form's one-column tile: a whole vector of sums per reduction tree (16 in
// AVX-512 float, where 8 rows ran the 16-lane tree half empty), 8 elsewhere.
template <class Arch, class T>
constexpr std::size_t kDotOneColumnRows = simd::ops::is_avx512<Arch> && std::is_same_v<T, float> ? 16 : 8;

// AVX-512: past kDotOneColumnL1Elements of the long operand (A·x with A beyond L1), the one-column
// tile takes 4 rows: 4 streams of A instead of 16 (float) or 8 (double). One thread, Ice Lake-SP,
// 256×1×256 A·x and A·xᵀ ran 0.77-0.81 of the time with the wide tile (float and double),
// 1024×1×1024 0.93-0.95; 64×1×64 float (16 KiB, in L1) 0.99 and 1.05, so it keeps 16 rows.
constexpr std::size_t kDotOneColumnL1Elements = std::size_t(1) << 13;
template <class Arch, class T>
bool dot_one_column_streams(const SkinnyProblem<T>& pr) {
  return simd::ops::is_avx512<Arch> && pr.long_n * pr.k > kDotOneColumnL1Elements;
}

// Short columns in groups of 4, 3, 2 or 1; fewer columns take more rows per tile so that at least
// 8 independent accumulator chains hide the FMA latency. `quads`: the dot form's packed quad groups.
template <class Arch, class T>
void skinny_columns(const SkinnyProblem<T>& pr, const T* quads, std::size_t l0, std::size_t len, T* z, std::size_t ld_z) {
  const bool dot = pr.x.cs == 1;
  for (std::size_t s0 = 0; s0 < pr.short_n;) {
    const std::size_t left = pr.short_n - s0;
    if constexpr (kQuadDot<Arch, T>) {
      if (quads != nullptr && left >= 3) {
        const std::size_t cols = std::min<std::size_t>(4, left);
        quad_rows<Arch, 8>(pr, quads + s0 / 4 * quad_elements(pr.k), s0, cols, l0, len, z, ld_z);
        s0 += cols;
        continue;
      }
    }
    if (!dot && left >= 8) {
      // 8 columns a pass in the axpy form (Aᵀ·B at batch 8–16): 16 accumulators, and the long
      // operand read half as often as by passes of 4.
      axpy_rows<Arch, T, 2, 8>(pr, s0, l0, len, z, ld_z);
      s0 += 8;
    } else if (left >= 4) {
      if (!dot)
        axpy_rows<Arch, T, kAxpyQuadVectors<Arch, T>, 4>(pr, s0, l0, len, z, ld_z);
      else if (dot_six_rows<Arch, T>(pr))
        dot_rows<Arch, T, kQuadDot<Arch, T> ? 6 : 4, 4>(pr, s0, l0, len, z, ld_z);
      else
        dot_rows<Arch, T, 4, 4>(pr, s0, l0, len, z, ld_z);
      s0 += 4;
    } else if (left == 3) {
      dot ? dot_rows<Arch, T, 4, 3>(pr, s0, l0, len, z, ld_z) : axpy_rows<Arch, T, 3, 3>(pr, s0, l0, len, z, ld_z);
      s0 += 3;
    } else if (left == 2) {
      dot ? dot_rows<Arch, T, 4, 2>(pr, s0, l0, len, z, ld_z) : axpy_rows<Arch, T, 4, 2>(pr, s0, l0, len, z, ld_z);
      s0 += 2;
    } else {
      if (!dot)
        axpy_rows<Arch, T, 8, 1>(pr, s0, l0, len, z, ld_z);
      else if (dot_one_column_streams<Arch, T>(pr))
        dot_rows<Arch, T, 4, 1>(pr, s0, l0, len, z, ld_z);
      else
        dot_rows<Arch, T, kDotOneColumnRows<Arch, T>, 1>(pr, s0, l0, len, z, ld_z);
      s0 += 1;
    }
  }
}

// The chunks of [l0, l1): products into z, then the store.
template <class Arch, class T>
void skinny_chunks(const SkinnyProblem<T>& pr, const T* quads, std::size_t l0, std::size_t l1) {
  alignas(64) T z[kSkinnyChunk * SkinnyProblem<T>::max_short];
  // Columns the quad form stores into C itself, as its tiles finish.
  std::size_t stored = 0;
  if constexpr (kQuadDot<Arch, T>)
    if (quads != nullptr && quad_stores_rows<Arch>(pr)) stored = std::min(pr.short_n, quad_groups_of(pr.short_n) * 4);
  for (std::size_t l = l0; l < l1; l += kSkinnyChunk) {
    const std::size_t len = std::min(kSkinnyChunk, l1 - l);
    // The store reads whole vectors of z (of the columns it stores): lanes past len hold zeros, not
    // stale values.
    if (len % Batch<Arch, T>::size != 0)
      for (std::size_t s = stored; s < pr.short_n; ++s) std::fill(z + s * kSkinnyChunk + len, z + (s + 1) * kSkinnyChunk, T(0));
    skinny_columns<Arch, T>(pr, quads, l, len, z, kSkinnyChunk);
    finish_chunk<Arch, T>(pr, stored, l, len, z, kSkinnyChunk);
    skinny_activate<Arch, T>(pr, l, len);
  }
}

template <class Arch, class T>
void skinny_kernel(const SkinnyProblem<T>& problem, std::size_t l0, std::size_t l1) {
  if constexpr (simd::ops::is_avx512<Arch>) {
    if (rank1_takes<Arch, T>(problem)) return rank1_kernel<Arch, T>(problem, l0, l1);
    if (SkinnyStream::takes(problem)) return axpy_stream<Arch, T>(problem, l0, l1);
  }
  // The axpy form, and a dot form with nothing to pack (W·x with x contiguous), run without the
  // packing room on the stack.
  const bool quads = kQuadDot<Arch, T> && problem.k <= kQuadMaxK && problem.short_n >= 3;
  if (problem.x.cs != 1 || (!quads && problem.y.rs == 1)) return skinny_chunks<Arch, T>(problem, nullptr, l0, l1);
  SkinnyProblem<T> pr = problem;
  alignas(64) T room[kQuadRoom<Arch, T> + SkinnyProblem<T>::max_kernel_pack];
  const T* packed = pack_short_operand<Arch, T>(pr, room);
  skinny_chunks<Arch, T>(pr, packed, l0, l1);
}

}  // namespace mlpkit::detail::gemm_simd
