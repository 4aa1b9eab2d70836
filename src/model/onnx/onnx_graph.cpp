// The graph index of the ONNX importer and the checks and copies of constant tensors.
#include "model/onnx/onnx_graph.hpp"

#include <bit>
#include <cstring>
#include <limits>

#include "runtime/checks.hpp"

namespace mlpkit::detail::onnx_import {
namespace {

const std::vector<int> kNoConsumers;

std::string tensor_label(const std::string& name) { return "tensor '" + name + "'"; }

// The number of values `dims` describe; throws on a negative or overflowing extent.
std::size_t element_count(const ErrorContext& where, const std::string& what, const std::vector<std::uint64_t>& dims) {
  std::size_t count = 1;
  for (const std::uint64_t d : dims) {
    if (d != 0 && count > std::numeric_limits<std::size_t>::max() / d)
      fail_in(where, concat(what, ": shape ", shape_text(dims), " overflows size_t"));
    count *= static_cast<std::size_t>(d);
  }
  return count;
}

}  // namespace

Dtype element_type(const ErrorContext& where, const std::string& what, int data_type) {
  if (data_type == onnx::TensorProto_DataType_FLOAT) return Dtype::f32;
  if (data_type == onnx::TensorProto_DataType_DOUBLE) return Dtype::f64;
  const std::string name = onnx::TensorProto_DataType_IsValid(data_type)
                               ? onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(data_type))
                               : std::to_string(data_type);
  fail_in(where, concat(what, " has element type ", name, "; mlpkit imports FLOAT and DOUBLE"));
}

GraphIndex::GraphIndex(const ErrorContext& where, const onnx::GraphProto& graph)
    : graph_(graph), where_(where), used_(static_cast<std::size_t>(graph.node_size()), false) {
  for (const auto& t : graph.initializer()) constants_[t.name()] = &t;
  for (int i = 0; i < graph.node_size(); ++i) {
    const auto& n = graph.node(i);
    // Of ONNX-ML, only the nodes skl2onnx writes after a classifier (onnx_classifier.cpp).
    const bool classifier_tail =
        n.domain() == "ai.onnx.ml" && (n.op_type() == "ZipMap" || n.op_type() == "ArrayFeatureExtractor" || n.op_type() == "Binarizer");
    if (!n.domain().empty() && n.domain() != "ai.onnx" && !classifier_tail)
      fail_in(where, concat(label(i), " is of domain '", n.domain(), "'; ", kSupported));
    for (const auto& out : n.output()) {
      if (out.empty()) continue;
      if (producer_.count(out) != 0 || constants_.count(out) != 0)
        fail_in(where, concat(label(i), " writes value '", out, "', which another node or an initializer already defines"));
      producer_[out] = i;
    }
    for (const auto& in : n.input()) {
      auto& readers = consumers_[in];
      if (!in.empty() && (readers.empty() || readers.back() != i)) readers.push_back(i);
    }
    if (n.op_type() == "Constant" && n.output_size() == 1 && n.attribute_size() == 1 && n.attribute(0).name() == "value" &&
        n.attribute(0).has_t()) {
      constants_[n.output(0)] = &n.attribute(0).t();
      constant_node_[n.output(0)] = i;
    }
  }
}

std::string GraphIndex::label(int index) const {
  const auto& n = graph_.node(index);
  const std::string op = n.domain().empty() ? n.op_type() : n.domain() + "." + n.op_type();
  return n.name().empty() ? concat("node #", index, " (", op, ")") : concat("node '", n.name(), "' (", op, ")");
}

int GraphIndex::producer(const std::string& value) const {
  const auto it = producer_.find(value);
  return it == producer_.end() ? -1 : it->second;
}

const std::vector<int>& GraphIndex::consumers(const std::string& value) const {
  const auto it = consumers_.find(value);
  return it == consumers_.end() ? kNoConsumers : it->second;
}

bool GraphIndex::is_graph_output(const std::string& value) const {
  for (const auto& out : graph_.output())
    if (out.name() == value) return true;
  return false;
}

bool GraphIndex::is_constant(const std::string& value) const { return constants_.count(value) != 0; }

