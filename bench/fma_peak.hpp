#pragma once
// The roof GEMM runs under: the floating-point operations per second of a loop of independent
// fused multiply-adds (SSE2, which has none: multiplies and adds) on the widest vectors of the ISA
// mlpkit dispatches to. bench_gemm times it beside the GEMMs, so a rate there reads as a fraction
// of this machine's peak from the same run, and a many-thread run shows what the cores add up to.
#include <cstdint>

#include "mlpkit/runtime.hpp"

namespace mlpkit_bench {

/** Runs `trips` rounds of independent vector FMAs of T under `isa`; returns the flops done. */
template <class T>
double fma_loop(mlpkit::Isa isa, std::uint64_t trips);

}  // namespace mlpkit_bench
