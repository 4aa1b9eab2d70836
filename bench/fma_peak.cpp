// The FMA loops of fma_peak.hpp, one per ISA, compiled for that ISA by a target attribute (this file
// is built with the project's baseline flags, like the rest of the bench). Sixteen accumulators
// (twelve with the sixteen registers of AVX2 and SSE2) hide the FMA latency on every core the
// library supports: a core needs latency × FMA ports of them in flight, 4 × 2 = 8 on Zen 4 and
// Sapphire Rapids.
#include "fma_peak.hpp"

#include <immintrin.h>

#include <type_traits>

namespace mlpkit_bench {
namespace {

// Read at run time, so the compiler cannot fold the loop (it would: 1 + 2^-30 rounds to 1 in float).
// acc = acc·1 + 2^-30 never leaves the normal range, so no subnormal slow path is timed.
volatile double g_one = 1.0, g_tiny = 0x1p-30;

#define MLPKIT_FMA_LOOP(VEC, SCALAR, SET1, FMA, REDUCE, LANES, ACCUMULATORS)           \
  VEC acc[ACCUMULATORS];                                                              \
  const VEC one = SET1(static_cast<SCALAR>(g_one)), tiny = SET1(static_cast<SCALAR>(g_tiny)); \
  for (auto& a : acc) a = one;                                                        \
  for (std::uint64_t t = 0; t < trips; ++t) {                                         \
    _Pragma("GCC unroll 16") for (int i = 0; i < ACCUMULATORS; ++i) acc[i] = FMA(acc[i], one, tiny); \
  }                                                                                   \
  for (int i = 1; i < ACCUMULATORS; ++i) acc[0] = REDUCE(acc[0], acc[i]);             \
  sink = acc[0];                                                                      \
  return 2.0 * double(trips) * ACCUMULATORS * LANES

__attribute__((target("avx512f"))) double avx512_float(std::uint64_t trips, volatile __m512& sink) {
  MLPKIT_FMA_LOOP(__m512, float, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, 16, 16);
}
__attribute__((target("avx512f"))) double avx512_double(std::uint64_t trips, volatile __m512d& sink) {
  MLPKIT_FMA_LOOP(__m512d, double, _mm512_set1_pd, _mm512_fmadd_pd, _mm512_add_pd, 8, 16);
}
__attribute__((target("avx2,fma"))) double avx2_float(std::uint64_t trips, volatile __m256& sink) {
  MLPKIT_FMA_LOOP(__m256, float, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, 8, 12);
}
__attribute__((target("avx2,fma"))) double avx2_double(std::uint64_t trips, volatile __m256d& sink) {
  MLPKIT_FMA_LOOP(__m256d, double, _mm256_set1_pd, _mm256_fmadd_pd, _mm256_add_pd, 4, 12);
}

inline __m128 sse2_madd_ps(__m128 a, __m128 b, __m128 c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
inline __m128d sse2_madd_pd(__m128d a, __m128d b, __m128d c) { return _mm_add_pd(_mm_mul_pd(a, b), c); }
double sse2_float(std::uint64_t trips, volatile __m128& sink) {
  MLPKIT_FMA_LOOP(__m128, float, _mm_set1_ps, sse2_madd_ps, _mm_add_ps, 4, 12);
}
double sse2_double(std::uint64_t trips, volatile __m128d& sink) {
  MLPKIT_FMA_LOOP(__m128d, double, _mm_set1_pd, sse2_madd_pd, _mm_add_pd, 2, 12);
}

#undef MLPKIT_FMA_LOOP

}  // namespace

template <class T>
double fma_loop(mlpkit::Isa isa, std::uint64_t trips) {
  constexpr bool f = std::is_same_v<T, float>;
  // The widest registers the ISA has: ISAs are ordered lowest first, and any above avx512 has its zmm.
  const auto at_least = [isa](mlpkit::Isa floor) { return static_cast<int>(isa) >= static_cast<int>(floor); };
  if (at_least(mlpkit::Isa::avx512)) {
    if constexpr (f) { volatile __m512 s; return avx512_float(trips, s); }
    else { volatile __m512d s; return avx512_double(trips, s); }
  }
  if (at_least(mlpkit::Isa::avx2)) {
    if constexpr (f) { volatile __m256 s; return avx2_float(trips, s); }
    else { volatile __m256d s; return avx2_double(trips, s); }
  }
  if constexpr (f) { volatile __m128 s; return sse2_float(trips, s); }
  else { volatile __m128d s; return sse2_double(trips, s); }
}

template double fma_loop<float>(mlpkit::Isa, std::uint64_t);
template double fma_loop<double>(mlpkit::Isa, std::uint64_t);

}  // namespace mlpkit_bench
