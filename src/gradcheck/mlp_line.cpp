// Directional mode on an Mlp: J along θ + h·w for several steps h of one probe in one pass.
//
// The forward pass is linear in the parameters of each layer: with the input A[l−1] fixed,
// (W + h·V)·A + b + h·vb = Z + h·(V·A + vb). A probe that starts in layer l0 leaves the layers
// before it alone, so its first perturbed pre-activation is Z[l0] + h·U with U = V·A[l0−1] + vb,
// and U is a slice of the per-direction product S[l]·A[l−1] (S the direction's signs over W[l],
// computed once per direction and layer). Every step then costs only the layers after l0, all steps
// side by side as columns of one wide pass; a probe spanning several layers (the whole direction)
// adds V[l]·A(h) in each. On 784-128-64-10 the first layer is 92 % of a forward pass: an evaluation
// of J costs a fraction of Mlp::loss. The displacement is exact (no rounding of θ + h·w), so the
// linear term is h·(dθ·w).
#include <algorithm>

#include "gradcheck/mlp_evaluators.hpp"
#include "mlpkit/activations.hpp"
#include "mlpkit/gemm.hpp"
#include "model/mlp_loss.hpp"
#include "runtime/checks.hpp"
#include "runtime/threads.hpp"

namespace mlpkit::detail {
namespace {

constexpr const char* kFunction = "gradcheck";
// A thread keeps its buffers between calls up to this size; a wider network's are handed back after
// each call. 784-128-64-10 needs ~2.2 MB (the signs of W[1] and 16 Taylor steps of 128 units):
// handing those back after every call cost half of directional mode in page faults.
constexpr std::size_t kKeptBytes = std::size_t{8} << 20;

/** One thread's buffers, kept from one call to the next. */
struct LineScratch {
  std::vector<double> signs, u, z, a, t, y, terms, loss;
  std::size_t bytes() const {
    return (signs.capacity() + u.capacity() + z.capacity() + a.capacity() + t.capacity() + y.capacity() +
            terms.capacity() + loss.capacity()) * sizeof(double);
  }
};

LineScratch& line_scratch() {
  thread_local LineScratch buffers;
  return buffers;
}

/** Σ a[i]·b[i] in eight partial sums added in a fixed order (vectorizes; any thread count alike). */
double dot(const double* a, const double* b, std::size_t n) {
  double partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (std::size_t lane = 0; lane < 8; ++lane) partial[lane] += a[i + lane] * b[i + lane];
  for (; i < n; ++i) partial[i % 8] += a[i] * b[i];
  return ((partial[0] + partial[1]) + (partial[2] + partial[3])) + ((partial[4] + partial[5]) + (partial[6] + partial[7]));
}

class MlpLineEvaluator final : public LineEvaluator {
 public:
  MlpLineEvaluator(const MlpForwardCache& cache, MatrixView<const double> y, std::span<const double> analytic,
                   std::span<const Direction> directions);
  double origin() const override { return j0_; }
  bool batches_steps() const override { return true; }
  double work_per_point() const override { return work_; }
  void evaluate(std::size_t d, const Probe& probe, std::span<const double> steps, std::span<double> values,
                std::span<double> linear) const override;

 private:
  /** The layer θ[i] belongs to. */
  std::size_t layer_at(std::size_t i) const {
    return static_cast<std::size_t>(std::upper_bound(woff_.begin() + 1, woff_.end(), i) - woff_.begin()) - 1;
  }
  /** u = V·A[l−1] + vb over the probe's entries of layer l (n[l] × m), from the direction's product. */
  void first_term(std::size_t d, const Probe& probe, std::size_t l, double* u) const;
  /** t = V·a + vb over the probe's entries of layer l, for `width` columns a (n[l−1] × width). */
  void layer_term(const Direction& v, const Probe& probe, std::size_t l, const double* a, std::size_t width,
                  LineScratch& s) const;
  /** Fills the product S[l]·A[l−1] of direction d and its unit sums (signs in s.signs). */
  void prepare(std::size_t d, std::size_t l, LineScratch& s);
  /**
   * Σ sign(vᵢ)·x[i] over the probe (over its weights only when weights_only), whole rows from the
   * unit sums `units` of direction d (Σ over W[l]'s row j, then bias j, per layer).
   */
  double probe_sum(std::size_t d, const Probe& probe, const std::vector<double>& units, const double* x,
                   bool weights_only) const;
  /** values[k] = J of column block k of the logits (n[L] × K·m), L2 included. */
  void score(std::size_t d, const Probe& probe, std::span<const double> steps, double c, const double* logits,
             std::span<double> values, LineScratch& s) const;

