// The bad-input contract (docs/errors.md), row by row: every kind of bad input to every public
// function throws mlpkit::Error (not another type, never a crash), the message names the function
// and the argument, and an output buffer is left untouched when the function throws before it
// computes anything.
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/gemm/gemm_ref.hpp"
#include "mlpkit/gradcheck.hpp"
#include "mlpkit/mlpkit.hpp"
#include "mlpkit/model.hpp"
#include "mlpkit/normalization.hpp"
#include "mlpkit/train.hpp"
#include "mlp_test_support.hpp"
#include "test_support.hpp"
#ifdef MLPKIT_WITH_ONNX
#include "mlpkit/onnx.hpp"
#include "onnx_builder.hpp"
#endif

using namespace mlpkit;

namespace {

/**
 * Calls `call` and checks that it throws mlpkit::Error whose message starts with
 * "mlpkit::<function>: " and contains every one of `parts` (the argument's name, the values).
 */
template <class Call>
void expect_error(std::string_view function, std::initializer_list<std::string_view> parts, Call&& call) {
  const std::string prefix = "mlpkit::" + std::string(function) + ": ";
  INFO("expected mlpkit::Error from " << prefix);
  try {
    call();
    FAIL("no exception");
  } catch (const Error& e) {
    const std::string message = e.what();
    INFO("message: " << message);
    CHECK(message.rfind(prefix, 0) == 0);
    for (std::string_view part : parts) {
      INFO("missing: " << part);
      CHECK(message.find(part) != std::string::npos);
    }
  } catch (const std::exception& e) {
    FAIL("an exception other than mlpkit::Error: " << e.what());
  }
}

/** An output buffer pre-filled with a bit pattern no function computes; unchanged() compares. */
template <class T>
class Sentinel {
 public:
  explicit Sentinel(std::size_t n) : data_(n) {
    for (auto& v : data_) v = pattern();
  }
  T* data() { return data_.data(); }
  std::vector<T>& vector() { return data_; }
  bool unchanged() const {
    const T p = pattern();
    for (const T& v : data_)
      if (std::memcmp(&v, &p, sizeof(T)) != 0) return false;
    return true;
  }

 private:
  static T pattern() { return static_cast<T>(-1234.5678); }
  std::vector<T> data_;
};

// A float and a double that are not a valid Activation / Loss / Init.
constexpr auto kBadActivation = static_cast<Activation>(42);
constexpr auto kBadAccuracy = static_cast<Accuracy>(9);

}  // namespace

TEST_CASE("gemm rejects bad leading dimensions, null operands and overflowing sizes, leaving C untouched") {
  const std::vector<float> a(12, 1.0F), b(12, 1.0F);
  Sentinel<float> c(16);
  // 1. lda smaller than the stored row of A (Trans::no: k columns).
  expect_error("gemm", {"lda (2)", "a"}, [&] {
    gemm<float>(Trans::no, Trans::no, 2, 2, 3, 1, a.data(), 2, b.data(), 2, 0, c.data(), 2);
  });
  // 2. lda for a transposed A: A is k × m, so lda ≥ m.
  expect_error("gemm", {"lda (1)", "Trans::yes"}, [&] {
    gemm<float>(Trans::yes, Trans::no, 2, 2, 3, 1, a.data(), 1, b.data(), 2, 0, c.data(), 2);
  });
  // 3. ldb
  expect_error("gemm", {"ldb (1)", "b"}, [&] {
    gemm<float>(Trans::no, Trans::no, 2, 2, 3, 1, a.data(), 3, b.data(), 1, 0, c.data(), 2);
  });
  // 4. ldc
  expect_error("gemm", {"ldc (1)", "c"}, [&] {
    gemm<float>(Trans::no, Trans::no, 2, 2, 3, 1, a.data(), 3, b.data(), 2, 0, c.data(), 1);
  });
  // 5–7. null operands of non-empty matrices.
  expect_error("gemm", {"a is null", "2 × 3"}, [&] {
    gemm<float>(Trans::no, Trans::no, 2, 2, 3, 1, nullptr, 3, b.data(), 2, 0, c.data(), 2);
  });
  expect_error("gemm", {"b is null"}, [&] {
    gemm<float>(Trans::no, Trans::no, 2, 2, 3, 1, a.data(), 3, nullptr, 2, 0, c.data(), 2);
  });
  expect_error("gemm", {"c is null"}, [&] {
    gemm<float>(Trans::no, Trans::no, 2, 2, 3, 1, a.data(), 3, b.data(), 2, 0, nullptr, 2);
  });
  // 8. m·n·k overflows size_t.
  const std::size_t huge = std::size_t{1} << 40;
  expect_error("gemm", {"overflows"}, [&] {
    gemm<float>(Trans::no, Trans::no, huge, huge, huge, 1, a.data(), huge, b.data(), huge, 0, c.data(), huge);
  });
  CHECK(c.unchanged());
  // Null is fine for an empty matrix: m = 0 touches nothing.
  gemm<float>(Trans::no, Trans::no, 0, 2, 3, 1, nullptr, 3, b.data(), 2, 0, nullptr, 2);
}

TEST_CASE("gemm with views rejects mismatched shapes and invalid views, leaving C and pre_activation untouched") {
  const std::vector<double> a(12, 1.0), b(12, 1.0);
  Sentinel<double> c(16), pre(16);
  const MatrixView<const double> a23{a.data(), 2, 3, 3}, b32{b.data(), 3, 2, 2};
  const MatrixView<double> c22{c.data(), 2, 2, 2};
  // 9. op(a) rows ≠ c rows.
  expect_error("gemm", {"op(a) has 3 rows", "c has 2 rows"}, [&] {
    gemm<double>(Trans::yes, Trans::no, 1.0, a23, b32, 0.0, c22);
  });
  // 10. op(b) columns ≠ c columns.
  expect_error("gemm", {"op(b) has 3 columns"}, [&] {
    gemm<double>(Trans::no, Trans::yes, 1.0, a23, b32, 0.0, c22);
  });
  // 11. inner dimensions differ.
  expect_error("gemm", {"inner dimensions differ"}, [&] {
    gemm<double>(Trans::no, Trans::no, 1.0, a23, MatrixView<const double>{b.data(), 2, 2, 2}, 0.0, c22);
  });
  // 12. a view whose ld is smaller than its cols.
  expect_error("gemm", {"a.ld (2)", "cols (3)"}, [&] {
    gemm<double>(Trans::no, Trans::no, 1.0, MatrixView<const double>{a.data(), 2, 3, 2}, b32, 0.0, c22);
  });
  // 13. a null view that is not empty.
  expect_error("gemm", {"b.data is null"}, [&] {
    gemm<double>(Trans::no, Trans::no, 1.0, a23, MatrixView<const double>{nullptr, 3, 2, 2}, 0.0, c22);
  });
  // 14. epilogue.pre_activation of the wrong shape.
  Epilogue<double> epilogue;
  epilogue.pre_activation = {pre.data(), 2, 3, 3};
  expect_error("gemm", {"epilogue.pre_activation", "2 × 3"}, [&] {
    gemm<double>(Trans::no, Trans::no, 1.0, a23, b32, 0.0, c22, epilogue);
  });
  // 156. epilogue.accuracy outside the enumerators.
  Epilogue<double> bad_tier;
  bad_tier.accuracy = kBadAccuracy;
  expect_error("gemm", {"epilogue.accuracy (9)", "not an Accuracy"}, [&] {
    gemm<double>(Trans::no, Trans::no, 1.0, a23, b32, 0.0, c22, bad_tier);
  });
  CHECK(c.unchanged());
  CHECK(pre.unchanged());
}

TEST_CASE("activation functions reject null arrays, partial overlaps and unknown activations, leaving outputs untouched") {
  const std::vector<float> x(8, 0.5F), dy(8, 1.0F);
  Sentinel<float> y(8);
  // 15–16. null input or output with n > 0.
  expect_error("activation_forward", {"x is null but holds 4"}, [&] { activation_forward<float>(Activation::relu, nullptr, y.data(), 4); });
  expect_error("activation_forward", {"y is null"}, [&] { activation_forward<float>(Activation::relu, x.data(), nullptr, 4); });
  // 17. unknown activation.
  expect_error("activation_forward", {"f (42)", "not an Activation"}, [&] {
    activation_forward<float>(kBadActivation, x.data(), y.data(), 4);
  });
  // 18. x and y overlapping other than exactly.
  std::vector<float> shared(8, 1.0F);
  expect_error("activation_forward", {"x and y overlap"}, [&] {
    activation_forward<float>(Activation::tanh, shared.data(), shared.data() + 1, 4);
  });
  // 19–20. backward: null dy, dx partially overlapping dy.
  expect_error("activation_backward", {"dy is null"}, [&] {
    activation_backward<float>(Activation::sigmoid, x.data(), nullptr, y.data(), 4);
  });
  expect_error("activation_backward", {"dy and dx overlap"}, [&] {
    activation_backward<float>(Activation::sigmoid, x.data(), shared.data(), shared.data() + 2, 4);
  });
  // 21–22. backward from the output: gelu has no such derivative; leaky_relu needs slope ≥ 0.
  expect_error("activation_backward_from_output", {"f (gelu)"}, [&] {
    activation_backward_from_output<float>(Activation::gelu, x.data(), dy.data(), y.data(), 4);
  });
  expect_error("activation_backward_from_output", {"leaky_slope (-0.5)"}, [&] {
    activation_backward_from_output<float>(Activation::leaky_relu, x.data(), dy.data(), y.data(), 4, -0.5F);
  });
  CHECK(y.unchanged());
  // 23–24. names.
  expect_error("activation_name", {"f (42)"}, [&] { (void)activation_name(kBadActivation); });
  expect_error("parse_activation", {"\"swish\"", "accepted: identity, relu, leaky_relu"}, [&] { (void)parse_activation("swish"); });
  // 157–159. the accuracy tier.
  expect_error("activation_forward", {"accuracy (9)", "not an Accuracy"}, [&] {
    activation_forward<float>(Activation::tanh, kBadAccuracy, x.data(), y.data(), 4);
  });
  expect_error("activation_backward", {"accuracy (9)", "not an Accuracy"}, [&] {
    activation_backward<float>(Activation::tanh, kBadAccuracy, x.data(), dy.data(), y.data(), 4);
  });
  CHECK(y.unchanged());
  expect_error("accuracy_name", {"accuracy (9)", "not an Accuracy"}, [&] { (void)accuracy_name(kBadAccuracy); });
  expect_error("parse_accuracy", {"\"exact\"", "precise, fast"}, [&] { (void)parse_accuracy("exact"); });
}

TEST_CASE("softmax and log_softmax reject mismatched shapes, bad views and partial overlaps, leaving out untouched") {
  const std::vector<double> z(12, 0.25);
  Sentinel<double> out(12);
  const MatrixView<const double> z34{z.data(), 3, 4, 4};
  // 25. out of another shape.
  expect_error("softmax", {"out is 4 × 3", "3 × 4"}, [&] { softmax<double>(z34, {out.data(), 4, 3, 3}); });
  // 26. z.ld < z.cols.
  expect_error("softmax", {"z.ld (3)"}, [&] { softmax<double>({z.data(), 3, 4, 3}, {out.data(), 3, 4, 4}); });
  // 27. null data in a non-empty view.
  expect_error("log_softmax", {"z.data is null"}, [&] { log_softmax<double>({nullptr, 3, 4, 4}, {out.data(), 3, 4, 4}); });
  CHECK(out.unchanged());
  // 28. out overlapping z without being z; 29. out = z with another ld.
  std::vector<double> buffer(24, 0.5);
  expect_error("softmax", {"out overlaps z"}, [&] {
    softmax<double>({buffer.data(), 3, 4, 4}, {buffer.data() + 1, 3, 4, 4});
  });
  expect_error("log_softmax", {"out", "z", "ld", "5", "4"}, [&] {
    log_softmax<double>({buffer.data(), 3, 4, 4}, {buffer.data(), 3, 4, 5});
  });
}

TEST_CASE("losses reject empty batches, mismatched shapes, labels out of range and overlapping gradients") {
  const std::vector<float> p{0.2F, 0.9F, 0.5F, 0.1F}, y{0, 1, 1, 0};
  Sentinel<float> dz(4);
  const MatrixView<const float> p22{p.data(), 2, 2, 2}, y22{y.data(), 2, 2, 2};
  // 30. probabilities outside [0, 1].
  const std::vector<float> bad_p{0.2F, 1.5F, 0.5F, 0.1F};
  expect_error("binary_cross_entropy", {"probabilities(0, 1)", "1.5"}, [&] {
    (void)binary_cross_entropy<float>({bad_p.data(), 2, 2, 2}, y22);
  });
  // 31. a label that is not 0 or 1.
  const std::vector<float> soft{0, 0.5F, 1, 0};
  expect_error("binary_cross_entropy", {"y(0, 1)", "0.5"}, [&] { (void)binary_cross_entropy<float>(p22, {soft.data(), 2, 2, 2}); });
  expect_error("binary_cross_entropy_with_logits", {"y(0, 1) = 0.5 is not a label in {0, 1}"}, [&] {
    (void)binary_cross_entropy_with_logits<float>(p22, {soft.data(), 2, 2, 2});
  });
  // 32. y of another shape.
  expect_error("binary_cross_entropy_with_logits", {"y is 1 × 4", "2 × 2"}, [&] {
    (void)binary_cross_entropy_with_logits<float>(p22, {y.data(), 1, 4, 4}, {dz.data(), 2, 2, 2});
  });
  // 33. m = 0.
  expect_error("binary_cross_entropy_with_logits", {"z is 2 × 0"}, [&] {
    (void)binary_cross_entropy_with_logits<float>({p.data(), 2, 0, 2}, {y.data(), 2, 0, 2});
  });
  // 34. cross-entropy labels outside [0, 1].
  const std::vector<float> big{0, 2, 1, 0};
  expect_error("cross_entropy_with_logits", {"y(0, 1)", "not in [0, 1]"}, [&] {
    (void)cross_entropy_with_logits<float>(p22, {big.data(), 2, 2, 2}, {dz.data(), 2, 2, 2});
  });
  // 35. a gradient of another shape.
  expect_error("cross_entropy_with_logits", {"dz is 2 × 1"}, [&] {
    (void)cross_entropy_with_logits<float>(p22, y22, {dz.data(), 2, 1, 1});
  });
  CHECK(dz.unchanged());
  // 36. a gradient overlapping the labels.
  std::vector<float> labels_and_grad{0, 1, 1, 0, 0, 0};
  expect_error("cross_entropy_with_logits", {"dz overlaps y"}, [&] {
    (void)cross_entropy_with_logits<float>(p22, {labels_and_grad.data(), 2, 2, 2}, {labels_and_grad.data() + 1, 2, 2, 2});
  });
  // 37. a gradient partially overlapping the prediction.
  std::vector<float> pred_and_grad{1, 2, 3, 4, 5, 6};
  expect_error("mean_squared_error", {"dyhat overlaps yhat"}, [&] {
    (void)mean_squared_error<float>({pred_and_grad.data(), 2, 2, 2}, y22, {pred_and_grad.data() + 1, 2, 2, 2});
  });
  // 38–39. names.
  expect_error("parse_loss", {"\"hinge\"", "cross_entropy"}, [&] { (void)parse_loss("hinge"); });
  expect_error("loss_name", {"loss (9)"}, [&] { (void)loss_name(static_cast<Loss>(9)); });
}

