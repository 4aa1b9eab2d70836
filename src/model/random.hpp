#pragma once
// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11, as in Random123).
//
// A value is a pure function of a key and a counter, so weight initialization, dropout masks and
// shuffles are reproducible from the seed and independent of how the work is spread over threads:
// every element computes its own random bits from its coordinates instead of drawing from a shared
// sequential stream. Domains (init, dropout, shuffle) are kept apart by a tag in the counter.
#include <array>
#include <cmath>
#include <cstdint>

namespace mlpkit::detail {

using PhiloxKey = std::array<std::uint32_t, 2>;
using PhiloxCounter = std::array<std::uint32_t, 4>;

/** Philox4x32 with 10 rounds: four 32-bit random words from (key, counter). */
inline PhiloxCounter philox4x32(PhiloxKey key, PhiloxCounter ctr) {
  constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = std::uint64_t{kMul0} * ctr[0];
    const std::uint64_t p1 = std::uint64_t{kMul1} * ctr[2];
    const auto hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const auto hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    ctr = {hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0};
    key[0] += kWeyl0;
    key[1] += kWeyl1;
  }
  return ctr;
}

/** Tags that keep the random streams of different purposes apart (counter word 3). */
enum class RandomDomain : std::uint32_t { init = 0x494e4954u, dropout = 0x44524f50u, shuffle = 0x53485546u };

inline std::uint32_t low32(std::uint64_t v) { return static_cast<std::uint32_t>(v); }
inline std::uint32_t high32(std::uint64_t v) { return static_cast<std::uint32_t>(v >> 32); }

/** The key of a seed: its two 32-bit halves. */
inline PhiloxKey seed_key(std::uint64_t seed) { return {low32(seed), high32(seed)}; }

/**
 * A key derived from (seed, a 64-bit value, a 32-bit value, domain), for streams whose coordinates
 * do not fit one 128-bit counter (dropout: seed, step, layer, then unit and example).
 */
inline PhiloxKey derived_key(std::uint64_t seed, std::uint64_t a, std::uint32_t b, RandomDomain domain) {
  const PhiloxCounter w = philox4x32(seed_key(seed), {low32(a), high32(a), b, static_cast<std::uint32_t>(domain)});
  return {w[0], w[1]};
}

/** A double uniform in [0, 1) with 53 random bits from two words. */
inline double uniform53(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t bits = (std::uint64_t{hi} << 21) ^ (std::uint64_t{lo} >> 11);
  return static_cast<double>(bits & ((std::uint64_t{1} << 53) - 1)) * 0x1.0p-53;
}

/**
 * The pair of standard normal values number `pair` of the init stream of (seed, layer):
 * Box–Muller on two 53-bit uniforms. Computed in double, so float and double models start from
 * the same numbers (rounded once).
 */
inline std::array<double, 2> init_normal_pair(std::uint64_t seed, std::uint32_t layer, std::uint64_t pair) {
  const PhiloxCounter w =
      philox4x32(seed_key(seed), {low32(pair), high32(pair), layer, static_cast<std::uint32_t>(RandomDomain::init)});
  const double u1 = 1.0 - uniform53(w[0], w[1]);  // (0, 1]: log(u1) is finite
  const double u2 = uniform53(w[2], w[3]);
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 6.283185307179586476925286766559 * u2;
  return {radius * std::cos(angle), radius * std::sin(angle)};
}

/** Uniform number `index` in [0, 1) of the init stream of (seed, layer) (for Glorot uniform). */
inline double init_uniform(std::uint64_t seed, std::uint32_t layer, std::uint64_t index) {
  const std::uint64_t pair = index / 2;
  const PhiloxCounter w =
      philox4x32(seed_key(seed), {low32(pair), high32(pair), layer, static_cast<std::uint32_t>(RandomDomain::init)});
  return index % 2 == 0 ? uniform53(w[0], w[1]) : uniform53(w[2], w[3]);
}

/**
 * The dropout stream of one (seed, step, layer): word `example % 4` of block `example / 4` of
 * row `unit` decides whether (unit, example) is kept. The keep test compares the word with
 * keep_prob·2³², so keep_prob = 1 keeps everything.
 */
class DropoutStream {
 public:
  DropoutStream(std::uint64_t seed, std::uint64_t step, std::uint32_t layer)
      : key_(derived_key(seed, step, layer, RandomDomain::dropout)) {}

  /** The four random words deciding examples 4·block … 4·block+3 of `unit`. */
  PhiloxCounter block(std::uint32_t unit, std::uint64_t block) const {
    return philox4x32(key_, {low32(block), high32(block), unit, static_cast<std::uint32_t>(RandomDomain::dropout)});
  }

  /** True when the random word keeps its unit: word < keep_prob·2³² (keep_prob in (0, 1]). */
  static bool keeps(std::uint32_t word, double keep_prob) { return static_cast<double>(word) < keep_prob * 0x1.0p32; }

 private:
  PhiloxKey key_;
};

}  // namespace mlpkit::detail