ConstTensor GraphIndex::constant(const std::string& value, int user) {
  const auto it = constants_.find(value);
  if (it == constants_.end())
    fail_in(where_, concat(label(user), " reads '", value, "' as a weight, but it is no initializer or Constant; ", kSupported));
  const onnx::TensorProto& t = *it->second;
  const std::string what = concat(label(user), ": ", tensor_label(value));
  ConstTensor out;
  out.proto = &t;
  out.dtype = element_type(where_, what, t.data_type());
  if (t.data_location() == onnx::TensorProto_DataLocation_EXTERNAL || t.external_data_size() != 0)
    fail_in(where_, concat(what, " keeps its data in an external file, which mlpkit does not read"));
  if (t.has_segment()) fail_in(where_, concat(what, " is segmented, which mlpkit does not read"));
  for (const std::int64_t d : t.dims()) {
    if (d < 0) fail_in(where_, concat(what, " has a negative extent (", d, ")"));
    out.dims.push_back(static_cast<std::uint64_t>(d));
  }
  out.count = element_count(where_, what, out.dims);
  const std::size_t size = dtype_size(out.dtype);
  const std::size_t stored = t.has_raw_data() ? t.raw_data().size() / size
                             : out.dtype == Dtype::f32 ? static_cast<std::size_t>(t.float_data_size())
                                                       : static_cast<std::size_t>(t.double_data_size());
  if (stored != out.count || (t.has_raw_data() && t.raw_data().size() % size != 0))
    fail_in(where_, concat(what, " of shape ", shape_text(out.dims), " needs ", out.count, " values but holds ",
                           t.has_raw_data() ? concat(t.raw_data().size(), " bytes") : concat(stored, " values")));
  const auto node = constant_node_.find(value);
  if (node != constant_node_.end()) use(node->second);
  return out;
}

bool GraphIndex::scalar(const std::string& value, double& out) const {
  const auto it = constants_.find(value);
  if (it == constants_.end()) return false;
  const onnx::TensorProto& t = *it->second;
  const bool is_float = t.data_type() == onnx::TensorProto_DataType_FLOAT;
  if (!is_float && t.data_type() != onnx::TensorProto_DataType_DOUBLE) return false;
  for (const std::int64_t d : t.dims())
    if (d != 1) return false;
  if (t.has_raw_data()) {
    if (t.raw_data().size() != (is_float ? sizeof(float) : sizeof(double))) return false;
    float f = 0;
    double d = 0;
    std::memcpy(is_float ? static_cast<void*>(&f) : static_cast<void*>(&d), t.raw_data().data(), t.raw_data().size());
    out = is_float ? f : d;
  } else if (is_float ? t.float_data_size() == 1 : t.double_data_size() == 1) {
    out = is_float ? t.float_data(0) : t.double_data(0);
  } else {
    return false;
  }
  return true;
}

int GraphIndex::constant_node(const std::string& value) const {
  const auto it = constant_node_.find(value);
  return it == constant_node_.end() ? -1 : it->second;
}

void GraphIndex::check_all_used() const {
  for (int i = 0; i < graph_.node_size(); ++i)
    if (!used(i)) fail_in(where_, concat(label(i), " is not part of the layer chain; ", kSupported));
}

template <class T>
void copy_tensor(const ConstTensor& tensor, bool transposed, std::size_t rows, std::size_t cols, T* out) {
  static_assert(std::endian::native == std::endian::little, "raw ONNX tensor data is little-endian");
  const onnx::TensorProto& t = *tensor.proto;
  const bool raw = t.has_raw_data();
  const char* bytes = raw ? t.raw_data().data() : nullptr;
  auto value = [&](std::size_t i) -> T {
    if (tensor.dtype == Dtype::f32) {
      float f = 0;
      if (raw) std::memcpy(&f, bytes + i * sizeof(float), sizeof(float));
      return static_cast<T>(raw ? f : t.float_data(static_cast<int>(i)));
    }
    double d = 0;
    if (raw) std::memcpy(&d, bytes + i * sizeof(double), sizeof(double));
    return static_cast<T>(raw ? d : t.double_data(static_cast<int>(i)));
  };
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) out[r * cols + c] = value(transposed ? c * rows + r : r * cols + c);
}

template void copy_tensor<float>(const ConstTensor&, bool, std::size_t, std::size_t, float*);
template void copy_tensor<double>(const ConstTensor&, bool, std::size_t, std::size_t, double*);

}  // namespace mlpkit::detail::onnx_import
