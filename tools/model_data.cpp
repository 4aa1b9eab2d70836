#include "model_data.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>

#ifdef MLPKIT_WITH_ONNX
#include "mlpkit/onnx.hpp"
#endif

namespace mlpkit::tool {
namespace {

bool is_onnx(const std::filesystem::path& path) {
  if (path.extension() != ".onnx") return false;
#ifndef MLPKIT_WITH_ONNX
  throw Error("mlpkit: " + path.string() + ": this mlpkit was built without ONNX import (MLPKIT_WITH_ONNX=OFF)");
#endif
  return true;
}

[[noreturn]] void data_error(const std::string& message) { throw Error("mlpkit: " + message); }

std::string row_text(const std::filesystem::path& path, std::size_t row) {
  return path.string() + ": row " + std::to_string(row + 1);
}

}  // namespace

ModelFileInfo model_file_info(const std::filesystem::path& path) {
#ifdef MLPKIT_WITH_ONNX
  if (is_onnx(path)) return read_onnx_info(path);
#else
  (void)is_onnx(path);
#endif
  return read_model_info(path);
}

template <class T>
Model<T> load_model(const std::filesystem::path& path, const ModelLoadOptions& options) {
#ifdef MLPKIT_WITH_ONNX
  if (is_onnx(path)) return import_onnx<T>(path, options);
#else
  (void)is_onnx(path);
#endif
  return Model<T>::load(path, options);
}

template Model<float> load_model<float>(const std::filesystem::path&, const ModelLoadOptions&);
template Model<double> load_model<double>(const std::filesystem::path&, const ModelLoadOptions&);

std::vector<std::string> feature_names(const std::map<std::string, std::string>& user_metadata) {
  const auto it = user_metadata.find(kFeaturesKey);
  if (it == user_metadata.end()) return {};
  const auto names = nlohmann::json::parse(it->second, nullptr, false);
  if (!names.is_array()) return {};
  std::vector<std::string> out;
  for (const auto& name : names)
    if (name.is_string()) out.push_back(name.get<std::string>());
  return out;
}

std::string feature_names_json(const std::vector<std::string>& names) { return nlohmann::json(names).dump(); }

Matrix<double> feature_matrix(const CsvTable& table, const std::filesystem::path& path, const ModelFileInfo& model) {
  const std::size_t inputs = model.config.dims.front();
  std::vector<std::size_t> columns;
  const auto names = feature_names(model.user_metadata);
  if (!names.empty()) {
    for (const auto& name : names) columns.push_back(table.column(name, path));
  } else {
    const auto target = model.user_metadata.find(kTargetKey);
    for (std::size_t j = 0; j < table.names.size(); ++j)
      if (target == model.user_metadata.end() || table.names[j] != target->second) columns.push_back(j);
  }
  if (columns.size() != inputs)
    data_error(path.string() + ": " + std::to_string(columns.size()) + " feature columns but the model takes n[0] = " +
               std::to_string(inputs) + " inputs");
  Matrix<double> x(inputs, table.rows());
  for (std::size_t i = 0; i < inputs; ++i)
    for (std::size_t j = 0; j < table.rows(); ++j) x(i, j) = table.columns[columns[i]][j];
  return x;
}

Matrix<double> target_matrix(const CsvTable& table, const std::filesystem::path& path, std::size_t column,
                             const MlpConfig<double>& config) {
  const std::size_t outputs = config.dims.back(), m = table.rows();
  const auto& values = table.columns[column];
  const std::string& name = table.names[column];
  if (config.loss != Loss::cross_entropy && outputs != 1)
    data_error(path.string() + ": the model has " + std::to_string(outputs) + " outputs; a single target column '" + name +
               "' fits only one");
  Matrix<double> y(outputs, m);
  for (std::size_t j = 0; j < m; ++j) {
    const double v = values[j];
    if (config.loss == Loss::mean_squared_error) {
      y(0, j) = v;
      continue;
    }
    const bool label = v >= 0 && v == std::floor(v) && v < static_cast<double>(config.loss == Loss::cross_entropy ? outputs : 2);
    if (!label)
      data_error(row_text(path, j) + ", column '" + name + "': " + number_text(v) + " is not a class in 0 … " +
                 std::to_string(config.loss == Loss::cross_entropy ? outputs - 1 : 1));
    if (config.loss == Loss::cross_entropy)
      y(static_cast<std::size_t>(v), j) = 1;
    else
      y(0, j) = v;
  }
  return y;
}

std::string number_text(double value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return {buffer, result.ptr};
}

}  // namespace mlpkit::tool
