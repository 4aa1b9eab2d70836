#pragma once
// Run-time dispatch among kernels compiled once per ISA.
//
// Every kernel family keeps a table of function pointers per ISA (see kernels/*/..._kernels.hpp).
// The tables are defined by templates over an xsimd arch tag in *_simd.hpp headers and explicitly
// instantiated in src/kernels/isa/<isa>.cpp, the only sources compiled with that ISA's flags.
// Code compiled for the baseline names the arch tags below but never instantiates a batch of them.
#include <xsimd/xsimd.hpp>

#include "mlpkit/runtime.hpp"
#include "runtime/kernel_tables.hpp"  // MLPKIT_DEFINE_ACTIVE_KERNELS

namespace mlpkit::detail {

/** The xsimd arch tag each mlpkit ISA is compiled for. */
namespace arch {
using sse2 = xsimd::sse2;
using avx2 = xsimd::fma3<xsimd::avx2>;  // plain xsimd::avx2 does not fuse multiply-add
using avx512 = xsimd::avx512bw;
}  // namespace arch

/**
 * Calls `pick.template operator()<Arch>()` with the arch tag of current_isa() and returns its
 * result; `pick` is typically `[]<class Arch>() -> const Table& { return table<Arch>(); }`.
 */
template <class Pick>
decltype(auto) dispatch(Pick&& pick) {
  switch (current_isa()) {
    case Isa::avx512:
      return pick.template operator()<arch::avx512>();
    case Isa::avx2:
      return pick.template operator()<arch::avx2>();
    case Isa::sse2:
      break;
  }
  return pick.template operator()<arch::sse2>();
}

/**
 * Forces current_isa() to `isa` for the whole process until reset (tests use it to run every
 * kernel under every ISA the machine has). Throws mlpkit::Error when the machine cannot run it.
 * Not meant to change while kernels run on other threads.
 */
void set_isa_override(Isa isa);

/** RAII form of set_isa_override, restoring the previous state. */
class ScopedIsa {
 public:
  explicit ScopedIsa(Isa isa);
  ~ScopedIsa();
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;

 private:
  int previous_;
};

/** Whether the CPU is an AMD (or Hygon) one: some block sizes differ between vendors' cores. */
bool cpu_is_amd();

}  // namespace mlpkit::detail
