// The __metadata__ of a model file: written as strings, read back strictly.
#include "model/model_metadata.hpp"

#include <charconv>
#include <limits>
#include <set>

#include "mlpkit/error.hpp"
#include "runtime/checks.hpp"

namespace mlpkit::detail {
namespace {

constexpr std::uint64_t kMax32 = std::numeric_limits<std::uint32_t>::max();

// The shortest text that reads back to the same double.
std::string number_text(double value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return {buffer, result.ptr};
}

const std::string& required(const ErrorContext& where, const std::map<std::string, std::string>& metadata,
                            const std::string& key) {
  const auto it = metadata.find(key);
  if (it == metadata.end()) fail_in(where, "__metadata__ lacks \"" + key + "\"");
  return it->second;
}

// Training-only fields have MlpConfig's defaults when absent, so a file exported from another
// framework needs only the architecture.
const std::string& optional(const std::map<std::string, std::string>& metadata, const std::string& key,
                            const std::string& fallback) {
  const auto it = metadata.find(key);
  return it == metadata.end() ? fallback : it->second;
}

std::string quoted(const std::string& key, const std::string& text) { return "__metadata__ \"" + key + "\" (\"" + text + "\")"; }

// An integer read as one (from_chars into uint64: no sign, no exponent, no fraction, range-checked).
std::uint64_t parse_unsigned(const ErrorContext& where, const std::string& key, const std::string& text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    fail_in(where, quoted(key, text) + " is not an integer in [0, 2^64 − 1]");
  return value;
}

double parse_real(const ErrorContext& where, const std::string& key, const std::string& text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) fail_in(where, quoted(key, text) + " is not a number");
  return value;
}

bool parse_bool(const ErrorContext& where, const std::string& key, const std::string& text) {
  if (text != "true" && text != "false") fail_in(where, quoted(key, text) + " is not \"true\" or \"false\"");
  return text == "true";
}

std::vector<std::size_t> parse_dims(const ErrorContext& where, const std::string& text) {
  std::vector<std::size_t> dims;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::uint64_t dim = parse_unsigned(where, "dims", text.substr(start, comma - start));
    if (dim > kMax32) fail_in(where, concat(quoted("dims", text), " has an entry (", dim, ") above 2^32 − 1"));
    dims.push_back(static_cast<std::size_t>(dim));
    start = comma + 1;
  }
  return dims;
}

// An enumerator by name, reported as a metadata error (the parsers' own messages name themselves).
template <class Parse>
auto parse_name(const ErrorContext& where, const std::string& key, const std::string& text, Parse parse) {
  try {
    return parse(text);
  } catch (const Error& e) {
    fail_in(where, quoted(key, text) + " is not accepted (" + e.what() + ")");
  }
}

MlpConfig<double> read_config(const ErrorContext& where, const std::map<std::string, std::string>& m) {
  MlpConfig<double> config;
  config.dims = parse_dims(where, required(where, m, "dims"));
  config.hidden = parse_name(where, "hidden", required(where, m, "hidden"), parse_activation);
  config.output = parse_name(where, "output", required(where, m, "output"), parse_activation);
  config.loss = parse_name(where, "loss", required(where, m, "loss"), parse_loss);
  const MlpConfig<double> defaults;
  config.init = parse_name(where, "init", optional(m, "init", std::string(init_name(defaults.init))), parse_init);
  config.init_scale = parse_real(where, "init_scale", optional(m, "init_scale", number_text(defaults.init_scale)));
  config.l2 = parse_real(where, "l2", optional(m, "l2", number_text(defaults.l2)));
  config.keep_prob = parse_real(where, "keep_prob", optional(m, "keep_prob", number_text(defaults.keep_prob)));
  config.leaky_slope = parse_real(where, "leaky_slope", optional(m, "leaky_slope", number_text(defaults.leaky_slope)));
  config.seed = parse_unsigned(where, "seed", optional(m, "seed", "0"));
  config.multi_label = parse_bool(where, "multi_label", optional(m, "multi_label", "false"));
  config.accuracy =
      parse_name(where, "accuracy", optional(m, "accuracy", std::string(accuracy_name(defaults.accuracy))), parse_accuracy);
  try {
    validate_config(config);
  } catch (const Error& e) {
    fail_in(where, std::string("__metadata__ describes an invalid network (") + e.what() + ")");
  }
  return config;
}

// "W3", "b3": appended in two steps, as Mlp::tensors() does (GCC 12 misreports "W" + std::string&&
// under -Wrestrict, PR 105329).
std::string tensor_name(char kind, std::size_t l) {
  std::string name(1, kind);
  name += std::to_string(l);
  return name;
}

const TensorRecord& expect_tensor(const ErrorContext& where, const SafetensorsHeader& header, const std::string& name,
                                  const std::vector<std::vector<std::uint64_t>>& shapes) {
  const auto it = header.tensors.find(name);
  if (it == header.tensors.end())
    fail_in(where, "tensor " + name + " is missing (expected shape " + shape_text(shapes.front()) + ")");
  for (const auto& shape : shapes)
    if (it->second.shape == shape) return it->second;
  fail_in(where, "tensor " + name + " has shape " + shape_text(it->second.shape) + " but the architecture needs " +
                     shape_text(shapes.front()));
}

