#pragma once
// The network every gradient-checking benchmark checks, so that their figures compare: depth − 1
// hidden ReLU layers of `width` units on `width` inputs, one sigmoid output with binary
// cross-entropy, double, a batch of 32 reproducible inputs in [−1, 1) and alternating labels.
#include <cstdint>

#include "mlpkit/mlpkit.hpp"

namespace mlpkit::bench {

inline constexpr std::size_t kGradcheckBatch = 32;

struct GradcheckProblem {
  Mlp<double> net;
  Matrix<double> x, y;
};

inline GradcheckProblem make_gradcheck_problem(std::size_t depth, std::size_t width) {
  MlpConfig<double> config;
  config.dims.assign(depth, width);  // n[0] = width inputs, depth − 1 hidden layers of width units
  config.dims.push_back(1);
  config.hidden = Activation::relu;
  config.output = Activation::sigmoid;
  config.loss = Loss::binary_cross_entropy;
  config.init = Init::he;
  config.seed = 42;
  const std::size_t m = kGradcheckBatch;
  GradcheckProblem p{Mlp<double>(config), Matrix<double>(width, m), Matrix<double>(1, m)};
  std::uint64_t state = 0x12345678;  // a 64-bit LCG: the same inputs on every platform
  for (std::size_t r = 0; r < width; ++r)
    for (std::size_t j = 0; j < m; ++j) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      p.x(r, j) = static_cast<double>(state >> 11) * 0x1p-53 * 2 - 1;
    }
  for (std::size_t j = 0; j < m; ++j) p.y(0, j) = j % 2 == 0 ? 1.0 : 0.0;
  return p;
}

/**
 * The README's classifier: 784-128-64-10, ReLU hidden layers, softmax cross-entropy on the logits, double,
 * He init (seed 42), a batch of `batch` reproducible inputs in [−1, 1) and one-hot labels (example j: class j mod 10).
 */
inline GradcheckProblem make_classifier_problem(std::size_t batch = kGradcheckBatch) {
  MlpConfig<double> config;
  config.dims = {784, 128, 64, 10};
  config.hidden = Activation::relu;
  config.output = Activation::identity;  // the logits: cross_entropy applies softmax
  config.loss = Loss::cross_entropy;
  config.init = Init::he;
  config.seed = 42;
  GradcheckProblem p{Mlp<double>(config), Matrix<double>(784, batch), Matrix<double>(10, batch)};
  std::uint64_t state = 0x12345678;
  for (std::size_t r = 0; r < 784; ++r)
    for (std::size_t j = 0; j < batch; ++j) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      p.x(r, j) = static_cast<double>(state >> 11) * 0x1p-53 * 2 - 1;
    }
  for (std::size_t j = 0; j < batch; ++j) p.y(j % 10, j) = 1.0;
  return p;
}

}  // namespace mlpkit::bench
