#pragma once
// The MR × NR register-blocked GEMM micro-kernel and its store (alpha, beta, fused epilogue),
// written once against xsimd. Everything is a template over the arch tag, so no symbol is shared
// between ISA objects (see isa/<isa>.cpp).
#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernels/activations/activations_simd.hpp"
#include "kernels/gemm/gemm_kernels.hpp"
#include "kernels/simd/simd.hpp"

namespace mlpkit::detail::gemm_simd {

template <class Arch, class T>
using Batch = xsimd::batch<T, Arch>;

// x·y + z fused on every ISA (xsimd 8.1's fma does not fuse on avx512): the SIMD layer's.
using simd::ops::fmadd;

/**
 * Stores the accumulators of one full MR × (NB·W) tile: C = alpha·acc + beta·C (C unread when
 * beta = 0), then with an epilogue Z = C + bias[i], pre_activation = Z, and for ReLU (the usual
 * hidden layer: one compare and blend) C = act(Z). Every other activation is the caller's second
 * pass over the stored tile (activate_tile). The run-time switch of activate() in each of the MR·NB
 * stores had put that many copies of every activation into the micro-kernel, and a fused tile's
 * store ran through all of them (fused 1024×256×1024 at 0.81× the plain product's speed).
 */
template <class Arch, class T, std::size_t MR, std::size_t NB>
[[gnu::always_inline]] inline void store_tile(Batch<Arch, T> (&acc)[MR][NB], T alpha, T beta, T* c, std::size_t ldc,
                       const GemmTileEpilogue<T>* epilogue) {
  using B = Batch<Arch, T>;
  constexpr std::size_t W = B::size;
  const B va(alpha), vb(beta);
  const bool read_c = beta != T(0);
  const bool relu = epilogue != nullptr && epilogue->activation == Activation::relu;
#pragma GCC unroll 32
  for (std::size_t i = 0; i < MR; ++i) {
#pragma GCC unroll 8
    for (std::size_t jb = 0; jb < NB; ++jb) {
      T* cp = c + i * ldc + jb * W;
      B r = acc[i][jb] * va;
      if (read_c) r = fmadd<Arch, T>(vb, B::load_unaligned(cp), r);
      if (epilogue != nullptr) {
        // Through fmadd: a plain add could be contracted with alpha·acc by the compiler, and
        // then the fused result would differ from gemm followed by a separate bias add.
        if (epilogue->bias != nullptr) r = fmadd<Arch, T>(r, B(T(1)), B(epilogue->bias[i]));
        if (epilogue->pre_activation != nullptr)
          r.store_unaligned(epilogue->pre_activation + i * epilogue->ld_pre + jb * W);
        // activation_forward's own lane function, so fused equals unfused bit for bit.
        if (relu) r = simd::activate_as<Arch, T, Activation::relu, Accuracy::precise>(r, T(0));
      }
      r.store_unaligned(cp);
    }
  }
}

/**
 * The activation pass of a tile's epilogue after micro_tile stored Z (ReLU it applied itself), with
 * activation_forward's lane functions, so fused equals unfused bit for bit. Called by micro_tile's
 * callers: a call inside micro_tile (every vector register is caller-saved) made GCC spill the K
 * loop's accumulators (512³ 1.5 → 2.0 ms).
 */
template <class Arch, class T>
inline void activate_tile(const GemmTileEpilogue<T>& e, T* c, std::size_t ldc, std::size_t rows, std::size_t cols) {
  if (e.activation != Activation::relu)
    simd::activate_rows<Arch, T>(e.activation, e.accuracy, e.leaky_slope, c, ldc, rows, cols);
}

/**
 * acc = Σ_p A(:, p)·B(p, :) over k, for one full tile. A is a packed MR × k panel (PackedA,
 * element (i, p) at a[p·MR + i]) or unpacked rows a_rows[i][p·a_cs]; B is a packed k × NR sliver
 * (PackedB, element (p, j) at b[p·NR + j], 64-byte aligned) or unpacked rows b[p·b_rs + j].
 */
template <class Arch, class T, std::size_t MR, std::size_t NB, bool PackedA, bool PackedB>
[[gnu::noinline]] void accumulate(std::size_t k, const T* a, const T* const* a_rows, std::size_t a_cs, std::ptrdiff_t a_next,
                       const T* b, std::size_t b_rs, Batch<Arch, T> (&out)[MR][NB]) {
  using B = Batch<Arch, T>;
  constexpr std::size_t W = B::size;
  constexpr std::size_t NR = NB * W;
  constexpr std::size_t kLine = 64 / sizeof(T), kPrefetchMinK = 128;
  constexpr std::uintptr_t kAheadBytes = 1024;  // packed A's prefetch distance
  B acc[MR][NB];  // local: `out` may alias A and B as far as the compiler knows
#pragma GCC unroll 32
  for (std::size_t i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (std::size_t jb = 0; jb < NB; ++jb) acc[i][jb] = B(T(0));
  const auto step = [&](std::size_t p) __attribute__((always_inline)) {
    B bv[NB];
#pragma GCC unroll 8
    for (std::size_t jb = 0; jb < NB; ++jb) {
      if constexpr (PackedB)
        bv[jb] = B::load_aligned(b + p * NR + jb * W);
      else
        bv[jb] = B::load_unaligned(b + p * b_rs + jb * W);
    }
#pragma GCC unroll 32
    for (std::size_t i = 0; i < MR; ++i) {
      const B ai(PackedA ? a[p * MR + i] : a_rows[i][p * a_cs]);
#pragma GCC unroll 8
      for (std::size_t jb = 0; jb < NB; ++jb) acc[i][jb] = fmadd<Arch, T>(ai, bv[jb], acc[i][jb]);
    }
  };
  std::size_t p = 0;
  if constexpr (!PackedA) {
    // Unpacked A may come from L3 or memory (a deep network's weights, read once per layer). Each
    // line of K fetches the same line of the next row tile's rows, one tile ahead (a_next bytes
    // on; 0: not), which the hardware prefetchers do not do for MR interleaved row streams. The
    // address is formed as an integer: past the last tile it points beyond A, which a prefetch may
    // but a pointer may not. A short K (A of a few KiB, in cache) skips it: at 32³ it cost 2 % of
    // the time. On Ice Lake-SP it cost more than it saved (GemmBlocking::direct_prefetch_next).
    for (; k >= kPrefetchMinK && p + kLine <= k; p += kLine) {
      if (a_next != 0)
#pragma GCC unroll 32
        for (std::size_t i = 0; i < MR; ++i)
          __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(a_rows[i] + p * a_cs) + a_next));
      // Contiguous rows: this tile's own rows two lines ahead too (one thread, Ice Lake-SP: float
      // 1024×16×1024 0.91 of the time without, double 256×64×784 0.95; 4 and 8 lines no better).
      if (a_cs == 1)
#pragma GCC unroll 32
        for (std::size_t i = 0; i < MR; ++i)
          __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(a_rows[i] + p) + 2 * 64));
      for (std::size_t q = 0; q < kLine; ++q) step(p + q);
    }
  } else {
    // The packed A panel streams from L2, a line every step (double) or two (float): each line is
    // asked for 1 KiB ahead (16 or 32 steps). On an Ice Lake-SP guest, one thread, double 512³ to
    // 2048³ ran 0.74-0.78 of the time without (the hardware prefetchers alone left the K loop
    // waiting); float within ±5 %.
    constexpr std::size_t kStepsPerLine = std::max<std::size_t>(1, 64 / (MR * sizeof(T)));
    for (; p + kStepsPerLine <= k; p += kStepsPerLine) {
      __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(a + p * MR) + kAheadBytes));
