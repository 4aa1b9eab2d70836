#pragma once
// What a model file's header says, as mlpkit reads it: the architecture in __metadata__ (strings
// parsed strictly: integers as integers, range-checked) and the tensors it needs, checked against
// the header's tensor records before any tensor byte is read.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "mlpkit/mlp.hpp"
#include "model/safetensors.hpp"

namespace mlpkit::detail {

inline constexpr const char* kModelFormat = "mlpkit.model";
inline constexpr std::uint64_t kModelFormatVersion = 1;
inline constexpr const char* kUserMetadataPrefix = "user.";
inline constexpr const char* kInputsMean = "inputs.mean";
inline constexpr const char* kInputsVariance = "inputs.variance";

/** A model file's header, validated: everything but the tensor values. */
struct ModelHeader {
  MlpConfig<double> config;
  std::uint64_t step = 0;
  Dtype dtype = Dtype::f32;  // of the weights
  bool has_inputs = false;
  double inputs_epsilon = 0;
  std::uint64_t inputs_count = 0;
  std::map<std::string, std::string> user_metadata;
};

/**
 * The metadata of a model (architecture, step, input statistics' ε and count, `user.*` entries)
 * as the strings a model file stores. Throws mlpkit::Error when a user key lacks the "user." prefix.
 */
std::map<std::string, std::string> model_metadata(const ErrorContext& where, const MlpConfig<double>& config,
                                                  std::uint64_t step, const std::optional<std::pair<double, std::uint64_t>>& inputs,
                                                  const std::map<std::string, std::string>& user);

/**
 * Reads and validates the metadata and checks the tensor records against the architecture: W[l]
 * [n[l], n[l−1]], b[l] [n[l], 1] or [n[l]], all of one dtype, inputs.mean and inputs.variance
 * [n[0]] exactly when the metadata say the inputs are standardized, and no other tensor.
 * Throws mlpkit::Error naming the field or tensor, what was expected and the values.
 */
ModelHeader read_model_header(const ErrorContext& where, const SafetensorsHeader& header);

}  // namespace mlpkit::detail
