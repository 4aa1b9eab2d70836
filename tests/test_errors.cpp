// The bad-input contract (docs/errors.md), row by row: every kind of bad input to every public
// function throws mlpkit::Error (not another type, never a crash), the message names the function
// and the argument, and an output buffer is left untouched when the function throws before it
// computes anything.
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "mlpkit/gradcheck.hpp"
#include "mlpkit/mlpkit.hpp"
#include "mlpkit/normalization.hpp"
#include "mlpkit/train.hpp"
#include "test_support.hpp"

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
  // 111. epilogue.accuracy outside the enumerators.
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
  expect_error("activation_forward", {"x is null", "4"}, [&] { activation_forward<float>(Activation::relu, nullptr, y.data(), 4); });
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
  expect_error("parse_activation", {"\"swish\"", "relu"}, [&] { (void)parse_activation("swish"); });
  // 112–114. the accuracy tier.
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
    layer_norm_forward<float>({x.data(), 0, 3, 3}, {}, {}, 1e-5F, {y.data(), 0, 3, 3}, cache);
  });
  expect_error("layer_norm_forward", {"epsilon (nan)"}, [&] {
    layer_norm_forward<float>(x23, ones, zeros, std::numeric_limits<float>::quiet_NaN(), y23, cache);
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
  layer_norm_forward<float>(x23, ones, zeros, 1e-5F, y23, cache);
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
  expect_config_error({"unknown activation (42)"}, [](auto& c) { c.hidden = kBadActivation; });
  expect_config_error({"binary_cross_entropy needs output = sigmoid", "relu"}, [](auto& c) { c.output = Activation::relu; });
  expect_config_error({"cross_entropy needs n[L] ≥ 2"}, [](auto& c) {
    c.loss = Loss::cross_entropy;
    c.output = Activation::identity;
  });
  expect_config_error({"config.loss is an unknown loss (7)"}, [](auto& c) { c.loss = static_cast<Loss>(7); });
  expect_config_error({"config.init is an unknown scheme"}, [](auto& c) { c.init = static_cast<Init>(17); });
  // 115.
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
  expect_error("parse_isa", {"avx1024"}, [] { (void)parse_isa("avx1024"); });
  expect_error("Matrix", {"ld (2)", "cols (3)"}, [] { Matrix<float> m(2, 3, 2); });
  // 109–110. level-1 kernels.
  expect_error("dot", {"x is null", "3"}, [] { (void)dot<float>(nullptr, nullptr, 3); });
  std::vector<double> yv(3, 7.0);
  expect_error("axpy", {"x is null"}, [&] { axpy<double>(2.0, nullptr, yv.data(), 3); });
  CHECK(yv == std::vector<double>(3, 7.0));
}
