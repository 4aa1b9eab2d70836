#pragma once
// A model file and a user's CSV brought together: which columns are the features, what the
// targets are for the model's loss. Shared by `train`, `predict` and `gradcheck --model`.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "datasets.hpp"
#include "mlpkit/mlpkit.hpp"

namespace mlpkit::tool {

/** user_metadata keys the tool writes: the target column and the feature columns (a JSON array). */
inline constexpr const char* kTargetKey = "user.target";
inline constexpr const char* kFeaturesKey = "user.features";

/**
 * What the model file `path` describes: read_model_info, or read_onnx_info for a `.onnx` file
 * (a one-line error when the tool was built without MLPKIT_WITH_ONNX).
 */
ModelFileInfo model_file_info(const std::filesystem::path& path);
/** The model in `path`: Model<T>::load, or import_onnx<T> for a `.onnx` file. */
template <class T>
Model<T> load_model(const std::filesystem::path& path, const ModelLoadOptions& options);

/** The feature column names a model file stores (empty when it stores none). */
std::vector<std::string> feature_names(const std::map<std::string, std::string>& user_metadata);
/** The same names as the JSON array stored under kFeaturesKey. */
std::string feature_names_json(const std::vector<std::string>& names);

/**
 * The features of `table` as x (n[0] × m, examples are columns): the columns the model was
 * trained on, by name, when it stores them; else every column but its target column, or every
 * column. Throws mlpkit::Error naming the file and the missing column or the column count.
 */
Matrix<double> feature_matrix(const CsvTable& table, const std::filesystem::path& path, const ModelFileInfo& model);

/**
 * Targets y (n[L] × m) for the loss of `config` from column `column` of `table`: binary
 * cross-entropy 0/1 (n[L] = 1), cross-entropy one-hot over n[L] classes, mean squared error the
 * values (n[L] = 1). Throws mlpkit::Error naming the file, the row and the value that does not fit.
 */
Matrix<double> target_matrix(const CsvTable& table, const std::filesystem::path& path, std::size_t column,
                             const MlpConfig<double>& config);

/** The shortest text that reads back to the same double. */
std::string number_text(double value);

}  // namespace mlpkit::tool