  const MlpForwardCache& cache_;
  MatrixView<const double> y_;
  std::span<const double> theta_, analytic_;
  std::span<const Direction> directions_;
  std::vector<std::size_t> woff_, boff_;        // per layer: θ offsets of W[l] and b[l]; woff_[L+1] = n
  std::vector<std::vector<double>> products_;  // [d·(L+1) + l]: S[l]·A[l−1], n[l] × m
  std::vector<std::size_t> ubase_;             // per layer: its first unit (W rows, then biases)
  std::vector<std::vector<double>> slopes_, weights_;  // per direction, per unit: Σ sign·dθ and Σ sign·θ
  double j0_ = 0, l2_0_ = 0, l2_scale_ = 0, work_ = 0;
};

MlpLineEvaluator::MlpLineEvaluator(const MlpForwardCache& cache, MatrixView<const double> y,
                                   std::span<const double> analytic, std::span<const Direction> directions)
    : cache_(cache), y_(y), theta_(cache.net.parameters()), analytic_(analytic), directions_(directions) {
  const std::vector<std::size_t>& dims = cache.dims;
  const std::size_t L = cache.layers, m = cache.m;
  woff_.assign(L + 2, 0);
  boff_.assign(L + 1, 0);
  for (std::size_t l = 1; l <= L; ++l) {
    boff_[l] = woff_[l] + dims[l] * dims[l - 1];
    woff_[l + 1] = boff_[l] + dims[l];
    work_ += 2.0 * static_cast<double>(dims[l] * dims[l - 1] * m) / static_cast<double>(l == 1 ? 8 : 1);
  }
  const MlpConfig<double>& config = cache.net.config();
  l2_scale_ = config.l2 / (2.0 * static_cast<double>(m));
  std::size_t per_direction = 0;
  for (std::size_t l = 1; l <= L; ++l) per_direction += dims[l] * m;
  checked_array_bytes(kFunction, "options.directions × the hidden units × the batch",
                      checked_mul(kFunction, "options.directions × units × m", directions.size(), per_direction),
                      sizeof(double));
  ubase_.assign(L + 2, 0);
  for (std::size_t l = 1; l <= L; ++l) ubase_[l + 1] = ubase_[l] + 2 * dims[l];
  products_.resize(directions.size() * (L + 1));
  slopes_.assign(directions.size(), std::vector<double>(ubase_[L + 1]));
  weights_.assign(directions.size(), std::vector<double>(ubase_[L + 1]));
  parallel_for(
      directions.size() * L, 2.0 * static_cast<double>(woff_[L + 1] * m) / static_cast<double>(L),
      [&](std::size_t item) {
        LineScratch& s = line_scratch();
        prepare(item / L, item % L + 1, s);
        if (s.bytes() > kKeptBytes) s = LineScratch{};
      },
      Schedule::balanced);
  // J(θ) from the cached logits, in the arithmetic of the evaluations (the Taylor remainders' base).
  l2_0_ = l2_term(config, theta_.data(), m);
  std::vector<double> terms(m), scratch;
  output_loss_terms(config, MatrixView<const double>{cache.z[L].data(), dims[L], m, m}, y_, terms.data(), scratch);
  double sum = 0;
  for (const double t : terms) sum += t;
  j0_ = sum / static_cast<double>(m) + l2_0_;
}

void MlpLineEvaluator::prepare(std::size_t d, std::size_t l, LineScratch& s) {
  const std::size_t rows = cache_.dims[l], cols = cache_.dims[l - 1], m = cache_.m;
  const Direction& v = directions_[d];
  grow(s.signs, rows * cols);
  fill_signs(v, woff_[l], boff_[l], s.signs.data());
  std::vector<double>& p = products_[d * (cache_.layers + 1) + l];
  p.resize(rows * m);
  gemm(Trans::no, Trans::no, 1.0, MatrixView<const double>{s.signs.data(), rows, cols, cols},
       MatrixView<const double>{cache_.a[l - 1].data(), cols, m, m}, 0.0, MatrixView<double>{p.data(), rows, m, m});
  double* slopes = slopes_[d].data() + ubase_[l];
  double* weights = weights_[d].data() + ubase_[l];
  for (std::size_t j = 0; j < rows; ++j) {
    slopes[j] = dot(s.signs.data() + j * cols, analytic_.data() + woff_[l] + j * cols, cols);
    weights[j] = l2_scale_ != 0 ? dot(s.signs.data() + j * cols, theta_.data() + woff_[l] + j * cols, cols) : 0.0;
    const double sign = v.at(boff_[l] + j) < 0 ? -1.0 : 1.0;
    slopes[rows + j] = sign * analytic_[boff_[l] + j];
    weights[rows + j] = 0;
  }
}

double MlpLineEvaluator::probe_sum(std::size_t d, const Probe& probe, const std::vector<double>& units,
                                   const double* x, bool weights_only) const {
  const Direction& v = directions_[d];
  double sum = 0;
  for (std::size_t l = layer_at(probe.begin); l <= cache_.layers && woff_[l] < probe.end; ++l) {
    const std::size_t cols = cache_.dims[l - 1];
    const std::size_t wb = std::max(probe.begin, woff_[l]), we = std::min(probe.end, boff_[l]);
    for (std::size_t i = wb; i < we;) {
      const std::size_t j = (i - woff_[l]) / cols, row_begin = woff_[l] + j * cols;
      const std::size_t stop = std::min(we, row_begin + cols);
      sum += i == row_begin && stop == row_begin + cols ? units[ubase_[l] + j] : signed_sum(v, i, stop, x + i);
      i = stop;
    }
    if (weights_only) continue;
    const std::size_t bb = std::max(probe.begin, boff_[l]), be = std::min(probe.end, woff_[l + 1]);
    for (std::size_t i = bb; i < be; ++i) sum += units[ubase_[l] + cache_.dims[l] + (i - boff_[l])];
  }
  return sum;
}

void MlpLineEvaluator::first_term(std::size_t d, const Probe& probe, std::size_t l, double* u) const {
  const Direction& v = directions_[d];
  const std::size_t m = cache_.m, rows = cache_.dims[l], cols = cache_.dims[l - 1];
  const double* product = products_[d * (cache_.layers + 1) + l].data();
  const double* a_prev = cache_.a[l - 1].data();
  std::fill(u, u + rows * m, 0.0);
  const std::size_t wb = std::max(probe.begin, woff_[l]), we = std::min(probe.end, boff_[l]);
  for (std::size_t i = wb; i < we;) {
    const std::size_t j = (i - woff_[l]) / cols, row_begin = woff_[l] + j * cols;
    const std::size_t stop = std::min(we, row_begin + cols);
    double* out = u + j * m;
    if (i == row_begin && stop == row_begin + cols) {
      std::copy(product + j * m, product + j * m + m, out);  // a whole row: the direction's product
    } else {
      for (std::size_t q = i; q < stop; ++q) {
        const double sign = v.at(q) < 0 ? -1.0 : 1.0;
        const double* a = a_prev + (q - row_begin) * m;
        for (std::size_t e = 0; e < m; ++e) out[e] += sign * a[e];
      }
    }
    i = stop;
  }
  const std::size_t bb = std::max(probe.begin, boff_[l]), be = std::min(probe.end, woff_[l + 1]);
  for (std::size_t i = bb; i < be; ++i) {
    const double sign = v.at(i) < 0 ? -1.0 : 1.0;
    double* out = u + (i - boff_[l]) * m;
    for (std::size_t e = 0; e < m; ++e) out[e] += sign;
  }
}

void MlpLineEvaluator::layer_term(const Direction& v, const Probe& probe, std::size_t l, const double* a,
                                  std::size_t width, LineScratch& s) const {
  const std::size_t rows = cache_.dims[l], cols = cache_.dims[l - 1];
  grow(s.signs, rows * cols);
  std::fill(s.signs.begin(), s.signs.begin() + static_cast<std::ptrdiff_t>(rows * cols), 0.0);
  const std::size_t wb = std::max(probe.begin, woff_[l]), we = std::min(probe.end, boff_[l]);
  if (wb < we) fill_signs(v, wb, we, s.signs.data() + (wb - woff_[l]));
  grow(s.t, rows * width);
  gemm(Trans::no, Trans::no, 1.0, MatrixView<const double>{s.signs.data(), rows, cols, cols},
       MatrixView<const double>{a, cols, width, width}, 0.0, MatrixView<double>{s.t.data(), rows, width, width});
  const std::size_t bb = std::max(probe.begin, boff_[l]), be = std::min(probe.end, woff_[l + 1]);
  for (std::size_t i = bb; i < be; ++i) {
    const double sign = v.at(i) < 0 ? -1.0 : 1.0;
    double* row = s.t.data() + (i - boff_[l]) * width;
    for (std::size_t t = 0; t < width; ++t) row[t] += sign;
  }
}

void MlpLineEvaluator::score(std::size_t d, const Probe& probe, std::span<const double> steps, double c,
                             const double* logits, std::span<double> values, LineScratch& s) const {
  const MlpConfig<double>& config = cache_.net.config();
  const std::size_t L = cache_.layers, m = cache_.m, outputs = cache_.dims[L], width = steps.size() * m;
  grow(s.y, outputs * width);
  for (std::size_t r = 0; r < outputs; ++r)
    for (std::size_t k = 0; k < steps.size(); ++k) std::copy(y_.row(r), y_.row(r) + m, s.y.data() + r * width + k * m);
  grow(s.terms, width);
  output_loss_terms(config, MatrixView<const double>{logits, outputs, width, width},
                    MatrixView<const double>{s.y.data(), outputs, width, width}, s.terms.data(), s.loss);
  // (λ/2m)·Σ (w + h·c·sᵢ)² = L2(θ) + (λ/2m)·(2h·c·Σ wᵢsᵢ + (h·c)²·count) over the probe's weights.
  double ws = 0, count = 0;
  if (l2_scale_ != 0) {
    ws = probe_sum(d, probe, weights_[d], theta_.data(), true);
    for (std::size_t l = layer_at(probe.begin); l <= cache_.layers && woff_[l] < probe.end; ++l)
      count += static_cast<double>(std::max(std::min(probe.end, boff_[l]), std::max(probe.begin, woff_[l])) -
                                   std::max(probe.begin, woff_[l]));
  }
  for (std::size_t k = 0; k < steps.size(); ++k) {
    double sum = 0;
    for (std::size_t e = 0; e < m; ++e) sum += s.terms[k * m + e];
    const double hc = steps[k] * c;
    values[k] = sum / static_cast<double>(m) + (l2_0_ + l2_scale_ * (2 * hc * ws + hc * hc * count));
  }
}

void MlpLineEvaluator::evaluate(std::size_t d, const Probe& probe, std::span<const double> steps,
                                std::span<double> values, std::span<double> linear) const {
  const MlpConfig<double>& config = cache_.net.config();
  const std::vector<std::size_t>& dims = cache_.dims;
  const std::size_t L = cache_.layers, m = cache_.m, width = steps.size() * m;
  const Direction& v = directions_[d];
  const double c = v.magnitude * probe.scale;
  if (probe.begin >= probe.end || c == 0 || steps.empty()) {
    std::fill(values.begin(), values.end(), j0_);
    std::fill(linear.begin(), linear.end(), 0.0);
    return;
  }
  const double slope = probe_sum(d, probe, slopes_[d], analytic_.data(), false);
  for (std::size_t k = 0; k < steps.size(); ++k) linear[k] = steps[k] * c * slope;
  const std::size_t l0 = layer_at(probe.begin), l1 = layer_at(probe.end - 1);
  LineScratch& s = line_scratch();
  grow(s.u, dims[l0] * m);
  first_term(d, probe, l0, s.u.data());
  grow(s.z, dims[l0] * width);
  for (std::size_t j = 0; j < dims[l0]; ++j)
    for (std::size_t k = 0; k < steps.size(); ++k) {
      const double hc = steps[k] * c;
      const double* z = cache_.z[l0].data() + j * m;
      const double* u = s.u.data() + j * m;
      double* out = s.z.data() + j * width + k * m;
      for (std::size_t e = 0; e < m; ++e) out[e] = z[e] + hc * u[e];
    }
  auto example = [m](std::size_t t) { return t % m; };
  for (std::size_t l = l0; l <= L; ++l) {
    if (l > l0) {
      const bool perturbed = l <= l1;
      grow(s.z, dims[l] * width);
      cache_.dense_layer(l, s.a.data(), s.z.data(), width, perturbed || l == L ? Activation::identity : config.hidden);
      if (perturbed) {
        layer_term(v, probe, l, s.a.data(), width, s);
        for (std::size_t j = 0; j < dims[l]; ++j)
          for (std::size_t k = 0; k < steps.size(); ++k) {
            const double hc = steps[k] * c;
            double* out = s.z.data() + j * width + k * m;
            const double* t = s.t.data() + j * width + k * m;
            for (std::size_t e = 0; e < m; ++e) out[e] += hc * t[e];
          }
      } else if (l < L) {
        std::swap(s.a, s.z);  // the activation came with the GEMM
        cache_.apply_mask(l, s.a.data(), width, example);
        continue;
      }
    }
    if (l == L) break;
    grow(s.a, dims[l] * width);
    activation_forward(config.hidden, config.accuracy, s.z.data(), s.a.data(), dims[l] * width, config.leaky_slope);
    cache_.apply_mask(l, s.a.data(), width, example);
  }
  score(d, probe, steps, c, s.z.data(), values, s);
  if (s.bytes() > kKeptBytes) s = LineScratch{};
}

}  // namespace

std::unique_ptr<LineEvaluator> IncrementalMlpEvaluator::line_evaluator(std::span<const double> analytic,
                                                                       std::span<const Direction> directions) const {
  return std::make_unique<MlpLineEvaluator>(cache_, y_, analytic, directions);
}

}  // namespace mlpkit::detail
