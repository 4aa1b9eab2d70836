// Fuzzes the bad-input contract where a user's bytes reach the library unchecked by the type
// system: every enum field of the option and config structs (and the enum arguments) gets an
// arbitrary integer, and the integers of a standardizer document get arbitrary text. A call must
// throw mlpkit::Error exactly when some value is out of range, naming that field, and otherwise
// succeed; nothing else may be thrown, and a document loads only when its integers are exactly
// the saved ones.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "mlpkit/gradcheck.hpp"
#include "mlpkit/mlpkit.hpp"
#include "mlpkit/train.hpp"

using namespace mlpkit;
using namespace mlpkit::fuzz;

namespace {

/** An integer for an enum field: mostly a valid enumerator, often just outside, sometimes anything. */
template <class E>
E enum_value(FuzzedDataProvider& in) {
  const auto count = static_cast<int>(enum_count<E>);
  switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0: return static_cast<E>(in.ConsumeIntegral<int>());
    case 1: return static_cast<E>(in.ConsumeBool() ? -1 : count);
    default: return static_cast<E>(in.ConsumeIntegralInRange<int>(0, count - 1));
  }
}

/** Runs call(); it must throw mlpkit::Error naming `field` iff `valid` is false, and nothing else. */
template <class Call>
void expect_contract(bool valid, const char* field, Call&& call) {
  try {
    call();
    MLPKIT_FUZZ_CHECK(valid, "an out-of-range %s was accepted", field);
  } catch (const Error& e) {
    MLPKIT_FUZZ_CHECK(!valid, "a valid call threw: %s", e.what());
    MLPKIT_FUZZ_CHECK(std::string(e.what()).find(field) != std::string::npos, "the message does not name %s: %s",
                      field, e.what());
  }
}

void fuzz_enums(FuzzedDataProvider& in) {
  MlpConfig<double> config;
  config.dims = {2, 3, 1};
  config.loss = Loss::mean_squared_error;  // any output activation fits it
  const Activation hidden = enum_value<Activation>(in), output = enum_value<Activation>(in);
  const Init init = enum_value<Init>(in);
  config.hidden = hidden;
  config.output = output;
  config.init = init;
  const bool config_valid = is_enumerator(hidden) && is_enumerator(output) && is_enumerator(init);
  const char* config_field = !is_enumerator(hidden) ? "config.hidden" : !is_enumerator(output) ? "config.output" : "config.init";
  expect_contract(config_valid, config_field, [&] { Mlp<double> net(config); });

  const Trans ta = enum_value<Trans>(in), tb = enum_value<Trans>(in);
  Epilogue<float> epilogue;
  epilogue.activation = enum_value<Activation>(in);
  const std::vector<float> a(4, 0.5F), b(4, 0.25F);
  std::vector<float> c(4, 0.0F);
  const bool gemm_valid = is_enumerator(ta) && is_enumerator(tb) && is_enumerator(epilogue.activation);
  const char* gemm_field = !is_enumerator(ta) ? "ta" : !is_enumerator(tb) ? "tb" : "epilogue.activation";
  expect_contract(gemm_valid, gemm_field, [&] {
    gemm<float>(ta, tb, 1.0F, {a.data(), 2, 2, 2}, {b.data(), 2, 2, 2}, 0.0F, {c.data(), 2, 2, 2}, epilogue);
  });
  const Activation f = enum_value<Activation>(in);
  expect_contract(is_enumerator(f), "f", [&] { activation_backward<float>(f, a.data(), b.data(), c.data(), 4); });
  const Init scheme = enum_value<Init>(in);
  expect_contract(is_enumerator(scheme), "init", [&] { init_weights<float>(scheme, 0.1F, 1, 1, {c.data(), 2, 2, 2}); });

  GradcheckOptions options;
  options.mode = enum_value<GradcheckMode>(in);
  options.evaluator = enum_value<GradcheckEvaluator>(in);
  const bool options_valid = is_enumerator(options.mode) && is_enumerator(options.evaluator);
  const char* options_field = !is_enumerator(options.mode) ? "options.mode" : "options.evaluator";
  MlpConfig<double> small;
  small.dims = {2, 2, 1};
  const Mlp<double> net(small);
  const std::vector<double> x{0.5, -0.25}, y{1};
  expect_contract(options_valid, options_field, [&] { (void)gradcheck(net, {x.data(), 2, 1, 1}, {y.data(), 1, 1, 1}, options); });

  TrainOptions train_options;
  train_options.optimizer = enum_value<Optimizer>(in);
  train_options.epochs = 1;
  Mlp<double> trainee(small);
  expect_contract(is_enumerator(train_options.optimizer), "options.optimizer",
                  [&] { (void)train(trainee, {x.data(), 2, 1, 1}, {y.data(), 1, 1, 1}, train_options); });
}

/** Text for an integer field: the right value, another in-range one, a 64-bit extreme, or digits beyond 64 bits. */
std::string integer_text(FuzzedDataProvider& in, const std::string& right) {
  switch (in.ConsumeIntegralInRange<int>(0, 4)) {
    case 0: return std::to_string(in.ConsumeIntegral<std::int64_t>());
    case 1: return std::to_string(in.ConsumeIntegral<std::uint64_t>());
    case 2: return std::to_string(in.ConsumeIntegral<std::uint64_t>()) + std::to_string(in.ConsumeIntegralInRange<int>(0, 9));
    case 3: return std::to_string(in.ConsumeIntegralInRange<std::int64_t>(-3, 5));
    default: return right;
  }
}

void fuzz_document_integers(FuzzedDataProvider& in) {
  Standardizer<double> s;
  const std::vector<double> data{1, 2, 3, 4, 5, 6};
  s.fit({data.data(), 2, 3, 3});
  const std::string version = integer_text(in, "1"), count = integer_text(in, "3"), features = integer_text(in, "2");
  const std::string json = "{\"format\": \"mlpkit.standardizer\", \"version\": " + version +
                           ", \"scalar\": \"double\", \"epsilon\": 1e-08, \"count\": " + count +
                           ", \"features\": " + features + ", \"mean\": [2.0, 5.0], \"variance\": [0.5, 0.5]}";
  // Valid iff the integers are the right ones read as integers (count: any positive 64-bit value; a
  // leading zero, as in "05", is not JSON).
  const bool count_ok = count.front() != '-' && count.front() != '0' && count.size() <= 20 &&
                        (count.size() < 20 || count <= std::string("18446744073709551615"));
  const bool valid = version == "1" && features == "2" && count_ok;
  try {
    const Standardizer<double> loaded = Standardizer<double>::from_json(json);
    MLPKIT_FUZZ_CHECK(valid, "loaded with version %s, count %s, features %s", version.c_str(), count.c_str(), features.c_str());
    MLPKIT_FUZZ_CHECK(std::to_string(loaded.count()) == count, "count %s loaded as %llu", count.c_str(),
                      static_cast<unsigned long long>(loaded.count()));
  } catch (const Error& e) {
    MLPKIT_FUZZ_CHECK(!valid, "a valid document was rejected: %s", e.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  if (in.ConsumeBool())
    fuzz_enums(in);
  else
    fuzz_document_integers(in);
  return 0;
}
