// The element-wise nodes after a layer, recognized as one of the Mlp's activations: a single node
// (Relu, LeakyRelu, Sigmoid, Tanh, Gelu) or one of the GELU subgraphs torch.onnx.export writes
// before opset 20. Subgraphs are matched against small expression patterns over the layer's output
// x and scalar constants; Add and Mul match in either operand order.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <set>

#include "model/onnx/onnx_chain.hpp"
#include "runtime/checks.hpp"

namespace mlpkit::detail::onnx_import {
namespace {

struct Pattern {
  enum class Kind { x, constant, op, any };
  Kind kind = Kind::x;
  std::string op;
  double value = 0;
  std::vector<Pattern> args;
};

Pattern X() { return {}; }
Pattern c(double value) { return {Pattern::Kind::constant, "", value, {}}; }
Pattern op(std::string name, std::vector<Pattern> args) { return {Pattern::Kind::op, std::move(name), 0, std::move(args)}; }
Pattern any(std::vector<Pattern> alternatives) { return {Pattern::Kind::any, "", 0, std::move(alternatives)}; }

struct Matcher {
  const GraphIndex& graph;
  const std::string& x;
  std::vector<int> matched;  // nodes of the match so far (Constant nodes included)

  bool match(const std::string& value, const Pattern& p) {
    const std::size_t mark = matched.size();
    const bool ok = match_unrolled(value, p);
    if (!ok) matched.resize(mark);
    return ok;
  }

