#pragma once
// The SIMD layer of the kernels: what xsimd 8.1 lacks or gets wrong, written once, so that a kernel
// says what it computes and never which instructions do it. Raw intrinsics belong here only.
// - is_avx512<Arch>: the one test for "this is AVX-512" (any arch built on avx512f).
// - fmadd / fnmadd / fmsub: x·y + z, z − x·y, x·y − z rounded once wherever the ISA has FMA (AVX2,
//   AVX-512); xsimd leaves AVX-512 to its generic x*y + z, which the compiler then fuses or not per call
//   site. SSE2 has no FMA: a multiply and an add, as xsimd does.
// - AVX-512 only (callers branch on is_avx512): scale_by_pow2 (vscalef), permute_low_bits (a 16-float
//   or 8-double table indexed by the low bits of each lane, one vperm; twice as long, one vpermi2;
//   permute_low_bits_from_memory: the table a memory operand of the vperm), reciprocal_estimate14 (vrcp14).
// - with_sign_of: the magnitude of one batch with the sign bit of another (one vpternlog on AVX-512).
// - opaque: a value hidden from the optimizer, so that error-free transformations are not contracted.
// - store_stream / stream_fence: non-temporal stores of full aligned batches, and the fence that
//   publishes them (they are weakly ordered) before a kernel returns.
// - load_widened: floats widened to a double batch (xsimd 8.1 has no fast float → double).
// - load_tail: the first `count` lanes of a batch with the rest zero, reading nothing past them
//   (AVX-512 masked load; elsewhere through a zeroed buffer).
// Everything is a template over the arch tag, so no symbol is shared between ISA objects.
#include <immintrin.h>
#include <xsimd/xsimd.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace mlpkit::detail {

/**
 * Whether a call writes its output with non-temporal stores, given `bytes`, what it moves that
 * competes for the cache: only from one CPU's share of the last-level cache on (at least 8 MiB), where
 * the output would be evicted before anyone read it again. (kernels/simd/streaming.cpp)
 */
bool use_streaming_stores(std::size_t bytes);

