#pragma once
// GEMM blocking as data, in the manner of BLIS's configuration registry: one row per ISA and CPU
// vendor giving the register tile, the cache blocks and the path thresholds for float and double,
// each with a one-line reason. The measurements behind every figure are in docs/tuning.md
// ("Register tile, cache blocks and path limits").
#include <array>
#include <cstddef>
#include <string_view>
#include <type_traits>

#include "kernels/gemm/gemm_kernels.hpp"
#include "mlpkit/runtime.hpp"
#include "runtime/dispatch.hpp"  // cpu_is_amd

namespace mlpkit::detail {

/** The CPU vendor a configuration row applies to. */
enum class CpuVendor {
  any,  ///< in a row: every vendor; as a CPU's vendor: one that no row names (Intel among them)
  amd,  ///< AMD and Hygon
};

/** One row of the GEMM configuration table. */
struct GemmConfig {
  Isa isa;
  CpuVendor vendor;
  GemmBlocking f32, f64;   ///< the blocks of float and of double
  std::string_view reason;  ///< why this row differs from its neighbours, in one line

  /** The blocks of element type `T` (float or double). */
  template <class T>
  constexpr const GemmBlocking& blocking() const {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
    if constexpr (std::is_same_v<T, float>)
      return f32;
    else
      return f64;
  }

  /** Field-by-field equality. */
  friend constexpr bool operator==(const GemmConfig&, const GemmConfig&) = default;
};

/** direct_max_n when the direct path takes any number of columns. */
inline constexpr std::size_t kGemmNoLimit = ~std::size_t{0};

// Columns, as in GemmBlocking: mr, nr | mc, kc, nc | direct_max_m, _n, _k, direct_in_place_max_m |
// skinny_max, skinny_axpy_max | narrow_nr | small_max_work, skinny_axpy_min_work | direct_prefetch_next.
// An ISA's rows share mr, nr and narrow_nr (the micro-kernel is compiled once per ISA); gemm_config
// takes the first row that matches. A function rather than a variable: an inline variable would be a
// weak symbol of every ISA's object (tests/check_isa_symbols.cmake).
constexpr std::array<GemmConfig, 4> gemm_configs() {
  return {{
    {Isa::avx512, CpuVendor::amd,
     {8, 32, 192, 256, 256, 1024, kGemmNoLimit, 1024, 1024, 8, 16, 16, std::size_t(1) << 20, std::size_t(1) << 20, true},
     {8, 16, 192, 256, 512, 1024, 256, 1024, 1024, 8, 16, 8, std::size_t(1) << 20, std::size_t(1) << 20, true},
     "Zen 4/5: 8 x 2-vector tile; L2 keeps up with B's rows read in place on the whole direct path"},
    {Isa::avx512, CpuVendor::any,
     {8, 32, 192, 256, 256, 1024, 256, 1024, 32, 8, 16, 16, std::size_t(1) << 20, 0, false},
     {8, 16, 48, 256, 512, 1024, 256, 1024, 32, 8, 16, 8, std::size_t(1) << 20, std::size_t(1) << 20, false},
     "Intel (Emerald Rapids, 2 MiB L2): B's slivers packed past 32 rows, direct path to 256 columns, "
     "48-row A blocks in double; float Aᵀ·B of 9-16 columns skinny at every size, and no prefetch of the next "
     "row tile on the direct path (Ice Lake-SP)"},
    {Isa::avx2, CpuVendor::any,
     {6, 16, 144, 256, 256, 256, kGemmNoLimit, 1024, 32, 8, 8, 8, 0, 0, true},
     {6, 8, 144, 256, 512, 256, kGemmNoLimit, 1024, 32, 8, 8, 4, 0, 0, true},
     "6 x 2-vector tile (12 of 16 registers); past 256 rows the packed path beats the direct one (but for a C "
     "of one sliver)"},
    {Isa::sse2, CpuVendor::any,
     {6, 8, 144, 256, 256, 256, kGemmNoLimit, 1024, 32, 8, 8, 4, 0, 0, true},
     {6, 4, 144, 256, 512, 256, kGemmNoLimit, 1024, 32, 8, 8, 2, 0, 0, true},
     "avx2's blocks with 128-bit vectors (not tuned on its own: a fallback)"},
  }};
}

/**
 * The configuration of `isa` on a CPU of `vendor`: the first row of gemm_configs() for that ISA
 * whose vendor is `vendor` or any. Every ISA has a row for any vendor (checked at compile time).
 */
constexpr GemmConfig gemm_config(Isa isa, CpuVendor vendor) {
  const std::array<GemmConfig, 4> rows = gemm_configs();
  for (const GemmConfig& row : rows)
    if (row.isa == isa && (row.vendor == CpuVendor::any || row.vendor == vendor)) return row;
  return rows.back();  // unreachable: see the static_assert below
}

/** Whether every ISA has a row for any vendor, so gemm_config finds a row of the ISA asked for. */
constexpr bool every_isa_has_a_default_row() {
  for (Isa isa : {Isa::sse2, Isa::avx2, Isa::avx512})
    if (gemm_config(isa, CpuVendor::any).isa != isa) return false;
  return true;
}
static_assert(every_isa_has_a_default_row());

/** The vendor of this CPU, as the configuration rows name vendors. */
inline CpuVendor cpu_vendor() { return cpu_is_amd() ? CpuVendor::amd : CpuVendor::any; }

}  // namespace mlpkit::detail
