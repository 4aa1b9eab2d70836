// The safetensors container: header length, JSON header validation, writing.
#include "model/safetensors.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#include "mlpkit/error.hpp"
#include "runtime/checks.hpp"
#include "runtime/json_read.hpp"

namespace mlpkit::detail {
namespace {

// The reference implementation's bound: a header beyond 100 MB is rejected before it is read.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

std::string range_text(const TensorRecord& t) { return concat("[", t.begin, ", ", t.end, ")"); }

// A JSON number that must be a non-negative integer: read as one (never through a double or an
// int, which a huge value would overflow).
std::uint64_t unsigned_integer(const ErrorContext& where, const nlohmann::json& value, const std::string& what) {
  const std::optional<std::uint64_t> integer = json_integer_value<std::uint64_t>(value);
  if (!integer) fail_in(where, what + " is " + value.dump() + ", not a non-negative integer");
  return *integer;
}

Dtype parse_dtype(const ErrorContext& where, const std::string& name, const nlohmann::json& value) {
  if (value == "F32") return Dtype::f32;
  if (value == "F64") return Dtype::f64;
  fail_in(where, "tensor " + name + " has dtype " + value.dump() + " (expected \"F32\" or \"F64\")");
}

TensorRecord parse_tensor(const ErrorContext& where, const std::string& name, const nlohmann::json& entry,
                          std::uint64_t data_size) {
  if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
    fail_in(where, "tensor " + name + " is not an object with dtype, shape and data_offsets (" + entry.dump() + ")");
  TensorRecord t;
  t.dtype = parse_dtype(where, name, entry["dtype"]);
  const auto& shape = entry["shape"];
  const auto& offsets = entry["data_offsets"];
  if (!shape.is_array()) fail_in(where, "tensor " + name + " has shape " + shape.dump() + ", not an array");
  if (!offsets.is_array() || offsets.size() != 2)
    fail_in(where, "tensor " + name + " has data_offsets " + offsets.dump() + ", not [begin, end]");
  std::uint64_t elements = 1;
  bool overflow = false;
  for (const auto& extent : shape) {
    const std::uint64_t n = unsigned_integer(where, extent, "tensor " + name + ": a shape entry");
    overflow = overflow || (n != 0 && elements > std::numeric_limits<std::uint64_t>::max() / n);
    t.shape.push_back(n);
    if (!overflow) elements *= n;
  }
  t.begin = unsigned_integer(where, offsets[0], "tensor " + name + ": data_offsets[0]");
  t.end = unsigned_integer(where, offsets[1], "tensor " + name + ": data_offsets[1]");
  if (t.end < t.begin) fail_in(where, "tensor " + name + " has data_offsets " + range_text(t) + " that end before they begin");
  if (t.end > data_size)
    fail_in(where, concat("tensor ", name, " bytes ", range_text(t), " run past the end of the data (", data_size, " bytes)"));
  const std::uint64_t element_size = dtype_size(t.dtype);
  if (overflow || elements > std::numeric_limits<std::uint64_t>::max() / element_size ||
      elements * element_size != t.end - t.begin)
    fail_in(where, concat("tensor ", name, " of shape ", shape_text(t.shape), " and dtype ", dtype_name(t.dtype), " needs ",
                          overflow ? std::string("more than 2^64") : std::to_string(elements * element_size),
                          " bytes but data_offsets ", range_text(t), " hold ", t.end - t.begin));
  return t;
}

std::map<std::string, std::string> parse_metadata(const ErrorContext& where, const nlohmann::json& value) {
  if (!value.is_object()) fail_in(where, "__metadata__ is " + value.dump() + ", not an object of strings");
  std::map<std::string, std::string> metadata;
  for (const auto& [key, entry] : value.items()) {
    if (!entry.is_string()) fail_in(where, "__metadata__ \"" + key + "\" is " + entry.dump() + ", not a string");
    metadata.emplace(key, entry.get<std::string>());
  }
  return metadata;
}

// Tensors sorted by their first byte overlap exactly when one begins before its predecessor ends
// (empty tensors overlap nothing).
void check_disjoint(const ErrorContext& where, const std::map<std::string, TensorRecord>& tensors) {
  std::vector<std::pair<const std::string*, const TensorRecord*>> order;
  for (const auto& [name, t] : tensors)
    if (t.end > t.begin) order.emplace_back(&name, &t);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.second->begin < b.second->begin; });
  for (std::size_t i = 1; i < order.size(); ++i)
    if (order[i].second->begin < order[i - 1].second->end)
      fail_in(where, "tensors " + *order[i - 1].first + " " + range_text(*order[i - 1].second) + " and " + *order[i].first +
                         " " + range_text(*order[i].second) + " overlap");
}

}  // namespace

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

