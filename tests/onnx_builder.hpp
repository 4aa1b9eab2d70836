#pragma once
// ONNX graphs built in C++ with the protobuf API (tests of mlpkit::onnx): what torch.onnx.export
// writes, and the bad graphs of docs/errors.md, without Python.
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

namespace mlpkit::test {

class OnnxBuilder {
 public:
  /** A graph with input "x" [batch, features] of `elem_type` (1 FLOAT, 11 DOUBLE), opset `opset`. */
  explicit OnnxBuilder(std::int64_t features, int elem_type = onnx::TensorProto_DataType_FLOAT, std::int64_t opset = 13)
      : elem_type_(elem_type) {
    model_.set_ir_version(7);
    model_.set_producer_name("mlpkit tests");
    auto* op = model_.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    add_value(graph()->add_input(), "x", {-1, features}, elem_type);
  }

  onnx::GraphProto* graph() { return model_.mutable_graph(); }
  onnx::ModelProto& model() { return model_; }

  /** An initializer of the graph's element type, stored as raw little-endian bytes (or typed). */
  onnx::TensorProto* initializer(const std::string& name, std::vector<std::int64_t> dims, const std::vector<double>& values,
                                 bool raw = true) {
    onnx::TensorProto* t = graph()->add_initializer();
    fill_tensor(*t, name, std::move(dims), values, raw);
    return t;
  }

  /** A Constant node holding one scalar. */
  void scalar(const std::string& name, double value) {
    auto& n = node("Constant", {}, {name});
    auto* a = n.add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    fill_tensor(*a->mutable_t(), "", {}, {value}, true);
  }

  /** A node; its name is "<op>_<index>". */
  onnx::NodeProto& node(const std::string& op, std::initializer_list<std::string> inputs, std::initializer_list<std::string> outputs) {
    onnx::NodeProto* n = graph()->add_node();
    n->set_op_type(op);
    n->set_name(op + "_" + std::to_string(graph()->node_size() - 1));
    for (const auto& in : inputs) n->add_input(in);
    for (const auto& out : outputs) n->add_output(out);
    return *n;
  }

  static void attribute(onnx::NodeProto& n, const std::string& name, std::int64_t value) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(value);
  }
  static void attribute_f(onnx::NodeProto& n, const std::string& name, float value) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(value);
  }

  /** Gemm(in, <name>.W, <name>.b) with transB = 1 (torch's Linear): W rows × cols, b rows. */
  void gemm(const std::string& in, const std::string& out, const std::string& name, std::int64_t rows, std::int64_t cols,
            const std::vector<double>& w, const std::vector<double>& b) {
    initializer(name + ".W", {rows, cols}, w);
    initializer(name + ".b", {rows}, b);
    attribute(node("Gemm", {in, name + ".W", name + ".b"}, {out}), "transB", 1);
  }

  /** The graph output `name` [batch, n]. */
  void output(const std::string& name, std::int64_t n) { add_value(graph()->add_output(), name, {-1, n}, elem_type_); }

  /** An INT64 initializer (a classifier's labels, a Reshape's shape). */
  void int64_initializer(const std::string& name, std::vector<std::int64_t> dims, const std::vector<std::int64_t>& values) {
    onnx::TensorProto* t = graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto_DataType_INT64);
    for (const std::int64_t d : dims) t->add_dims(d);
    for (const std::int64_t v : values) t->add_int64_data(v);
  }

  /**
   * The outputs skl2onnx writes after a classifier whose network ends in `p` (a Softmax's or a
   * Sigmoid's output) over `classes` classes: probabilities = Identity(p), or Concat(1 − p, p) when
   * `binary`; labels = ArgMax → ArrayFeatureExtractor(classes) → Reshape(−1) → Cast(INT64); with
   * `zipmap`, output_label = Identity(labels) and output_probability = ZipMap(probabilities) (a
   * sequence of maps), else the labels and probabilities are the outputs themselves.
   */
  void sklearn_classifier_outputs(const std::string& p, std::int64_t classes, bool binary, bool zipmap) {
    const std::string label = zipmap ? "label" : "output_label", probabilities = zipmap ? "probabilities" : "output_probability";
    if (binary) {
      initializer("unity", {}, {1.0});
      node("Sub", {"unity", p}, {"negative_class_proba"});
      attribute(node("Concat", {"negative_class_proba", p}, {probabilities}), "axis", 1);
    } else {
      node("Identity", {p}, {probabilities});
    }
    std::vector<std::int64_t> labels(static_cast<std::size_t>(classes));
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int64_t>(10 * i);
    int64_initializer("classes", {classes}, labels);
    int64_initializer("shape_tensor", {1}, {-1});
    attribute(node("ArgMax", {probabilities}, {"argmax_output"}), "axis", 1);
    node("ArrayFeatureExtractor", {"classes", "argmax_output"}, {"extracted"}).set_domain("ai.onnx.ml");
    node("Reshape", {"extracted", "shape_tensor"}, {"reshaped_result"});
    attribute(node("Cast", {"reshaped_result"}, {label}), "to", onnx::TensorProto_DataType_INT64);
    auto* label_out = graph()->add_output();
    label_out->set_name("output_label");
    label_out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto_DataType_INT64);
    if (!zipmap) return output(probabilities, binary ? 2 : classes);
    node("Identity", {label}, {"output_label"});
    node("ZipMap", {probabilities}, {"output_probability"}).set_domain("ai.onnx.ml");
    auto* map = graph()->add_output();
    map->set_name("output_probability");
    auto* entry = map->mutable_type()->mutable_sequence_type()->mutable_elem_type()->mutable_map_type();
    entry->set_key_type(onnx::TensorProto_DataType_INT64);
    entry->mutable_value_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto_DataType_FLOAT);
  }

  std::string bytes() const { return model_.SerializeAsString(); }

 private:
  static void add_value(onnx::ValueInfoProto* v, const std::string& name, std::vector<std::int64_t> dims, int elem_type) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(elem_type);
    for (const std::int64_t d : dims) {
      auto* dim = t->mutable_shape()->add_dim();
      if (d < 0)
        dim->set_dim_param("batch");
      else
        dim->set_dim_value(d);
    }
  }

  void fill_tensor(onnx::TensorProto& t, const std::string& name, std::vector<std::int64_t> dims, const std::vector<double>& values,
                   bool raw) const {
    t.set_name(name);
    t.set_data_type(elem_type_);
    for (const std::int64_t d : dims) t.add_dims(d);
    std::string bytes;
    for (const double v : values) {
      if (elem_type_ == onnx::TensorProto_DataType_DOUBLE) {
        if (!raw) t.add_double_data(v);
        bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
      } else {
        const auto f = static_cast<float>(v);
        if (!raw) t.add_float_data(f);
        bytes.append(reinterpret_cast<const char*>(&f), sizeof f);
      }
    }
    if (raw) t.set_raw_data(bytes);
  }

  onnx::ModelProto model_;
  int elem_type_;
};

}  // namespace mlpkit::test