// The weights' dtype; every W and b must have it.
Dtype check_weights(const ErrorContext& where, const SafetensorsHeader& header, const std::vector<std::size_t>& dims) {
  Dtype dtype = Dtype::f32;
  for (std::size_t l = 1; l < dims.size(); ++l) {
    const std::uint64_t rows = dims[l], cols = dims[l - 1];
    const std::string w = tensor_name('W', l), b = tensor_name('b', l);
    const TensorRecord& weight = expect_tensor(where, header, w, {{rows, cols}});
    const TensorRecord& bias = expect_tensor(where, header, b, {{rows, 1}, {rows}});
    if (l == 1) dtype = weight.dtype;
    for (const auto& [name, record] : {std::pair{&w, &weight}, std::pair{&b, &bias}})
      if (record->dtype != dtype)
        fail_in(where, "tensor " + *name + " has dtype " + dtype_name(record->dtype) + " but W1 has " + dtype_name(dtype) +
                           " (the weights share one dtype)");
  }
  return dtype;
}

}  // namespace

std::map<std::string, std::string> model_metadata(const ErrorContext& where, const MlpConfig<double>& config,
                                                  std::uint64_t step, const std::optional<std::pair<double, std::uint64_t>>& inputs,
                                                  const std::map<std::string, std::string>& user) {
  std::map<std::string, std::string> m;
  for (const auto& [key, value] : user) {
    if (key.rfind(kUserMetadataPrefix, 0) != 0)
      fail_in(where, "user_metadata key \"" + key + "\" does not start with \"" + kUserMetadataPrefix + "\"");
    m[key] = value;
  }
  m["format"] = kModelFormat;
  m["format_version"] = std::to_string(kModelFormatVersion);
  std::string dims;
  for (std::size_t i = 0; i < config.dims.size(); ++i) {
    if (i > 0) dims += ',';
    dims += std::to_string(config.dims[i]);
  }
  m["dims"] = dims;
  m["hidden"] = activation_name(config.hidden);
  m["output"] = activation_name(config.output);
  m["loss"] = loss_name(config.loss);
  m["init"] = init_name(config.init);
  m["init_scale"] = number_text(config.init_scale);
  m["l2"] = number_text(config.l2);
  m["keep_prob"] = number_text(config.keep_prob);
  m["leaky_slope"] = number_text(config.leaky_slope);
  m["seed"] = std::to_string(config.seed);
  m["step"] = std::to_string(step);
  m["multi_label"] = config.multi_label ? "true" : "false";
  m["accuracy"] = accuracy_name(config.accuracy);
  if (inputs) {
    m["inputs"] = "standardizer";
    m["inputs.epsilon"] = number_text(inputs->first);
    m["inputs.count"] = std::to_string(inputs->second);
  }
  return m;
}

ModelHeader read_model_header(const ErrorContext& where, const SafetensorsHeader& header) {
  const auto& m = header.metadata;
  if (m.empty()) fail_in(where, "the header has no __metadata__ (not an mlpkit model file)");
  const std::string& format = required(where, m, "format");
  if (format != kModelFormat) fail_in(where, quoted("format", format) + " is not \"" + kModelFormat + "\"");
  const std::string& version_text = required(where, m, "format_version");
  const std::uint64_t version = parse_unsigned(where, "format_version", version_text);
  if (version != kModelFormatVersion)
    fail_in(where, concat("format_version ", version, " is not supported (this build reads version ", kModelFormatVersion, ")"));
  ModelHeader model;
  model.config = read_config(where, m);
  model.step = parse_unsigned(where, "step", optional(m, "step", "0"));
  const auto inputs = m.find("inputs");
  if (inputs != m.end() && inputs->second != "standardizer")
    fail_in(where, quoted("inputs", inputs->second) + " is not \"standardizer\"");
  model.has_inputs = inputs != m.end();
  if (model.has_inputs) {
    model.inputs_epsilon = parse_real(where, "inputs.epsilon", required(where, m, "inputs.epsilon"));
    model.inputs_count = parse_unsigned(where, "inputs.count", required(where, m, "inputs.count"));
  }
  for (const auto& [key, value] : m)
    if (key.rfind(kUserMetadataPrefix, 0) == 0) model.user_metadata.emplace(key, value);

  const auto& dims = model.config.dims;
  model.dtype = check_weights(where, header, dims);
  if (model.has_inputs)
    for (const char* name : {kInputsMean, kInputsVariance}) expect_tensor(where, header, name, {{dims.front()}});
  // Every tensor the architecture needs is there; one more has no place in it.
  const std::size_t expected = 2 * (dims.size() - 1) + (model.has_inputs ? 2 : 0);
  if (header.tensors.size() != expected) {
    std::set<std::string> known{kInputsMean, kInputsVariance};
    for (std::size_t l = 1; l < dims.size(); ++l) known.insert({tensor_name('W', l), tensor_name('b', l)});
    for (const auto& [name, record] : header.tensors)
      if (known.count(name) == 0 || (!model.has_inputs && name.rfind("inputs.", 0) == 0))
        fail_in(where, "tensor " + name + " has no place in the architecture (dims " + required(where, m, "dims") +
                           (model.has_inputs ? ", standardized inputs)" : ", no input statistics)"));
  }
  return model;
}

}  // namespace mlpkit::detail
