#pragma once
// The stored operand of the skinny and small GEMM path tests.
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "mlpkit/matrix.hpp"
#include "test_support.hpp"

namespace mlpkit::test {

/** A stored rows × cols operand: ld is the row itself, or the next power of two ≥ 64 (4 KiB-aligned rows). */
template <class T>
struct Stored {
  std::size_t rows, cols, ld;
  std::vector<T> data;
  Stored(std::size_t r, std::size_t c, bool pow2_ld, std::uint64_t seed)
      : rows(r), cols(c), ld(pow2_ld ? std::max<std::size_t>(std::bit_ceil(c), 64) : c),
        data(uniform<T>(std::max<std::size_t>(r * ld, 1), seed)) {}
  /** The operand as a read-only view. */
  MatrixView<const T> view() const { return {data.data(), rows, cols, ld}; }
  /** The operand as a writable view. */
  MatrixView<T> view() { return {data.data(), rows, cols, ld}; }
};

}  // namespace mlpkit::test