TEST_CASE("Standardizer rejects bad epsilon, empty or non-finite data, mismatched features and use before fit") {
  // 40–41. epsilon must be finite and > 0.
  expect_error("Standardizer", {"epsilon (0)"}, [] { Standardizer<double> s(0.0); });
  expect_error("Standardizer", {"epsilon (nan)"}, [] { Standardizer<float> s(std::numeric_limits<float>::quiet_NaN()); });
  Standardizer<double> s;
  std::vector<double> x{1, 2, 3, 4, 5, 6};
  Sentinel<double> out(6);
  // 42. transform before fit.
  expect_error("Standardizer::transform", {"before fit"}, [&] { s.transform({x.data(), 2, 3, 3}, {out.data(), 2, 3, 3}); });
  // 43. inverse_transform before fit; 44. to_json before fit; 45. save before fit.
  expect_error("Standardizer::inverse_transform", {"before fit"}, [&] {
    s.inverse_transform({x.data(), 2, 3, 3}, {out.data(), 2, 3, 3});
  });
  expect_error("Standardizer::to_json", {"before fit"}, [&] { (void)s.to_json(); });
  expect_error("Standardizer::save", {"before fit"}, [&] { s.save("unused.json"); });
  // 46. fit on an empty matrix.
  expect_error("Standardizer::fit", {"x is 0 × 3"}, [&] { s.fit({x.data(), 0, 3, 3}); });
  s.fit({x.data(), 2, 3, 3});
  const std::vector<double> mean(s.mean().begin(), s.mean().end());
  // 47. a non-finite value: names feature and example; the state is unchanged.
  std::vector<double> with_nan = x;
  with_nan[5] = std::numeric_limits<double>::quiet_NaN();
  expect_error("Standardizer::fit", {"non-finite", "feature 1, example 2"}, [&] { s.fit({with_nan.data(), 2, 3, 3}); });
  CHECK(std::vector<double>(s.mean().begin(), s.mean().end()) == mean);
  CHECK(s.count() == 3);
  // 48. partial_fit with another feature count.
  expect_error("Standardizer::partial_fit", {"3 features", "fitted on 2"}, [&] { s.partial_fit({x.data(), 3, 2, 2}); });
  // 49. transform of another feature count; 50. out of another shape.
  expect_error("Standardizer::transform", {"x is 3 × 2", "fitted on 2 features"}, [&] {
    s.transform({x.data(), 3, 2, 2}, {out.data(), 3, 2, 2});
  });
  expect_error("Standardizer::transform", {"out is 2 × 2"}, [&] { s.transform({x.data(), 2, 3, 3}, {out.data(), 2, 2, 2}); });
  CHECK(out.unchanged());
  // 51–54. from_json: malformed, foreign format, other version, other scalar type.
  expect_error("Standardizer::from_json", {"malformed"}, [] { (void)Standardizer<double>::from_json("{\"format\": "); });
  expect_error("Standardizer::from_json", {"not an mlpkit standardizer"}, [] { (void)Standardizer<double>::from_json("[1, 2]"); });
  std::string json = s.to_json();
  std::string other_version = json;
  other_version.replace(other_version.find("\"version\":") + 10, 1, " 7,\"x\":");
  expect_error("Standardizer::from_json", {"version 7"}, [&] { (void)Standardizer<double>::from_json(other_version); });
  expect_error("Standardizer::from_json", {"double", "Standardizer<float>"}, [&] { (void)Standardizer<float>::from_json(json); });
  // 55. load of a missing file.
  expect_error("Standardizer::load", {"cannot open", "no_such_file.json"}, [] {
    (void)Standardizer<double>::load(std::filesystem::temp_directory_path() / "mlpkit_no_such_file.json");
  });
}

TEST_CASE("batch norm and layer norm reject wrong lengths, bad epsilon or momentum and empty batches, leaving y untouched") {
  const std::vector<float> x(6, 1.0F), ones(2, 1.0F), zeros(2, 0.0F);
  std::vector<float> running_mean(2, 0.0F), running_var(2, 1.0F);
  Sentinel<float> y(6);
  NormalizationCache<float> cache;
  const MatrixView<const float> x23{x.data(), 2, 3, 3};
  const MatrixView<float> y23{y.data(), 2, 3, 3};
  // 56. gamma of the wrong length.
  expect_error("batch_norm_forward", {"gamma has 3 elements", "must have 2"}, [&] {
    batch_norm_forward<float>(x23, std::span<const float>(x.data(), 3), zeros, running_mean, running_var, y23, cache);
  });
  // 57. epsilon ≤ 0.
  BatchNormOptions<float> options;
  options.epsilon = 0;
  expect_error("batch_norm_forward", {"epsilon (0)"}, [&] {
    batch_norm_forward<float>(x23, ones, zeros, running_mean, running_var, y23, cache, options);
  });
  // 58. momentum outside [0, 1].
  options = {};
  options.momentum = 1.5F;
  expect_error("batch_norm_forward", {"options.momentum (1.5)"}, [&] {
    batch_norm_forward<float>(x23, ones, zeros, running_mean, running_var, y23, cache, options);
  });
  // 59. training on an empty batch.
  expect_error("batch_norm_forward", {"x is 2 × 0"}, [&] {
    batch_norm_forward<float>({x.data(), 2, 0, 3}, ones, zeros, running_mean, running_var, {y.data(), 2, 0, 3}, cache);
  });
  // 60. y of another shape.
  expect_error("batch_norm_forward", {"y is 3 × 2"}, [&] {
    batch_norm_forward<float>(x23, ones, zeros, running_mean, running_var, {y.data(), 3, 2, 2}, cache);
  });
  // 61. layer norm: n = 0 with m > 0; 62. epsilon NaN.
  expect_error("layer_norm_forward", {"x is 0 × 3"}, [&] {
    layer_norm_forward<float>({x.data(), 0, 3, 3}, {}, {}, {y.data(), 0, 3, 3}, cache, LayerNormOptions<float>{1e-5F});
  });
  expect_error("layer_norm_forward", {"epsilon (nan)"}, [&] {
    layer_norm_forward<float>(x23, ones, zeros, y23, cache, LayerNormOptions<float>{std::numeric_limits<float>::quiet_NaN()});
  });
  CHECK(y.unchanged());
  // 63. backward with a cache of another size.
  batch_norm_forward<float>(x23, ones, zeros, running_mean, running_var, y23, cache);
  NormalizationCache<float> short_cache = cache;
  short_cache.mean.pop_back();
  Sentinel<float> dx(6);
  std::vector<float> dgamma(2), dbeta(2);
  expect_error("batch_norm_backward", {"cache.mean has 1 elements"}, [&] {
    batch_norm_backward<float>(x23, x23, ones, short_cache, {dx.data(), 2, 3, 3}, dgamma, dbeta);
  });
  // 64. layer norm backward with dy of another shape.
  layer_norm_forward<float>(x23, ones, zeros, y23, cache, LayerNormOptions<float>{1e-5F});
  expect_error("layer_norm_backward", {"dy is 3 × 2"}, [&] {
    layer_norm_backward<float>(x23, {x.data(), 3, 2, 2}, ones, cache, {dx.data(), 2, 3, 3}, dgamma, dbeta);
  });
  CHECK(dx.unchanged());
}

TEST_CASE("weight initialization rejects empty layers, bad scales and unknown schemes") {
  Sentinel<double> w(6);
  // 65–66. init_stddev: empty layer, negative scale.
  expect_error("init_stddev", {"layer is 0 × 3"}, [] { (void)init_stddev(Init::he, 3, 0); });
  expect_error("init_stddev", {"init_scale (-1)"}, [] { (void)init_stddev(Init::normal, 3, 2, -1.0); });
  // 67. init_weights: empty view; 68. NaN scale.
  expect_error("init_weights", {"w is 0 × 3"}, [&] { init_weights<double>(Init::he, 0.01, 1, 1, {w.data(), 0, 3, 3}); });
  expect_error("init_weights", {"init_scale"}, [&] {
    init_weights<double>(Init::normal, std::numeric_limits<double>::quiet_NaN(), 1, 1, {w.data(), 2, 3, 3});
  });
  CHECK(w.unchanged());
  // 69. parse_init.
  expect_error("parse_init", {"'glorot'", "xavier"}, [] { (void)parse_init("glorot"); });
}

TEST_CASE("Mlp rejects invalid configurations, naming the field") {
  const auto config = [] {
    MlpConfig<double> c;
    c.dims = {3, 4, 1};
    return c;
  };
  const auto expect_config_error = [&](std::initializer_list<std::string_view> parts, auto&& edit) {
    MlpConfig<double> c = config();
    edit(c);
    expect_error("Mlp", parts, [&] { validate_config(c); });
    expect_error("Mlp", parts, [&] { Mlp<double> net(c); });
  };
  // 70–79.
  expect_config_error({"config.dims has 1 entries"}, [](auto& c) { c.dims = {3}; });
  expect_config_error({"config.dims[1] is 0"}, [](auto& c) { c.dims = {3, 0, 1}; });
  expect_config_error({"config.dims[0]", "exceeds 2^32"}, [](auto& c) { c.dims = {std::size_t{1} << 33, 1}; });
  expect_config_error({"config.keep_prob (0)"}, [](auto& c) { c.keep_prob = 0; });
  expect_config_error({"config.l2 (-1)"}, [](auto& c) { c.l2 = -1; });
  expect_config_error({"config.init_scale (nan)"}, [](auto& c) { c.init_scale = std::nan(""); });
  expect_config_error({"config.leaky_slope (inf)"}, [](auto& c) { c.leaky_slope = HUGE_VAL; });
  expect_config_error({"config.hidden (42)", "is not an Activation"}, [](auto& c) { c.hidden = kBadActivation; });
  expect_config_error({"binary_cross_entropy needs output = sigmoid", "relu"}, [](auto& c) { c.output = Activation::relu; });
  expect_config_error({"cross_entropy needs n[L] ≥ 2"}, [](auto& c) {
    c.loss = Loss::cross_entropy;
    c.output = Activation::identity;
  });
  expect_config_error({"config.loss (7)", "is not a Loss"}, [](auto& c) { c.loss = static_cast<Loss>(7); });
  expect_config_error({"config.init (17)", "is not an Init"}, [](auto& c) { c.init = static_cast<Init>(17); });
  // 160.
  expect_config_error({"config.accuracy (9)", "not an Accuracy"}, [](auto& c) { c.accuracy = kBadAccuracy; });
}

TEST_CASE("Mlp evaluation rejects wrong shapes, empty batches, bad labels and layers outside 1 … L") {
  MlpConfig<double> config;
  config.dims = {3, 4, 1};
  Mlp<double> net(config);
  const std::vector<double> x(6, 0.5), y{1, 0}, half{0.5, 1};
  const MatrixView<const double> x32{x.data(), 3, 2, 2}, y12{y.data(), 1, 2, 2};
  const std::vector<double> theta_before(net.parameters().begin(), net.parameters().end());
  // 80. x with the wrong feature count; 81. m = 0; 82. y of another shape; 83. labels not 0/1.
  expect_error("Mlp::loss", {"x has 2 rows", "n[0] = 3"}, [&] { (void)net.loss({x.data(), 2, 3, 3}, {y.data(), 1, 3, 3}); });
  expect_error("Mlp::forward_backward", {"m = 0"}, [&] { (void)net.forward_backward({x.data(), 3, 0, 2}, {y.data(), 1, 0, 2}); });
  expect_error("Mlp::forward_backward", {"y"}, [&] { (void)net.forward_backward(x32, {y.data(), 2, 1, 1}); });
  // Labels are checked by the loss function, whose name the message carries.
  expect_error("binary_cross_entropy_with_logits", {"y(0, 0)", "0.5"}, [&] {
    (void)net.forward_backward(x32, {half.data(), 1, 2, 2});
  });
  CHECK(std::vector<double>(net.parameters().begin(), net.parameters().end()) == theta_before);
  for (double g : net.gradients()) CHECK(g == 0.0);  // no failed call wrote dθ
  // 84. layers are 1-based.
  expect_error("Mlp::weights", {"layer 0", "1 … L = 2"}, [&] { (void)net.weights(0); });
  expect_error("Mlp::bias_gradient", {"layer 3"}, [&] { (void)net.bias_gradient(3); });
  // 85. loss_at with θ of another size.
  MlpWorkspace<double> workspace;
  const std::vector<double> short_theta(5, 0.0);
  expect_error("Mlp::loss_at", {"theta has 5 elements"}, [&] { (void)net.loss_at(short_theta, x32, y12, workspace); });
  // 86. predict into an output of another shape.
  Sentinel<double> out(4);
  expect_error("Mlp::predict", {"out"}, [&] { net.predict(x32, {out.data(), 2, 2, 2}); });
  CHECK(out.unchanged());
  // 87. dropout_keep with keep_prob outside (0, 1].
  expect_error("dropout_keep", {"keep_prob (1.5)"}, [] { (void)dropout_keep(1, 0, 1, 0, 0, 1.5); });
  expect_error("dropout_keep", {"keep_prob (0)"}, [] { (void)dropout_keep(3, 11, 1, 0, 0, 0.0); });
}

TEST_CASE("gradcheck rejects bad options, mismatched sizes, bad layouts and a J that is not deterministic or finite") {
  const auto f = [](std::span<const double> t) { return t[0] * t[0] + 3 * t[1]; };
  const std::vector<double> theta{1.0, 2.0}, gradient{2.0, 3.0};
  GradcheckOptions options;
  // 88. analytic gradient of another size.
  expect_error("gradcheck", {"analytic_gradient has 1 entries", "theta has 2"}, [&] {
    (void)gradcheck(f, theta, std::span<const double>(gradient.data(), 1));
  });
  // 89–90. eps ≤ 0 or not finite.
  options.eps = 0;
  expect_error("gradcheck", {"options.eps (0)"}, [&] { (void)gradcheck(f, theta, gradient, {}, options); });
  options.eps = std::numeric_limits<double>::infinity();
  expect_error("gradcheck", {"options.eps (inf)"}, [&] { (void)gradcheck(f, theta, gradient, {}, options); });
  for (const double eps : {-1e-7, std::nan("")}) {
    options.eps = eps;
    expect_error("gradcheck", {"options.eps ("}, [&] { (void)gradcheck(f, theta, gradient, {}, options); });
  }
  // 91. thresholds out of order.
  options = {};
  options.great_below = 1e-2;
  options.wrong_from = 1e-3;
  expect_error("gradcheck", {"great_below (0.01)", "wrong_from (0.001)"}, [&] { (void)gradcheck(f, theta, gradient, {}, options); });
  // 92. negative thread count.
  options = {};
  options.threads = -2;
  expect_error("gradcheck", {"options.threads (-2)"}, [&] { (void)gradcheck(f, theta, gradient, {}, options); });
  // 93. a layout slice past the end of θ; 94. overlapping slices.
  const std::vector<TensorInfo> past_end{{"W1", 1, 2, 1}};
  expect_error("gradcheck", {"layout slice 'W1'", "does not fit"}, [&] { (void)gradcheck(f, theta, gradient, past_end); });
  const std::vector<TensorInfo> overlapping{{"W1", 0, 2, 1}, {"b1", 1, 1, 1}};
  expect_error("gradcheck", {"overlap"}, [&] { (void)gradcheck(f, theta, gradient, overlapping); });
  // 95. an empty function.
  expect_error("gradcheck", {"f is empty"}, [&] { (void)gradcheck({}, theta, gradient); });
  // 96. J not deterministic.
  std::atomic<int> calls{0};
  const auto moving = [&](std::span<const double> t) { return t[0] + 1e-3 * calls.fetch_add(1); };
  expect_error("gradcheck", {"not deterministic"}, [&] { (void)gradcheck(moving, theta, gradient); });
  // 97. J not finite at θ; 98. J not finite at θ + ε·e_1 (names the parameter index).
  expect_error("gradcheck", {"J(θ) is not finite"}, [&] {
    (void)gradcheck([](std::span<const double>) { return std::nan(""); }, theta, gradient);
  });
  const auto blows_up = [&](std::span<const double> t) { return t[1] > theta[1] ? HUGE_VAL : f(t); };
  expect_error("gradcheck", {"J is not finite", "parameter index 1"}, [&] { (void)gradcheck(blows_up, theta, gradient); });
  // 99. Mlp overload with x of the wrong shape.
  MlpConfig<double> config;
  config.dims = {3, 2, 1};
  const Mlp<double> net(config);
  const std::vector<double> x(6, 0.5), y{1, 0};
  expect_error("gradcheck", {"x"}, [&] { (void)gradcheck(net, {x.data(), 2, 3, 3}, {y.data(), 1, 3, 3}); });
}

