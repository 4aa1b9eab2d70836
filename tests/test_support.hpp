#pragma once
// Helpers shared by the tests: running a check under every ISA, thread counts, data, ULPs.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "mlpkit/runtime.hpp"
#include "runtime/dispatch.hpp"
#include "scoped_threads.hpp"

namespace mlpkit::test {

/** Runs body() once per ISA this machine supports, with that ISA forced, as a doctest subcase each. */
template <class Body>
void for_each_isa(Body&& body) {
  for (Isa isa : supported_isas()) {
    const std::string name(isa_name(isa));
    SUBCASE(name.c_str()) {
      detail::ScopedIsa forced(isa);
      INFO("isa = " << name);
      body(isa);
    }
  }
}

/** Bitwise equality of two vectors (NaN equals NaN when the bits agree). Empty vectors are equal:
 * memcmp of their null data would be undefined even for 0 bytes. */
template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

/** n values uniform in [lo, hi), reproducible from seed. */
template <class T>
std::vector<T> uniform(std::size_t n, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(dist(rng));
  return v;
}

/** Sizes that hit SIMD edges: 0, 1, 7, register widths ± 1, and a few longer odd ones. */
inline const std::vector<std::size_t>& awkward_sizes() {
  static const std::vector<std::size_t> sizes{0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 129, 1000, 4095, 4097, 12289};
  return sizes;
}

/**
 * Counts where a fused gemm epilogue differs from the unfused product followed by Z = C + bias[i]
 * and activation_forward row by row (the same ISA's lane function, so equal bit for bit): in
 * pre_activation (Z) or in C (act(Z)). Each matrix is m × n at data[i·ld + j].
 */
template <class T, class Activate>
std::size_t fused_epilogue_mismatches(std::size_t m, std::size_t n, const T* unfused, std::size_t ld_unfused,
                                      const T* bias, const T* fused, std::size_t ld_fused, const T* pre,
                                      std::size_t ld_pre, Activate&& activation_forward_row) {
  std::vector<T> z(n), want(n);
  std::size_t bad = 0;
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) z[j] = unfused[i * ld_unfused + j] + bias[i];
    activation_forward_row(z.data(), want.data(), n);
    for (std::size_t j = 0; j < n; ++j) {
      if (pre[i * ld_pre + j] != z[j]) ++bad;
      const T got = fused[i * ld_fused + j];
      if (!(got == want[j] || (std::isnan(got) && std::isnan(want[j])))) ++bad;
    }
  }
  return bad;
}

}  // namespace mlpkit::test
