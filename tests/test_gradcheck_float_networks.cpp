// A J computed in float through the generic API (an Mlp<float>'s loss at θ rounded to float), judged
// by ridders' error bounds against the float model's own gradient: over 50 correct random networks
// no tensor disagrees; with a 1 % error planted in one tensor, that tensor disagrees (target: ≥ 49 of 50).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "mlp_test_support.hpp"
#include "mlpkit/gradcheck.hpp"
#include "mlpkit/mlpkit.hpp"
#include "test_support.hpp"

using namespace mlpkit;

namespace {

using FloatNetwork = test::NetworkCase<float>;  // gradient: the float model's forward_backward, widened

/** Network k of the 50: smooth hidden activations and every loss in turn, random dims and data. */
FloatNetwork float_network(std::size_t k) {
  const Activation hidden[] = {Activation::tanh, Activation::sigmoid, Activation::gelu};
  const test::LossCase& loss = test::kLossCases[k % 5];
  MlpConfig<float> config = test::make_config<float>(loss, hidden[k % 3], {3 + k % 4, 4 + k % 3, 3 + k % 5});
  config.seed = 1000 + k;
  config.l2 = k % 2 == 0 ? 0.0f : 0.3f;
  return test::network_case(config, loss, 6 + k % 7, 2000 + k, 3000 + k);
}

GradcheckOptions float_options() {
  GradcheckOptions options;
  options.scheme = DifferenceScheme::ridders;
  options.analytic_roundoff = 0x1p-24;
  options.great_below = 1e-4;
  options.wrong_from = 1e-2;
  // Float's rounding of J, divided by the finest step, bounds what the check can resolve: larger
  // steps (ridders' tableau removes their truncation error) resolve a 1 % error in small tensors too.
  options.initial_step = 0.4;
  return options;
}

}  // namespace

TEST_CASE("a J computed in float: no correct network's tensor disagrees, a 1 % error in one tensor mostly does") {
  constexpr std::size_t kNetworks = 50;
  std::size_t correct_disagreeing = 0, caught = 0;
  double correct_coherence = 0, planted_coherence = 1e300;  // the largest |coherence| of a correct tensor, the smallest of a planted one
  for (std::size_t k = 0; k < kNetworks; ++k) {
    const FloatNetwork n = float_network(k);
    const auto theta_f = n.net.parameters();
    const std::vector<double> theta(theta_f.begin(), theta_f.end());
    MlpWorkspace<float> workspace;
    std::vector<float> point(theta.size());
    // Called from one thread at a time: threads = 1 below (the workspace is shared).
    const auto f = [&](std::span<const double> t) {
      for (std::size_t i = 0; i < t.size(); ++i) point[i] = static_cast<float>(t[i]);
      return static_cast<double>(n.net.loss_at(point, n.x.view(), n.y.view(), workspace));
    };
    const std::vector<TensorInfo> layout = n.net.tensors();
    GradcheckOptions options = float_options();
    options.threads = 1;
    const GradcheckReport right = gradcheck(f, theta, n.gradient, layout, options);
    for (const TensorCheck& t : right.tensors) {
      correct_disagreeing += t.agreement == Agreement::disagree;
      correct_coherence = std::max(correct_coherence, std::abs(t.coherence));
    }
    // 1 % planted in one tensor, which rotates over the network's tensors.
    const std::size_t planted = k % layout.size();
    std::vector<double> wrong = n.gradient;
    for (std::size_t q = 0; q < layout[planted].rows * layout[planted].cols; ++q) wrong[layout[planted].offset + q] *= 1.01;
    const GradcheckReport bad = gradcheck(f, theta, wrong, layout, options);
    caught += bad.tensors[planted].agreement == Agreement::disagree;
    planted_coherence = std::min(planted_coherence, std::abs(bad.tensors[planted].coherence));
  }
  MESSAGE("float J: correct tensors judged disagree " << correct_disagreeing << "; 1 % errors caught " << caught
                                                     << " of " << kNetworks << "; |coherence| of correct tensors ≤ "
                                                     << correct_coherence << ", of planted ones ≥ " << planted_coherence);
  CHECK(correct_disagreeing == 0);
  // The target is 49 of 50. Per entry, a 1 % error in a tensor whose derivatives are ~100× smaller
  // than the loss's stays within 16 bounds (float's rounding of J over the finest ridders step): 46 of
  // 50 alone. The tensor's coherence (the discrepancies lined up along its gradient) catches the rest.
  CHECK(caught >= 49);
}
