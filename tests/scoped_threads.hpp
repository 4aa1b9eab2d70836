#pragma once
// A scope with its own thread count, for the tests and the fuzz harnesses (no doctest here).
#include "mlpkit/runtime.hpp"

namespace mlpkit::test {

/** Sets the thread count for a scope and restores the previous one. */
class ScopedThreads {
 public:
  explicit ScopedThreads(int n) : previous_(num_threads()) { set_num_threads(n); }
  ~ScopedThreads() { set_num_threads(previous_); }
  ScopedThreads(const ScopedThreads&) = delete;
  ScopedThreads& operator=(const ScopedThreads&) = delete;

 private:
  int previous_;
};

}  // namespace mlpkit::test
