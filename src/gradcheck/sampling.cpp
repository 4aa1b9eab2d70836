// Sampled mode's choice of entries and its stated guarantee (see sampling.hpp).
#include "gradcheck/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace mlpkit::detail {
namespace {

/** A permutation of [0, n) from the engine: partial Fisher–Yates with an explicit modulo draw (reproducible everywhere). */
std::vector<std::size_t> permutation(std::size_t n, std::mt19937_64& rng) {
  std::vector<std::size_t> p(n);
  std::iota(p.begin(), p.end(), std::size_t{0});
  for (std::size_t q = 0; q + 1 < n; ++q) std::swap(p[q], p[q + static_cast<std::size_t>(rng() % (n - q))]);
  return p;
}

/**
 * Marks `wanted` more entries of a rows × cols tensor in `taken`, stratified: step q visits
 * (row_order[q mod rows], col_order[(q + b) mod cols]) with b = ⌊q / lcm(rows, cols)⌋. Each block of
 * lcm steps visits distinct pairs, the gcd(rows, cols) blocks together every entry once, and the
 * first max(rows, cols) steps every row and every column.
 */
void mark_stratified(std::size_t rows, std::size_t cols, std::size_t wanted, std::mt19937_64& rng,
                     std::vector<unsigned char>& taken) {
  const std::vector<std::size_t> row_order = permutation(rows, rng), col_order = permutation(cols, rng);
  const std::size_t block = std::lcm(rows, cols), count = rows * cols;
  for (std::size_t q = 0; q < count && wanted > 0; ++q) {
    const std::size_t at = row_order[q % rows] * cols + col_order[(q + q / block) % cols];
    if (taken[at]) continue;
    taken[at] = 1;
    --wanted;
  }
}

}  // namespace

double sample_hit_probability(std::size_t total, std::size_t sampled, double fraction) {
  if (total == 0) return 1.0;
  const auto errors = static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(total) - 1e-9));
  if (errors == 0) return 0.0;
  if (sampled + errors > total) return 1.0;  // the sample cannot avoid every wrong entry
  // P(miss) = Π_{i<e} (total − sampled − i) / (total − i), summed in logs.
  double log_miss = 0;
  for (std::size_t i = 0; i < errors; ++i)
    log_miss += std::log1p(-static_cast<double>(sampled) / static_cast<double>(total - i));
  return -std::expm1(log_miss);
}

std::size_t samples_for_probability(std::size_t total, double fraction, double probability) {
  // The hit probability grows with the sample: bisect for the smallest that reaches it.
  std::size_t low = 0, high = total;
  while (low < high) {
    const std::size_t mid = low + (high - low) / 2;
    if (sample_hit_probability(total, mid, fraction) >= probability) high = mid; else low = mid + 1;
  }
  return std::max<std::size_t>(low, 1);
}

Segment sampled_segment(const TensorInfo& t, std::span<const double> analytic, std::size_t k, std::uint64_t seed) {
  const std::size_t count = t.rows * t.cols;
  Segment s;
  if (k >= count) {
    s.indices.resize(count);
    std::iota(s.indices.begin(), s.indices.end(), t.offset);
    return s;
  }
  std::vector<unsigned char> taken(count, 0);
  std::mt19937_64 rng(seed);
  // A sample that can cover every row and every column does so first, whatever |dθ| looks like.
  const std::size_t cover = k >= std::max(t.rows, t.cols) ? std::max(t.rows, t.cols) : 0;
  mark_stratified(t.rows, t.cols, cover, rng, taken);
  std::vector<std::size_t> order(count);
  std::iota(order.begin(), order.end(), std::size_t{0});
  // Ties broken by index so the sample does not depend on the sort implementation.
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const double x = std::abs(analytic[t.offset + a]), y = std::abs(analytic[t.offset + b]);
    return x != y ? x > y : a < b;
  });
  const std::size_t rest = k - cover;
  auto take_first = [&](auto begin, auto end, std::size_t wanted) {
    for (auto it = begin; it != end && wanted > 0; ++it)
      if (!taken[*it]) {
        taken[*it] = 1;
        --wanted;
      }
  };
  // At least one of each when the budget allows: the largest |dθ| is where most bugs show.
  const std::size_t largest = rest > 0 ? std::max<std::size_t>(1, rest / 3) : 0;
  const std::size_t smallest = rest > 1 ? std::max<std::size_t>(1, rest / 3) : 0;
  take_first(order.begin(), order.end(), largest);
  take_first(order.rbegin(), order.rend(), smallest);
  mark_stratified(t.rows, t.cols, rest - largest - smallest, rng, taken);
  for (std::size_t q = 0; q < count; ++q)
    if (taken[q]) s.indices.push_back(t.offset + q);
  return s;
}

void fill_hit_probabilities(GradcheckReport& report) {
  for (TensorCheck& t : report.tensors) {
    t.hit_probability_1pct = sample_hit_probability(t.total, t.checked, 0.01);
    t.hit_probability_10pct = sample_hit_probability(t.total, t.checked, 0.10);
  }
}

}  // namespace mlpkit::detail
