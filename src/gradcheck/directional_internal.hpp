#pragma once
// The pieces of directional mode shared by its phases: probes (a direction restricted to a slice of
// θ and rescaled), per-thread points stepped in place, and the Taylor-remainder test.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "gradcheck/gradcheck_internal.hpp"

namespace mlpkit::detail {

/**
 * A random unit direction of n entries ±1/√n (Rademacher). The signs are a counter-based hash of
 * (seed, i / 64), so any slice is computed alone and nothing of size n is stored: drawing and
 * storing Gaussian directions cost more than the evaluations on a 109 386-parameter network (page
 * faults of fresh memory included). A bug δ in the gradient shows in δ·v with the same mean square
 * ‖δ‖²/n as for a uniformly random unit direction.
 */
struct Direction {
  std::uint64_t seed = 0;
  double magnitude = 0;  // 1/√n
  /** The signs of entries [64·word, 64·word + 64), bit b set: entry 64·word + b is negative. */
  std::uint64_t signs(std::size_t word) const {
    std::uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (static_cast<std::uint64_t>(word) + 1);  // splitmix64
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /** Entry i. */
  double at(std::size_t i) const { return (signs(i / 64) >> (i % 64)) & 1 ? -magnitude : magnitude; }
};

/** The part of a direction v a measurement steps along: v[begin, end) times scale, zero elsewhere. */
struct Probe {
  std::size_t begin = 0, end = 0;
  double scale = 1;
};

/**
 * v[begin, end) scaled to unit length. Unit length, as a full-mode step: unscaled, a slice of s of
 * n entries would be stepped by only about ε·√(s/n), and the rounding of J, which does not shrink
 * with the step, would weigh √(n/s) times more in its derivative (a 1×1 bias of a large model was
 * called suspicious so).
 */
Probe unit_probe(const Direction& v, std::size_t begin, std::size_t end);

/**
 * Per-thread copies of θ that measurements step in place and restore: no allocation per
 * evaluation, and only the probe's slice is written. Create it before the loop (it sizes its slots).
 */
class PointSlots {
 public:
  explicit PointSlots(std::span<const double> theta);
  /** The calling thread's copy, equal to θ between measurements. */
  std::vector<double>& mine();

 private:
  std::span<const double> theta_;
  std::vector<std::vector<double>> copies_;
};

/** Sets point[i] = θᵢ + h·(vᵢ·scale) over the probe's slice; returns dθ·(point − θ) over it. */
double step_along(std::span<double> point, std::span<const double> theta, std::span<const double> analytic,
                  const Direction& v, const Probe& probe, double h);
/** Restores point = θ over the probe's slice. */
void restore(std::span<double> point, std::span<const double> theta, const Probe& probe);

/**
 * The Taylor-remainder tests along v restricted by each probe (options.taylor_steps steps each, in
 * parallel over all of them): one TaylorTest per probe, j0 = J(θ). Adds the evaluations to *evaluations.
 */
std::vector<TaylorTest> taylor_tests(const char* function, const LossEvaluator& evaluator, double j0,
                                     std::span<const double> theta, std::span<const double> analytic,
                                     const Direction& v, std::span<const Probe> probes,
                                     const GradcheckOptions& options, PointSlots& points, std::size_t& evaluations);

/** Fits the slope of a test whose steps and remainders are filled (the smallest resolved steps). */
void fit_taylor(TaylorTest& test);

}  // namespace mlpkit::detail