TEST_CASE("train, runtime settings and Matrix reject bad arguments") {
  MlpConfig<double> config;
  config.dims = {2, 3, 1};
  Mlp<double> net(config);
  const std::vector<double> theta(net.parameters().begin(), net.parameters().end());
  const std::vector<double> x{0.1, 0.2, 0.3, 0.4}, y{0, 1};
  const MatrixView<const double> x22{x.data(), 2, 2, 2}, y12{y.data(), 1, 2, 2};
  TrainOptions options;
  // 100. learning rate ≤ 0; 101. epochs = 0; 102. beta1 outside [0, 1).
  options.learning_rate = 0;
  expect_error("train", {"options.learning_rate (0)"}, [&] { (void)train(net, x22, y12, options); });
  options = {};
  options.epochs = 0;
  expect_error("train", {"options.epochs is 0"}, [&] { (void)train(net, x22, y12, options); });
  options = {};
  options.optimizer = Optimizer::adam;
  options.beta1 = 1.0;
  expect_error("train", {"options.beta1 (1)"}, [&] { (void)train(net, x22, y12, options); });
  // 103. x with the wrong feature count.
  expect_error("train", {"x has 1 rows"}, [&] { (void)train(net, {x.data(), 1, 2, 2}, y12); });
  CHECK(std::vector<double>(net.parameters().begin(), net.parameters().end()) == theta);
  // 104. a diverging run names the epoch.
  options = {};
  options.learning_rate = 1e300;
  options.epochs = 5;
  config.output = Activation::sigmoid;
  expect_error("train", {"epoch"}, [&] {
    Mlp<double> wild(config);
    (void)train(wild, x22, y12, options);
    // A sigmoid output keeps BCE finite; make the weights overflow through MSE instead.
    MlpConfig<double> mse = config;
    mse.loss = Loss::mean_squared_error;
    mse.output = Activation::identity;
    Mlp<double> wilder(mse);
    (void)train(wilder, x22, y12, options);
  });
  // 105. parse_optimizer.
  expect_error("parse_optimizer", {"'sgd'"}, [] { (void)parse_optimizer("sgd"); });
  // 106. set_num_threads(0); 107. parse_isa of an unknown name; 108. Matrix with ld < cols.
  expect_error("set_num_threads", {"n (0)"}, [] { set_num_threads(0); });
  expect_error("parse_isa", {"avx1024", "accepted: sse2"}, [] { (void)parse_isa("avx1024"); });
  expect_error("Matrix", {"ld (2) is smaller than cols (3)"}, [] { Matrix<float> m(2, 3, 2); });
  expect_error("Matrix", {"overflows"}, [] { Matrix<double> m(std::numeric_limits<std::size_t>::max() / 2, 4, 4); });
  // rows × ld fits size_t, but no array of that many doubles can exist: an Error, not std::bad_alloc.
  expect_error("Matrix", {"exceeds the largest array"}, [] { Matrix<double> m(std::size_t{1} << 61, 1, 1); });
  // 109–110. level-1 kernels.
  expect_error("dot", {"x is null but holds 3"}, [] { (void)dot<float>(nullptr, nullptr, 3); });
  std::vector<double> yv(3, 7.0);
  expect_error("axpy", {"x is null"}, [&] { axpy<double>(2.0, nullptr, yv.data(), 3); });
  CHECK(yv == std::vector<double>(3, 7.0));
  expect_error("axpy", {"y is null"}, [&] { axpy<double>(2.0, yv.data(), nullptr, 3); });
  expect_error("sum", {"x is null"}, [] { (void)sum<double>(nullptr, 1); });
}

TEST_CASE("gemm rejects C overlapping A or B, and a bias or pre_activation overlapping what they must not, leaving C untouched") {
  constexpr std::size_t n = 8;
  std::vector<float> buffer(4 * n * n, 1.0F);
  const std::vector<float> b(n * n, 0.5F);
  const std::vector<float> snapshot = buffer;
  float* a = buffer.data();
  // 111. C starting one row into A's buffer (the pointer form, as a user wrote it): C = A·B + C
  // would read rows of A that the first tiles of C already overwrote.
  expect_error("gemm", {"c overlaps a"}, [&] {
    gemm<float>(Trans::no, Trans::no, n, n, n, 1, a, n, b.data(), n, 1, a + n, n);
  });
  // 112. C exactly A: not an in-place form for a product.
  expect_error("gemm", {"c overlaps a"}, [&] {
    gemm<float>(Trans::no, Trans::no, n, n, n, 1, a, n, b.data(), n, 0, a, n);
  });
  // 113. C overlapping B (transposed B: the stored n × k matrix is what counts).
  expect_error("gemm", {"c overlaps b"}, [&] {
    gemm<float>(Trans::no, Trans::yes, n, n, n, 1, b.data(), n, a, n, 0, a + n * n - 1, n);
  });
  // 114. the same with α = 0: A would not be read, the overlap is still the caller's mistake.
  expect_error("gemm", {"c overlaps a"}, [&] { gemm<float>(Trans::yes, Trans::no, n, n, n, 0, a, n, b.data(), n, 0, a, n); });
  expect_error("gemm_ref", {"c overlaps a"}, [&] {
    gemm_ref<float>(Trans::no, Trans::no, n, n, n, 1, a, n, b.data(), n, 1, a + n, n);
  });
  CHECK(buffer == snapshot);

  // The view form: every pair of an output with an input.
  const MatrixView<const float> a_view{a, n, n, n}, b_view{b.data(), n, n, n};
  const MatrixView<float> c_on_a{a + 3, n, n, n}, c_apart{a + n * n + n, n, n, n};
  expect_error("gemm", {"c overlaps a"}, [&] { gemm<float>(Trans::no, Trans::no, 1, a_view, b_view, 0, c_on_a); });
  expect_error("gemm", {"c overlaps b"}, [&] {
    gemm<float>(Trans::no, Trans::no, 1, b_view, MatrixView<const float>{a + n * n + 2, n, n, n}, 0, c_apart);
  });
  Epilogue<float> epilogue;
  epilogue.bias = a + n * n + 2 * n;  // inside c_apart's second row
  expect_error("gemm", {"c overlaps epilogue.bias"}, [&] { gemm<float>(Trans::no, Trans::no, 1, a_view, b_view, 0, c_apart, epilogue); });
  epilogue.bias = nullptr;
  epilogue.pre_activation = {a + 1, n, n, n};  // Z on A
  expect_error("gemm", {"epilogue.pre_activation overlaps a"}, [&] {
    gemm<float>(Trans::no, Trans::no, 1, a_view, b_view, 0, c_apart, epilogue);
  });
  epilogue.pre_activation = {a + 3 * n * n, n, n, n};
  epilogue.bias = a + 3 * n * n + 5;  // inside Z
  expect_error("gemm", {"epilogue.pre_activation overlaps epilogue.bias"}, [&] {
    gemm<float>(Trans::no, Trans::no, 1, a_view, b_view, 0, c_apart, epilogue);
  });
  expect_error("gemm_ref", {"c overlaps a"}, [&] { gemm_ref<float>(Trans::no, Trans::no, 1, a_view, b_view, 0, c_on_a); });
  CHECK(buffer == snapshot);
}

TEST_CASE("gemm accepts operands that are disjoint column slices of one buffer, and computes them right") {
  // A = columns 0 … 3 and C = columns 4 … 7 of one 5 × 8 matrix: their spans interleave, their
  // elements do not meet, so this is valid (and common: writing a layer into a slice of a wider matrix).
  std::vector<double> shared(5 * 8);
  for (std::size_t i = 0; i < shared.size(); ++i) shared[i] = 0.25 * static_cast<double>(i % 7) - 0.5;
  std::vector<double> b(4 * 4);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = 0.125 * static_cast<double>(i % 5);
  std::vector<double> a_copy(5 * 4), expected(5 * 4);
  for (std::size_t i = 0; i < 5; ++i)
    for (std::size_t j = 0; j < 4; ++j) {
      a_copy[i * 4 + j] = shared[i * 8 + j];
      expected[i * 4 + j] = shared[i * 8 + 4 + j];
    }
  gemm_ref<double>(Trans::no, Trans::no, 5, 4, 4, 1.0, a_copy.data(), 4, b.data(), 4, 1.0, expected.data(), 4);
  gemm<double>(Trans::no, Trans::no, 5, 4, 4, 1.0, shared.data(), 8, b.data(), 4, 1.0, shared.data() + 4, 8);
  for (std::size_t i = 0; i < 5; ++i)
    for (std::size_t j = 0; j < 4; ++j) CHECK(shared[i * 8 + 4 + j] == doctest::Approx(expected[i * 4 + j]).epsilon(1e-14));
}

TEST_CASE("every other function that writes an output rejects an overlap with each of its inputs") {
  std::vector<float> buffer(64, 0.5F);
  float* p = buffer.data();
  const std::vector<float> snapshot = buffer;
  // 115. activations: backward's dx against x; backward_from_output's dx against y and dy.
  expect_error("activation_backward", {"x and dx overlap"}, [&] {
    activation_backward<float>(Activation::tanh, p, p + 32, p + 1, 4);
  });
  expect_error("activation_backward_from_output", {"y and dx overlap"}, [&] {
    activation_backward_from_output<float>(Activation::sigmoid, p, p + 32, p + 2, 4);
  });
  expect_error("activation_backward_from_output", {"dy and dx overlap"}, [&] {
    activation_backward_from_output<float>(Activation::sigmoid, p + 32, p, p + 3, 4);
  });
  // 116. axpy: y shifted against x.
  expect_error("axpy", {"y overlaps x"}, [&] { axpy<float>(2.0F, p, p + 1, 8); });
  // 117. losses: the gradient against the logits (shifted) and against y.
  const std::vector<float> y{0, 1, 1, 0};
  expect_error("binary_cross_entropy_with_logits", {"dz overlaps z"}, [&] {
    (void)binary_cross_entropy_with_logits<float>({p, 2, 2, 2}, {y.data(), 2, 2, 2}, {p + 1, 2, 2, 2});
  });
  // 118. Standardizer: out shifted against x and z.
  Standardizer<float> standardizer;
  standardizer.fit({p, 2, 3, 3});
  expect_error("Standardizer::transform", {"out overlaps x"}, [&] { standardizer.transform({p, 2, 3, 3}, {p + 1, 2, 3, 3}); });
  expect_error("Standardizer::inverse_transform", {"out overlaps z"}, [&] {
    standardizer.inverse_transform({p, 2, 3, 3}, {p + 3, 2, 3, 3});
  });
  CHECK(buffer == snapshot);

  // 119. batch norm and layer norm: every output against every input and every other output.
  const MatrixView<const float> x{p, 2, 3, 3};
  std::vector<float> gamma(2, 1.0F), beta(2, 0.0F), mean(2, 0.0F), variance(2, 1.0F), y_out(6), dx(6), dgamma(2), dbeta(2);
  NormalizationCache<float> cache;
  const auto span_of = [](std::vector<float>& v) { return std::span<float>(v); };
  expect_error("batch_norm_forward", {"y overlaps x"}, [&] {
    batch_norm_forward<float>(x, gamma, beta, mean, variance, {p + 1, 2, 3, 3}, cache);
  });
  expect_error("batch_norm_forward", {"y overlaps gamma"}, [&] {
    batch_norm_forward<float>(x, gamma, beta, mean, variance, {gamma.data(), 2, 3, 3}, cache);
  });
  expect_error("batch_norm_forward", {"running_mean overlaps x"}, [&] {
    batch_norm_forward<float>(x, gamma, beta, std::span<float>(p + 4, 2), variance, {y_out.data(), 2, 3, 3}, cache);
  });
  expect_error("batch_norm_forward", {"running_mean overlaps running_variance"}, [&] {
    batch_norm_forward<float>(x, gamma, beta, span_of(mean), span_of(mean), {y_out.data(), 2, 3, 3}, cache);
  });
  expect_error("batch_norm_forward", {"running_variance overlaps beta"}, [&] {
    batch_norm_forward<float>(x, gamma, std::span<const float>(variance), mean, variance, {y_out.data(), 2, 3, 3}, cache);
  });
  expect_error("layer_norm_forward", {"y overlaps beta"}, [&] {
    layer_norm_forward<float>(x, gamma, std::span<const float>(y_out.data() + 4, 2), {y_out.data(), 2, 3, 3}, cache, LayerNormOptions<float>{1e-5F});
  });
  CHECK(mean == std::vector<float>(2, 0.0F));
  CHECK(variance == std::vector<float>(2, 1.0F));
  batch_norm_forward<float>(x, gamma, beta, mean, variance, {y_out.data(), 2, 3, 3}, cache);
  const MatrixView<const float> dy{y_out.data(), 2, 3, 3};
  const MatrixView<float> dx_view{dx.data(), 2, 3, 3};
  expect_error("batch_norm_backward", {"dx overlaps gamma"}, [&] {
    batch_norm_backward<float>(x, dy, gamma, cache, {gamma.data(), 2, 3, 3}, dgamma, dbeta);
  });
  expect_error("batch_norm_backward", {"dgamma overlaps dy"}, [&] {
    batch_norm_backward<float>(x, dy, gamma, cache, dx_view, std::span<float>(y_out.data() + 1, 2), dbeta);
  });
  expect_error("batch_norm_backward", {"dbeta overlaps dx"}, [&] {
    batch_norm_backward<float>(x, dy, gamma, cache, dx_view, dgamma, std::span<float>(dx.data() + 3, 2));
  });
  std::vector<float> gradients_of_gamma_and_beta(3);
  expect_error("batch_norm_backward", {"dgamma overlaps dbeta"}, [&] {
    batch_norm_backward<float>(x, dy, gamma, cache, dx_view, std::span<float>(gradients_of_gamma_and_beta.data(), 2),
                               std::span<float>(gradients_of_gamma_and_beta.data() + 1, 2));
  });
  expect_error("batch_norm_backward", {"dgamma overlaps cache.inv_std"}, [&] {
    batch_norm_backward<float>(x, dy, gamma, cache, dx_view, std::span<float>(cache.inv_std), dbeta);
  });
  layer_norm_forward<float>(x, gamma, beta, {y_out.data(), 2, 3, 3}, cache, LayerNormOptions<float>{1e-5F});
  expect_error("layer_norm_backward", {"dx overlaps cache.mean"}, [&] {
    layer_norm_backward<float>(x, dy, gamma, cache, {cache.mean.data(), 2, 3, 3}, dgamma, dbeta);
  });
  expect_error("layer_norm_backward", {"dgamma overlaps x"}, [&] {
    layer_norm_backward<float>(x, dy, gamma, cache, dx_view, std::span<float>(p, 2), dbeta);
  });
  CHECK(buffer == snapshot);
}

