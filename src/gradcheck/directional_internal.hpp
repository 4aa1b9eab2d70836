#pragma once
// The pieces of directional mode shared by its phases: probes (a direction restricted to a slice of
// θ and rescaled), per-thread points stepped in place, and the Taylor-remainder test.
#include <cstddef>
#include <cstdint>
#include <memory>
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

/** out[i − begin] = ±1 with the sign of v's entry i, for i in [begin, end). */
void fill_signs(const Direction& v, std::size_t begin, std::size_t end, double* out);

/** Σ sign(vᵢ)·x[i − begin] over [begin, end), in a fixed order (any thread count gives the same sum). */
double signed_sum(const Direction& v, std::size_t begin, std::size_t end, const double* x);

/**
 * Evaluates J along directions restricted by probes: at x = θ + h·w, w = v over the probe times
 * probe.scale. The generic one steps a per-thread copy of θ and calls LossEvaluator::at; an
 * evaluator that knows J's structure may supply its own (LossEvaluator::line_evaluator): the
 * Mlp's scores several steps of a probe as columns of one pass from the layer the probe starts in.
 */
class LineEvaluator {
 public:
  virtual ~LineEvaluator() = default;
  /** J(θ) in the arithmetic of evaluate(): the base of the Taylor remainders. */
  virtual double origin() const = 0;
  /**
   * For each k: values[k] = J(x_k) at x_k = θ + steps[k]·w, w = directions[d] over the probe, and
   * linear[k] = dθ·(x_k − θ) over the displacement actually taken. Const methods may run concurrently.
   */
  virtual void evaluate(std::size_t d, const Probe& probe, std::span<const double> steps, std::span<double> values,
                        std::span<double> linear) const = 0;
  /** Whether one call should carry many steps (they share a pass) rather than one step per call. */
  virtual bool batches_steps() const = 0;
  /** Rough flops of one point, for parallel_for's cut-off. */
  virtual double work_per_point() const = 0;
};

/** The generic LineEvaluator over any LossEvaluator (create it under the check's ThreadLimit). */
std::unique_ptr<LineEvaluator> point_line_evaluator(const LossEvaluator& evaluator, double j0,
                                                    std::span<const double> theta, std::span<const double> analytic,
                                                    std::span<const Direction> directions);

/**
 * The Taylor-remainder tests along direction 0 restricted by each probe (options.taylor_steps
 * steps each, in parallel): one TaylorTest per probe. Adds the evaluations to *evaluations.
 */
std::vector<TaylorTest> taylor_tests(const char* function, const LineEvaluator& line, std::span<const Probe> probes,
                                     const GradcheckOptions& options, std::size_t& evaluations);

/** Fits the slope of a test whose steps and remainders are filled (the smallest resolved steps). */
void fit_taylor(TaylorTest& test);

}  // namespace mlpkit::detail
