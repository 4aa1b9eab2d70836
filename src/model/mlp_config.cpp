// Mlp's configuration rules (validate_config) and the dropout draw (dropout_keep): the checks a
// model makes before it owns any parameter, apart from the passes that use them (mlp.cpp).
#include <cmath>
#include <cstdint>
#include <limits>

#include "mlpkit/mlp.hpp"
#include "model/dropout.hpp"
#include "runtime/checks.hpp"

namespace mlpkit {

namespace {

constexpr std::size_t kMax32 = std::numeric_limits<std::uint32_t>::max();

}  // namespace

bool dropout_keep(std::uint64_t seed, std::uint64_t step, std::size_t layer, std::size_t unit, std::size_t example,
                  double keep_prob) {
  if (!(keep_prob > 0.0 && keep_prob <= 1.0)) detail::fail("dropout_keep", "keep_prob (", keep_prob, ") must be in (0, 1]");
  if (layer > kMax32) detail::fail("dropout_keep", "layer (", layer, ") exceeds 2^32 − 1");
  if (unit > kMax32) detail::fail("dropout_keep", "unit (", unit, ") exceeds 2^32 − 1");
  const detail::DropoutStream stream(seed, step, static_cast<std::uint32_t>(layer));
  return detail::DropoutStream::keeps(stream.block(static_cast<std::uint32_t>(unit), example / 4)[example % 4], keep_prob);
}

template <class T>
void validate_config(const MlpConfig<T>& config) {
  const char* fn = "Mlp";
  const auto& dims = config.dims;
  if (dims.size() < 2)
    detail::fail(fn, "config.dims has ", dims.size(), " entries but needs at least 2 (n[0] inputs … n[L] outputs)");
  std::size_t parameters = 0;
  for (std::size_t l = 0; l < dims.size(); ++l) {
    if (dims[l] == 0) detail::fail(fn, "config.dims[", l, "] is 0: every layer needs at least one unit");
    if (dims[l] > kMax32) detail::fail(fn, "config.dims[", l, "] (", dims[l], ") exceeds 2^32 − 1");
    if (l == 0) continue;
    const std::size_t layer = detail::checked_mul(fn, "the parameter count", dims[l], dims[l - 1] + 1);
    parameters = detail::checked_add(fn, "the parameter count", parameters, layer);
  }
  // θ and dθ are arrays of this many T: the count must be allocatable, or std::vector would throw
  // std::length_error instead of this error.
  detail::checked_array_bytes(fn, "the parameter count", parameters, sizeof(T));
  const auto keep_prob = static_cast<double>(config.keep_prob);
  if (!(keep_prob > 0.0 && keep_prob <= 1.0))
    detail::fail(fn, "config.keep_prob (", keep_prob, ") must be in (0, 1] (1 turns dropout off)");
  const auto l2 = static_cast<double>(config.l2);
  if (!(l2 >= 0.0) || !std::isfinite(l2)) detail::fail(fn, "config.l2 (", l2, ") must be finite and ≥ 0");
  const auto scale = static_cast<double>(config.init_scale);
  if (!(scale >= 0.0) || !std::isfinite(scale)) detail::fail(fn, "config.init_scale (", scale, ") must be finite and ≥ 0");
  if (!std::isfinite(static_cast<double>(config.leaky_slope)))
    detail::fail(fn, "config.leaky_slope (", static_cast<double>(config.leaky_slope), ") must be finite");
  detail::check_enum(fn, "config.hidden", config.hidden);
  detail::check_enum(fn, "config.output", config.output);
  detail::check_enum(fn, "config.init", config.init);
  detail::check_enum(fn, "config.loss", config.loss);
  detail::check_enum(fn, "config.accuracy", config.accuracy);
  const std::size_t outputs = dims.back();
  switch (config.loss) {
    case Loss::binary_cross_entropy:
      if (config.output != Activation::sigmoid)
        detail::fail(fn, "binary_cross_entropy needs output = sigmoid, not ", activation_name(config.output));
      if (outputs > 1 && !config.multi_label)
        detail::fail(fn, "binary_cross_entropy with n[L] = ", outputs,
                     " outputs: set multi_label = true for independent labels, or use cross_entropy for one class of ",
                     outputs);
      break;
    case Loss::cross_entropy:
      if (config.output != Activation::identity)
        detail::fail(fn, "cross_entropy applies softmax to the logits itself: output must be identity, not ",
                     activation_name(config.output));
      if (outputs < 2) detail::fail(fn, "cross_entropy needs n[L] ≥ 2 classes, got ", outputs, " (use binary_cross_entropy)");
      break;
    case Loss::mean_squared_error:
      break;
  }
}

template void validate_config<float>(const MlpConfig<float>&);
template void validate_config<double>(const MlpConfig<double>&);

}  // namespace mlpkit