namespace simd::ops {

/** Whether Arch is AVX-512 (avx512f or an arch built on it, as avx512bw). */
template <class Arch>
inline constexpr bool is_avx512 = std::is_base_of_v<xsimd::avx512f, Arch>;

/** x·y + z, fused (one rounding) on every ISA with FMA. */
template <class Arch, class T>
inline xsimd::batch<T, Arch> fmadd(const xsimd::batch<T, Arch>& x, const xsimd::batch<T, Arch>& y,
                                   const xsimd::batch<T, Arch>& z) {
  if constexpr (is_avx512<Arch>) {
    if constexpr (std::is_same_v<T, float>)
      return _mm512_fmadd_ps(x, y, z);
    else
      return _mm512_fmadd_pd(x, y, z);
  } else {
    return xsimd::fma(x, y, z);
  }
}

/** z − x·y, fused (one rounding) on every ISA with FMA. */
template <class Arch, class T>
inline xsimd::batch<T, Arch> fnmadd(const xsimd::batch<T, Arch>& x, const xsimd::batch<T, Arch>& y,
                                    const xsimd::batch<T, Arch>& z) {
  if constexpr (is_avx512<Arch>) {
    if constexpr (std::is_same_v<T, float>)
      return _mm512_fnmadd_ps(x, y, z);
    else
      return _mm512_fnmadd_pd(x, y, z);
  } else {
    return xsimd::fnma(x, y, z);
  }
}

/** x·y − z, fused (one rounding) on every ISA with FMA. */
template <class Arch, class T>
inline xsimd::batch<T, Arch> fmsub(const xsimd::batch<T, Arch>& x, const xsimd::batch<T, Arch>& y,
                                   const xsimd::batch<T, Arch>& z) {
  if constexpr (is_avx512<Arch>) {
    if constexpr (std::is_same_v<T, float>)
      return _mm512_fmsub_ps(x, y, z);
    else
      return _mm512_fmsub_pd(x, y, z);
  } else {
    return xsimd::fms(x, y, z);
  }
}

/** AVX-512: v·2^floor(k) in one operation (vscalef), rounded once (into the subnormals, or to ±Inf). */
template <class Arch, class T>
inline xsimd::batch<T, Arch> scale_by_pow2(const xsimd::batch<T, Arch>& v, const xsimd::batch<T, Arch>& k) {
  static_assert(is_avx512<Arch>, "vscalef is AVX-512 only");
  if constexpr (std::is_same_v<T, float>)
    return _mm512_scalef_ps(v, k);
  else
    return _mm512_scalef_pd(v, k);
}

/**
 * AVX-512: table[j] in each lane, j the low 4 (float) / 3 (double) bits of the lane's bit pattern in
 * `index` (one vpermps / vpermpd), or with a table of two batches, the low 5 / 4 bits (one vpermi2ps /
 * vpermi2pd).
 */
template <class Arch, class T, std::size_t N>
inline xsimd::batch<T, Arch> permute_low_bits(const std::array<T, N>& table, const xsimd::batch<T, Arch>& index) {
  using B = xsimd::batch<T, Arch>;
  static_assert(is_avx512<Arch>, "a full-width permute is AVX-512 only here");
  static_assert(N == B::size || N == 2 * B::size, "one or two table entries per lane");
  const auto entries = B::load_unaligned(table.data());  // a constant: folded into one load
  if constexpr (N == 2 * B::size) {
    const auto upper = B::load_unaligned(table.data() + B::size);
    if constexpr (std::is_same_v<T, float>)
      return _mm512_permutex2var_ps(entries, _mm512_castps_si512(index), upper);
    else
      return _mm512_permutex2var_pd(entries, _mm512_castpd_si512(index), upper);
  } else if constexpr (std::is_same_v<T, float>) {
    return _mm512_permutexvar_ps(_mm512_castps_si512(index), entries);
  } else {
    return _mm512_permutexvar_pd(_mm512_castpd_si512(index), entries);
  }
}

/**
 * AVX-512: permute_low_bits of a one-batch table read by the permute itself from memory (vpermps /
 * vpermpd with a memory operand), so the table holds no register across a loop. `table` must have
 * static storage (a register copy would defeat the purpose; an automatic one would be stored each call).
 */
template <class Arch, class T, std::size_t N>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> permute_low_bits_from_memory(const std::array<T, N>& table,
                                                                                 const xsimd::batch<T, Arch>& index) {
  using B = xsimd::batch<T, Arch>;
  static_assert(is_avx512<Arch>, "a full-width permute is AVX-512 only here");
  static_assert(N == B::size, "one table entry per lane");
  typename B::register_type out;
  if constexpr (std::is_same_v<T, float>)
    asm("vpermps %[table], %[index], %[out]" : [out] "=v"(out) : [index] "v"(index.data), [table] "m"(table));
  else
    asm("vpermpd %[table], %[index], %[out]" : [out] "=v"(out) : [index] "v"(index.data), [table] "m"(table));
  return out;
}

/** AVX-512: 1/d to a relative error below 2^−14 (vrcp14). */
template <class Arch, class T>
inline xsimd::batch<T, Arch> reciprocal_estimate14(const xsimd::batch<T, Arch>& d) {
  static_assert(is_avx512<Arch>, "vrcp14 is AVX-512 only");
  if constexpr (std::is_same_v<T, float>)
    return _mm512_rcp14_ps(d);
  else
    return _mm512_rcp14_pd(d);
}

/** |magnitude| with the sign bit of sign_source (NaN payloads kept). */
template <class Arch, class T>
inline xsimd::batch<T, Arch> with_sign_of(const xsimd::batch<T, Arch>& magnitude, const xsimd::batch<T, Arch>& sign_source) {
  using B = xsimd::batch<T, Arch>;
  if constexpr (is_avx512<Arch>) {  // one bit select: the sign bit from sign_source, the rest from magnitude
    if constexpr (std::is_same_v<T, float>)
      return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(magnitude),
                                                           _mm512_castps_si512(sign_source),
                                                           _mm512_set1_epi32(INT32_MIN), 0xD8));
    else
      return _mm512_castsi512_pd(_mm512_ternarylogic_epi64(_mm512_castpd_si512(magnitude),
                                                           _mm512_castpd_si512(sign_source),
                                                           _mm512_set1_epi64(INT64_MIN), 0xD8));
  } else {
    return xsimd::abs(magnitude) | (sign_source & B(-T(0)));
  }
}

