#pragma once
// The ONNX importer's view of a graph: who produces and who consumes each value, which values are
// constant tensors (initializers and Constant nodes), which nodes the import has accounted for, and
// the checks and copies of tensor data. Nodes are named in errors as "node '<name>' (<op>)", or by
// their index when unnamed.
#include <onnx/onnx_pb.h>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "model/safetensors.hpp"

namespace mlpkit::detail::onnx_import {

/** A constant tensor, checked: element type float or double, data inside the proto and complete. */
struct ConstTensor {
  const onnx::TensorProto* proto = nullptr;
  Dtype dtype = Dtype::f32;
  std::vector<std::uint64_t> dims;
  std::size_t count = 0;
};

class GraphIndex {
 public:
  /** Indexes `graph`; throws when a value is produced twice or a node is of a foreign domain. */
  GraphIndex(const ErrorContext& where, const onnx::GraphProto& graph);

  const onnx::GraphProto& graph() const { return graph_; }
  const ErrorContext& where() const { return where_; }
  const onnx::NodeProto& node(int index) const { return graph_.node(index); }
  /** "node '<name>' (<op>)" or "node #<index> (<op>)". */
  std::string label(int index) const;
  /** The node that produces `value`, or −1 (a graph input, an initializer, an unknown name). */
  int producer(const std::string& value) const;
  /** The nodes that read `value` (each once, in graph order). */
  const std::vector<int>& consumers(const std::string& value) const;
  /** Whether `value` is an output of the graph. */
  bool is_graph_output(const std::string& value) const;

  /** Whether `value` is an initializer or the output of a Constant node. */
  bool is_constant(const std::string& value) const;
  /**
   * The constant `value`, checked (see ConstTensor), marking its Constant node used. Throws naming
   * `user` (the node that reads it) when it is not a constant or not a usable tensor.
   */
  ConstTensor constant(const std::string& value, int user);
  /** The single value of a one-element float or double constant, or false when `value` is none. */
  bool scalar(const std::string& value, double& out) const;
  /** The Constant node that defines `value`, or −1 (an initializer, or no constant). */
  int constant_node(const std::string& value) const;

  /** Marks node `index` as part of the imported chain. */
  void use(int index) { used_[static_cast<std::size_t>(index)] = true; }
  bool used(int index) const { return used_[static_cast<std::size_t>(index)]; }
  /** Throws naming the first node the chain did not account for. */
  void check_all_used() const;

 private:
  const onnx::GraphProto& graph_;
  ErrorContext where_;
  std::map<std::string, int> producer_;
  std::map<std::string, std::vector<int>> consumers_;
  std::map<std::string, const onnx::TensorProto*> constants_;
  std::map<std::string, int> constant_node_;
  std::vector<bool> used_;
};

/** The element type of an ONNX TensorProto data_type, throwing (naming `what`) unless FLOAT or DOUBLE. */
Dtype element_type(const ErrorContext& where, const std::string& what, int data_type);

/**
 * Copies a checked tensor holding rows × cols values to `out` (row-major, rows × cols), transposed
 * when the tensor stores them cols × rows, converting each value with static_cast.
 */
template <class T>
void copy_tensor(const ConstTensor& tensor, bool transposed, std::size_t rows, std::size_t cols, T* out);

/** What the importer supports, for error messages. */
inline constexpr const char* kSupported =
    "mlpkit imports a chain of Gemm or MatMul (+ Add) layers, each followed by at most one of Relu, LeakyRelu, "
    "Sigmoid, Tanh, Gelu (or the Erf or Tanh GELU subgraph), with an optional Softmax at the end (and, after a "
    "classifier's Softmax or Sigmoid, the label and probability outputs skl2onnx writes)";

}  // namespace mlpkit::detail::onnx_import
