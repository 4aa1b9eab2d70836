// The graph read as a chain: the one input, then layer after layer (Gemm, or MatMul + Add) each
// followed by its activation, an optional Softmax, the one output; then the Mlp architecture.
#include <algorithm>
#include <optional>
#include <set>

#include "model/onnx/onnx_chain.hpp"
#include "runtime/checks.hpp"

namespace mlpkit::detail::onnx_import {
namespace {

// A bias of `rows` values: shape [rows], [1, rows], or a scalar when rows = 1.
bool bias_shape(const ConstTensor& t, std::size_t rows) {
  const auto& d = t.dims;
  return t.count == rows && (d.size() == 1 || (d.size() == 2 && d[0] == 1) || (d.empty() && rows == 1));
}

// W from a rank-2 constant; `stored_transposed`: the tensor holds it as [n_in, n_out].
OnnxLayer weight_layer(GraphIndex& g, int n, const std::string& name, bool stored_transposed) {
  OnnxLayer layer;
  layer.weight = g.constant(name, n);
  const auto& d = layer.weight.dims;
  if (d.size() != 2) fail_in(g.where(), concat(g.label(n), ": weight '", name, "' has shape ", shape_text(d), "; expected rank 2"));
  layer.transposed = stored_transposed;
  layer.rows = static_cast<std::size_t>(stored_transposed ? d[1] : d[0]);
  layer.cols = static_cast<std::size_t>(stored_transposed ? d[0] : d[1]);
  return layer;
}

void check_gemm_attributes(const GraphIndex& g, int n, bool& trans_b) {
  for (const auto& a : g.node(n).attribute()) {
    const bool ok = ((a.name() == "alpha" || a.name() == "beta") && a.f() == 1.0f) || (a.name() == "transA" && a.i() == 0) ||
                    (a.name() == "transB" && (a.i() == 0 || a.i() == 1)) || (a.name() == "broadcast" && a.i() == 1);
    if (!ok)
      fail_in(g.where(), concat(g.label(n), ": attribute ", a.name(), " = ", a.type() == onnx::AttributeProto::FLOAT ? static_cast<double>(a.f()) : static_cast<double>(a.i()),
                                " is not supported (alpha = beta = 1, transA = 0, transB 0 or 1)"));
    if (a.name() == "transB") trans_b = a.i() == 1;
  }
}

// Layer `l` starting at node n, which reads `x`; `out` receives the value the layer produces.
OnnxLayer read_layer(GraphIndex& g, int n, std::size_t l, std::string& out) {
  const auto& node = g.node(n);
  const std::string& op = node.op_type();
  if ((op != "Gemm" && op != "MatMul") || node.input_size() < 2 || node.output_size() != 1)
    fail_in(g.where(), concat(g.label(n), " is where layer ", l, " should start; ", kSupported));
  g.use(n);
  out = node.output(0);
  if (op == "Gemm") {
    bool trans_b = false;
    check_gemm_attributes(g, n, trans_b);
    OnnxLayer layer = weight_layer(g, n, node.input(1), !trans_b);
    if (node.input_size() > 2 && !node.input(2).empty()) {
      layer.bias = g.constant(node.input(2), n);
      if (!bias_shape(*layer.bias, layer.rows))
        fail_in(g.where(), concat(g.label(n), ": bias '", node.input(2), "' has shape ", shape_text(layer.bias->dims), "; expected [",
                                  layer.rows, "]"));
    }
    return layer;
  }
  if (node.input_size() != 2 || node.attribute_size() != 0)
    fail_in(g.where(), concat(g.label(n), " has ", node.input_size(), " inputs and ", node.attribute_size(), " attributes; expected 2 and none"));
  OnnxLayer layer = weight_layer(g, n, node.input(1), true);
  // MatMul + Add of a constant bias: the Add belongs to the layer.
  const auto& readers = g.consumers(out);
  if (readers.size() == 1 && !g.is_graph_output(out)) {
    const auto& add = g.node(readers[0]);
    if (add.op_type() == "Add" && add.input_size() == 2 && add.output_size() == 1) {
      const std::string& other = add.input(0) == out ? add.input(1) : add.input(0);
      if (g.is_constant(other) && other != out) {
        ConstTensor bias = g.constant(other, readers[0]);
        if (bias_shape(bias, layer.rows)) {
          layer.bias = bias;
          g.use(readers[0]);
          out = add.output(0);
        }
      }
    }
  }
  return layer;
}

// Identity nodes, and Casts to the chain's own element type, where a layer should start (skl2onnx
// casts its input so, and writes a hidden identity activation as Identity): passed, marked used.
std::string pass_through(GraphIndex& g, std::string value, Dtype dtype) {
  const int own = dtype == Dtype::f32 ? onnx::TensorProto_DataType_FLOAT : onnx::TensorProto_DataType_DOUBLE;
  for (;;) {
    const auto& readers = g.consumers(value);
    if (readers.size() != 1 || g.is_graph_output(value) || g.used(readers[0])) return value;
    const auto& node = g.node(readers[0]);
    bool same = node.op_type() == "Identity" && node.attribute_size() == 0;
    if (node.op_type() == "Cast" && node.attribute_size() == 1 && node.attribute(0).name() == "to") same = node.attribute(0).i() == own;
    if (!same || node.input_size() != 1 || node.output_size() != 1) return value;
    g.use(readers[0]);
    value = node.output(0);
  }
}

// The one graph input that is not an initializer: its element type and, when fixed, its feature count.
std::string graph_input(const GraphIndex& g, std::size_t outputs, Dtype& dtype, std::size_t& features) {
  std::set<std::string> initializers;
  for (const auto& t : g.graph().initializer()) initializers.insert(t.name());
  std::vector<const onnx::ValueInfoProto*> inputs;
  for (const auto& in : g.graph().input())
    if (initializers.count(in.name()) == 0) inputs.push_back(&in);
  if (inputs.size() != 1 || static_cast<std::size_t>(g.graph().output_size()) != outputs)
    fail_in(g.where(), concat("the graph has ", inputs.size(), " inputs (besides initializers) and ", g.graph().output_size(),
                              " outputs; mlpkit imports one input [batch, features] and one output (a classifier's labels "
                              "and probabilities as skl2onnx writes them: two)"));
  const auto& in = *inputs[0];
  const std::string what = "input '" + in.name() + "'";
  if (!in.type().has_tensor_type()) fail_in(g.where(), what + " is not a tensor");
  dtype = element_type(g.where(), what, in.type().tensor_type().elem_type());
  features = 0;
  if (in.type().tensor_type().has_shape()) {
    const auto& shape = in.type().tensor_type().shape();
    if (shape.dim_size() != 2)
      fail_in(g.where(), concat(what, " has rank ", shape.dim_size(), "; mlpkit imports a [batch, features] input"));
    if (shape.dim(1).has_dim_value()) features = static_cast<std::size_t>(std::max<std::int64_t>(shape.dim(1).dim_value(), 0));
  }
  return in.name();
}

// The output's element type and fixed dims agree with the chain's result `value` of `n` features.
void check_output(const GraphIndex& g, const std::string& value, Dtype dtype, std::size_t n) {
  const auto& out = g.graph().output(0);
  const std::string what = "output '" + out.name() + "'";
  if (out.name() != value) fail_in(g.where(), concat(what, " is not the end of the layer chain ('", value, "')"));
  if (!out.type().has_tensor_type()) return;
  if (element_type(g.where(), what, out.type().tensor_type().elem_type()) != dtype)
    fail_in(g.where(), what + " has another element type than the input");
  if (!out.type().tensor_type().has_shape()) return;
  const auto& shape = out.type().tensor_type().shape();
  if (shape.dim_size() != 2 || (shape.dim(1).has_dim_value() && shape.dim(1).dim_value() != static_cast<std::int64_t>(n)))
    fail_in(g.where(), concat(what, " has rank ", shape.dim_size(), " or a feature count other than the last layer's ", n));
}

MlpConfig<double> chain_config(const GraphIndex& g, const OnnxChain& chain, const std::vector<FoundActivation>& acts, int softmax);

}  // namespace

OnnxChain read_chain(GraphIndex& g) {
  OnnxChain chain;
  const std::optional<ClassifierTail> tail = read_classifier_tail(g);
  std::size_t features = 0;
  std::string value = graph_input(g, tail ? 2 : 1, chain.dtype, features);
  std::vector<FoundActivation> acts;
  int softmax = -1;
  for (std::size_t l = 1;; ++l) {
    value = pass_through(g, value, chain.dtype);
    const auto& readers = g.consumers(value);
    if (readers.size() != 1)
      fail_in(g.where(), concat("value '", value, "' is read by ", readers.size(), " nodes where layer ", l,
                                " should start (one Gemm or MatMul); ", kSupported));
    std::string out;
    OnnxLayer layer = read_layer(g, readers[0], l, out);
    const std::size_t expected = l == 1 ? features : chain.layers.back().rows;
    if (layer.rows == 0 || layer.cols == 0 || (expected != 0 && layer.cols != expected))
      fail_in(g.where(), concat(g.label(readers[0]), ": layer ", l, " is ", layer.rows, " × ", layer.cols, " but its input has ",
                                expected, " features"));
    if (layer.weight.dtype != chain.dtype || (layer.bias && layer.bias->dtype != chain.dtype))
      fail_in(g.where(), concat(g.label(readers[0]), ": its tensors' element type differs from the input's"));
    chain.layers.push_back(layer);
    acts.push_back(follow_activation(g, out, l, value));
    if (g.is_graph_output(value) || (tail && value == tail->network_output)) break;
    const int next = g.consumers(value).front();  // one: follow_activation found one value leaving
    const auto& node = g.node(next);
    if (node.op_type() == "Softmax" && g.consumers(value).size() == 1 && node.input_size() == 1 && node.output_size() == 1) {
      softmax = next;
      g.use(next);
      value = node.output(0);
      break;
    }
  }
  if (!tail)
    check_output(g, value, chain.dtype, chain.layers.back().rows);
  else if (value != tail->network_output)
    fail_in(g.where(), concat("the classifier's probabilities are computed from '", tail->network_output,
                              "', which is not the end of the layer chain ('", value, "')"));
  g.check_all_used();
  chain.config = chain_config(g, chain, acts, softmax);
  return chain;
}

namespace {

std::string describe(const GraphIndex& g, const FoundActivation& a) {
  return a.node < 0 ? std::string("no activation") : concat(g.label(a.node), " = ", activation_name(a.activation));
}

MlpConfig<double> chain_config(const GraphIndex& g, const OnnxChain& chain, const std::vector<FoundActivation>& acts, int softmax) {
  MlpConfig<double> config;
  config.dims.push_back(chain.layers.front().cols);
  for (const auto& layer : chain.layers) config.dims.push_back(layer.rows);
  const FoundActivation& last = acts.back();
  if (acts.size() > 1) config.hidden = acts.front().activation;
  for (std::size_t l = 1; l + 1 < acts.size(); ++l)
    if (acts[l].activation != acts[0].activation)
      fail_in(g.where(), concat("layer ", l + 1, " is followed by ", describe(g, acts[l]), " but layer 1 by ", describe(g, acts[0]),
                                "; an mlpkit Mlp has one hidden activation"));
  std::optional<double> slope;
  for (const auto& a : acts) {
    if (a.activation != Activation::leaky_relu) continue;
    if (slope && *slope != a.leaky_slope)
      fail_in(g.where(), concat(g.label(a.node), ": LeakyRelu alpha ", a.leaky_slope, " differs from another layer's ", *slope,
                                "; an mlpkit Mlp has one leaky slope"));
    slope = a.leaky_slope;
  }
  if (slope) config.leaky_slope = *slope;
  config.output = last.activation;
  config.loss = Loss::mean_squared_error;
  if (softmax >= 0) {
    const auto& node = g.node(softmax);
    for (const auto& a : node.attribute())
      if (a.name() != "axis" || (a.i() != 1 && a.i() != -1))
        fail_in(g.where(), concat(g.label(softmax), ": attribute ", a.name(), " = ", a.i(), " is not supported (axis 1 or −1)"));
    if (last.activation != Activation::identity || config.dims.back() < 2)
      fail_in(g.where(), concat(g.label(softmax), ": a Softmax must follow the last layer directly and over at least 2 outputs"));
    config.loss = Loss::cross_entropy;
  } else if (last.activation == Activation::sigmoid) {
    config.loss = Loss::binary_cross_entropy;
    config.multi_label = config.dims.back() > 1;
  }
  try {
    validate_config(config);
  } catch (const Error& e) {
    fail_in(g.where(), std::string("the layers do not form a valid Mlp (") + e.what() + ")");
  }
  return config;
}

}  // namespace
}  // namespace mlpkit::detail::onnx_import
