#pragma once
// The pieces of gradcheck shared by the generic and the Mlp front ends: an evaluator interface
// (who computes J), the driver that runs the perturbation loop in parallel, and the report builder.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mlpkit/gradcheck.hpp"
#include "runtime/internal_export.hpp"

namespace mlpkit::detail {

class LineEvaluator;  // directional_internal.hpp
struct Direction;

/**
 * Computes J and central differences of J. Implementations keep per-thread scratch indexed by
 * omp_get_thread_num() (parallel_for runs at most num_threads() threads), so every const method may
 * run concurrently on different threads.
 */
class LossEvaluator {
 public:
  virtual ~LossEvaluator() = default;
  /** Number of parameters n. */
  virtual std::size_t size() const = 0;
  /** J(θ), unperturbed. */
  virtual double value() const = 0;
  /**
   * For each index i in `indices` (ascending, all inside one tensor of the layout), with h⁺ and h⁻
   * the steps θᵢ ± step actually taken (steps_for):
   * numeric[k] = (J(θ+h⁺eᵢ) − J(θ−h⁻eᵢ)) / (h⁺+h⁻), rounding[k] = a bound of its rounding error,
   * kink[k] = 1 when a ReLU-like pre-activation changes sign between the two evaluations.
   * Throws mlpkit::Error naming i when J is not finite at either evaluation.
   */
  virtual void differences_at(double step, std::span<const std::size_t> indices, std::span<double> numeric,
                              std::span<double> rounding, std::span<unsigned char> kink) const = 0;
  /** The step ε of the evaluator's options. */
  virtual double eps() const = 0;
  /** differences_at(eps(), …): the central differences of the check. */
  void differences(std::span<const std::size_t> indices, std::span<double> numeric, std::span<double> rounding,
                   std::span<unsigned char> kink) const {
    differences_at(eps(), indices, numeric, rounding, kink);
  }
  /** J at `point` (n entries), a perturbed copy of θ made by the caller (directional mode). */
  virtual double at(std::span<const double> point) const = 0;
  /** How many parameters one work item should hold (a batch that amortizes per-item cost). */
  virtual std::size_t batch() const { return 8; }
  /** Rough flops of one central difference, for parallel_for's cut-off. */
  virtual double work_per_parameter() const = 0;
  /**
   * Estimated relative cost of differences(indices), in any unit common to all calls on this
   * evaluator; used to cut the work items into blocks of equal cost (MPI ranks). Default: uniform.
   */
  virtual double cost(std::span<const std::size_t> indices) const { return static_cast<double>(indices.size()); }
  /**
   * Directional mode: an evaluator of J along `directions` that knows J's structure, or null (the
   * default: directional mode steps copies of θ and calls at()). analytic and directions must outlive it.
   */
  virtual std::unique_ptr<LineEvaluator> line_evaluator(std::span<const double> analytic,
                                                        std::span<const Direction> directions) const;
};

/** The rounding bound of one central difference: u·(|J⁺|+|J⁻|)/(h⁺+h⁻) with u = 2⁻⁵³, times a few ulps. */
double rounding_bound(double j_plus, double j_minus, double step_sum);

/** (θᵢ+ε)−θᵢ and θᵢ−(θᵢ−ε): the steps actually taken; throws naming i when their sum is 0. */
struct Steps {
  double plus, minus;
};
Steps steps_for(const char* function, double theta_i, double eps, std::size_t i);

/** Throws unless J is finite, naming the parameter index and the side. */
void check_finite_value(const char* function, double j, std::size_t i, const char* side);

/**
 * Checks the options and the layout, runs the loop in options.mode over `evaluator`, and builds the
 * report: plan_gradcheck, run_items over every item, finish_gradcheck (directional: run_directional).
 * layout: the caller's slices (empty: θ is one tensor "theta").
 */
GradcheckReport run_gradcheck(const char* function, const LossEvaluator& evaluator,
                              std::span<const double> theta, std::span<const double> analytic,
                              std::span<const TensorInfo> layout, const GradcheckOptions& options);

// The phases of run_gradcheck, reused by the MPI front end (src/mpi) which runs one block of items
// per rank and gathers the packed results before finishing.

/** A run of θ entries to check that lies within one tensor (or one gap between tensors). */
struct Segment {
  std::vector<std::size_t> indices;  // ascending
};

/** One work item: `count` consecutive entries of segments[segment] from position `first`. */
struct WorkItem {
  std::size_t segment = 0, first = 0, count = 0;
};

/**
 * What a check does, fixed before any difference is taken: the same for the same input on every
 * rank, for any thread count (item sizes come from the evaluator only).
 */
struct GradcheckPlan {
  GradcheckReport report;           // mode, eps, total and the two evaluations of J(θ) so far
  double j0 = 0;                    // J(θ)
  std::vector<TensorInfo> tensors;  // the layout, or "theta" n × 1 without one
  std::vector<Segment> segments;    // full and sampled modes only
  std::vector<WorkItem> items;      // segment by segment
  std::size_t to_check = 0;         // entries over all items
  double work_per_item = 0;         // for parallel_for's cut-off

