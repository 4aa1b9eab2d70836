// The outputs scikit-learn's classifiers get from skl2onnx after the network: the labels (ArgMax of
// the probabilities → ArrayFeatureExtractor over the classes → Reshape → Cast, or Binarizer → Cast
// for multi-label) and the probabilities (Identity, or the [1 − p, p] columns of a binary
// classifier, optionally → ZipMap). The import keeps the network up to its Softmax or Sigmoid.
#include <set>

#include "model/onnx/onnx_chain.hpp"
#include "runtime/checks.hpp"

namespace mlpkit::detail::onnx_import {
namespace {

const onnx::AttributeProto* attribute(const onnx::NodeProto& node, const std::string& name) {
  for (const auto& a : node.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

// The node producing `value` if it has type `op`, one output and `inputs` inputs; else −1.
int producer_of(const GraphIndex& g, const std::string& value, const char* op, int inputs) {
  const int n = g.producer(value);
  if (n < 0) return -1;
  const auto& node = g.node(n);
  return node.op_type() == op && node.output_size() == 1 && node.input_size() == inputs ? n : -1;
}

// The probability output `output` back to the network's result p: [ZipMap ←] Identity ← p, or
// [ZipMap ←] Concat(axis 1) ← (Sub(1, p), p). Fills `nodes` and `tail`; false when it is no such path.
bool probability_path(const GraphIndex& g, const std::string& output, std::vector<int>& nodes, ClassifierTail& tail) {
  std::string value = output;
  if (const int zipmap = producer_of(g, value, "ZipMap", 1); zipmap >= 0) {
    nodes.push_back(zipmap);
    value = g.node(zipmap).input(0);
  }
  tail.probabilities = value;
  if (const int identity = producer_of(g, value, "Identity", 1); identity >= 0) {
    nodes.push_back(identity);
    tail.network_output = g.node(identity).input(0);
    return true;
  }
  const int concat = producer_of(g, value, "Concat", 2);
  const auto* axis = concat >= 0 ? attribute(g.node(concat), "axis") : nullptr;
  if (axis == nullptr || axis->i() != 1) return false;
  const std::string& p = g.node(concat).input(1);
  const int sub = producer_of(g, g.node(concat).input(0), "Sub", 2);
  double one = 0;
  if (sub < 0 || g.node(sub).input(1) != p || !g.scalar(g.node(sub).input(0), one) || one != 1) return false;
  nodes.insert(nodes.end(), {concat, sub});
  if (g.constant_node(g.node(sub).input(0)) >= 0) nodes.push_back(g.constant_node(g.node(sub).input(0)));
  tail.network_output = p;
  tail.binary = true;
  return true;
}

// The label output `output` back to the probabilities: every node on the way one of the label
// operators, reading only constants, the probabilities or the network's result, and other such nodes.
bool label_path(const GraphIndex& g, const std::string& output, const ClassifierTail& tail, std::vector<int>& nodes) {
  static const std::set<std::string> ops{"ArgMax", "ArrayFeatureExtractor", "Reshape", "Cast", "Binarizer", "Identity"};
  std::vector<std::string> pending{output};
  std::set<int> seen;
  while (!pending.empty()) {
    const std::string value = pending.back();
    pending.pop_back();
    if (value == tail.probabilities || value == tail.network_output || g.is_constant(value)) continue;
    const int n = g.producer(value);
    if (n < 0 || ops.count(g.node(n).op_type()) == 0) return false;
    if (!seen.insert(n).second) continue;
    for (const auto& in : g.node(n).input()) pending.push_back(in);
  }
  for (const int n : seen) {
    nodes.push_back(n);
    for (const auto& in : g.node(n).input())
      if (g.constant_node(in) >= 0) nodes.push_back(g.constant_node(in));
  }
  return !seen.empty();
}

}  // namespace

std::optional<ClassifierTail> read_classifier_tail(GraphIndex& g) {
  const auto& outputs = g.graph().output();
  if (outputs.size() != 2) return std::nullopt;
  for (const int label : {0, 1}) {
    ClassifierTail tail;
    std::vector<int> nodes;
    if (!probability_path(g, outputs[1 - label].name(), nodes, tail) || !label_path(g, outputs[label].name(), tail, nodes))
      continue;
    const int end = g.producer(tail.network_output);
    const std::string op = end < 0 ? "" : g.node(end).op_type();
    if (op != "Softmax" && op != "Sigmoid")
      fail_in(g.where(), concat("the classifier's probabilities '", tail.probabilities, "' come from ",
                                end < 0 ? std::string("no node") : g.label(end), "; expected a Softmax or a Sigmoid"));
    if (tail.binary && op != "Sigmoid")
      fail_in(g.where(), concat("the classifier's probabilities [1 − p, p] take p from ", g.label(end), "; expected a Sigmoid"));
    for (const int n : nodes) g.use(n);
    tail.label_output = outputs[label].name();
    return tail;
  }
  fail_in(g.where(), concat("the graph has 2 outputs, '", outputs[0].name(), "' and '", outputs[1].name(),
                            "', but they are not a classifier's labels and probabilities as skl2onnx writes them "
                            "(labels: ArgMax → ArrayFeatureExtractor → Reshape → Cast, or Binarizer → Cast; probabilities: "
                            "Identity or Concat(1 − p, p) of the network's Softmax or Sigmoid, optionally → ZipMap)"));
}

}  // namespace mlpkit::detail::onnx_import