  bool match_unrolled(const std::string& value, const Pattern& p) {
    switch (p.kind) {
      case Pattern::Kind::x:
        return value == x;
      case Pattern::Kind::constant: {
        double v = 0;
        if (!graph.scalar(value, v) || !(std::abs(v - p.value) <= 1e-6 * std::abs(p.value))) return false;
        if (graph.constant_node(value) >= 0) matched.push_back(graph.constant_node(value));
        return true;
      }
      case Pattern::Kind::any:
        for (const auto& alternative : p.args)
          if (match(value, alternative)) return true;
        return false;
      case Pattern::Kind::op:
        break;
    }
    const int n = graph.producer(value);
    if (n < 0) return false;
    const auto& node = graph.node(n);
    if (node.op_type() != p.op || node.output_size() != 1 || static_cast<std::size_t>(node.input_size()) != p.args.size())
      return false;
    matched.push_back(n);
    const bool commutative = (p.op == "Add" || p.op == "Mul") && p.args.size() == 2;
    if (commutative) {
      const std::size_t mark = matched.size();
      if (match(node.input(0), p.args[0]) && match(node.input(1), p.args[1])) return true;
      matched.resize(mark);
      return match(node.input(0), p.args[1]) && match(node.input(1), p.args[0]);
    }
    for (int i = 0; i < node.input_size(); ++i)
      if (!match(node.input(i), p.args[static_cast<std::size_t>(i)])) return false;
    return true;
  }
};

struct Template {
  Activation activation;
  Pattern pattern;
};

const std::vector<Template>& templates() {
  static const std::vector<Template> all = [] {
    // x·0.5·(1 + erf(x/√2)) in the association orders an exporter may choose.
    const Pattern scaled = any({op("Div", {X(), c(std::numbers::sqrt2)}), op("Mul", {X(), c(1 / std::numbers::sqrt2)})});
    const Pattern erf_term = op("Add", {op("Erf", {scaled}), c(1)});
    const Pattern gelu_erf = any({op("Mul", {op("Mul", {X(), erf_term}), c(0.5)}), op("Mul", {op("Mul", {X(), c(0.5)}), erf_term}),
                                  op("Mul", {X(), op("Mul", {erf_term, c(0.5)})})});
    // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) as torch writes it.
    const Pattern cube = any({op("Mul", {X(), op("Mul", {X(), X()})}), op("Pow", {X(), c(3)})});
    const Pattern inner = op("Mul", {c(std::sqrt(2 / std::numbers::pi)), op("Add", {X(), op("Mul", {c(0.044715), cube})})});
    const Pattern tanh_term = op("Add", {c(1), op("Tanh", {inner})});
    const Pattern gelu_tanh = any({op("Mul", {c(0.5), op("Mul", {X(), tanh_term})}), op("Mul", {op("Mul", {c(0.5), X()}), tanh_term})});
    return std::vector<Template>{{Activation::relu, op("Relu", {X()})},       {Activation::leaky_relu, op("LeakyRelu", {X()})},
                                 {Activation::sigmoid, op("Sigmoid", {X()})}, {Activation::tanh, op("Tanh", {X()})},
                                 {Activation::gelu, op("Gelu", {X()})},       {Activation::gelu, gelu_erf},
                                 {Activation::gelu_tanh, gelu_tanh}};
  }();
  return all;
}

bool elementwise(const std::string& op) {
  static const std::set<std::string> ops{"Add", "Sub", "Mul", "Div", "Pow", "Erf", "Tanh", "Sigmoid", "Relu", "LeakyRelu", "Gelu"};
  return ops.count(op) != 0;
}

// The attributes of a single-node activation: LeakyRelu's alpha, Gelu's approximate.
void read_attributes(const GraphIndex& graph, int n, FoundActivation& found) {
  for (const auto& a : graph.node(n).attribute()) {
    if (found.activation == Activation::leaky_relu && a.name() == "alpha") {
      found.leaky_slope = a.f();
    } else if (found.activation == Activation::gelu && a.name() == "approximate" && (a.s() == "none" || a.s() == "tanh")) {
      found.activation = a.s() == "tanh" ? Activation::gelu_tanh : Activation::gelu;
    } else if (graph.node(n).op_type() == "LeakyRelu" || graph.node(n).op_type() == "Gelu") {
      fail_in(graph.where(), concat(graph.label(n), " has an unsupported attribute '", a.name(), "'"));
    }
  }
}

}  // namespace

FoundActivation follow_activation(GraphIndex& graph, const std::string& x, std::size_t layer, std::string& sink) {
  // The element-wise nodes reachable from x, and the values that leave them.
  std::set<int> region;
  std::vector<std::string> values{x}, sinks;
  for (std::size_t i = 0; i < values.size(); ++i) {
    bool leaves = graph.is_graph_output(values[i]);
    for (const int n : graph.consumers(values[i])) {
      if (!elementwise(graph.node(n).op_type()) || graph.used(n)) {
        leaves = true;
      } else if (region.insert(n).second) {
        for (const auto& out : graph.node(n).output()) values.push_back(out);
      }
    }
    if (leaves) sinks.push_back(values[i]);
  }
  const std::string after = concat("the output of layer ", layer);
  const int last = region.empty() ? graph.producer(x) : *region.rbegin();
  if (sinks.empty()) fail_in(graph.where(), concat(graph.label(last), ": ", after, " leads to no graph output"));
  if (sinks.size() > 1)
    fail_in(graph.where(), concat(graph.label(last), ": ", after, " branches (values '", sinks[0], "' and '", sinks[1],
                                  "' both leave it); ", kSupported));
  sink = sinks[0];
  FoundActivation found;
  Matcher matcher{graph, x, {}};
  if (sink != x) {
    const auto& all = templates();
    const auto hit = std::find_if(all.begin(), all.end(), [&](const Template& t) { return matcher.match(sink, t.pattern); });
    found.node = graph.producer(sink);
    if (hit == all.end())
      fail_in(graph.where(), concat(graph.label(found.node), ": the element-wise nodes after layer ", layer,
                                    " compute no supported activation; ", kSupported));
    found.activation = hit->activation;
    read_attributes(graph, found.node, found);
  }
  const std::set<int> matched(matcher.matched.begin(), matcher.matched.end());
  for (const int n : region)
    if (matched.count(n) == 0)
      fail_in(graph.where(), concat(graph.label(n), " reads ", after, " but is part of no supported activation; ", kSupported));
  for (const int n : matched) graph.use(n);
  return found;
}

}  // namespace mlpkit::detail::onnx_import
