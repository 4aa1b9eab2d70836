#pragma once
// Inverted dropout on one row (one unit) of a hidden layer: the mask of (seed, step, layer, unit,
// example) from the counter-based DropoutStream, kept values scaled by 1/keep_prob.
#include <cstddef>
#include <cstdint>

#include "model/random.hpp"

namespace mlpkit::detail {

/**
 * Calls visit(j, kept) for the `count` examples first_example … first_example+count−1 of `unit`:
 * one Philox block decides four consecutive examples, so blocks are aligned on example / 4.
 */
template <class Visit>
void for_each_dropout_decision(const DropoutStream& stream, std::uint32_t unit, std::size_t first_example,
                               std::size_t count, double keep_prob, Visit&& visit) {
  std::size_t j = 0;
  while (j < count) {
    const std::size_t example = first_example + j;
    const PhiloxCounter words = stream.block(unit, example / 4);
    for (std::size_t k = example % 4; k < 4 && j < count; ++k, ++j) visit(j, DropoutStream::keeps(words[k], keep_prob));
  }
}

/** mask[j] = kept ? 1/keep_prob : 0 (the factor inverted dropout multiplies activations by). */
template <class T>
void fill_dropout_mask(const DropoutStream& stream, std::uint32_t unit, std::size_t first_example, std::size_t count,
                       T keep_prob, T* mask) {
  const T inverse = T(1) / keep_prob;
  for_each_dropout_decision(stream, unit, first_example, count, static_cast<double>(keep_prob),
                            [&](std::size_t j, bool kept) { mask[j] = kept ? inverse : T(0); });
}

/** a[j] *= kept ? 1/keep_prob : 0, in the same arithmetic as multiplying by fill_dropout_mask's mask. */
template <class T>
void apply_dropout(const DropoutStream& stream, std::uint32_t unit, std::size_t first_example, std::size_t count,
                   T keep_prob, T* a) {
  const T inverse = T(1) / keep_prob;
  for_each_dropout_decision(stream, unit, first_example, count, static_cast<double>(keep_prob),
                            [&](std::size_t j, bool kept) { a[j] *= kept ? inverse : T(0); });
}

}  // namespace mlpkit::detail
