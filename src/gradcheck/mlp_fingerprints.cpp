// Fingerprints only an Mlp check can take, by testing a hypothesis against the analytic gradient:
// the gradient the model would have with a given bug, computed exactly, compared with the one under
// test. A bias gradient that is one example's (the batch sum missing), and an activation derivative
// taken at the output A instead of the pre-activation Z.
#include <cmath>
#include <sstream>

#include "gradcheck/gradcheck_internal.hpp"
#include "model/mlp_hvp.hpp"

namespace mlpkit::detail {
namespace {

/** A hypothesis explains a tensor when it matches the analytic side to this relative distance. */
constexpr double kMatch = 1e-8;
/** α matches 1 or m within this relative distance. */
constexpr double kFactor = 1e-6;

double relative_distance(std::span<const double> a, std::span<const double> b) {
  double d2 = 0, a2 = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    d2 += (a[i] - b[i]) * (a[i] - b[i]);
    a2 += a[i] * a[i];
  }
  return a2 == 0 ? (d2 == 0 ? 0.0 : INFINITY) : std::sqrt(d2 / a2);
}

bool failing(const TensorCheck& t) { return t.verdict != Verdict::great; }

/** db[l] equal to c·dZ[l][:, j] for one example j and c = 1 or m: the sum over the batch is missing. */
void one_example_biases(GradcheckReport& report, const std::vector<std::vector<double>>& dz,
                        std::span<const double> analytic, std::size_t m) {
  for (TensorCheck& b : report.tensors) {
    if (!failing(b) || b.cols != 1 || b.layer == 0 || b.layer >= dz.size() || b.name.empty() || b.name[0] != 'b')
      continue;
    const std::span<const double> ana = analytic.subspan(b.offset, b.rows);
    std::vector<double> column(b.rows);
    for (std::size_t j = 0; j < m; ++j) {
      double ac = 0, cc = 0;
      for (std::size_t i = 0; i < b.rows; ++i) {
        column[i] = dz[b.layer][i * m + j];
        ac += ana[i] * column[i];
        cc += column[i] * column[i];
      }
      if (cc == 0) continue;
      const double alpha = ac / cc, md = static_cast<double>(m);
      if (std::abs(alpha - 1) > kFactor && std::abs(alpha - md) > kFactor * md) continue;
      for (double& e : column) e *= alpha;
      if (relative_distance(ana, column) > kMatch) continue;
      b.fingerprint = Fingerprint::bias_batch_sum;
      b.fit_alpha = alpha;
      std::ostringstream out;
      out << "d" << b.name << " is one example's gradient (example " << j
          << (alpha > 1.5 ? ", times m" : "") << "): the sum of dZ over the batch's columns is missing";
      b.diagnosis = out.str();
      break;
    }
  }
}

/** Every failing tensor matches the gradient with g'(A[l]) for g'(Z[l]) in some hidden layer l. */
void derivative_at_output(GradcheckReport& report, const Mlp<double>& net, MatrixView<const double> x,
                          MatrixView<const double> y, std::span<const double> analytic) {
  const Activation g = net.config().hidden;
  if (g == Activation::identity || g == Activation::relu || g == Activation::leaky_relu) return;  // g'(g(z)) = g'(z)
  std::vector<double> hypothesis(net.parameter_count());
  for (std::size_t l = 1; l < net.layers(); ++l) {
    HvpFault fault;
    fault.derivative_at_output_layer = l;
    (void)backward_with<double>(net, x, y, hypothesis, fault);
    bool explained = true;
    for (const TensorCheck& t : report.tensors)
      if (failing(t))
        explained = explained && relative_distance(analytic.subspan(t.offset, t.total),
                                                   std::span<const double>(hypothesis).subspan(t.offset, t.total)) <= kMatch;
    if (!explained) continue;
    for (TensorCheck& t : report.tensors) {
      if (!failing(t)) continue;
      t.fingerprint = Fingerprint::derivative_at_output;
      std::ostringstream out;
      out << "the backward step through layer " << l << "'s activation uses g'(A" << l << ") instead of g'(Z" << l
          << ") (the derivative at the output, not the pre-activation)";
      t.diagnosis = out.str();
    }
    return;
  }
}

}  // namespace

void fingerprint_mlp_hypotheses(GradcheckReport& report, const Mlp<double>& net, MatrixView<const double> x,
                                MatrixView<const double> y, std::span<const double> analytic) {
  bool open = false;  // a failing tensor that no fit explained
  for (const TensorCheck& t : report.tensors)
    open = open || (failing(t) && (t.fingerprint == Fingerprint::unexplained || t.fingerprint == Fingerprint::upstream ||
                                   t.fingerprint == Fingerprint::scaled));
  if (!open || report.cancelled || report.mode == GradcheckMode::directional) return;
  std::vector<double> gradient(net.parameter_count());
  const std::vector<std::vector<double>> dz = backward_with<double>(net, x, y, gradient, HvpFault{});
  one_example_biases(report, dz, analytic, x.cols);
  derivative_at_output(report, net, x, y, analytic);
}

}  // namespace mlpkit::detail
