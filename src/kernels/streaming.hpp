#pragma once
// Non-temporal (streaming) stores now live in the SIMD layer (kernels/simd/simd.hpp): this header
// stays for the kernels not yet moved onto it (activations).
#include "kernels/simd/simd.hpp"

namespace mlpkit::detail::simd {
using ops::store_stream;
}  // namespace mlpkit::detail::simd