#pragma GCC unroll 4
      for (std::size_t q = 0; q < kStepsPerLine; ++q) step(p + q);
    }
  }
  for (; p < k; ++p) step(p);
#pragma GCC unroll 32
  for (std::size_t i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (std::size_t jb = 0; jb < NB; ++jb) out[i][jb] = acc[i][jb];
}

/**
 * One m_eff × n_eff tile (m_eff ≤ MR, n_eff ≤ NR) of C = alpha·A·B + beta·C (+ epilogue; an
 * activation other than ReLU is left to the caller's activate_tile).
 * A partial tile goes through a local MR × NR buffer, so the arithmetic is that of a full tile.
 * For unpacked A, rows past m_eff read row m_eff − 1 (their results are dropped).
 */
template <class Arch, class T, std::size_t MR, std::size_t NB, bool PackedA, bool PackedB>
void micro_tile(std::size_t k, const T* a, std::size_t a_rs, std::size_t a_cs, const T* b, std::size_t b_rs, T alpha,
                T beta, T* c, std::size_t ldc, std::size_t m_eff, std::size_t n_eff,
                const GemmTileEpilogue<T>* epilogue, bool prefetch_next = false) {
  using B = Batch<Arch, T>;
  constexpr std::size_t NR = NB * B::size;
  const T* a_rows[MR];
  if constexpr (!PackedA) {
    for (std::size_t i = 0; i < MR; ++i) a_rows[i] = a + std::min(i, m_eff - 1) * a_rs;
  }
  const bool full = m_eff == MR && n_eff == NR;
  if (full) {
    // C is read (or written) only after the K loop; fetching it now hides the misses of its strided rows.
    for (std::size_t i = 0; i < MR; ++i) {
      __builtin_prefetch(c + i * ldc, 1);
      __builtin_prefetch(c + i * ldc + NR - 1, 1);
    }
  }
  B acc[MR][NB];
  const auto a_next = prefetch_next ? static_cast<std::ptrdiff_t>(MR * a_rs * sizeof(T)) : std::ptrdiff_t{0};
  accumulate<Arch, T, MR, NB, PackedA, PackedB>(k, a, a_rows, a_cs, a_next, b, b_rs, acc);
  if (full) {
    store_tile<Arch, T, MR, NB>(acc, alpha, beta, c, ldc, epilogue);
    return;
  }
  alignas(64) T tile[MR * NR];
  alignas(64) T pre[MR * NR];
  T bias[MR];
  std::fill(tile, tile + MR * NR, T(0));
  if (beta != T(0))
    for (std::size_t i = 0; i < m_eff; ++i)
      for (std::size_t j = 0; j < n_eff; ++j) tile[i * NR + j] = c[i * ldc + j];
  GemmTileEpilogue<T> local{};
  if (epilogue != nullptr) {
    local = *epilogue;
    if (epilogue->bias != nullptr) {
      std::fill(bias, bias + MR, T(0));
      std::copy(epilogue->bias, epilogue->bias + m_eff, bias);
      local.bias = bias;
    }
    if (epilogue->pre_activation != nullptr) {
      local.pre_activation = pre;
      local.ld_pre = NR;
    }
  }
  store_tile<Arch, T, MR, NB>(acc, alpha, beta, tile, NR, epilogue != nullptr ? &local : nullptr);
  // Z before act(Z), as store_tile does: when pre_activation is C itself, C must end up holding act(Z).
  if (epilogue != nullptr && epilogue->pre_activation != nullptr)
    for (std::size_t i = 0; i < m_eff; ++i)
      for (std::size_t j = 0; j < n_eff; ++j) epilogue->pre_activation[i * epilogue->ld_pre + j] = pre[i * NR + j];
  for (std::size_t i = 0; i < m_eff; ++i)
    for (std::size_t j = 0; j < n_eff; ++j) c[i * ldc + j] = tile[i * NR + j];
}

}  // namespace mlpkit::detail::gemm_simd