const char* dtype_name(Dtype dtype) { return dtype == Dtype::f32 ? "F32" : "F64"; }
std::size_t dtype_size(Dtype dtype) { return dtype == Dtype::f32 ? 4 : 8; }

void fail_in(const ErrorContext& where, const std::string& message) {
  if (where.source.empty()) fail(where.function, message);
  fail(where.function, where.source, ": ", message);
}

std::uint64_t header_length(const ErrorContext& where, std::string_view first_bytes, std::uint64_t file_size) {
  if (file_size < kLengthBytes || first_bytes.size() < kLengthBytes)
    fail_in(where, concat("truncated: ", file_size, " bytes, shorter than the 8-byte header length"));
  std::uint64_t length = 0;
  for (std::size_t i = 0; i < kLengthBytes; ++i)  // little-endian whatever the host
    length |= static_cast<std::uint64_t>(static_cast<unsigned char>(first_bytes[i])) << (8 * i);
  if (length > file_size - kLengthBytes)
    fail_in(where, concat("header length (", length, " bytes) runs past the end of the file (", file_size, " bytes)"));
  if (length > kMaxHeaderBytes) fail_in(where, concat("header length (", length, " bytes) exceeds ", kMaxHeaderBytes));
  return length;
}

SafetensorsHeader parse_header(const ErrorContext& where, std::string_view json, std::uint64_t file_size) {
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(json.begin(), json.end());
  } catch (const nlohmann::json::exception& e) {
    fail_in(where, std::string("malformed header JSON (") + e.what() + ")");
  }
  if (!document.is_object()) fail_in(where, "the header is not a JSON object");
  SafetensorsHeader header;
  header.data_start = kLengthBytes + json.size();
  const std::uint64_t data_size = file_size - header.data_start;
  for (const auto& [name, entry] : document.items()) {
    if (name == "__metadata__")
      header.metadata = parse_metadata(where, entry);
    else
      header.tensors.emplace(name, parse_tensor(where, name, entry, data_size));
  }
  check_disjoint(where, header.tensors);
  return header;
}

std::string write_safetensors(const ErrorContext& where, const std::vector<TensorBytes>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::json document = nlohmann::json::object();
  document["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  std::vector<std::uint64_t> sizes;
  for (const auto& t : tensors) {
    std::uint64_t size = dtype_size(t.dtype);
    for (std::uint64_t extent : t.shape) size *= extent;
    document[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + size}}};
    sizes.push_back(size);
    offset += size;
  }
  std::string json;
  try {
    json = document.dump();
  } catch (const nlohmann::json::exception& e) {  // a metadata string that is not UTF-8
    fail_in(where, std::string("the metadata cannot be written as JSON (") + e.what() + ")");
  }
  // Padding with spaces (valid JSON whitespace) aligns the data to 8 bytes, so a reader that maps
  // the file can view F64 tensors in place.
  json.append((kLengthBytes - json.size() % kLengthBytes) % kLengthBytes, ' ');
  std::string file(kLengthBytes + json.size() + offset, '\0');
  for (std::size_t i = 0; i < kLengthBytes; ++i)
    file[i] = static_cast<char>((static_cast<std::uint64_t>(json.size()) >> (8 * i)) & 0xFF);
  std::memcpy(file.data() + kLengthBytes, json.data(), json.size());
  char* data = file.data() + kLengthBytes + json.size();
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (sizes[i] != 0) std::memcpy(data, tensors[i].data, sizes[i]);
    data += sizes[i];
  }
  return file;
}

}  // namespace mlpkit::detail