/**
 * v, hidden from the optimizer: with GCC's default -ffp-contract=fast a product feeding an addition
 * may be fused into an FMA, which silently breaks error-free transformations (seen on AVX-512).
 */
template <class Arch, class T>
inline xsimd::batch<T, Arch> opaque(const xsimd::batch<T, Arch>& v) {
  auto reg = v.data;
  if constexpr (is_avx512<Arch>)
    __asm__("" : "+v"(reg));
  else
    __asm__("" : "+x"(reg));
  return reg;
}

/**
 * Hides pointer `p`'s value from the optimizer (no instruction): addresses derived from it are
 * computed afresh from it, not strength-reduced into induction variables that GCC may spill.
 */
template <class Arch, class P>
[[gnu::always_inline]] inline void opaque_pointer(P*& p) {
  __asm__("" : "+r"(p));
}

/** A non-temporal store of a full batch to an address aligned to the batch's size. */
template <class Arch, class T>
inline void store_stream(T* p, const xsimd::batch<T, Arch>& v) {
  constexpr std::size_t bytes = sizeof(T) * xsimd::batch<T, Arch>::size;
  if constexpr (std::is_same_v<T, float>) {
    if constexpr (bytes == 64) _mm512_stream_ps(p, v);
    else if constexpr (bytes == 32) _mm256_stream_ps(p, v);
    else _mm_stream_ps(p, v);
  } else {
    if constexpr (bytes == 64) _mm512_stream_pd(p, v);
    else if constexpr (bytes == 32) _mm256_stream_pd(p, v);
    else _mm_stream_pd(p, v);
  }
}

/** Orders the non-temporal stores before it with every later store: call it before returning. */
template <class Arch>
inline void stream_fence() {
  _mm_sfence();
}

/** D floats (D = doubles per batch) widened to one double batch. */
template <class Arch>
inline xsimd::batch<double, Arch> load_widened(const float* p) {
  using dbatch = xsimd::batch<double, Arch>;
  if constexpr (dbatch::size == 8) {
    return _mm512_cvtps_pd(_mm256_loadu_ps(p));
  } else if constexpr (dbatch::size == 4) {
    return _mm256_cvtps_pd(_mm_loadu_ps(p));
  } else {
    static_assert(dbatch::size == 2, "unexpected double batch width");
    return _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
}

/** Lanes 0 … count − 1 from p, the others 0; count < the batch size; nothing past them is read. */
template <class Arch, class T>
inline xsimd::batch<T, Arch> load_tail(const T* p, std::size_t count) {
  using batch = xsimd::batch<T, Arch>;
  if constexpr (is_avx512<Arch>) {
    const unsigned mask = (1U << count) - 1;
    if constexpr (std::is_same_v<T, float>)
      return _mm512_maskz_loadu_ps(static_cast<__mmask16>(mask), p);
    else
      return _mm512_maskz_loadu_pd(static_cast<__mmask8>(mask), p);
  } else {
    alignas(64) T lanes[batch::size] = {};
    for (std::size_t j = 0; j < count; ++j) lanes[j] = p[j];
    return batch::load_aligned(lanes);
  }
}

}  // namespace simd::ops
}  // namespace mlpkit::detail