  std::span<const std::size_t> indices(const WorkItem& item) const {
    return {segments[item.segment].indices.data() + item.first, item.count};
  }
  /** Entries in items [first, last). */
  MLPKIT_INTERNAL_EXPORT
  std::size_t entries(std::size_t first, std::size_t last) const;
};

/**
 * Checks the options and the layout, evaluates J(θ) twice (refusing a non-deterministic J) and
 * lays out the segments and work items (none in directional mode).
 */
MLPKIT_INTERNAL_EXPORT
GradcheckPlan plan_gradcheck(const char* function, const LossEvaluator& evaluator, std::span<const double> theta,
                             std::span<const double> analytic, std::span<const TensorInfo> layout,
                             const GradcheckOptions& options);

/**
 * parts + 1 ascending item boundaries cutting plan.items into `parts` contiguous blocks of about
 * equal evaluator.cost (block r is items [b[r], b[r+1]); blocks may be empty).
 */
MLPKIT_INTERNAL_EXPORT
std::vector<std::size_t> split_items(const GradcheckPlan& plan, const LossEvaluator& evaluator, std::size_t parts);

/** Values packed per checked entry, in item order: numeric, rounding, kink (0 or 1), error bound. */
inline constexpr std::size_t kPackedPerEntry = 4;

/** The results of a block of items: items [first, first + done), kPackedPerEntry values per entry. */
struct PackedResults {
  std::size_t first = 0, done = 0;
  std::vector<double> values;
};

/**
 * Runs items [first, last) of the plan with parallel_for. options.progress, when set, is called on
 * the calling thread after each round with (entries done, entries in the block); when it returns
 * false the block stops after that round (done < last − first).
 */
MLPKIT_INTERNAL_EXPORT
PackedResults run_items(const LossEvaluator& evaluator, const GradcheckPlan& plan, std::size_t first,
                        std::size_t last, const GradcheckOptions& options);

/** The one-sided differences of an entry whose central difference straddles a kink. */
struct KinkBracket {
  std::size_t index = 0;
  double left = 0, right = 0;  // (J(θ) − J(θ−h⁻eᵢ))/h⁻ and (J(θ+h⁺eᵢ) − J(θ))/h⁺ at ε
  double slack = 0;            // how far outside [min, max] still counts as inside (rounding, O(ε·J''))
};

/** Per-parameter results of a whole check, filled block by block. */
struct GradcheckResults {
  MLPKIT_INTERNAL_EXPORT
  explicit GradcheckResults(std::size_t n);
  /** Stores items [first, first + done) from their packed values; adds their entries to checked. */
  MLPKIT_INTERNAL_EXPORT
  void store(const GradcheckPlan& plan, std::size_t first, std::size_t done, std::span<const double> packed);