TEST_CASE("Mlp and train reject outputs that overlap their inputs or the model's own parameters") {
  const MlpConfig<double> config = test::small_regression_config();
  Mlp<double> net(config);
  const std::vector<double> theta(net.parameters().begin(), net.parameters().end());
  std::vector<double> x(3 * 4, 0.25), y(2 * 4, 0.5);
  const MatrixView<const double> x34{x.data(), 3, 4, 4}, y24{y.data(), 2, 4, 4};
  // 120. predict: out over x, out over θ.
  expect_error("Mlp::predict", {"out overlaps x"}, [&] { net.predict(x34, {x.data() + 4, 2, 4, 4}); });
  expect_error("Mlp::predict", {"out overlaps the model's parameters"}, [&] {
    net.predict(x34, {net.parameters().data(), 2, 4, 4});
  });
  // 121. forward_layer: out and z over a_prev, z partly over out, out over θ.
  std::vector<double> out(4 * 4), z(4 * 4 + 1);
  expect_error("Mlp::forward_layer", {"out overlaps a_prev"}, [&] { net.forward_layer(1, x34, {x.data(), 4, 4, 4}); });
  expect_error("Mlp::forward_layer", {"z overlaps a_prev"}, [&] {
    net.forward_layer(1, x34, {out.data(), 4, 4, 4}, 0, {x.data(), 4, 4, 4});
  });
  expect_error("Mlp::forward_layer", {"z overlaps out"}, [&] {
    net.forward_layer(1, x34, {z.data(), 4, 4, 4}, 0, {z.data() + 1, 4, 4, 4});
  });
  expect_error("Mlp::forward_layer", {"out overlaps the model's parameters"}, [&] {
    net.forward_layer(1, x34, {net.parameters().data() + 2, 4, 4, 4});
  });
  // 122. forward_backward: x or y inside dθ, which it writes.
  const auto gradients = net.gradients();
  expect_error("Mlp::forward_backward", {"x overlaps the model's gradients"}, [&] {
    (void)net.forward_backward({gradients.data(), 3, 4, 4}, y24);
  });
  expect_error("Mlp::forward_backward", {"y overlaps the model's gradients"}, [&] {
    (void)net.forward_backward(x34, {gradients.data() + 1, 2, 4, 4});
  });
  // 123. train: x or y inside θ or dθ.
  expect_error("train", {"x overlaps the model's parameters"}, [&] {
    (void)train(net, MatrixView<const double>{net.parameters().data(), 3, 4, 4}, y24);
  });
  expect_error("train", {"y overlaps the model's gradients"}, [&] {
    (void)train(net, x34, MatrixView<const double>{gradients.data(), 2, 4, 4});
  });
  CHECK(std::vector<double>(net.parameters().begin(), net.parameters().end()) == theta);
  for (double g : net.gradients()) CHECK(g == 0.0);
}

TEST_CASE("every enum a public function takes, directly or in an options or config struct, is range-checked") {
  // 99: outside every enum, and independent of how many enumerators each has.
  const auto bad = [](auto e) { return static_cast<decltype(e)>(99); };
  const std::vector<float> a(4, 1.0F), b(4, 1.0F);
  Sentinel<float> c(4);
  // 124. gemm's transposes (both forms, and gemm_ref) and the epilogue's activation.
  expect_error("gemm", {"ta (99)", "is not a Trans"}, [&] {
    gemm<float>(bad(Trans::no), Trans::no, 2, 2, 2, 1, a.data(), 2, b.data(), 2, 0, c.data(), 2);
  });
  expect_error("gemm_ref", {"tb (-1)", "is not a Trans"}, [&] {
    gemm_ref<float>(Trans::no, static_cast<Trans>(-1), 2, 2, 2, 1, a.data(), 2, b.data(), 2, 0, c.data(), 2);
  });
  const MatrixView<const float> a22{a.data(), 2, 2, 2}, b22{b.data(), 2, 2, 2};
  expect_error("gemm", {"tb (99)"}, [&] { gemm<float>(Trans::no, bad(Trans::no), 1, a22, b22, 0, {c.data(), 2, 2, 2}); });
  Epilogue<float> epilogue;
  epilogue.activation = kBadActivation;
  expect_error("gemm", {"epilogue.activation (42)", "is not an Activation"}, [&] {
    gemm<float>(Trans::no, Trans::no, 1, a22, b22, 0, {c.data(), 2, 2, 2}, epilogue);
  });
  CHECK(c.unchanged());
  // 125. activations.
  expect_error("activation_backward", {"f (42)"}, [&] { activation_backward<float>(kBadActivation, a.data(), a.data(), c.data(), 4); });
  expect_error("activation_backward_from_output", {"f (42)"}, [&] {
    activation_backward_from_output<float>(kBadActivation, a.data(), a.data(), c.data(), 4);
  });
  CHECK(c.unchanged());
  // 126. initialization names the function called, not the helper it calls (init_weights, not init_stddev).
  Sentinel<double> w(6);
  expect_error("init_weights", {"init (99)", "is not an Init"}, [&] {
    init_weights<double>(static_cast<Init>(99), 0.01, 1, 1, {w.data(), 2, 3, 3});
  });
  CHECK(w.unchanged());
  expect_error("init_stddev", {"init (99)"}, [&] { (void)init_stddev(bad(Init::he), 3, 2); });
  // 127. every name function.
  expect_error("init_name", {"init (99)"}, [&] { (void)init_name(bad(Init::he)); });
  expect_error("isa_name", {"isa (99)", "is not an Isa"}, [&] { (void)isa_name(bad(Isa::sse2)); });
  expect_error("optimizer_name", {"optimizer (99)"}, [&] { (void)optimizer_name(bad(Optimizer::adam)); });
  expect_error("verdict_name", {"verdict (99)", "is not a Verdict"}, [&] { (void)verdict_name(bad(Verdict::great)); });
  expect_error("fingerprint_name", {"fingerprint (99)"}, [&] { (void)fingerprint_name(bad(Fingerprint::none)); });
  expect_error("gradcheck_mode_name", {"mode (99)"}, [&] { (void)gradcheck_mode_name(bad(GradcheckMode::full)); });
  // 128. gradcheck options: mode and evaluator, for the generic and the Mlp overloads.
  const auto f = [](std::span<const double> t) { return t[0] * t[0]; };
  const std::vector<double> theta{1.0}, gradient{2.0};
  GradcheckOptions options;
  options.mode = bad(GradcheckMode::full);
  expect_error("gradcheck", {"options.mode (99)", "is not a GradcheckMode"}, [&] { (void)gradcheck(f, theta, gradient, {}, options); });
  options = {};
  options.evaluator = static_cast<GradcheckEvaluator>(4);
  MlpConfig<double> config;
  config.dims = {2, 2, 1};
  const Mlp<double> net(config);
  const std::vector<double> x(2, 0.5), y{1};
  expect_error("gradcheck", {"options.evaluator (4)", "is not a GradcheckEvaluator"}, [&] {
    (void)gradcheck(net, {x.data(), 2, 1, 1}, {y.data(), 1, 1, 1}, options);
  });
  // 129. train options.
  Mlp<double> trainee(config);
  TrainOptions train_options;
  train_options.optimizer = bad(Optimizer::adam);
  expect_error("train", {"options.optimizer (99)", "is not an Optimizer"}, [&] {
    (void)train(trainee, {x.data(), 2, 1, 1}, {y.data(), 1, 1, 1}, train_options);
  });
  // 130. a report filled in by hand: its methods name themselves.
  GradcheckReport report;
  report.verdict = bad(Verdict::great);
  expect_error("GradcheckReport::to_text", {"verdict (99)"}, [&] { (void)report.to_text(); });
  report.verdict = Verdict::great;
  report.tensors.resize(1);
  report.tensors[0].fingerprint = bad(Fingerprint::none);
  expect_error("GradcheckReport::to_json", {"tensors[].fingerprint (99)"}, [&] { (void)report.to_json(); });
}

TEST_CASE("the enum tables list every enumerator once, in value order, and parse back") {
  CHECK(is_enumerator(static_cast<Activation>(enum_count<Activation> - 1)));
  CHECK_FALSE(is_enumerator(static_cast<Activation>(enum_count<Activation>)));
  CHECK_FALSE(is_enumerator(static_cast<Activation>(-1)));
  for (Activation f : enum_values<Activation>()) CHECK(parse_activation(activation_name(f)) == f);
  for (Loss loss : enum_values<Loss>()) CHECK(parse_loss(loss_name(loss)) == loss);
  for (Init init : enum_values<Init>()) CHECK(parse_init(init_name(init)) == init);
  for (Optimizer o : enum_values<Optimizer>()) CHECK(parse_optimizer(optimizer_name(o)) == o);
  for (Isa isa : enum_values<Isa>()) CHECK(parse_isa(isa_name(isa)) == isa);
  for (Accuracy accuracy : enum_values<Accuracy>()) CHECK(parse_accuracy(accuracy_name(accuracy)) == accuracy);
  CHECK(gradcheck_mode_name(GradcheckMode::directional) == "directional");
  CHECK(fingerprint_name(Fingerprint::unexplained) == "unexplained");
  CHECK(verdict_name(Verdict::wrong) == "wrong");
}

TEST_CASE("integers in documents are read as the integers they are: no wrapping, no sign flips") {
  Standardizer<double> s;
  const std::vector<double> x{1, 2, 3, 4, 5, 6};
  s.fit({x.data(), 2, 3, 3});
  const std::string json = s.to_json();
  const auto with = [&](std::string_view key, std::string_view value) {
    std::string edited = json;
    const std::size_t at = edited.find("\"" + std::string(key) + "\":");
    REQUIRE(at != std::string::npos);
    const std::size_t begin = edited.find(':', at) + 1, end = edited.find_first_of(",\n}", begin);
    edited.replace(begin, end - begin, " " + std::string(value));
    return edited;
  };
  // 131. version 2³² + 1 is not version 1; −1 is not 2⁶⁴ − 1; a float is not an integer.
  expect_error("Standardizer::from_json", {"version (4294967297)", "outside the range"}, [&] {
    (void)Standardizer<double>::from_json(with("version", "4294967297"));
  });
  expect_error("Standardizer::from_json", {"features (-1)", "outside the range"}, [&] {
    (void)Standardizer<double>::from_json(with("features", "-1"));
  });
  expect_error("Standardizer::from_json", {"count (-3)"}, [&] { (void)Standardizer<double>::from_json(with("count", "-3")); });
  expect_error("Standardizer::from_json", {"count must be an integer", "1e+300"}, [&] {
    (void)Standardizer<double>::from_json(with("count", "1e300"));
  });
  expect_error("Standardizer::from_json", {"version must be an integer"}, [&] {
    (void)Standardizer<double>::from_json(with("version", "18446744073709551616"));
  });
  // The unedited document still loads.
  CHECK(Standardizer<double>::from_json(json).count() == 3);
}

TEST_CASE("sizes whose element or byte counts overflow are rejected as mlpkit::Error, not std::length_error") {
  // 132. a configuration whose parameter count fits size_t but no array can hold.
  MlpConfig<float> config;
  const std::size_t max32 = 0xFFFFFFFFULL;
  config.dims = {max32, max32};
  expect_error("Mlp", {"the parameter count", "exceeds the largest array"}, [&] { Mlp<float> net(config); });
  expect_error("Mlp", {"the parameter count"}, [&] { validate_config(config); });
  // 133. level-1 kernels with an n no array can hold (never dereferenced: the check comes first).
  float dummy = 0;
  const std::size_t huge = std::size_t{1} << 62;
  expect_error("dot", {"x", "exceeds the largest array"}, [&] { (void)dot<float>(&dummy, &dummy, huge); });
  expect_error("sum", {"x", "exceeds the largest array"}, [&] { (void)sum<float>(&dummy, huge); });
  expect_error("activation_forward", {"x", "exceeds the largest array"}, [&] {
    activation_forward<float>(Activation::relu, &dummy, &dummy, huge);
  });
  // 134. a batch whose layer values (n[l] × m) no workspace can hold.
  MlpConfig<double> small;
  small.dims = {1, 4, 1};
  const Mlp<double> net(small);
  const MatrixView<const double> wide{reinterpret_cast<const double*>(&dummy), 1, std::size_t{1} << 60, std::size_t{1} << 60};
  expect_error("Mlp::predict", {"n[l] × m"}, [&] { (void)net.predict(wide); });
  // 135. directional gradcheck with more directions than memory can index.
  GradcheckOptions options;
  options.mode = GradcheckMode::directional;
  options.directions = huge;
  const std::vector<double> theta{1.0, 2.0}, gradient{2.0, 1.0};
  expect_error("gradcheck", {"options.directions"}, [&] {
    (void)gradcheck([](std::span<const double> t) { return t[0] * t[0] + t[1]; }, theta, gradient, {}, options);
  });
}

TEST_CASE("each message names the public function the user called") {
  MlpConfig<double> config;
  config.dims = {3, 2, 1};
  const Mlp<double> net(config);
  MlpWorkspace<double> workspace;
  const std::vector<double> x(6, 0.5), y{1, 0};
  // 136. loss_at checks its batch under its own name.
  expect_error("Mlp::loss_at", {"x has 2 rows"}, [&] {
    (void)net.loss_at(net.parameters(), {x.data(), 2, 3, 3}, {y.data(), 1, 3, 3}, workspace);
  });
}

namespace {

// A model file with its header edited: edit(header) changes the JSON, the tensor bytes stay
// (followed by `extra` zero bytes).
std::string with_header(const std::string& file, const std::function<void(nlohmann::json&)>& edit, std::size_t extra) {
  std::uint64_t length = 0;
  for (int i = 0; i < 8; ++i) length |= std::uint64_t(static_cast<unsigned char>(file[i])) << (8 * i);
  nlohmann::json header = nlohmann::json::parse(file.substr(8, length));
  edit(header);
  const std::string json = header.dump();
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((json.size() >> (8 * i)) & 0xFF);
  return out + json + file.substr(8 + length) + std::string(extra, '\0');
}

}  // namespace

