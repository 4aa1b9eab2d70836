// Evaluating J along directions: the direction's sign helpers, and the generic LineEvaluator, which
// steps a per-thread copy of θ in place over its probe's slice only and restores it. An evaluation
// costs one call of J and O(slice) besides; nothing per evaluation is allocated (two n-vectors per
// measurement and one per restriction used to cost ~25× the forward pass on a 109 386-parameter network).
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>

#include "gradcheck/directional_internal.hpp"

namespace mlpkit::detail {
namespace {

/** Per-thread copies of θ that evaluations step in place and restore (sized before the loop). */
class PointSlots {
 public:
  explicit PointSlots(std::span<const double> theta) : theta_(theta), copies_(thread_slots()) {}
  /** The calling thread's copy, equal to θ between evaluations. */
  std::vector<double>& mine() const {
    std::vector<double>& x = copies_[thread_slot()];
    if (x.size() != theta_.size()) x.assign(theta_.begin(), theta_.end());
    return x;
  }

 private:
  std::span<const double> theta_;
  mutable std::vector<std::vector<double>> copies_;
};

/** Sets point[i] = θᵢ + h·(vᵢ·scale) over the probe's slice; returns dθ·(point − θ) over it. */
double step_along(std::span<double> point, std::span<const double> theta, std::span<const double> analytic,
                  const Direction& v, const Probe& probe, double h) {
  // Four partial sums in a fixed order: the same value for any thread count, without one long
  // dependency chain (on a large network the sum would cost a third of the evaluation).
  double partial[4] = {0, 0, 0, 0};
  const double step = h * (v.magnitude * probe.scale);
  std::uint64_t signs = 0;
  for (std::size_t i = probe.begin; i < probe.end; ++i) {
    if (i == probe.begin || i % 64 == 0) signs = v.signs(i / 64) >> (i % 64);
    point[i] = theta[i] + ((signs & 1) != 0 ? -step : step);
    signs >>= 1;
    partial[(i - probe.begin) % 4] += analytic[i] * (point[i] - theta[i]);
  }
  return (partial[0] + partial[1]) + (partial[2] + partial[3]);
}

/**
 * J at θ + h·w by LossEvaluator::at on a stepped copy of θ, one step per call; linear is dθ·(x − θ)
 * over the displacement as rounded (θᵢ ± h·wᵢ rounds to ulp(θᵢ), a sizeable part of a small step
 * when |θᵢ| ≫ h, which dθ·w would count as an error).
 */
class PointLineEvaluator final : public LineEvaluator {
 public:
  PointLineEvaluator(const LossEvaluator& evaluator, double j0, std::span<const double> theta,
                     std::span<const double> analytic, std::span<const Direction> directions)
      : evaluator_(evaluator), j0_(j0), theta_(theta), analytic_(analytic), directions_(directions), points_(theta) {}
  double origin() const override { return j0_; }
  bool batches_steps() const override { return false; }
  double work_per_point() const override { return evaluator_.work_per_parameter() / 2; }
  void evaluate(std::size_t d, const Probe& probe, std::span<const double> steps, std::span<double> values,
                std::span<double> linear) const override {
    std::vector<double>& point = points_.mine();
    for (std::size_t k = 0; k < steps.size(); ++k) {
      linear[k] = step_along(point, theta_, analytic_, directions_[d], probe, steps[k]);
      values[k] = evaluator_.at(point);
    }
    std::copy(theta_.begin() + static_cast<std::ptrdiff_t>(probe.begin),
              theta_.begin() + static_cast<std::ptrdiff_t>(probe.end), point.begin() + static_cast<std::ptrdiff_t>(probe.begin));
  }

 private:
  const LossEvaluator& evaluator_;
  double j0_;
  std::span<const double> theta_, analytic_;
  std::span<const Direction> directions_;
  PointSlots points_;
};

}  // namespace

std::unique_ptr<LineEvaluator> LossEvaluator::line_evaluator(std::span<const double>, std::span<const Direction>) const {
  return nullptr;
}

std::unique_ptr<LineEvaluator> point_line_evaluator(const LossEvaluator& evaluator, double j0,
                                                    std::span<const double> theta, std::span<const double> analytic,
                                                    std::span<const Direction> directions) {
  return std::make_unique<PointLineEvaluator>(evaluator, j0, theta, analytic, directions);
}

Probe unit_probe(const Direction& v, std::size_t begin, std::size_t end) {
  const double norm2 = static_cast<double>(end - begin) * v.magnitude * v.magnitude;
  return {begin, end, norm2 > 0 ? 1 / std::sqrt(norm2) : 0};
}

void fill_signs(const Direction& v, std::size_t begin, std::size_t end, double* out) {
  // Eight entries per byte of signs from a table of the 256 sign patterns (16 KiB): a copy per
  // byte instead of a shift and select per entry, which cost 13 % of directional mode.
  static const auto patterns = [] {
    std::array<std::array<double, 8>, 256> table{};
    for (std::size_t byte = 0; byte < 256; ++byte)
      for (std::size_t bit = 0; bit < 8; ++bit) table[byte][bit] = (byte >> bit) & 1 ? -1.0 : 1.0;
    return table;
  }();
  std::size_t i = begin;
  while (i < end) {
    const std::size_t word = i / 64, stop = std::min(end, 64 * word + 64);
    const std::uint64_t signs = v.signs(word);
    if (i == 64 * word && stop == 64 * word + 64) {
      double* chunk = out + (i - begin);
      for (std::size_t b = 0; b < 8; ++b) std::memcpy(chunk + 8 * b, patterns[(signs >> (8 * b)) & 0xff].data(), 64);
      i = stop;
      continue;
    }
    for (; i < stop; ++i) out[i - begin] = (signs >> (i % 64)) & 1 ? -1.0 : 1.0;
  }
}

double signed_sum(const Direction& v, std::size_t begin, std::size_t end, const double* x) {
  // Eight partial sums, lane i mod 8, added in a fixed order at the end: the same value for any
  // thread count, and a loop the compiler vectorizes (the sign flips are an XOR of the sign bit).
  double partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t i = begin;
  while (i < end) {
    const std::size_t word = i / 64, stop = std::min(end, 64 * word + 64);
    const std::uint64_t signs = v.signs(word);
    if (i == 64 * word && stop == 64 * word + 64) {
      const double* chunk = x + (i - begin);
      for (std::size_t b = 0; b < 64; b += 8)
        for (std::size_t lane = 0; lane < 8; ++lane)
          partial[lane] += std::bit_cast<double>(std::bit_cast<std::uint64_t>(chunk[b + lane]) ^
                                                 (((signs >> (b + lane)) & 1) << 63));
      i = stop;
      continue;
    }
    for (; i < stop; ++i)
      partial[i % 8] += std::bit_cast<double>(std::bit_cast<std::uint64_t>(x[i - begin]) ^ (((signs >> (i % 64)) & 1) << 63));
  }
  return ((partial[0] + partial[1]) + (partial[2] + partial[3])) + ((partial[4] + partial[5]) + (partial[6] + partial[7]));
}

}  // namespace mlpkit::detail
