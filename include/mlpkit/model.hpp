#pragma once
/** @file
 * A deployable model: an Mlp and, optionally, the Standardizer fitted on its training inputs, saved
 * to and loaded from one file in the safetensors layout, so that the training statistics travel
 * with the weights (normalize test data with the *training* μ and σ²).
 *
 * The file: an 8-byte little-endian header length N, N bytes of JSON, then the raw little-endian
 * tensors. The JSON maps each tensor name to `{"dtype": "F32"|"F64", "shape": [...],
 * "data_offsets": [begin, end]}` (byte offsets into the data that follows the header) and holds a
 * `__metadata__` map of strings to strings:
 * - `format` = `mlpkit.model`, `format_version` = `1`;
 * - the architecture: `dims` (`30,16,1`), `hidden`, `output`, `loss`, `init` (names as
 *   activation_name, loss_name and init_name spell them), `init_scale`, `l2`, `keep_prob`,
 *   `leaky_slope` (shortest decimal text that reads back to the same double), `seed`, `step`
 *   (decimal integers), `multi_label` (`true`/`false`);
 * - with input statistics: `inputs` = `standardizer`, `inputs.epsilon`, `inputs.count`.
 * A reader needs only `format`, `format_version`, `dims`, `hidden`, `output` and `loss`: the
 * training-only fields take MlpConfig's defaults when absent (a file exported from another
 * framework), and a bias may also have the shape [n[l]].
 *
 * Tensors: `W1, b1, …, WL, bL` as Mlp::tensors() names them (W[l]: shape [n[l], n[l−1]], b[l]:
 * [n[l], 1]), all of the model's dtype and stored in θ's order; with input statistics also
 * `inputs.mean` and `inputs.variance` (F64, shape [n[0]]: the double statistics the Standardizer
 * keeps, so a loaded model transforms bitwise as the saved one). Keys `user.*` of the metadata are
 * free for the application and travel unchanged.
 */
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "mlpkit/export.hpp"
#include "mlpkit/matrix.hpp"
#include "mlpkit/mlp.hpp"
#include "mlpkit/normalization.hpp"

namespace mlpkit MLPKIT_API {

/** What Model::load and Model::from_bytes accept beyond a well-formed file of their precision. */
struct ModelLoadOptions {
  /** Accept NaN or ±Inf in the weights (the input statistics must be finite always). */
  bool allow_nonfinite = false;
  /** Load a file of the other precision (F32 into Model<double> or F64 into Model<float>), converting with static_cast. */
  bool convert_precision = false;
};

/** What a model file describes, read from its header without loading the tensors. */
struct ModelFileInfo {
  /** "F32" or "F64": the dtype of the weights. */
  std::string dtype;
  /** The architecture (numbers as double whatever the dtype). */
  MlpConfig<double> config;
  /** Σ_l n[l]·(n[l−1] + 1). */
  std::size_t parameter_count = 0;
  /** Whether the file holds input statistics (a Standardizer). */
  bool has_inputs = false;
  /** The metadata entries whose key starts with "user.". */
  std::map<std::string, std::string> user_metadata;
};

/**
 * An Mlp with the optional Standardizer of its inputs: predict takes raw features and applies the
 * training statistics first. The unit that save and load move; copyable and movable.
 */
template <class T>
class Model {
 public:
  /**
   * Pairs a network with the statistics of its inputs. Throws mlpkit::Error when `inputs` is
   * given but not fitted, or fitted on another number of features than the network's n[0].
   */
  explicit Model(Mlp<T> network, std::optional<Standardizer<T>> inputs = std::nullopt);

  /** A copy in the other precision: the network as Mlp's converting constructor, the statistics rebuilt from their doubles. */
  template <class U>
  explicit Model(const Model<U>& other)
      : Model(Mlp<T>(other.network()), convert_inputs(other.inputs())) {
    user_metadata = other.user_metadata;
  }

  /** The network. */
  const Mlp<T>& network() const { return network_; }
  /** The network, writable (e.g. to train it further). */
  Mlp<T>& network() { return network_; }
  /** The statistics of the training inputs, when the model standardizes its inputs. */
  const std::optional<Standardizer<T>>& inputs() const { return inputs_; }

  /**
   * ŷ for raw features: the network's predict on x standardized with inputs() (on x itself
   * without). x: n[0] × m, out: n[L] × m. Throws as Mlp::predict and Standardizer::transform.
   */
  void predict(MatrixView<const T> x, MatrixView<T> out) const;
  /** The same, returned as a new n[L] × m matrix. */
  Matrix<T> predict(MatrixView<const T> x) const;

  /** The model file as bytes (see the file comment): tensors in this model's precision. */
  std::string to_bytes() const;
  /**
   * Writes to_bytes() to `path` through a temporary file in the same directory that is renamed
   * over `path`, so a crash never leaves a torn model file. Throws mlpkit::Error when the file
   * cannot be written (naming it); `path` is then unchanged.
   */
  void save(const std::filesystem::path& path) const;

  /**
   * The model in a file's bytes. Validates everything before building anything: the header
   * length, the JSON, each tensor's dtype, shape and byte range (inside the data, no two
   * overlapping), the metadata (format version, architecture, integers range-checked), that the
   * tensors match the architecture, and finiteness. Tensor bytes are copied, never parsed.
   * Throws mlpkit::Error naming the tensor or field, what was expected and the values.
   */
  static Model from_bytes(std::string_view bytes, const ModelLoadOptions& options = {});
  /**
   * The model in a file written by save (or any writer of the same layout). The weights are read
   * straight into θ. Throws as from_bytes (the message names the file), and when the file cannot
   * be opened or read.
   */
  static Model load(const std::filesystem::path& path, const ModelLoadOptions& options = {});
  /**
   * load() into the storage of `previous`, a model the caller is done with (typically the former
   * version of the model being reloaded, or the spare of a double-buffered pair): when the file's
   * network has as many parameters, θ is read into previous's θ, whose pages are already mapped,
   * instead of into fresh memory the kernel must fault in and zero. The result is the same as
   * load()'s, bitwise. Throws as load() ("Model::reload" in the message); nothing is half-loaded:
   * on error no model is returned and `previous` (taken by value, so moved in) is gone.
   */
  static Model reload(const std::filesystem::path& path, Model previous, const ModelLoadOptions& options = {});

  /** Metadata of the user, keys starting with "user." (save throws otherwise): travels with the file. */
  std::map<std::string, std::string> user_metadata;

 private:
  template <class U>
  static std::optional<Standardizer<T>> convert_inputs(const std::optional<Standardizer<U>>& inputs) {
    if (!inputs) return std::nullopt;
    return Standardizer<T>::from_statistics(inputs->mean_statistics(), inputs->variance_statistics(), inputs->count(),
                                            static_cast<double>(inputs->epsilon()));
  }

  Mlp<T> network_;
  std::optional<Standardizer<T>> inputs_;
};

extern template class Model<float>;
extern template class Model<double>;

/**
 * The architecture, dtype and whether input statistics travel, read from a model file's header
 * (the tensors are checked for range and overlap but not read). Throws mlpkit::Error as Model::load.
 */
ModelFileInfo read_model_info(const std::filesystem::path& path);

}  // namespace mlpkit