TEST_CASE("model files: truncated, malformed, inconsistent or non-finite files are rejected, the destination unchanged") {
  MlpConfig<float> config;
  config.dims = {3, 2, 1};
  Model<float> destination{Mlp<float>(config)};
  const std::vector<float> theta(destination.network().parameters().begin(), destination.network().parameters().end());
  const std::string good = destination.to_bytes();
  const auto load = [&](const std::string& bytes, ModelLoadOptions options = {}) {
    destination = Model<float>::from_bytes(bytes, options);
  };
  const auto edited = [&](const std::function<void(nlohmann::json&)>& edit, std::size_t extra = 0) {
    return with_header(good, edit, extra);
  };
  // 137. shorter than the 8-byte header length; 138. a header length beyond the file.
  expect_error("Model::from_bytes", {"truncated", "5 bytes"}, [&] { load(good.substr(0, 5)); });
  expect_error("Model::from_bytes", {"header length", "runs past the end of the file"}, [&] { load(good.substr(0, 40)); });
  // 139. malformed header JSON.
  std::string broken = good;
  broken[8] = '[';
  expect_error("Model::from_bytes", {"malformed header JSON"}, [&] { load(broken); });
  // 140. tensor bytes past the end of the data; 141. two tensors sharing bytes.
  expect_error("Model::from_bytes", {"tensor b2", "run past the end of the data"}, [&] {
    load(edited([](nlohmann::json& h) { h["b2"]["data_offsets"] = {36, 40000}; }));
  });
  expect_error("Model::from_bytes", {"tensors", "overlap"}, [&] {
    load(edited([](nlohmann::json& h) { h["b1"]["data_offsets"] = {0, 8}; }));
  });
  // 142. a dtype other than F32 / F64; 143. a dtype of the weights that differs between tensors.
  expect_error("Model::from_bytes", {"tensor W1 has dtype \"I64\""}, [&] {
    load(edited([](nlohmann::json& h) { h["W1"]["dtype"] = "I64"; }));
  });
  expect_error("Model::from_bytes", {"tensor b1 has dtype F64 but W1 has F32"}, [&] {
    load(edited(
        [](nlohmann::json& h) {
          h["b1"]["dtype"] = "F64";  // moved past the F32 data (44 bytes), where it fits as F64
          h["b1"]["data_offsets"] = {44, 60};
        },
        16));
  });
  // 144. a shape the architecture does not have; 145. a shape whose bytes differ from data_offsets.
  expect_error("Model::from_bytes", {"tensor W1 has shape [3, 2]", "needs [2, 3]"}, [&] {
    load(edited([](nlohmann::json& h) { h["W1"]["shape"] = {3, 2}; }));
  });
  expect_error("Model::from_bytes", {"tensor W1", "needs 28 bytes", "hold 24"}, [&] {
    load(edited([](nlohmann::json& h) { h["W1"]["shape"] = {7, 1}; }));
  });
  // 146. a missing tensor; 147. a tensor the architecture has no place for.
  expect_error("Model::from_bytes", {"tensor b2 is missing"}, [&] { load(edited([](nlohmann::json& h) { h.erase("b2"); })); });
  expect_error("Model::from_bytes", {"tensor W9 has no place"}, [&] {
    load(edited([](nlohmann::json& h) { h["W9"] = {{"dtype", "F32"}, {"shape", {0}}, {"data_offsets", {0, 0}}}; }));
  });
  // 148. an unknown format version; 149. a metadata value that is not a string.
  expect_error("Model::from_bytes", {"format_version 7 is not supported"}, [&] {
    load(edited([](nlohmann::json& h) { h["__metadata__"]["format_version"] = "7"; }));
  });
  expect_error("Model::from_bytes", {"__metadata__ \"seed\"", "not a string"}, [&] {
    load(edited([](nlohmann::json& h) { h["__metadata__"]["seed"] = 3; }));
  });
  // 150. integers are read as integers and range-checked: a seed past 2^64 − 1, a dim past 2^32 − 1,
  // a shape entry written as a float.
  expect_error("Model::from_bytes", {"\"seed\" (\"18446744073709551616\") is not an integer"}, [&] {
    load(edited([](nlohmann::json& h) { h["__metadata__"]["seed"] = "18446744073709551616"; }));
  });
  expect_error("Model::from_bytes", {"\"dims\"", "(8589934592) above 2^32 − 1"}, [&] {
    load(edited([](nlohmann::json& h) { h["__metadata__"]["dims"] = "3,8589934592,1"; }));
  });
  expect_error("Model::from_bytes", {"tensor W1: a shape entry is 1e+30"}, [&] {
    load(edited([](nlohmann::json& h) { h["W1"]["shape"] = {1e30, 3}; }));
  });
  // 151. an architecture validate_config rejects.
  expect_error("Model::from_bytes", {"invalid network", "keep_prob"}, [&] {
    load(edited([](nlohmann::json& h) { h["__metadata__"]["keep_prob"] = "0"; }));
  });
  // 152. NaN or Inf in the weights (accepted with allow_nonfinite).
  std::string with_nan = good;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(with_nan.data() + with_nan.size() - 10 * sizeof(float), &nan, sizeof nan);  // θ[1] of 11 floats
  expect_error("Model::from_bytes", {"tensor W1 holds a non-finite value (nan) at [0, 1]"}, [&] { load(with_nan); });
  CHECK(std::vector<float>(destination.network().parameters().begin(), destination.network().parameters().end()) == theta);
  ModelLoadOptions allow;
  allow.allow_nonfinite = true;
  CHECK(std::isnan(Model<float>::from_bytes(with_nan, allow).network().parameters()[1]));
  // 153. a file of the other precision without convert_precision.
  expect_error("Model::from_bytes", {"the weights are F64 but this is a Model<float>"}, [&] {
    load(Model<double>(destination).to_bytes());
  });
  // 154. load of a missing file; save to a directory that does not exist (nothing written).
  const auto missing = std::filesystem::temp_directory_path() / "mlpkit_no_such_dir" / "model.safetensors";
  expect_error("Model::load", {"mlpkit_no_such_dir", "cannot open"}, [&] { destination = Model<float>::load(missing); });
  expect_error("Model::save", {"cannot write", "mlpkit_no_such_dir"}, [&] { destination.save(missing); });
  // 155. input statistics fitted on another number of features than n[0].
  Standardizer<float> two_features;
  const std::vector<float> x{1, 2, 3, 4};
  two_features.fit({x.data(), 2, 2, 2});
  expect_error("Model", {"inputs were fitted on 2 features", "n[0] = 3"}, [&] {
    Model<float> model{Mlp<float>(config), two_features};
  });
  CHECK(std::vector<float>(destination.network().parameters().begin(), destination.network().parameters().end()) == theta);
}

TEST_CASE("check_vjp refuses bad functions, bad products and bad options with mlpkit::Error") {
  const std::vector<double> x{1.0, 2.0};
  const VectorFunction f = [](std::span<const double> v) { return std::vector<double>{v[0] * v[1]}; };
  const VjpFunction vjp = [](std::span<const double> v, std::span<const double> u) {
    return std::vector<double>{u[0] * v[1], u[0] * v[0]};
  };
  // 161. empty functions.
  expect_error("check_vjp", {"f is empty"}, [&] { (void)check_vjp({}, x, vjp); });
  expect_error("check_vjp", {"vjp is empty"}, [&] { (void)check_vjp(f, x, {}); });
  // 162. directional mode.
  GradcheckOptions directional;
  directional.mode = GradcheckMode::directional;
  expect_error("check_vjp", {"options.mode (directional)"}, [&] { (void)check_vjp(f, x, vjp, {}, directional); });
  // 163–165. f without outputs, with a varying number of them, with a non-finite one.
  expect_error("check_vjp", {"f returned no outputs at x"}, [&] {
    (void)check_vjp([](std::span<const double>) { return std::vector<double>{}; }, x, vjp);
  });
  const VectorFunction growing = [](std::span<const double> v) {
    return v[0] == 1.0 ? std::vector<double>{v[1]} : std::vector<double>{v[0], v[1]};
  };
  expect_error("check_vjp", {"f returned 2 outputs at x+ε·e_i for input index 0 but 1 at x"}, [&] {
    (void)check_vjp(growing, x, vjp);
  });
  const VectorFunction blows_up = [](std::span<const double> v) {
    return std::vector<double>{v[1] > 2.0 ? std::numeric_limits<double>::infinity() : v[0]};
  };
  expect_error("check_vjp", {"non-finite output 0 (inf)", "input index 1"}, [&] { (void)check_vjp(blows_up, x, vjp); });
  // 166–167. vjp of the wrong length or with a non-finite value.
  expect_error("check_vjp", {"vjp returned 3 entries but x has 2", "cotangent 0"}, [&] {
    (void)check_vjp(f, x, [](std::span<const double>, std::span<const double>) { return std::vector<double>(3, 0.0); });
  });
  expect_error("check_vjp", {"vjp returned a non-finite value (nan) at entry 1 for cotangent 0"}, [&] {
    (void)check_vjp(f, x, [](std::span<const double>, std::span<const double>) {
      return std::vector<double>{0.0, std::nan("")};
    });
  });
  // 168. no cotangent at all.
  GradcheckOptions none;
  none.cotangents = 0;
  none.unit_cotangents_up_to = 0;
  expect_error("check_vjp", {"options.cotangents is 0", "no cotangent to check"}, [&] { (void)check_vjp(f, x, vjp, {}, none); });
  // The gradcheck option and layout checks, under check_vjp's name.
  GradcheckOptions bad_eps;
  bad_eps.eps = 0;
  expect_error("check_vjp", {"options.eps (0)"}, [&] { (void)check_vjp(f, x, vjp, {}, bad_eps); });
  const std::vector<TensorInfo> past_end{{"gamma", 1, 2, 1}};
  expect_error("check_vjp", {"layout slice 'gamma'", "does not fit"}, [&] { (void)check_vjp(f, x, vjp, past_end); });
}

TEST_CASE("extrapolated gradcheck refuses a bad scheme, initial step or mode with mlpkit::Error") {
  const auto f = [](std::span<const double> t) { return t[0] * t[0]; };
  const std::vector<double> theta{1.0}, gradient{2.0};
  // 169. a scheme outside the enum, for the generic and the Mlp overloads.
  GradcheckOptions options;
  options.scheme = static_cast<DifferenceScheme>(5);
  expect_error("gradcheck", {"options.scheme (5)", "is not a DifferenceScheme"}, [&] {
    (void)gradcheck(f, theta, gradient, {}, options);
  });
  MlpConfig<double> config;
  config.dims = {2, 2, 1};
  const Mlp<double> net(config);
  const std::vector<double> x(2, 0.5), y{1};
  expect_error("gradcheck", {"options.scheme (5)"}, [&] { (void)gradcheck(net, {x.data(), 2, 1, 1}, {y.data(), 1, 1, 1}, options); });
  // 170. an initial step that is not positive and finite.
  for (const double step : {0.0, -0.1, std::numeric_limits<double>::infinity(), std::nan("")}) {
    options = {};
    options.scheme = DifferenceScheme::ridders;
    options.initial_step = step;
    expect_error("gradcheck", {"options.initial_step", "must be positive and finite"}, [&] {
      (void)gradcheck(f, theta, gradient, {}, options);
    });
  }
  options = {};
  options.scheme = DifferenceScheme::richardson;
  options.analytic_roundoff = 0;
  expect_error("gradcheck", {"options.analytic_roundoff (0) must be in (0, 1)"}, [&] {
    (void)gradcheck(f, theta, gradient, {}, options);
  });
  // 171. an extrapolated scheme in directional mode.
  options = {};
  options.scheme = DifferenceScheme::richardson;
  options.mode = GradcheckMode::directional;
  expect_error("gradcheck", {"options.scheme (richardson) is not supported in directional mode"}, [&] {
    (void)gradcheck(f, theta, gradient, {}, options);
  });
  // 172. the names of the new enums, and a report holding a bad one.
  expect_error("difference_scheme_name", {"scheme (3)", "is not a DifferenceScheme"}, [&] {
    (void)difference_scheme_name(static_cast<DifferenceScheme>(3));
  });
  expect_error("agreement_name", {"agreement (4)", "is not an Agreement"}, [&] {
    (void)agreement_name(static_cast<Agreement>(4));
  });
  GradcheckReport report;
  report.tensors.resize(1);
  report.tensors[0].agreement = static_cast<Agreement>(3);
  expect_error("GradcheckReport::to_json", {"tensors[].agreement (3)"}, [&] { (void)report.to_json(); });
}

TEST_CASE("directional and sampled gradcheck refuse bad Taylor and detection options with mlpkit::Error") {
  const std::vector<double> theta{0.3, -0.2, 0.5}, gradient{0.6, -0.4, 1.0};
  const auto f = [](std::span<const double> t) { return t[0] * t[0] + t[1] * t[1] + t[2] * t[2]; };
  GradcheckOptions options;
  options.mode = GradcheckMode::directional;
  // 183. taylor_steps outside {0} ∪ [4, 64].
  for (const std::size_t steps : {std::size_t{1}, std::size_t{3}, std::size_t{65}}) {
    options.taylor_steps = steps;
    expect_error("gradcheck", {"options.taylor_steps (" + std::to_string(steps) + ")", "[4, 64]"}, [&] {
      (void)gradcheck(f, theta, gradient, {}, options);
    });
  }
  // 184. taylor_largest_step not positive and finite.
  options = {};
  for (const double step : {0.0, -1.0, std::numeric_limits<double>::infinity(), std::nan("")}) {
    options.taylor_largest_step = step;
    expect_error("gradcheck", {"options.taylor_largest_step", "must be positive and finite"}, [&] {
      (void)gradcheck(f, theta, gradient, {}, options);
    });
  }
  // 185. detection_probability other than 0 and outside (0, 1).
  options = {};
  options.mode = GradcheckMode::sampled;
  for (const double p : {-0.5, 1.0, 2.0, std::nan("")}) {
    options.detection_probability = p;
    expect_error("gradcheck", {"options.detection_probability", "must be 0 (use samples_per_tensor) or in (0, 1)"}, [&] {
      (void)gradcheck(f, theta, gradient, {}, options);
    });
  }
  // 186. detection_fraction outside (0, 1].
  options = {};
  for (const double p : {0.0, -0.5, 1.5, std::nan("")}) {
    options.detection_fraction = p;
    expect_error("gradcheck", {"options.detection_fraction", "must be in (0, 1]"}, [&] {
      (void)gradcheck(f, theta, gradient, {}, options);
    });
  }
  // 187. J not finite at a Taylor step (finite at θ ± ε).
  options = {};
  options.mode = GradcheckMode::directional;
  // Infinite farther than 0.05 from θ: the Taylor test's largest step (0.1) goes there, θ ± ε·v does not.
  const auto blows_up = [&](std::span<const double> t) {
    double d2 = 0;
    for (std::size_t i = 0; i < 3; ++i) d2 += (t[i] - theta[i]) * (t[i] - theta[i]);
    return d2 > 0.05 * 0.05 ? std::numeric_limits<double>::infinity() : t[0] * t[0] + t[1] * t[1] + t[2] * t[2];
  };
  expect_error("gradcheck", {"J is not finite", "Taylor-remainder test", "options.taylor_largest_step"}, [&] {
    (void)gradcheck(blows_up, theta, gradient, {}, options);
  });
}