  std::vector<double> numeric;  // NaN where not checked
  std::vector<double> rounding;
  std::vector<double> bound;    // the error bound of an extrapolated entry (NaN for central)
  std::vector<unsigned char> kink;
  std::size_t checked = 0;
  bool cancelled = false;
  std::vector<KinkBracket> brackets;  // ascending index: one per checked kinked entry (bracket_kinks)
  std::size_t kink_evaluations = 0;   // evaluations of J that bracket_kinks made
};

/**
 * For every checked entry marked kinked: its two one-sided differences at options.eps by full
 * evaluations (evaluator.at on the calling thread, in index order: deterministic), into
 * results.brackets. Throws as the loop when J is not finite on either side.
 */
void bracket_kinks(const LossEvaluator& evaluator, std::span<const double> theta, GradcheckResults& results,
                   const GradcheckOptions& options);

/**
 * Judges each kinked entry of the report against its bracket: in_bracket (agree, not counted) or
 * outside, which makes its tensor and the report wrong (disagree) with the fingerprint
 * kink_outside_bracket unless the tensor already has another.
 */
void apply_brackets(GradcheckReport& report, std::span<const KinkBracket> brackets);

/** The report of a full or sampled check from its plan and its results (plan.report is moved out). */
MLPKIT_INTERNAL_EXPORT
GradcheckReport finish_gradcheck(GradcheckPlan& plan, std::span<const double> theta, std::span<const double> analytic,
                                 const GradcheckOptions& options, GradcheckResults&& results);

/**
 * The evaluator of gradcheck(f, θ, dθ, …), after checking f, θ, dθ and the options. Create it
 * under ThreadLimit(options.threads): it sizes per-thread copies of θ. f and θ must outlive it.
 */
MLPKIT_INTERNAL_EXPORT
std::unique_ptr<LossEvaluator> function_evaluator(const char* function,
                                                  const std::function<double(std::span<const double>)>& f,
                                                  std::span<const double> theta,
                                                  std::span<const double> analytic_gradient,
                                                  const GradcheckOptions& options);

/**
 * The directional mode over the plan's tensors: random directions, per-tensor restrictions,
 * bisection over rows and the Taylor-remainder test, into plan.report.
 */
MLPKIT_INTERNAL_EXPORT
void run_directional(const char* function, const LossEvaluator& evaluator, GradcheckPlan& plan,
                     std::span<const double> theta, std::span<const double> analytic, const GradcheckOptions& options);

/** Central differences per entry of a scheme: 1 (central), 4 (richardson), 6 (ridders). */
std::size_t scheme_steps(DifferenceScheme scheme);

/** Ratio of successive steps of an extrapolated scheme: 2 (richardson), 1.4 (ridders). */
double step_ratio(DifferenceScheme scheme);

/** An extrapolated derivative and its error estimate. */
struct Extrapolated {
  double value, error;
};

/**
 * The value of richardson or ridders from central differences d[s] at steps h₀/step_ratioˢ
 * (scheme_steps of them): a Richardson tableau, its error estimate from successive columns.
 */
Extrapolated extrapolate(std::span<const double> d, DifferenceScheme scheme);

/**
 * The numeric derivatives of one work item in options.scheme: central differences at options.eps
 * (bound NaN), or extrapolated from scheme_steps central differences starting at
 * options.initial_step, with their error bounds; a kink at any step marks the entry.
 */
void numeric_entries(const LossEvaluator& evaluator, std::span<const std::size_t> indices,
                     const GradcheckOptions& options, std::span<double> numeric, std::span<double> rounding,
                     std::span<unsigned char> kink, std::span<double> bound);

/** An entry's agreement: its distance against its bound widened by the analytic side's rounding. */
Agreement agreement_for(double numeric, double analytic, double bound, const GradcheckOptions& options);

/** Counts each tensor's agreeing, disagreeing and unresolved entries; sets the tensors' and the report's agreement. */
void fill_agreement(GradcheckReport& report, std::span<const double> analytic, std::span<const double> numeric,
                    std::span<const double> bound, std::span<const unsigned char> kink,
                    const GradcheckOptions& options);

/** Fingerprint from a one-parameter fit analytic ≈ α·numeric, or Fingerprint::none when α ≈ 1. */
Fingerprint classify_alpha(double alpha, std::size_t batch_size);

/** One sentence for a fingerprint (with the fitted α, β). */
std::string describe(Fingerprint fingerprint, double alpha, double beta, const std::string& tensor);

/** Throws mlpkit::Error for ε ≤ 0 / not finite or thresholds not 0 < great_below ≤ wrong_from. */
void check_options(const char* function, const GradcheckOptions& options);

/** Throws unless every slice lies inside [0, n) and no two overlap. */
void check_layout(const char* function, std::span<const TensorInfo> layout, std::size_t n);

/** The layer number at the end of a tensor name ("W12" → 12), else 0. */
std::size_t layer_of(const std::string& name);

/** A report entry for slice t: its name, layer, offset and shape, nothing checked yet. */
TensorCheck tensor_check_for(const TensorInfo& t);

/** The band of a relative error. */
Verdict verdict_for(double relative_error, const GradcheckOptions& options);

/**
 * Builds the per-tensor checks, the global figures and the fingerprints from the numeric gradient
 * (NaN where not checked), the rounding bounds and the kink flags.
 */
void fill_report(GradcheckReport& report, std::span<const double> theta, std::span<const double> analytic,
                 std::span<const double> numeric, std::span<const double> rounding,
                 std::span<const unsigned char> kink, std::span<const TensorInfo> layout,
                 const GradcheckOptions& options);

/** Sets fingerprint, fit and diagnosis of each failing tensor (also the cross-tensor "upstream" one). */
void fingerprint_tensors(GradcheckReport& report, std::span<const double> theta, std::span<const double> analytic,
                         std::span<const double> numeric, std::span<const unsigned char> kink,
                         const GradcheckOptions& options);

// Checks over (entry, vector) pairs (check_vjp's cotangents, check_hvp's directions): pair (i, k)
// is entry i·K + k of an augmented θ, so a slice of r × c entries is a slice of r × c·K pairs.

/** K × n vectors: `random` rows uniform in [−1, 1) from the seed, then the n unit rows when asked. */
std::vector<double> make_cotangents(std::size_t outputs, std::size_t random, bool units, std::uint64_t seed);

/** The slices of x as slices of the n × K pairs (one slice `name` of n × K without a layout). */
std::vector<TensorInfo> pair_layout(std::span<const TensorInfo> layout, std::size_t n, std::size_t count,
                                    const char* name);

/**
 * The report of a pair check in x's coordinates: tensor offsets and columns, worst entries (their
 * index, column and cotangent); totals and counts stay pairs.
 */
void to_input_coordinates(GradcheckReport& report, std::span<const TensorInfo> layout, std::size_t count);

/** check_vjp's inputs checked and its analytic side computed: the pair check ready to run. */
struct VjpCheck {
  std::size_t outputs = 0, count = 0;         // m, and K cotangents
  std::vector<double> cotangents;             // K × m
  std::vector<double> analytic, theta;        // the n × K pairs
  std::vector<TensorInfo> pairs;              // the layout over the pairs
  GradcheckOptions options;                   // the caller's, threads 0 (the caller's ThreadLimit holds)
  std::unique_ptr<LossEvaluator> evaluator;   // uᵀf over the pairs; f, x and cotangents must outlive it
};

/**
 * Checks check_vjp's arguments and evaluates f and vjp at x (call under ThreadLimit(options.threads):
 * the evaluator sizes per-thread copies). Throws as check_vjp.
 */
MLPKIT_INTERNAL_EXPORT
VjpCheck prepare_vjp_check(const VectorFunction& f, std::span<const double> x, const VjpFunction& vjp,
                           std::span<const TensorInfo> layout, const GradcheckOptions& options);

/** The report of the pair check in x's coordinates, with its evaluations and cotangents. */
MLPKIT_INTERNAL_EXPORT
GradcheckReport finish_vjp_check(VjpCheck&& check, GradcheckReport report, std::span<const TensorInfo> layout);

/**
 * Mlp checks: for failing tensors no fit explained, tests hypotheses against the analytic gradient
 * with the model's own exact backward pass: a bias gradient that is one example's dZ column (times
 * 1 or m: bias_batch_sum), and g'(A[l]) in place of g'(Z[l]) for some hidden l (derivative_at_output).
 */
void fingerprint_mlp_hypotheses(GradcheckReport& report, const Mlp<double>& net, MatrixView<const double> x,
                                MatrixView<const double> y, std::span<const double> analytic);

/** Per-thread scratch slots a loop needs: num_threads(), or more when already inside a parallel region. */
std::size_t thread_slots();
/** This thread's slot, < thread_slots() taken before the loop. */
std::size_t thread_slot();

/** Restricts num_threads() on the calling thread to options.threads for a scope, when it is > 0 (others unaffected). */
class ThreadLimit {
 public:
  MLPKIT_INTERNAL_EXPORT
  explicit ThreadLimit(int threads);
  MLPKIT_INTERNAL_EXPORT
  ~ThreadLimit();
  ThreadLimit(const ThreadLimit&) = delete;
  ThreadLimit& operator=(const ThreadLimit&) = delete;

 private:
  int previous_ = 0;
  bool active_ = false;
};

}  // namespace mlpkit::detail
