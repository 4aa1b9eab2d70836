#pragma once
// Sampled mode: which entries of a tensor are checked (the largest and smallest |dθ|, then a sample
// stratified by row and column), how many are needed for a stated detection probability, and the
// probability that a sample hits an error spread over a fraction of a tensor's entries.
#include <cstddef>
#include <cstdint>
#include <span>

#include "gradcheck/gradcheck_internal.hpp"

namespace mlpkit::detail {

/**
 * The probability that `sampled` distinct entries of a tensor of `total` include at least one of
 * ⌈fraction·total⌉ wrong entries placed uniformly at random: 1 − C(total − sampled, e)/C(total, e).
 * It holds for any fixed sample (the error, not the sample, is random), so stratification keeps it.
 */
double sample_hit_probability(std::size_t total, std::size_t sampled, double fraction);

/** The smallest sample of a tensor of `total` entries whose hit probability at `fraction` is ≥ probability. */
std::size_t samples_for_probability(std::size_t total, double fraction, double probability);

/**
 * The entries of tensor t sampled for a check of k entries (all of them when k ≥ rows·cols). When
 * k ≥ max(rows, cols), first max(rows, cols) entries covering every row and every column (so a row
 * swap or a transpose is always hit); of the rest, a third with the largest |dθ| (where bugs show
 * most), a third with the smallest (where a missing term hides), the others stratified by row and
 * column (each row and column once before any twice). Ascending indices.
 */
Segment sampled_segment(const TensorInfo& t, std::span<const double> analytic, std::size_t k, std::uint64_t seed);

/** Each tensor's hit_probability_1pct and _10pct from its checked and total counts. */
void fill_hit_probabilities(GradcheckReport& report);

}  // namespace mlpkit::detail