#ifdef MLPKIT_WITH_ONNX
namespace {

// x [batch, 3] → Gemm 4×3 → Relu → Gemm 2×4 → y, with `edit` applied before the output is declared.
template <class Edit>
std::string onnx_graph(Edit&& edit, std::int64_t features = 3) {
  test::OnnxBuilder b(features);
  b.gemm("x", "z1", "l1", 4, 3, std::vector<double>(12, 0.5), std::vector<double>(4, 0.1));
  edit(b);
  return b.bytes();
}

void relu_then_output(test::OnnxBuilder& b) {
  b.node("Relu", {"z1"}, {"a1"});
  b.gemm("a1", "y", "l2", 2, 4, std::vector<double>(8, 0.5), std::vector<double>(2, 0.1));
  b.output("y", 2);
}

void expect_onnx_error(std::initializer_list<std::string_view> parts, const std::string& bytes) {
  expect_error("import_onnx_bytes", parts, [&] { (void)import_onnx_bytes<float>(bytes); });
}

}  // namespace

TEST_CASE("import_onnx refuses what it cannot import with mlpkit::Error naming the node, its op type and what is supported") {
  // 173. bytes that are no ONNX model; a model without a graph; a file that does not exist.
  expect_onnx_error({"not an ONNX model"}, std::string("\xff\xff\xff\xff garbage"));
  expect_onnx_error({"holds no graph"}, onnx::ModelProto().SerializeAsString());
  expect_error("import_onnx", {"no_such_file.onnx", "cannot open"}, [] { (void)import_onnx<float>("no_such_file.onnx"); });
  // 174. an operator outside the chain's vocabulary, and a node of another domain.
  expect_onnx_error({"node 'Conv_1' (Conv)", "mlpkit imports a chain of Gemm or MatMul"}, onnx_graph([](test::OnnxBuilder& b) {
    b.node("Conv", {"z1"}, {"y"});
    b.output("y", 4);
  }));
  expect_onnx_error({"node 'Scaler_1' (ai.onnx.ml.Scaler)", "domain 'ai.onnx.ml'"}, onnx_graph([](test::OnnxBuilder& b) {
    b.node("Scaler", {"z1"}, {"y"}).set_domain("ai.onnx.ml");
    b.output("y", 4);
  }));
  // 175. a branch (two values leave a layer), and a node the chain does not reach.
  expect_onnx_error({"branches", "'a1'", "'z1'"}, onnx_graph([](test::OnnxBuilder& b) {
    relu_then_output(b);
    b.node("Identity", {"z1"}, {"unused"});
  }));
  expect_onnx_error({"node 'Constant_3' (Constant) is not part of the layer chain"}, onnx_graph([](test::OnnxBuilder& b) {
    relu_then_output(b);
    b.scalar("dangling", 1);
  }));
  // 176. a weight that is no initializer (a second graph input, or an unknown name).
  expect_onnx_error({"node 'Gemm_1' (Gemm)", "reads 'W' as a weight, but it is no initializer or Constant"},
                    onnx_graph([](test::OnnxBuilder& b) {
                      b.node("Gemm", {"z1", "W"}, {"y"});
                      b.output("y", 2);
                    }));
  expect_onnx_error({"2 inputs (besides initializers)", "one input [batch, features]"}, onnx_graph([](test::OnnxBuilder& b) {
    b.graph()->add_input()->set_name("W");
    relu_then_output(b);
  }));
  // 177. an input of rank 3, a feature count the weights disagree with, a FLOAT16 input.
  expect_onnx_error({"input 'x' has rank 3"}, onnx_graph([](test::OnnxBuilder& b) {
    b.graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(2);
    relu_then_output(b);
  }));
  expect_onnx_error({"node 'Gemm_0' (Gemm)", "layer 1 is 4 × 3 but its input has 5 features"}, onnx_graph(relu_then_output, 5));
  expect_onnx_error({"input 'x' has element type FLOAT16", "FLOAT and DOUBLE"}, onnx_graph([](test::OnnxBuilder& b) {
    b.graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto_DataType_FLOAT16);
    relu_then_output(b);
  }));
  // 178. tensor data: too few values, external data, a negative extent.
  expect_onnx_error({"tensor 'l2.W' of shape [2, 4] needs 8 values but holds 28 bytes"}, onnx_graph([](test::OnnxBuilder& b) {
    relu_then_output(b);
    b.graph()->mutable_initializer(2)->mutable_raw_data()->resize(28);
  }));
  expect_onnx_error({"tensor 'l2.W' keeps its data in an external file"}, onnx_graph([](test::OnnxBuilder& b) {
    relu_then_output(b);
    b.graph()->mutable_initializer(2)->set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
  }));
  expect_onnx_error({"tensor 'l2.W' has a negative extent (-2)"}, onnx_graph([](test::OnnxBuilder& b) {
    relu_then_output(b);
    b.graph()->mutable_initializer(2)->set_dims(0, -2);
  }));
}

TEST_CASE("import_onnx refuses layers and activations an Mlp cannot represent with mlpkit::Error") {
  // 179. Gemm with alpha ≠ 1 or transA = 1.
  expect_onnx_error({"node 'Gemm_2' (Gemm): attribute alpha = 2 is not supported"}, onnx_graph([](test::OnnxBuilder& b) {
    relu_then_output(b);
    test::OnnxBuilder::attribute_f(*b.graph()->mutable_node(2), "alpha", 2.0f);
  }));
  expect_onnx_error({"attribute transA = 1 is not supported"}, onnx_graph([](test::OnnxBuilder& b) {
    relu_then_output(b);
    test::OnnxBuilder::attribute(*b.graph()->mutable_node(0), "transA", 1);
  }));
  // 180. hidden layers with different activations; LeakyRelu slopes that differ.
  expect_onnx_error({"layer 2 is followed by node 'Tanh_3' (Tanh) = tanh but layer 1 by node 'Relu_1' (Relu) = relu",
                     "one hidden activation"},
                    onnx_graph([](test::OnnxBuilder& b) {
                      b.node("Relu", {"z1"}, {"a1"});
                      b.gemm("a1", "z2", "l2", 4, 4, std::vector<double>(16, 0.5), std::vector<double>(4, 0.1));
                      b.node("Tanh", {"z2"}, {"a2"});
                      b.gemm("a2", "y", "l3", 2, 4, std::vector<double>(8, 0.5), std::vector<double>(2, 0.1));
                      b.output("y", 2);
                    }));
  expect_onnx_error({"LeakyRelu alpha 0.5 differs from another layer's 0.25"}, onnx_graph([](test::OnnxBuilder& b) {
    test::OnnxBuilder::attribute_f(b.node("LeakyRelu", {"z1"}, {"a1"}), "alpha", 0.25f);
    b.gemm("a1", "z2", "l2", 2, 4, std::vector<double>(8, 0.5), std::vector<double>(2, 0.1));
    test::OnnxBuilder::attribute_f(b.node("LeakyRelu", {"z2"}, {"y"}), "alpha", 0.5f);
    b.output("y", 2);
  }));
  // 181. a Softmax after an activation or over axis 0; element-wise nodes that are no known activation.
  expect_onnx_error({"node 'Softmax_4' (Softmax)", "must follow the last layer directly"}, onnx_graph([](test::OnnxBuilder& b) {
    relu_then_output(b);
    b.graph()->mutable_output(0)->set_name("s");
    b.node("Relu", {"y"}, {"r"});
    b.node("Softmax", {"r"}, {"s"});
  }));
  expect_onnx_error({"attribute axis = 0 is not supported"}, onnx_graph([](test::OnnxBuilder& b) {
    relu_then_output(b);
    b.graph()->mutable_output(0)->set_name("s");
    test::OnnxBuilder::attribute(b.node("Softmax", {"y"}, {"s"}), "axis", 0);
  }));
  expect_onnx_error({"node 'Mul_5' (Mul): the element-wise nodes after layer 1 compute no supported activation"},
                    onnx_graph([](test::OnnxBuilder& b) {
                      b.scalar("three", 3);  // x·erf(x/3): not GELU
                      b.node("Div", {"z1", "three"}, {"d"});
                      b.node("Erf", {"d"}, {"e"});
                      b.node("Add", {"e", "three"}, {"e1"});
                      b.node("Mul", {"z1", "e1"}, {"a1"});
                      b.gemm("a1", "y", "l2", 2, 4, std::vector<double>(8, 0.5), std::vector<double>(2, 0.1));
                      b.output("y", 2);
                    }));
  // 182. non-finite weights (unless allow_nonfinite); a float graph into Model<double> without convert_precision.
  const std::string nonfinite = onnx_graph([](test::OnnxBuilder& b) {
    relu_then_output(b);
    b.graph()->mutable_initializer(2)->mutable_raw_data()->replace(4, 4, "\x00\x00\xc0\x7f", 4);
  });
  expect_onnx_error({"tensor W2 holds a non-finite value (nan) at [0, 1]"}, nonfinite);
  CHECK_NOTHROW((void)import_onnx_bytes<float>(nonfinite, ModelLoadOptions{true, false}));
  expect_error("import_onnx_bytes", {"the graph is FLOAT but this is a Model<double>", "convert_precision"},
               [] { (void)import_onnx_bytes<double>(onnx_graph(relu_then_output)); });
}
#endif  // MLPKIT_WITH_ONNX
TEST_CASE("check_hvp and hessian_vector_product refuse bad functions, products, options and shapes with mlpkit::Error") {
  // J = θ₀²θ₁ + θ₁³/3: ∇J = (2θ₀θ₁, θ₀² + θ₁²), H = [[2θ₁, 2θ₀], [2θ₀, 2θ₁]].
  const std::vector<double> theta{1.0, 2.0};
  const GradientFunction grad = [](std::span<const double> t) {
    return std::vector<double>{2 * t[0] * t[1], t[0] * t[0] + t[1] * t[1]};
  };
  const HvpFunction hvp = [](std::span<const double> t, std::span<const double> v) {
    return std::vector<double>{2 * t[1] * v[0] + 2 * t[0] * v[1], 2 * t[0] * v[0] + 2 * t[1] * v[1]};
  };
  CHECK(check_hvp(grad, theta, hvp).verdict == Verdict::great);
  // 193. empty functions, an empty θ, a mode other than full, no direction.
  expect_error("check_hvp", {"grad_f is empty"}, [&] { (void)check_hvp({}, theta, hvp); });
  expect_error("check_hvp", {"hvp is empty"}, [&] { (void)check_hvp(grad, theta, {}); });
  expect_error("check_hvp", {"theta is empty"}, [&] { (void)check_hvp(grad, std::span<const double>{}, hvp); });
  GradcheckOptions options;
  options.mode = GradcheckMode::sampled;
  expect_error("check_hvp", {"options.mode (sampled) is not supported"}, [&] { (void)check_hvp(grad, theta, hvp, {}, options); });
  options = {};
  options.directions = 0;
  options.unit_cotangents_up_to = 0;
  expect_error("check_hvp", {"options.directions is 0"}, [&] { (void)check_hvp(grad, theta, hvp, {}, options); });
  // 194. grad_f of the wrong length (at θ, and at a perturbed point), non-finite, non-deterministic.
  expect_error("check_hvp", {"grad_f returned 3 entries at θ but θ has 2"}, [&] {
    (void)check_hvp([](std::span<const double>) { return std::vector<double>(3, 0.0); }, theta, hvp);
  });
  const GradientFunction shrinking = [](std::span<const double> t) {
    return t[0] == 1.0 ? std::vector<double>{t[0], t[1]} : std::vector<double>{t[0]};
  };
  expect_error("check_hvp", {"grad_f returned 1 entries at θ + h·v (direction 0"}, [&] { (void)check_hvp(shrinking, theta, hvp); });
  const GradientFunction blows_up = [](std::span<const double> t) {
    return std::vector<double>{t[0] > 1.0 ? std::numeric_limits<double>::quiet_NaN() : t[0], t[1]};
  };
  expect_error("check_hvp", {"grad_f returned a non-finite entry 0 (nan)"}, [&] { (void)check_hvp(blows_up, theta, hvp); });
  std::atomic<int> calls{0};
  const GradientFunction drifting = [&](std::span<const double> t) { return std::vector<double>{t[0] + calls++, t[1]}; };
  expect_error("check_hvp", {"two different gradients at the same θ"}, [&] { (void)check_hvp(drifting, theta, hvp); });
  // 195. hvp of the wrong length or with a non-finite value.
  expect_error("check_hvp", {"hvp returned 1 entries but θ has 2", "direction 0"}, [&] {
    (void)check_hvp(grad, theta, [](std::span<const double>, std::span<const double>) { return std::vector<double>(1, 0.0); });
  });
  expect_error("check_hvp", {"hvp returned a non-finite value (inf) at entry 1 for direction 0"}, [&] {
    (void)check_hvp(grad, theta, [](std::span<const double>, std::span<const double>) {
      return std::vector<double>{0.0, std::numeric_limits<double>::infinity()};
    });
  });
  // Exceptions from user code propagate unchanged.
  CHECK_THROWS_AS(check_hvp([](std::span<const double>) -> std::vector<double> { throw std::out_of_range("user"); },
                            theta, hvp),
                  std::out_of_range);
  CHECK_THROWS_AS(check_hvp(grad, theta,
                            [](std::span<const double>, std::span<const double>) -> std::vector<double> {
                              throw std::out_of_range("user");
                            }),
                  std::out_of_range);
  // 196. the Mlp overload with shapes that do not fit.
  MlpConfig<double> config;
  config.dims = {3, 2, 1};
  const Mlp<double> net(config);
  const std::vector<double> x(3, 0.5), y{1};
  expect_error("check_hvp", {"x (2 × 1)", "must be 3 × m"}, [&] { (void)check_hvp(net, {x.data(), 2, 1, 1}, {y.data(), 1, 1, 1}); });
  // 197. hessian_vector_product: sizes and a non-finite direction.
  const std::size_t n = net.parameter_count();
  std::vector<double> v(n, 1.0), hv(n);
  const MatrixView<const double> xv{x.data(), 3, 1, 1}, yv{y.data(), 1, 1, 1};
  expect_error("hessian_vector_product", {"v has 2 entries"}, [&] {
    (void)hessian_vector_product<double>(net, xv, yv, std::span<const double>(v.data(), 2), hv);
  });
  expect_error("hessian_vector_product", {"hv has 1 entries"}, [&] {
    (void)hessian_vector_product<double>(net, xv, yv, v, std::span<double>(hv.data(), 1));
  });
  expect_error("hessian_vector_product", {"gradient has 1 entries"}, [&] {
    (void)hessian_vector_product<double>(net, xv, yv, v, hv, std::span<double>(hv.data(), 1));
  });
  expect_error("hessian_vector_product", {"x (2 × 1)"}, [&] {
    (void)hessian_vector_product<double>(net, {x.data(), 2, 1, 1}, yv, v, hv);
  });
  v[2] = std::numeric_limits<double>::infinity();
  expect_error("hessian_vector_product", {"v[2] is not finite (inf)"}, [&] { (void)hessian_vector_product<double>(net, xv, yv, v, hv); });
}

