#pragma once
/** @file
 * Run-time facts and settings: the instruction set in use, threads, caches.
 */
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "mlpkit/enums.hpp"
#include "mlpkit/export.hpp"

namespace mlpkit MLPKIT_API {

/**
 * The instruction sets mlpkit compiles its kernels for, lowest first. `avx2` means AVX2 with FMA3
 * (xsimd's `fma3<avx2>`); `avx512` means AVX-512 F, CD, DQ and BW.
 */
enum class Isa { sse2, avx2, avx512 };
template <> struct EnumTable<Isa> : EnumNames<"Isa", "sse2", "avx2", "avx512"> {};

/** "sse2", "avx2" or "avx512". */
std::string_view isa_name(Isa isa);

/**
 * Parses "sse2", "avx2" or "avx512" (the values MLPKIT_ARCH accepts).
 * Throws mlpkit::Error naming the text and the accepted values otherwise.
 */
Isa parse_isa(std::string_view name);

/**
 * The best ISA this CPU and operating system support: CPUID says the instructions exist and
 * XCR0 says the OS saves the registers they use.
 */
Isa detected_isa();

/** The ISAs this machine can run, lowest first (always contains Isa::sse2). */
std::vector<Isa> supported_isas();

/**
 * The ISA whose kernels run: detected_isa(), or the lower one that the environment variable
 * `MLPKIT_ARCH=sse2|avx2|avx512` asks for. Throws mlpkit::Error when MLPKIT_ARCH names an
 * unknown ISA or one this machine cannot run; every kernel call then throws the same error.
 */
Isa current_isa();

/**
 * Name of current_isa(). Deprecated: every other ISA accessor (detected_isa, current_isa) returns
 * the enum, this one alone a name; write `isa_name(current_isa())`.
 */
[[deprecated("use isa_name(mlpkit::current_isa())")]] std::string_view active_isa();

/**
 * Sets the number of threads the kernels use (n >= 1); throws mlpkit::Error for n < 1.
 * Process-wide; results are bitwise identical for any value.
 */
void set_num_threads(int n);

/** The number of threads kernels use: the last set_num_threads, else OpenMP's default (OMP_NUM_THREADS). */
int num_threads();

/** Cache sizes in bytes of the CPU the program runs on (0 where unknown), and who shares the last level. */
struct CacheInfo {
  std::size_t l1d = 0;      ///< level-1 data cache, per core
  std::size_t l2 = 0;       ///< level-2 cache, per core
  std::size_t l3 = 0;       ///< last-level cache, shared
  std::size_t l3_cpus = 0;  ///< logical CPUs sharing that last-level cache (0 where unknown)
  std::size_t line = 64;    ///< cache line
};
/** Cache sizes as reported by the OS (/sys, then sysconf; l3_cpus from /sys only). */
CacheInfo cache_info();

/** The library version, "major.minor.patch". */
std::string_view version();

}  // namespace mlpkit
