#pragma once
/** @file
 * mlpkit::Error, the one exception type the library throws for bad input.
 */
#include <stdexcept>
#include <string>

#include "mlpkit/export.hpp"

namespace mlpkit MLPKIT_API {

/**
 * Thrown for bad input: a shape mismatch, `ld < cols`, null data with a non-zero size, a size
 * whose product overflows `std::size_t`, a non-finite value where a result would be meaningless,
 * an unknown or unsupported ISA. The message names the function, the argument and the values,
 * e.g. `mlpkit::gemm: ldc (3) is smaller than n (4)`.
 */
class Error : public std::invalid_argument {
 public:
  /** An error with this message (by convention `mlpkit::<function>: <argument> (<value>) …`). */
  explicit Error(const std::string& message) : std::invalid_argument(message) {}
};

}  // namespace mlpkit