#ifdef MLPKIT_WITH_ONNX
namespace {

// x [batch, 3] → Gemm 4×3 → `last` → p, then the classifier outputs skl2onnx writes, `edit` applied last.
template <class Edit>
std::string sklearn_graph(const char* last, bool binary, Edit&& edit) {
  test::OnnxBuilder b(3);
  b.gemm("x", "z1", "l1", binary ? 1 : 4, 3, std::vector<double>(binary ? 3 : 12, 0.5), std::vector<double>(binary ? 1 : 4, 0.1));
  b.node(last, {"z1"}, {"p"});
  b.sklearn_classifier_outputs("p", binary ? 2 : 4, binary, true);
  edit(b);
  return b.bytes();
}

}  // namespace

TEST_CASE("import_onnx refuses two outputs that are no classifier's labels and probabilities, naming them") {
  const auto unchanged = [](test::OnnxBuilder&) {};
  CHECK_NOTHROW((void)import_onnx_bytes<float>(sklearn_graph("Softmax", false, unchanged)));
  CHECK_NOTHROW((void)import_onnx_bytes<float>(sklearn_graph("Sigmoid", true, unchanged)));
  // 198. two outputs that are not a classifier's labels and probabilities: a TopK where ArgMax
  // belongs, or a second output that reads the network's input.
  expect_onnx_error({"the graph has 2 outputs, 'output_label' and 'output_probability'", "not a classifier's labels and probabilities",
                     "ArgMax → ArrayFeatureExtractor"},
                    sklearn_graph("Softmax", false, [](test::OnnxBuilder& b) {
                      for (auto& node : *b.graph()->mutable_node())
                        if (node.op_type() == "ArgMax") node.set_op_type("TopK");
                    }));
  expect_onnx_error({"the graph has 2 outputs", "not a classifier's labels"}, sklearn_graph("Softmax", false, [](test::OnnxBuilder& b) {
                      for (auto& node : *b.graph()->mutable_node())
                        if (node.op_type() == "ArgMax") node.mutable_input(0)->assign(b.graph()->input(0).name());
                    }));
  // 199. probabilities that no Softmax or Sigmoid computes; [1 − p, p] of a Softmax's p.
  expect_onnx_error({"the classifier's probabilities 'probabilities' come from node 'Relu_1' (Relu)", "expected a Softmax or a Sigmoid"},
                    sklearn_graph("Relu", false, unchanged));
  expect_onnx_error({"[1 − p, p] take p from node 'Softmax_1' (Softmax); expected a Sigmoid"}, sklearn_graph("Softmax", true, unchanged));
}
#endif

// The Standardizer and normalization layer checks of rows 40–63, as the family tests first wrote them.
TEST_CASE("Standardizer::from_json and load reject a corrupt, truncated, foreign or missing file (rows 51–55)") {
  Matrix<double> x(3, 10);
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 10; ++j) x(i, j) = double(i * 10 + j * j);
  Standardizer<double> s;
  s.fit(x.view());
  const std::string good = s.to_json();
  REQUIRE_NOTHROW(Standardizer<double>::from_json(good));
  const auto replaced = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
  };
  CHECK_THROWS_WITH_AS(Standardizer<double>::from_json(good.substr(0, good.size() / 2)),
                       doctest::Contains("malformed or truncated"), Error);
  CHECK_THROWS_AS(Standardizer<double>::from_json(good.substr(0, good.size() - 3)), Error);
  CHECK_THROWS_AS(Standardizer<double>::from_json("not json at all"), Error);
  CHECK_THROWS_AS(Standardizer<double>::from_json("[1, 2, 3]"), Error);
  CHECK_THROWS_AS(Standardizer<double>::from_json(replaced("mlpkit.standardizer", "something.else")), Error);
  CHECK_THROWS_WITH_AS(Standardizer<double>::from_json(replaced("\"version\": 1", "\"version\": 2")),
                       doctest::Contains("version 2"), Error);
  CHECK_THROWS_WITH_AS(Standardizer<float>::from_json(good), doctest::Contains("double"), Error);
  CHECK_THROWS_AS(Standardizer<double>::from_json(replaced("\"features\": 3", "\"features\": 4")), Error);
  CHECK_THROWS_AS(Standardizer<double>::from_json(replaced("\"count\": 10", "\"count\": 0")), Error);
  CHECK_THROWS_AS(Standardizer<double>::from_json(replaced("\"count\": 10", "\"count\": -10")), Error);
  const std::string one_feature =
      R"({"format": "mlpkit.standardizer", "version": 1, "scalar": "double", "epsilon": 1e-8, "count": 2,
          "features": 1, "mean": [0.5], "variance": [VARIANCE]})";
  const auto with_variance = [&](const std::string& v) {
    return std::string(one_feature).replace(one_feature.find("VARIANCE"), 8, v);
  };
  CHECK_NOTHROW(Standardizer<double>::from_json(with_variance("0.25")));
  CHECK_THROWS_WITH_AS(Standardizer<double>::from_json(with_variance("-0.25")), doctest::Contains("variance[0] (-0.25)"), Error);
  CHECK_THROWS_WITH_AS(Standardizer<float>::from_json(std::string(with_variance("1e300")).replace(
                           with_variance("1e300").find("double"), 6, "float")),
                       doctest::Contains("variance[0]"), Error);
  CHECK_THROWS_AS(Standardizer<double>::from_json(replaced("\"mean\": [", "\"mean\": [\"a\",")), Error);

  const auto path = std::filesystem::temp_directory_path() / "mlpkit_standardizer_truncated.json";
  {
    std::ofstream file(path, std::ios::binary);
    file << good.substr(0, good.size() * 2 / 3);
  }
  CHECK_THROWS_WITH_AS(Standardizer<double>::load(path), doctest::Contains("mlpkit::Standardizer::load"), Error);
  std::filesystem::remove(path);
  CHECK_THROWS_WITH_AS(Standardizer<double>::load(path), doctest::Contains("cannot open"), Error);
  CHECK_THROWS_AS(s.save("/nonexistent-directory/standardizer.json"), Error);
}

TEST_CASE("Standardizer rejects bad input with messages that name the values (rows 40–50)") {
  CHECK_THROWS_WITH_AS(Standardizer<float>(0.0F), doctest::Contains("epsilon (0)"), Error);
  CHECK_THROWS_AS(Standardizer<double>(-1e-8), Error);
  CHECK_THROWS_AS(Standardizer<double>{std::numeric_limits<double>::quiet_NaN()}, Error);  // braces: clang

  Matrix<double> x(3, 5), other(4, 5), out(3, 5);
  for (std::size_t j = 0; j < 5; ++j) x(0, j) = x(1, j) = x(2, j) = double(j);
  Standardizer<double> s;
  CHECK_THROWS_WITH_AS(s.transform(x.view(), out.view()), doctest::Contains("before fit"), Error);
  CHECK_THROWS_AS(s.save("unused.json"), Error);
  CHECK_THROWS_AS(s.fit(MatrixView<const double>{x.data(), 3, 0, x.ld()}), Error);
  s.fit(x.view());
  CHECK_THROWS_WITH_AS(s.transform(other.view(), out.view()),
                       doctest::Contains("x is 4 × 5 (4 features) but the standardizer was fitted on 3 features"), Error);
  CHECK_THROWS_WITH_AS(s.partial_fit(other.view()), doctest::Contains("fitted on 3 features"), Error);
  CHECK_THROWS_WITH_AS(s.transform(x.view(), other.view()), doctest::Contains("out is 4 × 5 but must be 3 × 5"), Error);
  CHECK_THROWS_AS(s.transform(MatrixView<const double>{x.data(), 3, 5, 4}, out.view()), Error);  // ld < cols
  // out may be x itself, but not overlap it otherwise (rows run in parallel).
  Matrix<double> shared(4, 5);
  CHECK_THROWS_WITH_AS(s.transform(MatrixView<const double>{shared.data(), 3, 5, shared.ld()},
                                   MatrixView<double>{shared.data() + shared.ld(), 3, 5, shared.ld()}),
                       doctest::Contains("out overlaps x without being the same matrix"), Error);
  CHECK_THROWS_AS(s.inverse_transform(MatrixView<const double>{shared.data() + 1, 3, 4, shared.ld()},
                                      MatrixView<double>{shared.data(), 3, 4, shared.ld()}),
                  Error);

  // A non-finite value names the first offending feature and example; the state is unchanged.
  const auto mean_before = std::vector<double>(s.mean().begin(), s.mean().end());
  Matrix<double> bad = x;
  bad(2, 1) = std::numeric_limits<double>::infinity();
  bad(1, 3) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(s.fit(bad.view()), doctest::Contains("non-finite value (nan) at feature 1, example 3"), Error);
  CHECK_THROWS_WITH_AS(s.partial_fit(bad.view()), doctest::Contains("at feature 1, example 3"), Error);
  CHECK(std::vector<double>(s.mean().begin(), s.mean().end()) == mean_before);
  CHECK(s.count() == 5);
  Matrix<float> bad_float(2, 40000);
  bad_float(1, 39999) = -std::numeric_limits<float>::infinity();
  Standardizer<float> sf;
  CHECK_THROWS_WITH_AS(sf.fit(bad_float.view()), doctest::Contains("(-inf) at feature 1, example 39999"), Error);
}

TEST_CASE("batch norm and layer norm reject bad input with messages that name the values (rows 56–63)") {
  Matrix<double> x(3, 5);
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 5; ++j) x(i, j) = double(i + j * j) / 7;
  Matrix<double> y(3, 5), wrong(3, 4);
  std::vector<double> three(3, 1.0), two(2, 1.0), rm(3, 0.0), rv(3, 1.0), dg(3), db(3);
  NormalizationCache<double> cache;
  CHECK_THROWS_WITH_AS(batch_norm_forward<double>(x.view(), two, three, rm, rv, y.view(), cache),
                       doctest::Contains("gamma has 2 elements but must have 3 (one per feature of x, which is 3 × 5)"), Error);
  CHECK_THROWS_WITH_AS(batch_norm_forward<double>(x.view(), three, three, rm, rv, wrong.view(), cache),
                       doctest::Contains("y is 3 × 4 but must be 3 × 5"), Error);
  CHECK_THROWS_WITH_AS(batch_norm_forward<double>(x.view(), three, three, rm, rv, y.view(), cache, {true, 0.1, 0.0}),
                       doctest::Contains("epsilon (0)"), Error);
  CHECK_THROWS_WITH_AS(batch_norm_forward<double>(x.view(), three, three, rm, rv, y.view(), cache, {true, 1.5, 1e-5}),
                       doctest::Contains("momentum (1.5)"), Error);
  CHECK_THROWS_AS(batch_norm_forward<double>(MatrixView<const double>{x.data(), 3, 0, x.ld()}, three, three, rm, rv,
                                             MatrixView<double>{y.data(), 3, 0, y.ld()}, cache),
                  Error);
  std::vector<double> negative_rv{1.0, -1.0, 1.0};
  CHECK_THROWS_WITH_AS(batch_norm_forward<double>(x.view(), three, three, rm, negative_rv, y.view(), cache, {false, 0.1, 1e-5}),
                       doctest::Contains("running_variance[1] (-1)"), Error);
  batch_norm_forward<double>(x.view(), three, three, rm, rv, y.view(), cache);
  CHECK_THROWS_WITH_AS(batch_norm_backward<double>(x.view(), wrong.view(), three, cache, y.view(), dg, db),
                       doctest::Contains("dy is 3 × 4 but must be 3 × 5"), Error);
  CHECK_THROWS_WITH_AS(layer_norm_backward<double>(x.view(), x.view(), three, cache, y.view(), dg, db),
                       doctest::Contains("cache.mean has 3 elements but must have 5 (one per example"), Error);
  CHECK_THROWS_WITH_AS(layer_norm_forward<double>(x.view(), three, three, y.view(), cache, LayerNormOptions<double>{-1.0}),
                       doctest::Contains("epsilon (-1)"), Error);
  CHECK_THROWS_AS(layer_norm_forward<double>(x.view(), three, two, y.view(), cache, LayerNormOptions<double>{1e-5}), Error);
  CHECK_THROWS_AS(layer_norm_forward<double>(MatrixView<const double>{x.data(), 3, 5, 4}, three, three, y.view(), cache, LayerNormOptions<double>{1e-5}),
                  Error);
  // Outputs may be an input itself (same ld) but not overlap one otherwise.
  Matrix<double> shared(4, 5);
  const MatrixView<const double> top{shared.data(), 3, 5, shared.ld()};
  const MatrixView<double> below{shared.data() + shared.ld(), 3, 5, shared.ld()};
  CHECK_THROWS_WITH_AS(batch_norm_forward<double>(top, three, three, rm, rv, below, cache),
                       doctest::Contains("y overlaps x without being the same matrix"), Error);
  CHECK_THROWS_AS(layer_norm_forward<double>(top, three, three, below, cache, LayerNormOptions<double>{1e-5}), Error);
  layer_norm_forward<double>(x.view(), three, three, y.view(), cache, LayerNormOptions<double>{1e-5});
  CHECK_THROWS_WITH_AS(layer_norm_backward<double>(x.view(), top, three, cache, below, dg, db),
                       doctest::Contains("dx overlaps dy"), Error);
  batch_norm_forward<double>(x.view(), three, three, rm, rv, y.view(), cache);
  CHECK_THROWS_AS(batch_norm_backward<double>(top, x.view(), three, cache, below, dg, db), Error);
}

// The Mlp checks of rows 70–86 and 100–104, as the family tests first wrote them.
TEST_CASE("a bad configuration is rejected with an error naming what and why (rows 70–80)") {
  const auto build = [](auto edit) {
    MlpConfig<double> config;
    config.dims = {3, 4, 1};
    edit(config);
    Mlp<double> net(config);
  };
  using C = MlpConfig<double>;
  CHECK_THROWS_WITH_AS(build([](C& c) { c.dims = {}; }), doctest::Contains("dims has 0 entries"), Error);
  CHECK_THROWS_WITH_AS(build([](C& c) { c.dims = {3}; }), doctest::Contains("dims has 1 entries"), Error);
  CHECK_THROWS_WITH_AS(build([](C& c) { c.dims = {3, 0, 1}; }), doctest::Contains("dims[1] is 0"), Error);
  CHECK_THROWS_WITH_AS(build([](C& c) { c.keep_prob = 0; }), doctest::Contains("keep_prob (0)"), Error);
  CHECK_THROWS_WITH_AS(build([](C& c) { c.keep_prob = 1.5; }), doctest::Contains("keep_prob (1.5)"), Error);
  CHECK_THROWS_WITH_AS(build([](C& c) { c.keep_prob = std::nan(""); }), doctest::Contains("keep_prob"), Error);
  CHECK_THROWS_WITH_AS(build([](C& c) { c.l2 = -0.5; }), doctest::Contains("l2 (-0.5)"), Error);
  CHECK_THROWS_WITH_AS(build([](C& c) { c.init_scale = -1; }), doctest::Contains("init_scale"), Error);
  CHECK_THROWS_WITH_AS(build([](C& c) { c.dims = {3, 4, 2}; }), doctest::Contains("multi_label"), Error);
  CHECK_THROWS_WITH_AS(build([](C& c) { c.output = Activation::tanh; }), doctest::Contains("output = sigmoid"), Error);
  CHECK_THROWS_WITH_AS(build([](C& c) { c.loss = Loss::cross_entropy; }), doctest::Contains("output must be identity"), Error);
  CHECK_THROWS_WITH_AS(build([](C& c) {
                         c.loss = Loss::cross_entropy;
                         c.output = Activation::identity;
                       }),
                       doctest::Contains("n[L] ≥ 2"), Error);
  CHECK_NOTHROW(build([](C& c) {
    c.dims = {3, 4, 2};
    c.multi_label = true;
  }));
}

