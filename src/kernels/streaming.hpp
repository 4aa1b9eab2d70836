#pragma once
// Non-temporal (streaming) stores now live in the SIMD layer (kernels/simd/simd.hpp): this header
// stays for the kernels not yet migrated to it.
#include "kernels/simd/simd.hpp"
