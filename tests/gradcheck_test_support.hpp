#pragma once
// Helpers shared by the gradcheck tests.
#include <string>

#include <doctest/doctest.h>

#include "mlpkit/gradcheck.hpp"

namespace mlpkit::test {

/** The report's tensor named `name` (fails the test when there is none). */
inline const TensorCheck& tensor(const GradcheckReport& report, const std::string& name) {
  for (const TensorCheck& t : report.tensors)
    if (t.name == name) return t;
  FAIL("no tensor " << name);
  return report.tensors.front();
}

/** The report convicts `name` alone, with `fingerprint`, and finds every other tensor great. */
inline void expect_only_wrong(const GradcheckReport& report, const std::string& name, Fingerprint fingerprint) {
  INFO(report.to_text());
  CHECK(report.verdict == Verdict::wrong);
  for (const TensorCheck& t : report.tensors) {
    if (t.name == name) {
      CHECK(t.verdict == Verdict::wrong);
      CHECK(t.fingerprint == fingerprint);
    } else {
      CHECK(t.verdict == Verdict::great);
    }
  }
}

}  // namespace mlpkit::test