TEST_CASE("a bad batch is rejected with an error naming what and why (rows 81–86, 100–104)") {
  const MlpConfig<double> config = test::small_regression_config();
  Mlp<double> net(config);
  const auto x = test::random_matrix<double>(3, 5, 1);
  const auto y = test::random_matrix<double>(2, 5, 2);
  const auto x_wrong = test::random_matrix<double>(4, 5, 1);
  const auto y_wrong = test::random_matrix<double>(2, 4, 2);
  const MatrixView<const double> no_examples{x.data(), 3, 0, x.ld()};
  const MatrixView<const double> no_labels{y.data(), 2, 0, y.ld()};
  CHECK_THROWS_WITH_AS(net.forward_backward(x_wrong, y), doctest::Contains("x has 4 rows but the model has n[0] = 3"), Error);
  CHECK_THROWS_WITH_AS(net.loss(x, y_wrong), doctest::Contains("y is 2 × 4 but must be 2 × 5"), Error);
  CHECK_THROWS_WITH_AS(net.forward_backward(no_examples, no_labels), doctest::Contains("m = 0"), Error);
  CHECK_THROWS_WITH_AS(net.predict(x_wrong), doctest::Contains("x has 4 rows"), Error);
  CHECK_THROWS_WITH_AS(net.weights(0), doctest::Contains("layer 0 is outside 1 … L = 2"), Error);
  CHECK_THROWS_WITH_AS(net.bias(3), doctest::Contains("layer 3"), Error);
  MlpWorkspace<double> ws;
  std::vector<double> short_theta(3);
  CHECK_THROWS_WITH_AS(net.loss_at(short_theta, x, y, ws), doctest::Contains("theta has 3 elements"), Error);
  TrainOptions options;
  options.learning_rate = -1;
  CHECK_THROWS_WITH_AS(train(net, x, y, options), doctest::Contains("learning_rate"), Error);
  options = {};
  options.epochs = 0;
  CHECK_THROWS_WITH_AS(train(net, x, y, options), doctest::Contains("epochs"), Error);
  options = {};
  options.learning_rate = 1e6;
  CHECK_THROWS_WITH_AS(train(net, x, y, options), doctest::Contains("diverged"), Error);
  // Labels that the loss cannot mean are the loss kernel's to reject.
  MlpConfig<double> bce;
  bce.dims = {3, 1};
  Mlp<double> classifier(bce);
  auto bad_labels = test::random_matrix<double>(1, 5, 3, 0.2, 0.8);
  CHECK_THROWS_AS(classifier.loss(x, bad_labels), Error);
}

TEST_CASE("the span forms of dot and axpy refuse arrays of different sizes with mlpkit::Error") {
  // 214. x and y of different sizes; y is left unchanged.
  const std::vector<double> x(3, 1.0);
  std::vector<double> y(4, 7.0);
  expect_error("dot", {"x has 3 elements but y has 4"}, [&] {
    (void)dot(std::span<const double>(x), std::span<const double>(y));
  });
  expect_error("axpy", {"x has 3 elements but y has 4"}, [&] { axpy(2.0, std::span<const double>(x), std::span<double>(y)); });
  CHECK(y == std::vector<double>(4, 7.0));
}

// The checks the family test files made of their own, moved here so that each row is tested in one
// place; rows 200–201 are the contract they found that the sections above had not written down.
TEST_CASE("activations and softmax: an Accuracy one past the last, null empty arrays and the other overlaps (rows 15, 28–29, 157)") {
  std::vector<float> buffer(8, 1.0F);
  // 157. the first value after the enumerators, not only a far one.
  expect_error("activation_forward", {"accuracy (2)", "not an Accuracy"}, [&] {
    activation_forward<float>(Activation::tanh, static_cast<Accuracy>(2), buffer.data(), buffer.data(), 4);
  });
  // 15–16. null is fine for an empty array.
  CHECK_NOTHROW(activation_forward<float>(Activation::sigmoid, nullptr, nullptr, 0));
  // 28. log_softmax's out overlapping z; 29. softmax's out on z's data with another ld.
  Matrix<float> z(3, 4);
  expect_error("log_softmax", {"out overlaps z"}, [&] {
    log_softmax<float>(MatrixView<float>{z.data(), 3, 3, z.ld()}, MatrixView<float>{z.data() + 1, 3, 3, z.ld()});
  });
  expect_error("softmax", {"out", "z", "ld"}, [&] {
    softmax<float>(MatrixView<float>{z.data(), 2, 3, z.ld()}, MatrixView<float>{z.data(), 2, 3, 3});
  });
}

TEST_CASE("gemm: ldb of a transposed B, an overflowing ld, gemm_ref's checks and pre_activation shifted over c (rows 1, 3, 8, 201)") {
  const std::vector<float> a(64, 1.0F), b(64, 1.0F);
  Sentinel<float> c(64);
  // 3. ldb for a transposed B: B is stored n × k, so ldb ≥ k.
  expect_error("gemm", {"ldb (5)"}, [&] {
    gemm<float>(Trans::no, Trans::yes, 4, 4, 6, 1, a.data(), 6, b.data(), 5, 0, c.data(), 4);
  });
  // 8. a matrix's rows·ld overflowing size_t.
  expect_error("gemm", {"overflows"}, [&] {
    gemm<float>(Trans::no, Trans::no, 2, 2, 2, 1, a.data(), std::numeric_limits<std::size_t>::max() / 2, b.data(), 2, 0,
                c.data(), 2);
  });
  // 1. gemm_ref checks its arguments as gemm does.
  expect_error("gemm_ref", {"lda (4)"}, [&] {
    gemm_ref<float>(Trans::no, Trans::no, 4, 4, 5, 1, a.data(), 4, b.data(), 4, 0, c.data(), 4);
  });
  CHECK(c.unchanged());
  // 201. pre_activation may be c itself, but not overlap it otherwise, nor hold its data with another ld.
  const MatrixView<const float> a34{a.data(), 3, 4, 4}, b45{b.data(), 4, 5, 5};
  const MatrixView<float> c35{c.data(), 3, 5, 5};
  Epilogue<float> shifted;
  shifted.pre_activation = MatrixView<float>{c.data() + 1, 3, 5, 5};
  expect_error("gemm", {"epilogue.pre_activation overlaps c"}, [&] {
    gemm<float>(Trans::no, Trans::no, 1, a34, b45, 0, c35, shifted);
  });
  shifted.pre_activation = MatrixView<float>{c.data(), 3, 5, 6};
  expect_error("gemm_ref", {"epilogue.pre_activation overlaps c"}, [&] {
    gemm_ref<float>(Trans::no, Trans::no, 1, a34, b45, 0, c35, shifted);
  });
  CHECK(c.unchanged());
}

TEST_CASE("gradcheck of an Mlp refuses labels, a gradient and options that do not fit, and a loss that overflows (rows 88, 90, 97, 99)") {
  MlpConfig<double> config;
  config.dims = {3, 2, 1};
  Mlp<double> net(config);
  const std::vector<double> x(6, 0.5), y{1, 0}, wrong_y(3, 1.0);
  const MatrixView<const double> xv{x.data(), 3, 2, 2}, yv{y.data(), 1, 2, 2};
  // 99. y of the wrong shape.
  expect_error("gradcheck", {"y"}, [&] { (void)gradcheck(net, xv, {wrong_y.data(), 1, 3, 3}); });
  // 88. an analytic gradient of another size than θ.
  expect_error("gradcheck", {"analytic_gradient has 3 entries"}, [&] { (void)gradcheck(net, xv, yv, std::vector<double>(3)); });
  // 90. eps ≤ 0.
  GradcheckOptions options;
  options.eps = -1;
  expect_error("gradcheck", {"options.eps (-1)"}, [&] { (void)gradcheck(net, xv, yv, options); });
  // 97. J not finite at θ: a network whose loss overflows there.
  MlpConfig<double> linear;
  linear.dims = {1, 1};
  linear.output = Activation::identity;
  linear.loss = Loss::mean_squared_error;
  Mlp<double> overflowing(linear);
  overflowing.parameters()[0] = 1e200;
  const std::vector<double> big{1e200}, zero{0.0};
  expect_error("gradcheck", {"J(θ) is not finite"}, [&] {
    (void)gradcheck(overflowing, {big.data(), 1, 1, 1}, {zero.data(), 1, 1, 1});
  });
}

TEST_CASE("an exception thrown by f or by vjp propagates unchanged out of gradcheck and check_vjp (after rows 98 and 168)") {
  const std::function<double(std::span<const double>)> f = [](std::span<const double> t) -> double {
    if (t[1] != 0.25) throw std::runtime_error("user failure");
    return t[0];
  };
  const std::vector<double> x{1.0, 0.25};
  CHECK_THROWS_AS(gradcheck(f, x, std::vector<double>{1.0, 0.0}), std::runtime_error);

  const std::vector<double> v{1.0, 2.0};
  const VectorFunction product = [](std::span<const double> t) { return std::vector<double>{t[0] * t[1]}; };
  const VjpFunction vjp = [](std::span<const double> t, std::span<const double> u) {
    return std::vector<double>{u[0] * t[1], u[0] * t[0]};
  };
  const VectorFunction throwing_f = [](std::span<const double> t) -> std::vector<double> {
    if (t[1] != 2.0) throw std::runtime_error("user failure in f");
    return {t[0]};
  };
  const VjpFunction throwing_vjp = [](std::span<const double>, std::span<const double>) -> std::vector<double> {
    throw std::runtime_error("user failure in vjp");
  };
  CHECK(check_vjp(product, v, vjp).verdict == Verdict::great);
  CHECK_THROWS_WITH_AS(check_vjp(throwing_f, v, vjp), "user failure in f", std::runtime_error);
  CHECK_THROWS_WITH_AS(check_vjp(product, v, throwing_vjp), "user failure in vjp", std::runtime_error);
}

TEST_CASE_TEMPLATE("a variance beyond the range of T is rejected, not published as Inf, the state unchanged (row 200)", T, float,
                   double) {
  // Float data at ±1e30 have a finite double variance (1e60) that is Inf as a float; double chunks at
  // ±1e300 merge to an infinite variance. Either way the state stays as it was.
  const T big = std::is_same_v<T, float> ? T(1e30) : T(1e300);
  Matrix<T> spread(1, 2), low(1, 1), high(1, 1);
  spread(0, 0) = -big, spread(0, 1) = big;
  low(0, 0) = -big, high(0, 0) = big;
  Standardizer<T> s;
  if constexpr (std::is_same_v<T, float>) {
    CHECK_THROWS_WITH_AS(s.fit(spread.view()), doctest::Contains("the variance of feature 0"), Error);
    CHECK(!s.fitted());
  }
  s.partial_fit(low.view());
  CHECK_THROWS_WITH_AS(s.partial_fit(high.view()), doctest::Contains("overflows"), Error);
  CHECK(s.count() == 1);
  CHECK(s.variance()[0] == T(0));
  CHECK(s.mean()[0] == -big);
  CHECK_NOTHROW(Standardizer<T>::from_json(s.to_json()));
}

TEST_CASE("the tests' ISA override rejects an ISA the CPU lacks, as parse_isa does (row 107)") {
  if (detected_isa() != Isa::avx512) CHECK_THROWS_AS(detail::ScopedIsa{Isa::avx512}, Error);  // braces: clang parses (…) as a declaration
}

// Run by CTest with MLPKIT_ARCH set (tests/CMakeLists.txt); passes trivially when run without it.
TEST_CASE("MLPKIT_ARCH forces a lower ISA and an unknown value is an error (row 107)") {
  const char* expect = std::getenv("MLPKIT_EXPECT_ISA");
  if (expect == nullptr) return;
  if (std::strcmp(expect, "error") == 0) {
    CHECK_THROWS_WITH_AS(current_isa(), doctest::Contains("MLPKIT_ARCH"), Error);
    const float x[1] = {1.0F};
    CHECK_THROWS_AS(sum(x, 1), Error);  // every kernel call reports it
  } else {
    CHECK(isa_name(current_isa()) == std::string(expect));
  }
}

#ifdef MLPKIT_WITH_ONNX
TEST_CASE("import_onnx refuses a DOUBLE graph into a Model<float> without convert_precision (row 182)") {
  test::OnnxBuilder b(3, onnx::TensorProto_DataType_DOUBLE);
  b.gemm("x", "z1", "l1", 4, 3, std::vector<double>(12, 0.5), std::vector<double>(4, 0.1));
  relu_then_output(b);
  const std::string bytes = b.bytes();
  expect_error("import_onnx_bytes", {"the graph is DOUBLE but this is a Model<float>", "convert_precision"},
               [&] { (void)import_onnx_bytes<float>(bytes); });
  ModelLoadOptions convert;
  convert.convert_precision = true;
  CHECK_NOTHROW((void)import_onnx_bytes<float>(bytes, convert));
}
#endif  // MLPKIT_WITH_ONNX

TEST_CASE("the span forms of the activation functions refuse arrays of different sizes with mlpkit::Error") {
  // 215–217. An output or input of another size than x (y for backward_from_output); the output
  // is left unchanged.
  const std::vector<double> x(3, 0.5), dy3(3, 1.0), dy2(2, 1.0);
  std::vector<double> out4(4, 7.0), out3(3, 7.0);
  expect_error("activation_forward", {"x has 3 elements but y has 4"}, [&] {
    activation_forward<double>(Activation::tanh, x, out4);
  });
  expect_error("activation_forward", {"x has 3 elements but y has 4"}, [&] {
    activation_forward<double>(Activation::tanh, Accuracy::fast, x, out4);
  });
  expect_error("activation_backward", {"x has 3 elements but dy has 2"}, [&] {
    activation_backward<double>(Activation::sigmoid, x, dy2, out3);
  });
  expect_error("activation_backward", {"x has 3 elements but dx has 4"}, [&] {
    activation_backward<double>(Activation::sigmoid, Accuracy::fast, x, dy3, out4);
  });
  expect_error("activation_backward_from_output", {"y has 3 elements but dy has 2"}, [&] {
    activation_backward_from_output<double>(Activation::relu, x, dy2, out3);
  });
  expect_error("activation_backward_from_output", {"y has 3 elements but dx has 4"}, [&] {
    activation_backward_from_output<double>(Activation::relu, x, dy3, out4);
  });
  CHECK(out4 == std::vector<double>(4, 7.0));
  CHECK(out3 == std::vector<double>(3, 7.0));
}
