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

}  // namespace mlpkit::test
