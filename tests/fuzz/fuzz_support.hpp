#pragma once
// Helpers shared by the libFuzzer harnesses: choosing an ISA and a thread count from the input,
// drawing matrices whose products are exact, comparing, and failing loudly.
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "mlpkit/matrix.hpp"
#include "mlpkit/runtime.hpp"
#include "../scoped_threads.hpp"
#include "runtime/dispatch.hpp"

namespace mlpkit::fuzz {

/** Prints the failed condition and aborts: libFuzzer then saves the input as a crash artifact. */
#define MLPKIT_FUZZ_CHECK(condition, ...)                                                       \
  do {                                                                                          \
    if (!(condition)) {                                                                         \
      std::fprintf(stderr, "%s:%d: check failed: %s\n  ", __FILE__, __LINE__, #condition);     \
      std::fprintf(stderr, __VA_ARGS__);                                                        \
      std::fprintf(stderr, "\n");                                                               \
      std::abort();                                                                             \
    }                                                                                           \
  } while (0)

/**
 * Defines the libFuzzer entry point of a harness whose test is `template <class T> void run(FuzzedDataProvider&)`:
 * the input's first bit chooses float or double, the rest goes to run<T>.
 */
#define MLPKIT_FUZZ_FLOAT_AND_DOUBLE(run)                                           \
  extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) { \
    FuzzedDataProvider in(data, size);                                               \
    if (in.ConsumeBool())                                                            \
      run<float>(in);                                                                \
    else                                                                             \
      run<double>(in);                                                               \
    return 0;                                                                        \
  }

/** One of the ISAs this machine supports, chosen by the input. */
inline Isa pick_isa(FuzzedDataProvider& in) {
  const std::vector<Isa> isas = supported_isas();
  return isas[in.ConsumeIntegralInRange<std::size_t>(0, isas.size() - 1)];
}

/** Forces an ISA and a thread count for the scope of one input. */
class ScopedSetup {
 public:
  ScopedSetup(Isa isa, int threads) : isa_(isa), threads_(threads) {}

 private:
  detail::ScopedIsa isa_;
  test::ScopedThreads threads_;
};

/** A multiple of 1/8 in [−2, 2]: sums of up to 64 products of such numbers are exact in float. */
template <class T>
T dyadic(FuzzedDataProvider& in) {
  return static_cast<T>(in.ConsumeIntegralInRange<int>(-16, 16)) / T(8);
}

/** A value in [lo, hi]. */
template <class T>
T uniform(FuzzedDataProvider& in, double lo, double hi) {
  return static_cast<T>(in.ConsumeFloatingPointInRange<double>(lo, hi));
}

/** Any bit pattern of T: NaN, ±Inf, subnormals and huge values included. */
template <class T>
T any_value(FuzzedDataProvider& in) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  const Bits bits = in.ConsumeIntegral<Bits>();
  T value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

/** Elements a rows × cols view with leading dimension ld spans: (rows − 1)·ld + cols, 0 if empty. */
inline std::size_t span_elements(std::size_t rows, std::size_t cols, std::size_t ld) {
  return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
}

/** The NaN that marks padding: a kernel that reads it into a result makes that result NaN. */
template <class T>
T padding_nan() {
  return std::numeric_limits<T>::quiet_NaN();
}

/** Bitwise equality of two arrays (NaN payloads included). */
template <class T>
bool same_bits(const T* a, const T* b, std::size_t n) {
  return n == 0 || std::memcmp(a, b, n * sizeof(T)) == 0;
}

/** Equal as IEEE values, with NaN equal to NaN. */
template <class T>
bool same_value(T a, T b) {
  return (std::isnan(a) && std::isnan(b)) || a == b;
}

/** |a − b| ≤ tol, or both NaN, or equal infinities. */
template <class T>
bool close(T a, T b, double tol) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::abs(static_cast<double>(a) - static_cast<double>(b)) <= tol;
}

}  // namespace mlpkit::fuzz
